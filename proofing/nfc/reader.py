"""Read an eMRTD chip: access control (PACE, else BAC), the files, Chip and Active
Authentication, into a :class:`ChipDump` of raw bytes.

Any failure part-way (card removed, bad MAC, truncated file, refused authentication)
raises a :class:`ChipError`: a caller never gets a partial dump that looks complete.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from proofing.nfc import ca as ca_mod
from proofing.nfc.apdu import CommandApdu
from proofing.nfc.bac import AccessKey, CanKey, MrzKey, bac_authenticate
from proofing.nfc.dump import FILE_IDS, ChipDump
from proofing.nfc.errors import AuthenticationError, ChipError, StatusError
from proofing.nfc.pace import PaceInfo, PaceResult, pace_authenticate, parse_pace_infos
from proofing.nfc.tlv import TlvError, decode_exact, iter_tlv, read_length, read_tag
from proofing.nfc.transport import Channel, Transport

EMRTD_AID = bytes.fromhex("A0000002471001")
DEFAULT_FILES: tuple[str, ...] = (
    "EF.COM", "EF.SOD", "DG1", "DG2", "DG7", "DG11", "DG12", "DG13", "DG14", "DG15",
)
#: Largest plain chunk whose protected answer still fits a short response (ICAO practice).
SHORT_CHUNK = 0xDF
EXTENDED_CHUNK = 0x1000


def select_file(channel: Channel, fid: int, *, secure: bool = True) -> bool:
    """SELECT EF by file id; False when the chip says it is absent (6A82)."""
    r = channel.send(CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")), secure=secure)
    if r.sw == 0x6A82:
        return False
    if not r.ok:
        raise StatusError(f"SELECT {fid:04X}", r.sw)
    return True


def _read_binary(channel: Channel, offset: int, length: int, extended: bool, secure: bool) -> tuple[bytes, int]:
    if offset <= 0x7FFF:
        cmd = CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length, extended=extended)
        r = channel.send(cmd, secure=secure)
        return r.data, r.sw
    # Offsets beyond 15 bits: READ BINARY with odd INS and an offset data object (DO'54').
    off = offset.to_bytes(3 if offset > 0xFFFF else 2, "big")
    cmd = CommandApdu(0x00, 0xB1, 0x00, 0x00, bytes([0x54, len(off)]) + off, le=length + 4, extended=extended)
    r = channel.send(cmd, secure=secure)
    if not r.data:
        return b"", r.sw
    try:
        tag, pos = read_tag(r.data, 0)
        n, pos = read_length(r.data, pos)
    except TlvError as exc:
        raise ChipError(f"READ BINARY (B1) answer malformed: {exc}") from exc
    if tag != 0x53 or pos + n > len(r.data):
        raise ChipError("READ BINARY (B1) answer is not a complete DO'53'")
    return r.data[pos : pos + n], r.sw


class ExtendedMode:
    """Whether READ BINARY uses extended Le: True/False when known, None = try once, and
    fall back to short chunks for the rest of the session if the chip refuses."""

    def __init__(self, state: bool | None) -> None:
        self.state = state


def read_file(channel: Channel, fid: int, *, extended: bool | None | ExtendedMode = False,
              secure: bool = True) -> bytes | None:
    """The whole EF ``fid`` (None if absent). The length comes from the file's own TLV header;
    a file that ends before it raises, so a truncated file is never returned."""
    mode = extended if isinstance(extended, ExtendedMode) else ExtendedMode(extended)
    if not select_file(channel, fid, secure=secure):
        return None
    # Four bytes hold the tag and a length of up to three bytes (files up to 64 KiB).
    head, sw = _read_binary(channel, 0, 4, False, secure)
    if sw not in (0x9000, 0x6282) or not head:
        raise StatusError(f"READ BINARY {fid:04X}", sw)
    try:
        _, pos = read_tag(head, 0)
        if len(head) == 4 and head[pos] & 0x7F > 2 and head[pos] & 0x80:
            more, sw = _read_binary(channel, 4, 4, False, secure)  # a longer length field
            head += more
        length, pos = read_length(head, pos)
    except (TlvError, IndexError) as exc:
        raise ChipError(f"file {fid:04X}: header unreadable: {exc}") from exc
    total = pos + length
    data = bytearray(head[:total])
    while len(data) < total:
        use_ext = mode.state is not False and total - len(data) > SHORT_CHUNK
        want = min(total - len(data), EXTENDED_CHUNK if use_ext else SHORT_CHUNK)
        chunk, sw = _read_binary(channel, len(data), want, use_ext, secure)
        if use_ext and mode.state is None:
            if not chunk and sw in (0x6700, 0x6D00, 0x6E00, 0x6A86, 0x6F00):
                mode.state = False  # the chip does not take extended Le: short chunks from now on
                continue
            mode.state = True
        if sw not in (0x9000, 0x6282) or not chunk:
            raise ChipError(f"file {fid:04X} ends at {len(data)} of {total} bytes (SW {sw:04X}): truncated")
        data += chunk
    return bytes(data[:total])


def extended_length_info(atr_info: bytes) -> bool | None:
    """EF.ATR/INFO (ISO 7816-4 8.2.1.1): extended length information (7F66) or the card
    capabilities (47) say whether the chip takes extended Lc/Le."""
    try:
        objs = list(iter_tlv(atr_info))
    except TlvError:
        return None
    for obj in objs:
        if obj.tag == 0x7F66:
            try:
                sizes = [int.from_bytes(o.value, "big") for o in iter_tlv(obj.value) if o.tag == 0x02]
            except TlvError:
                return None
            return bool(sizes) and max(sizes) > 256
        if obj.tag == 0x47 and len(obj.value) >= 3:
            return bool(obj.value[2] & 0x40)
    return None


def _read_atr_info(channel: Channel) -> bytes | None:
    """EF.ATR/INFO (2F01 in the MF), read plainly before access control; None if absent."""
    if not select_file(channel, 0x2F01, secure=False):
        return None
    r = channel.send(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256), secure=False)
    return r.data if r.sw in (0x9000, 0x6282) else None


def _choose_pace(card_access: bytes | None) -> PaceInfo | None:
    if not card_access:
        return None
    try:
        infos = parse_pace_infos(card_access)
    except ChipError:
        return None
    usable = [i for i in infos if i.supported]
    # Prefer AES and larger keys; a chip lists what it supports, all of it equally valid.
    usable.sort(key=lambda i: (i.cipher == "AES", i.key_bits), reverse=True)
    return usable[0] if usable else None


def read_chip(
    transport: Transport,
    access_key: AccessKey,
    *,
    challenge: bytes | None = None,
    files: Sequence[str] = DEFAULT_FILES,
    active_auth: bool = True,
    chip_auth: bool = True,
    prefer_pace: bool = True,
    extended_length: bool | None = None,
    timings: dict[str, float] | None = None,
) -> ChipDump:
    """Read the chip behind ``transport`` with the MRZ key or the CAN.

    ``challenge`` is the Active Authentication challenge (8 bytes; the server's nonce);
    a random one is used when None. ``extended_length``: force extended READ BINARY on or
    off; None = as the chip advertises (ATR, EF.ATR/INFO), else try once and fall back on an
    error status (a reader that cannot carry extended APDUs at all needs False).
    ``timings`` (if given) receives seconds per phase.
    """
    if challenge is not None and len(challenge) != 8:
        raise ValueError("the Active Authentication challenge must be 8 bytes")
    t0 = time.perf_counter()
    marks: dict[str, float] = {}
    ch = Channel(transport)
    dump = ChipDump()
    extended = ExtendedMode(transport.supports_extended if extended_length is None else extended_length)
    if extended.state is None:
        atr_info = _read_atr_info(ch)
        extended.state = extended_length_info(atr_info) if atr_info else None

    card_access = read_file(ch, 0x011C, secure=False)
    if card_access:
        dump.files["EF.CardAccess"] = card_access
    info = _choose_pace(card_access) if prefer_pace else None
    if info is None and isinstance(access_key, CanKey):
        raise ChipError("the CAN needs PACE, and the chip offers no supported PACE protocol")

    if info is not None:
        try:
            result = pace_authenticate(ch, access_key, info)
        except StatusError:
            # The chip lists PACE but will not run it (some early PACE chips): BAC is the
            # ICAO fallback for the MRZ key. A wrong key (AuthenticationError) is not retried.
            if not isinstance(access_key, MrzKey):
                raise
            info = None
        else:
            ch.sm = result.sm
            dump.access_control = "PACE"
            if result.cam_data is not None:
                dump.chip_authentication = _verify_pace_cam(ch, dump, result)
            r = ch.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID))
            if not r.ok:
                raise StatusError("SELECT eMRTD application", r.sw)
    if info is None:
        assert isinstance(access_key, MrzKey)
        r = ch.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID), secure=False)
        if not r.ok:
            raise StatusError("SELECT eMRTD application", r.sw)
        ch.sm = bac_authenticate(ch, access_key.mrz_information)
        dump.access_control = "BAC"
    marks["access_control"] = time.perf_counter() - t0

    # EF.COM first (it says which DGs exist), then DG14 so that Chip Authentication
    # protects everything read after it.
    order = [n for n in ("EF.COM", "DG14") if n in files] + [n for n in files if n not in ("EF.COM", "DG14")]
    listed: set[str] | None = None
    for name in order:
        data = _read_listed(ch, name, extended, listed)
        if data is None:
            continue
        dump.files[name] = data
        if name == "EF.COM":
            listed = _com_data_groups(data)
        elif name == "DG14" and chip_auth and dump.chip_authentication is None:
            # (PACE-CAM has already proved the chip's key.)
            dump.chip_authentication = _chip_authenticate(ch, data)
    marks["files"] = time.perf_counter() - t0 - marks["access_control"]

    if active_auth and "DG15" in dump.files:
        t1 = time.perf_counter()
        challenge = challenge if challenge is not None else os.urandom(8)
        r = ch.send(CommandApdu(0x00, 0x88, 0x00, 0x00, challenge, le=256))
        if not r.ok or not r.data:
            raise StatusError("INTERNAL AUTHENTICATE", r.sw)
        dump.aa_challenge, dump.aa_signature = challenge, r.data
        marks["active_auth"] = time.perf_counter() - t1
    marks["total"] = time.perf_counter() - t0
    marks["extended_length"] = float(bool(extended.state))
    marks["apdus"] = float(ch.exchanges)
    if timings is not None:
        timings.update(marks)
    return dump


#: EF.COM tag list (ICAO 9303 Part 10 4.6.1): LDS tag -> data group.
_DG_TAGS = {0x61: 1, 0x75: 2, 0x63: 3, 0x76: 4, 0x65: 5, 0x66: 6, 0x67: 7, 0x68: 8, 0x69: 9,
            0x6A: 10, 0x6B: 11, 0x6C: 12, 0x6D: 13, 0x6E: 14, 0x6F: 15, 0x70: 16}


def _com_data_groups(com: bytes) -> set[str] | None:
    try:
        outer = decode_exact(com)
        tags = next((o.value for o in iter_tlv(outer.value) if o.tag == 0x5C), None)
    except TlvError:
        return None
    return None if tags is None else {f"DG{_DG_TAGS[t]}" for t in tags if t in _DG_TAGS}


def _read_listed(ch: Channel, name: str, extended: ExtendedMode, listed: set[str] | None) -> bytes | None:
    """Read one file; a DG that EF.COM lists must not turn out absent.

    EF.COM arrives under secure messaging (MAC checked), so a DG it lists that "is not
    found" means a chip fault or someone in the channel hiding it (e.g. a plain 6A82
    injected to skip DG15 and with it Active Authentication): the read fails.
    """
    try:
        data = read_file(ch, FILE_IDS[name], extended=extended)
    except StatusError as exc:
        if exc.sw == 0x6982 and name in ("DG3", "DG4"):
            return None  # fingerprints and iris need Terminal Authentication (EAC)
        raise
    if data is None and listed is not None and name in listed:
        raise ChipError(f"{name} is listed in EF.COM but the chip reports it absent")
    return data


def _verify_pace_cam(ch: Channel, dump: ChipDump, result: PaceResult) -> dict[str, object]:
    """PACE-CAM: the chip's mapping key must be CA_IC times a static key of EF.CardSecurity."""
    from proofing.nfc.lds.curves import EcCurve
    from proofing.nfc.pace import cam_verify

    card_security = read_file(ch, FILE_IDS["EF.CardSecurity"])  # in the MF, read before the LDS app
    if card_security is None:
        raise AuthenticationError("PACE-CAM: the chip has no EF.CardSecurity to check its key against")
    dump.files["EF.CardSecurity"] = card_security
    keys = ca_mod.card_security_keys(card_security)
    assert result.cam_data is not None
    for key in keys:
        if isinstance(key.group, EcCurve) and cam_verify(key.group, result.chip_map_public, result.cam_data,
                                                         key.public):
            return {"performed": True, "success": True, "protocol": result.info.oid, "mapping": "PACE-CAM",
                    "key_id": key.key_id}
    raise AuthenticationError("PACE-CAM: the chip authentication data does not match EF.CardSecurity")


def _chip_authenticate(ch: Channel, dg14: bytes) -> dict[str, object] | None:
    try:
        keys = ca_mod.ca_keys_from_dg14(dg14)
    except ChipError:
        return {"performed": False, "reason": "DG14 unreadable"}
    if not keys:
        return None
    key = keys[0]
    try:
        result = ca_mod.chip_authenticate(ch, key)
    except AuthenticationError as exc:
        raise AuthenticationError(f"Chip Authentication failed: {exc}") from exc
    ch.sm = result.sm
    return {"performed": True, "success": True, "protocol": result.oid, "key_id": result.key_id,
            "terminal_public": result.terminal_public.hex(), "version": result.version}
