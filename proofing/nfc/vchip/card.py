"""The chip's application: file system, BAC, PACE-GM, CA, AA and secure messaging.

:meth:`VirtualChip.process` takes one raw command APDU and returns the raw response, as
a card does; transports (``vpcd`` over TCP, or :class:`DirectTransport` in-process) only
move bytes. Fault switches make it misbehave the way real chips and readers do.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from proofing.nfc import bac, crypto, pace
from proofing.nfc.apdu import CommandApdu, ResponseApdu
from proofing.nfc.bac import CanKey, MrzKey
from proofing.nfc.dump import FILE_IDS
from proofing.nfc.errors import SecureMessagingError
from proofing.nfc.groups import domain
from proofing.nfc.lds.curves import CURVES, EcCurve
from proofing.nfc.sm import SecureMessaging
from proofing.nfc.tlv import TlvError, decode, encode, iter_tlv
from proofing.nfc.vchip.profile import ChipProfile

EMRTD_AID = bytes.fromhex("A0000002471001")
_APP_FILES = {fid: name for name, fid in FILE_IDS.items() if name not in ("EF.CardAccess", "EF.CardSecurity")}
_MF_FILES = {0x011C: "EF.CardAccess", 0x2F01: "EF.ATR/INFO", 0x011D: "EF.CardSecurity"}
#: Files anyone may read, before access control.
_PUBLIC = frozenset({"EF.CardAccess", "EF.ATR/INFO"})
_SFI = {0x1E: "EF.COM", 0x1D: "EF.SOD", **{i: f"DG{i}" for i in range(1, 17)}}


class DropConnection(Exception):
    """Fault injection: the card leaves the field now."""


@dataclass
class Faults:
    """Ways to misbehave. Counters refer to READ BINARY commands answered in the application."""

    #: Corrupt the response MAC of this READ BINARY (1-based).
    bad_mac_at_read: int | None = None
    #: Serve these files cut to this many bytes (their TLV header still promises more).
    truncate: dict[str, int] = field(default_factory=dict)
    #: Drop the connection when this READ BINARY arrives (1-based).
    drop_at_read: int | None = None
    #: Sleep this long before every answer (seconds).
    delay: float = 0.0
    #: Answer SELECT of these files with a plain 6A82, as a man in the middle hiding them would.
    hide: frozenset[str] = frozenset()
    #: Plain READ BINARY past the end answers 6Cxx (the exact length) instead of data + 6282.
    exact_le: bool = False
    #: Refuse MSE:Set AT for PACE although EF.CardAccess offers it (the reader falls back to BAC).
    refuse_pace: bool = False
    #: Answer every response with data T=0 style: 61xx first, the data via GET RESPONSE.
    chain_responses: bool = False


def _sw(sw: int, data: bytes = b"") -> ResponseApdu:
    return ResponseApdu(data, sw)


@dataclass
class _Pace:
    info: pace.PaceInfo
    k_pi: bytes
    step: int = 0
    nonce: bytes = b""
    map_private: int = 0
    generator: pace.Element | None = None
    eph_private: int = 0
    eph_public: bytes = b""
    terminal_eph: bytes = b""
    ks: tuple[bytes, bytes] = (b"", b"")


class VirtualChip:
    def __init__(self, profile: ChipProfile, faults: Faults | None = None) -> None:
        self.profile = profile
        self.faults = faults or Faults()
        self.reads = 0
        self.atr = make_atr(profile.extended_length, caps=profile.atr_caps)
        self.extended_reads = 0
        self.power_on()

    # -- state -----------------------------------------------------------------------------

    def power_on(self) -> None:
        self.sm: SecureMessaging | None = None
        self.authenticated = False
        self.app_selected = False
        self.current: str | None = None
        self.rnd_icc: bytes | None = None
        self.pace: _Pace | None = None
        self.ca_oid: str | None = None
        self.pending = b""
        self.pending_sw = 0x9000
        #: The session that starts after the current answer (BAC, PACE, CA switch keys then).
        self._next_sm: SecureMessaging | None = None
        self._corrupt_mac = False

    def _access_keys(self) -> tuple[MrzKey, CanKey | None]:
        p = self.profile
        return MrzKey(p.document_number, p.birth, p.expiry), (CanKey(p.can) if p.can else None)

    def _file(self, name: str) -> bytes | None:
        if name == "EF.ATR/INFO":
            return atr_info(self.profile.extended_length) if self.profile.atr_info else None
        data = self.profile.files.get(name)
        if data is not None and name in self.faults.truncate:
            data = data[: self.faults.truncate[name]]
        return data

    # -- APDU entry point ------------------------------------------------------------------

    def process(self, raw: bytes) -> bytes:
        """One command APDU in, one response APDU out (raises DropConnection for that fault)."""
        # A chip that slows down mid-read: only answers under secure messaging are delayed,
        # so the reader's power-up and card detection (which pcscd may retry after a card
        # left abruptly) are not, and the fault lands where a reader must handle it.
        if self.faults.delay and self.sm is not None:
            time.sleep(self.faults.delay)
        try:
            cmd = CommandApdu.decode(raw)
        except ValueError:
            return _sw(0x6700).encode()
        if cmd.ins == 0xC0 and cmd.cla & 0x0C == 0:  # GET RESPONSE of a chained answer
            return self._get_response(cmd)
        self.pending = b""
        protected = self.sm is not None and cmd.cla & 0x0C == 0x0C
        if self.sm is not None:
            if not protected:
                self._end_session()  # a plain command ends secure messaging
            else:
                try:
                    cmd = self.sm.unprotect_command(cmd)
                except SecureMessagingError:
                    self._end_session()
                    return _sw(0x6988).encode()
        if (cmd.ins == 0xA4 and self.app_selected and self.faults.hide
                and _APP_FILES.get(int.from_bytes(cmd.data[:2], "big")) in self.faults.hide):
            return _sw(0x6A82).encode()
        sm_before = self.sm
        resp = self._dispatch(cmd)
        if protected and sm_before is not None and not sm_before.closed:
            resp = sm_before.protect_response(resp, odd_ins=bool(cmd.ins & 1))
            if self._corrupt_mac:
                resp = ResponseApdu(resp.data[:-1] + bytes([resp.data[-1] ^ 0xFF]), resp.sw)
        self._corrupt_mac = False
        self._after_response()
        out = resp.encode()
        if resp.data and (self.faults.chain_responses or (len(resp.data) > 256 and not raw_is_extended(raw))):
            self.pending, self.pending_sw = resp.data, resp.sw
            return self._get_response(CommandApdu(0, 0xC0, 0, 0, le=256), first=True)
        return out

    def _after_response(self) -> None:
        if self._next_sm is not None:
            self.sm, self._next_sm = self._next_sm, None
            self.authenticated = True

    def _get_response(self, cmd: CommandApdu, first: bool = False) -> bytes:
        if not self.pending:
            return _sw(0x6985).encode()
        if first:
            return _sw(0x6100 | (len(self.pending) if len(self.pending) < 256 else 0)).encode()
        n = min(cmd.le or 256, len(self.pending))
        chunk, self.pending = self.pending[:n], self.pending[n:]
        rest = len(self.pending)
        sw = self.pending_sw if not rest else 0x6100 | (rest if rest < 256 else 0)
        return ResponseApdu(chunk, sw).encode()

    def _end_session(self) -> None:
        self.sm = None
        self.authenticated = False
        self.pace = None

    def _dispatch(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.cla & ~0x1C & 0xFF:  # only CLA 00, with chaining (10) and SM (0C) bits
            return _sw(0x6E00)
        handler = {
            0xA4: self._select,
            0xB0: self._read_binary,
            0xB1: self._read_binary,
            0x84: self._get_challenge,
            0x82: self._mutual_authenticate,
            0x22: self._mse,
            0x86: self._general_authenticate,
            0x88: self._internal_authenticate,
        }.get(cmd.ins)
        if handler is None:
            return _sw(0x6D00)
        return handler(cmd)

    # -- files -----------------------------------------------------------------------------

    def _select(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.p1 == 0x04:
            if cmd.data == EMRTD_AID:
                self.app_selected, self.current = True, None
                return _sw(0x9000)
            return _sw(0x6A82)
        if cmd.p1 in (0x00, 0x02) and len(cmd.data) == 2:
            fid = int.from_bytes(cmd.data, "big")
            if fid == 0x3F00:
                self.app_selected, self.current = False, None
                return _sw(0x9000)
            name = _APP_FILES.get(fid) if self.app_selected else _MF_FILES.get(fid)
            if name is None or self._file(name) is None:
                return _sw(0x6A82)
            if name not in _PUBLIC and not self.authenticated:
                return _sw(0x6982)
            self.current = name
            return _sw(0x9000)
        return _sw(0x6A86)

    def _read_binary(self, cmd: CommandApdu) -> ResponseApdu:
        name = self.current
        if cmd.ins == 0xB0 and cmd.p1 & 0x80:  # short file identifier
            name = _SFI.get(cmd.p1 & 0x1F) if self.app_selected else (
                {0x1C: "EF.CardAccess", 0x01: "EF.ATR/INFO"}.get(cmd.p1 & 0x1F))
            offset = cmd.p2
            if name is None or self._file(name) is None:
                return _sw(0x6A82)
            if name not in _PUBLIC and not self.authenticated:
                return _sw(0x6982)
            self.current = name
        elif cmd.ins == 0xB0:
            offset = (cmd.p1 << 8 | cmd.p2) & 0x7FFF
        else:
            try:
                obj = decode(cmd.data)
            except TlvError:
                return _sw(0x6A80)
            if obj.tag != 0x54:
                return _sw(0x6A80)
            offset = int.from_bytes(obj.value, "big")
        if name is None:
            return _sw(0x6986)
        le = cmd.le or 0
        if le > 256:
            self.extended_reads += 1
        if name not in _PUBLIC:
            self.reads += 1
            if self.faults.drop_at_read == self.reads:
                raise DropConnection()
            if self.faults.bad_mac_at_read == self.reads:
                self._corrupt_mac = True
        data = self._file(name) or b""
        if le > 256 and not self.profile.extended_length:
            return _sw(0x6700)
        if offset > len(data) or (offset == len(data) and le):
            return _sw(0x6B00)
        chunk = data[offset : offset + le]
        if self.faults.exact_le and self.sm is None and len(chunk) < le:
            return _sw(0x6C00 | len(chunk) % 256)
        sw = 0x9000 if len(chunk) == le else 0x6282
        if cmd.ins == 0xB1:
            chunk = encode(0x53, chunk)
        return _sw(sw, chunk)

    # -- BAC -------------------------------------------------------------------------------

    def _get_challenge(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.le != 8:
            return _sw(0x6700)
        self.rnd_icc = os.urandom(8)
        return _sw(0x9000, self.rnd_icc)

    def _mutual_authenticate(self, cmd: CommandApdu) -> ResponseApdu:
        if self.rnd_icc is None or not self.app_selected:
            return _sw(0x6985)
        mrz, _ = self._access_keys()
        kenc, kmac = bac.bac_keys(mrz.mrz_information)
        result = bac.chip_mutual_auth(kenc, kmac, self.rnd_icc, os.urandom(16), cmd.data)
        self.rnd_icc = None
        if result is None:
            return _sw(0x6300)
        answer, session = result
        self._next_sm = session
        return _sw(0x9000, answer)

    # -- MSE / GENERAL AUTHENTICATE: PACE and Chip Authentication ---------------------------

    def _mse(self, cmd: CommandApdu) -> ResponseApdu:
        try:
            objs = {o.tag: o.value for o in iter_tlv(cmd.data)}
        except TlvError:
            return _sw(0x6A80)
        if cmd.p1 == 0xC1 and cmd.p2 == 0xA4:
            return self._pace_set_at(objs)
        if cmd.p1 == 0x41 and cmd.p2 == 0xA4:
            if self.sm is None or self.profile.ca_key is None or 0x80 not in objs:
                return _sw(0x6985)
            self.ca_oid = pace.oid_from_value(objs[0x80])
            return _sw(0x9000)
        if cmd.p1 == 0x41 and cmd.p2 == 0xA6 and 0x91 in objs:  # legacy Set KAT
            return self._ca_agree(objs[0x91], "0.4.0.127.0.7.2.2.3.2.1")
        return _sw(0x6A86)

    def _pace_set_at(self, objs: dict[int, bytes]) -> ResponseApdu:
        if 0x80 not in objs or 0x83 not in objs or self.faults.refuse_pace:
            return _sw(0x6A80)
        oid = pace.oid_from_value(objs[0x80])
        ca = self.profile.files.get("EF.CardAccess")
        offered = pace.parse_pace_infos(ca) if ca else []
        match = [i for i in offered if i.oid == oid and i.supported]
        if not match:
            return _sw(0x6A80)
        info = match[0]
        mrz, can = self._access_keys()
        ref = objs[0x83][0]
        key: MrzKey | CanKey | None = mrz if ref == pace.PASSWORD_MRZ else can if ref == pace.PASSWORD_CAN else None
        if key is None:
            return _sw(0x6A88)
        self._end_session()
        self.pace = _Pace(info, pace.password_key(key, info.cipher, info.key_bits))
        return _sw(0x9000)

    def _general_authenticate(self, cmd: CommandApdu) -> ResponseApdu:
        try:
            outer = decode(cmd.data)
            inner = {o.tag: o.value for o in iter_tlv(outer.value)} if outer.tag == 0x7C else None
        except TlvError:
            inner = None
        if inner is None:
            return _sw(0x6A80)
        if self.ca_oid is not None and 0x80 in inner and self.sm is not None:
            return self._ca_agree(inner[0x80], self.ca_oid)
        if self.pace is None:
            return _sw(0x6985)
        try:
            return self._pace_step(self.pace, inner)
        except (ValueError, pace.AuthenticationError):
            self.pace = None
            return _sw(0x6300)

    def _pace_step(self, st: _Pace, inner: dict[int, bytes]) -> ResponseApdu:
        assert st.info.parameter_id is not None
        group = domain(st.info.parameter_id)
        cipher = st.info.cipher
        if st.step == 0 and not inner:
            st.nonce = os.urandom(pace.nonce_length(cipher, st.info.key_bits))
            st.step = 1
            return _sw(0x9000, encode(0x7C, encode(0x80, pace.encrypt_nonce(cipher, st.k_pi, st.nonce))))
        if st.step == 1 and 0x81 in inner and st.info.mapping == "IM":
            st.generator = pace.integrated_map(group, cipher, st.info.key_bits, st.nonce, inner[0x81])
            st.step = 2
            return _sw(0x9000, encode(0x7C, encode(0x82, b"")))
        if st.step == 1 and 0x81 in inner:
            st.map_private = pace.random_private(group)
            h = pace.shared_element(group, st.map_private, inner[0x81])
            st.generator = pace.map_generator(group, st.nonce, h)
            st.step = 2
            mine = pace.public_key(group, pace.generator(group), st.map_private)
            return _sw(0x9000, encode(0x7C, encode(0x82, mine)))
        if st.step == 2 and 0x83 in inner and st.generator is not None:
            st.eph_private = pace.random_private(group)
            st.eph_public = pace.public_key(group, st.generator, st.eph_private)
            st.terminal_eph = inner[0x83]
            if st.terminal_eph == st.eph_public:
                raise ValueError("terminal echoed the chip's key")
            k = pace.shared_secret(group, st.eph_private, st.terminal_eph)
            st.ks = pace.session_keys(k, cipher, st.info.key_bits)
            st.step = 3
            return _sw(0x9000, encode(0x7C, encode(0x84, st.eph_public)))
        if st.step == 3 and 0x85 in inner:
            ks_enc, ks_mac = st.ks
            expected = pace.auth_token(cipher, ks_mac, st.info.oid, group, st.eph_public)
            if not crypto.equal(expected, inner[0x85]):
                raise ValueError("terminal token does not verify")
            token = pace.auth_token(cipher, ks_mac, st.info.oid, group, st.terminal_eph)
            answer = encode(0x86, token)
            if st.info.mapping == "CAM":
                answer += encode(0x8A, self._cam_data(group, st.map_private, ks_enc))
            self.pace = None
            self.app_selected = False
            self._next_sm = SecureMessaging(cipher, ks_enc, ks_mac, 0)
            return _sw(0x9000, encode(0x7C, answer))
        raise ValueError("PACE step out of order")

    def _cam_data(self, group: pace.Group, map_private: int, ks_enc: bytes) -> bytes:
        """PACE-CAM: A_IC = E(KS_enc, SK_IC^-1 * SK_Map,IC mod n) (Part 11 4.4.3.5.1)."""
        key = self.profile.ca_key
        if key is None or not isinstance(group, EcCurve):
            raise ValueError("PACE-CAM needs an EC Chip Authentication key")
        n = group.n
        ca_ic = pow(key.private_numbers().private_value, -1, n) * map_private % n
        return pace.cam_encrypt(ks_enc, ca_ic.to_bytes(group.order_bytes, "big"))

    def _ca_agree(self, terminal_public: bytes, oid: str) -> ResponseApdu:
        key = self.profile.ca_key
        if key is None or self.sm is None:
            return _sw(0x6985)
        name = {"brainpoolP256r1": "brainpoolP256r1", "secp256r1": "secp256r1",
                "brainpoolP384r1": "brainpoolP384r1", "secp384r1": "secp384r1",
                "brainpoolP512r1": "brainpoolP512r1", "secp521r1": "secp521r1"}.get(key.curve.name)
        if name is None:
            return _sw(0x6A80)
        curve = CURVES[name]
        try:
            k = pace.shared_secret(curve, key.private_numbers().private_value, terminal_public)
        except pace.AuthenticationError:
            return _sw(0x6A80)
        cipher, bits = pace.CIPHERS[int(oid.split(".")[-1])]
        self.ca_oid = None
        # The answer still goes out under the old keys; the new session starts after it.
        self._next_sm = SecureMessaging(cipher, crypto.kdf(k, 1, cipher, bits), crypto.kdf(k, 2, cipher, bits), 0)
        return _sw(0x9000, encode(0x7C, b""))

    # -- Active Authentication -------------------------------------------------------------

    def _internal_authenticate(self, cmd: CommandApdu) -> ResponseApdu:
        key = self.profile.aa_key
        if key is None:
            return _sw(0x6D00)
        if not self.authenticated:
            return _sw(0x6982)
        if len(cmd.data) != 8:
            return _sw(0x6700)
        from proofing.nfc.active import sign_active_authentication

        return _sw(0x9000, sign_active_authentication(key, cmd.data, hash_name=self.profile.aa_hash))


def atr_info(extended: bool) -> bytes:
    """EF.ATR/INFO: extended length information (7F66: max command and response sizes)."""
    size = 0x0FFF if extended else 0xFF
    return encode(0x7F66, encode(0x02, size.to_bytes(2, "big")) + encode(0x02, size.to_bytes(2, "big")))


def raw_is_extended(raw: bytes) -> bool:
    return len(raw) > 5 and raw[4] == 0


def make_atr(extended: bool, caps: bool = True) -> bytes:
    """3B 8x 80 01 + historical bytes (card capabilities: chaining, extended length) + TCK.

    ``caps=False`` leaves the capabilities out, as many passports do (then EF.ATR/INFO says it).
    """
    hist = (bytes([0x80, 0x73, 0x00, 0x21, 0xC0 if extended else 0x80]) if caps else b"\x80") + b"eMRTD"
    body = bytes([0x80 | len(hist), 0x80, 0x01]) + hist
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


class DirectTransport:
    """The virtual chip in-process: the same APDUs, no PC/SC in between."""

    def __init__(self, chip: VirtualChip) -> None:
        self.chip = chip
        self.dropped = False

    @property
    def supports_extended(self) -> bool | None:
        from proofing.nfc.transport import atr_extended_length

        return atr_extended_length(self.chip.atr)

    def transmit(self, apdu: bytes) -> bytes:
        from proofing.nfc.errors import CardRemoved

        if self.dropped:
            raise CardRemoved("the virtual card left the field")
        try:
            return self.chip.process(apdu)
        except DropConnection as exc:
            self.dropped = True
            raise CardRemoved("the virtual card left the field") from exc
