"""Chip Authentication (ICAO 9303 Part 11 section 6.2, BSI TR-03110 Part 3 3.4).

The terminal sends an ephemeral key on the domain of the chip's static DG14 key; both
sides compute K and restart secure messaging under KDF(K) with SSC = 0. Only the genuine
chip, which holds the private key signed into EF.SOD via DG14, can keep talking after the
switch: that is the proof (and it defeats cloning). Chips that answer with a nonce and an
authentication token (CA version 2, TR-03110) are handled as well.
"""

from __future__ import annotations

from dataclasses import dataclass

from proofing.nfc import crypto
from proofing.nfc.apdu import CommandApdu
from proofing.nfc.crypto import CipherName
from proofing.nfc.errors import AuthenticationError, ChipError, StatusError
from proofing.nfc.groups import DH_GROUPS, DhGroup
from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.keys import PublicKeyInfo
from proofing.nfc.lds.security_infos import SecurityInfos, parse_dg14, parse_security_infos
from proofing.nfc.pace import (
    Group,
    auth_token,
    generator,
    oid_value,
    public_key,
    random_private,
    shared_secret,
)
from proofing.nfc.sm import SecureMessaging
from proofing.nfc.tlv import TlvError, decode, encode, iter_tlv
from proofing.nfc.transport import Channel

ID_CA = "0.4.0.127.0.7.2.2.3"
ID_PK_DH = "0.4.0.127.0.7.2.2.1.1"
ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"
_CA_CIPHERS: dict[int, tuple[CipherName, int]] = {1: ("3DES", 128), 2: ("AES", 128), 3: ("AES", 192), 4: ("AES", 256)}


@dataclass(frozen=True)
class ChipAuthKey:
    """A chip's static CA key from DG14, with the protocol to use it with."""

    oid: str  # id-CA-(EC)DH-<cipher>
    group: Group
    public: bytes  # uncompressed point, or y padded to |p|
    key_id: int | None = None
    #: No ChipAuthenticationInfo named the protocol: legacy chips, MSE:Set KAT is used.
    inferred: bool = False

    @property
    def cipher(self) -> CipherName:
        return _CA_CIPHERS[int(self.oid.split(".")[-1])][0]

    @property
    def key_bits(self) -> int:
        return _CA_CIPHERS[int(self.oid.split(".")[-1])][1]


def group_of(key: PublicKeyInfo) -> tuple[Group, bytes]:
    """Domain parameters and encoded public key of a parsed EC or DH key."""
    if key.algorithm == "ec" and key.curve is not None and key.point is not None:
        return key.curve, key.point
    if key.algorithm == "dh" and key.dh is not None and key.dh_y is not None:
        p, g, q = key.dh.p, key.dh.g, key.dh.q
        if q is None:  # PKCS #3 gives no subgroup order: take a standard group's, else none
            q = next((grp.q for grp in DH_GROUPS.values() if grp.p == p and grp.g == g), 0)
        group = DhGroup("dh", p, g, q)
        return group, group.encode(key.dh_y)
    raise ChipError(f"unsupported Chip Authentication key algorithm {key.algorithm}")


def ca_keys(infos: SecurityInfos) -> list[ChipAuthKey]:
    """The usable CA keys of SecurityInfos (DG14 or EF.CardSecurity): each
    ChipAuthenticationPublicKeyInfo with the ChipAuthenticationInfo naming its protocol.

    A key without a ChipAuthenticationInfo gets the ICAO default for its type
    (id-CA-ECDH-3DES-CBC-CBC / id-CA-DH-3DES-CBC-CBC, used with MSE:Set KAT).
    """
    protocols = [(i.protocol, i.key_id) for i in infos.chip_authentication
                 if i.protocol.startswith(ID_CA + ".") and len(i.protocol.split(".")) == 11]
    out = []
    for pk in infos.chip_authentication_public_keys:
        try:
            group, public = group_of(pk.public_key)
        except ChipError:
            continue
        kind = "2" if pk.protocol == ID_PK_ECDH else "1"
        kid = pk.key_id
        matching = [o for o, k in protocols
                    if o.split(".")[-2] == kind and (k is None or kid is None or k == kid)]
        oid = matching[0] if matching else f"{ID_CA}.{kind}.1"
        out.append(ChipAuthKey(oid, group, public, kid, inferred=not matching))
    return out


def ca_keys_from_dg14(dg14: bytes) -> list[ChipAuthKey]:
    try:
        return ca_keys(parse_dg14(dg14))
    except LdsError as exc:
        raise ChipError(f"DG14: {exc}") from exc


def card_security_keys(card_security: bytes) -> list[ChipAuthKey]:
    """The CA keys EF.CardSecurity holds (for PACE-CAM)."""
    try:
        return ca_keys(parse_security_infos(card_security_infos(card_security)))
    except LdsError as exc:
        raise ChipError(f"EF.CardSecurity: {exc}") from exc


def card_security_infos(card_security: bytes) -> bytes:
    """The SecurityInfos inside EF.CardSecurity (CMS SignedData, eContent id-SecurityObject).

    Only the content is taken here; its signature is checked by passive authentication on
    the server, like EF.SOD's.
    """
    from asn1crypto import cms, core

    try:
        ci = cms.ContentInfo.load(card_security)
        content = ci["content"]["encap_content_info"]["content"]
        if isinstance(content, core.Void):
            raise ValueError("no encapsulated content")
        return bytes(content.contents)
    except (ValueError, KeyError, TypeError) as exc:
        raise ChipError(f"EF.CardSecurity: {exc}") from exc


def ca_mse_set_at(key: ChipAuthKey) -> CommandApdu:
    data = encode(0x80, oid_value(key.oid))
    if key.key_id is not None:
        data += encode(0x84, key.key_id.to_bytes(max(1, (key.key_id.bit_length() + 7) // 8), "big"))
    return CommandApdu(0x00, 0x22, 0x41, 0xA4, data)


def ca_mse_set_kat(key: ChipAuthKey, eph_public: bytes) -> CommandApdu:
    """The legacy 3DES form: the ephemeral key goes in MSE:Set KAT (ICAO 9303 Part 11 6.2.4.1)."""
    data = encode(0x91, eph_public)
    if key.key_id is not None:
        data += encode(0x84, key.key_id.to_bytes(max(1, (key.key_id.bit_length() + 7) // 8), "big"))
    return CommandApdu(0x00, 0x22, 0x41, 0xA6, data)


def ca_general_authenticate(eph_public: bytes) -> CommandApdu:
    return CommandApdu(0x00, 0x86, 0x00, 0x00, encode(0x7C, encode(0x80, eph_public)), le=256)


@dataclass
class CaResult:
    sm: SecureMessaging
    oid: str
    key_id: int | None
    terminal_public: bytes
    version: int  # 1: ICAO (no token), 2: TR-03110 nonce + token


def chip_authenticate(channel: Channel, key: ChipAuthKey, *, private: int | None = None) -> CaResult:
    """Run CA over the current session and return the new one (SSC 0; caller installs it)."""
    if channel.sm is None:
        raise ChipError("Chip Authentication needs an established secure-messaging session")
    group = key.group
    private = private or random_private(group)
    eph_public = public_key(group, generator(group), private)
    if key.inferred and key.cipher == "3DES":
        resp = channel.send(ca_mse_set_kat(key, eph_public))
        if not resp.ok:
            raise AuthenticationError(f"Chip Authentication (MSE:Set KAT) refused: SW {resp.sw:04X}")
    else:
        r = channel.send(ca_mse_set_at(key))
        if not r.ok:
            raise StatusError("CA MSE:Set AT", r.sw)
        resp = channel.send(ca_general_authenticate(eph_public))
        if not resp.ok:
            raise AuthenticationError(f"Chip Authentication refused: SW {resp.sw:04X}")
    k = shared_secret(group, private, key.public)
    nonce = token = None
    if resp.data:
        try:
            for obj in iter_tlv(decode(resp.data).value):
                if obj.tag == 0x81:
                    nonce = obj.value
                elif obj.tag == 0x82:
                    token = obj.value
        except TlvError as exc:
            raise AuthenticationError(f"CA answer: {exc}") from exc
    if nonce is not None:
        ks_enc = crypto.kdf(k, crypto.KDF_ENC, key.cipher, key.key_bits, nonce)
        ks_mac = crypto.kdf(k, crypto.KDF_MAC, key.cipher, key.key_bits, nonce)
        expected = auth_token(key.cipher, ks_mac, key.oid, group, eph_public)
        if token is None or not crypto.equal(token, expected):
            raise AuthenticationError("Chip Authentication token does not verify")
    else:
        ks_enc = crypto.kdf(k, crypto.KDF_ENC, key.cipher, key.key_bits)
        ks_mac = crypto.kdf(k, crypto.KDF_MAC, key.cipher, key.key_bits)
    return CaResult(SecureMessaging(key.cipher, ks_enc, ks_mac, 0), key.oid, key.key_id, eph_public,
                    2 if nonce is not None else 1)
