"""PACE v2 (ICAO 9303 Part 11 section 4.4, BSI TR-03110): generic and integrated mapping,
over ECDH and DH.

Password -> K_pi; the chip's nonce s is encrypted under K_pi; a first key agreement maps
the generator (G' = s*G + H, or g' = g^s * h for DH); a second, ephemeral one on G' gives
the shared secret K and the session keys; authentication tokens (MACs over the other
side's ephemeral public key) prove both sides derived the same keys. The pure steps are
separate functions so the test vectors and the virtual chip reuse them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from asn1crypto.core import ObjectIdentifier

from proofing.nfc import crypto
from proofing.nfc.apdu import CommandApdu, ResponseApdu
from proofing.nfc.bac import AccessKey, CanKey, MrzKey
from proofing.nfc.crypto import CipherName
from proofing.nfc.errors import AuthenticationError, ChipError, StatusError
from proofing.nfc.groups import DhGroup, domain
from proofing.nfc.lds.curves import EcCurve
from proofing.nfc.sm import SecureMessaging
from proofing.nfc.tlv import Tlv, TlvError, decode, encode, iter_tlv
from proofing.nfc.transport import Channel

ID_PACE = "0.4.0.127.0.7.2.2.4"
#: mapping arc -> (mapping, agreement)
_MAPPINGS = {1: ("GM", "DH"), 2: ("GM", "ECDH"), 3: ("IM", "DH"), 4: ("IM", "ECDH"), 6: ("CAM", "ECDH")}
#: cipher arc -> (cipher, key bits)
CIPHERS: dict[int, tuple[CipherName, int]] = {1: ("3DES", 128), 2: ("AES", 128), 3: ("AES", 192), 4: ("AES", 256)}

PASSWORD_MRZ = 1
PASSWORD_CAN = 2


@dataclass(frozen=True)
class PaceInfo:
    """One PACEInfo from EF.CardAccess: protocol OID, version, standardized parameter id."""

    oid: str
    version: int
    parameter_id: int | None

    @property
    def mapping(self) -> str:
        return _MAPPINGS[int(self.oid.split(".")[-2])][0]

    @property
    def agreement(self) -> str:
        return _MAPPINGS[int(self.oid.split(".")[-2])][1]

    @property
    def cipher(self) -> CipherName:
        return CIPHERS[int(self.oid.split(".")[-1])][0]

    @property
    def key_bits(self) -> int:
        return CIPHERS[int(self.oid.split(".")[-1])][1]

    @property
    def supported(self) -> bool:
        arcs = self.oid.split(".")
        return (len(arcs) == 11 and self.oid.startswith(ID_PACE + ".")
                and int(arcs[-2]) in (1, 2, 3, 4, 6) and int(arcs[-1]) in CIPHERS
                and self.parameter_id is not None and _known_domain(self.parameter_id, self.mapping))


def _known_domain(pid: int, mapping: str) -> bool:
    try:
        group = domain(pid)
    except ValueError:
        return False
    # The point encoding of the integrated mapping needs p = 3 mod 4 (not P-224).
    return not (mapping == "IM" and isinstance(group, EcCurve) and group.p % 4 != 3)


def oid_value(oid: str) -> bytes:
    """The DER content octets of an OID (no tag, no length)."""
    return ObjectIdentifier(oid).dump()[2:]


def oid_from_value(value: bytes) -> str:
    return str(ObjectIdentifier.load(encode(0x06, value)).dotted)


def parse_pace_infos(card_access: bytes) -> list[PaceInfo]:
    """The PACEInfos of EF.CardAccess (parsed by the LDS SecurityInfos parser)."""
    from proofing.nfc.lds.errors import LdsError
    from proofing.nfc.lds.security_infos import parse_card_access

    try:
        infos = parse_card_access(card_access)
    except LdsError as exc:
        raise ChipError(f"EF.CardAccess: {exc}") from exc
    return [PaceInfo(i.protocol, i.version, i.parameter_id) for i in infos.pace]


# -- pure steps ----------------------------------------------------------------------------


def password_key(key: AccessKey, cipher: CipherName, key_bits: int) -> bytes:
    """K_pi = KDF_pi(pi): pi = SHA-1(MRZ information) for the MRZ, the CAN's digits for a CAN."""
    if isinstance(key, MrzKey):
        secret = hashlib.sha1(key.mrz_information.encode("ascii")).digest()
    else:
        secret = key.can.encode("latin-1")
    return crypto.kdf(secret, crypto.KDF_PI, cipher, key_bits)


def password_ref(key: AccessKey) -> int:
    return PASSWORD_CAN if isinstance(key, CanKey) else PASSWORD_MRZ


def decrypt_nonce(cipher: CipherName, k_pi: bytes, z: bytes) -> bytes:
    return crypto.cbc_decrypt(cipher, k_pi, z)


def encrypt_nonce(cipher: CipherName, k_pi: bytes, s: bytes) -> bytes:
    return crypto.cbc_encrypt(cipher, k_pi, s)


Group = EcCurve | DhGroup
#: A generator: an EC point or a DH group element.
Element = tuple[int, int] | int


def generator(group: Group) -> Element:
    return group.generator if isinstance(group, EcCurve) else group.g


def order(group: Group) -> int:
    if isinstance(group, EcCurve):
        return group.n
    return group.q or group.p - 1


def random_private(group: Group) -> int:
    return secrets.randbelow(order(group) - 1) + 1


def public_key(group: Group, gen: Element, private: int) -> bytes:
    """private * gen (EC, uncompressed) or gen^private mod p (DH, padded to |p|)."""
    if isinstance(group, EcCurve):
        assert isinstance(gen, tuple)
        pt = group.mul(private, gen)
        assert pt is not None
        return group.encode_point(pt)
    assert isinstance(gen, int)
    return group.encode(pow(gen, private, group.p))


def shared_element(group: Group, private: int, peer: bytes) -> Element:
    """The raw agreement result: private * peer point, or peer^private mod p (validated)."""
    if isinstance(group, EcCurve):
        try:
            pt = group.mul(private, group.decode_point(peer))
        except ValueError as exc:
            raise AuthenticationError(f"peer public key: {exc}") from exc
        if pt is None:
            raise AuthenticationError("key agreement gave the point at infinity")
        return pt
    y = int.from_bytes(peer, "big")
    if not group.valid_public(y):
        raise AuthenticationError("peer DH public key is not in the subgroup")
    return pow(y, private, group.p)


def shared_secret(group: Group, private: int, peer: bytes) -> bytes:
    """K: the x-coordinate (EC) or the group element (DH), big-endian at field size."""
    k = shared_element(group, private, peer)
    if isinstance(group, EcCurve):
        assert isinstance(k, tuple)
        return k[0].to_bytes(group.field_bytes, "big")
    assert isinstance(k, int)
    return group.encode(k)


def map_generator(group: Group, nonce: bytes, h: Element) -> Element:
    """Generic mapping: G' = s*G + H (EC) or g' = g^s * h mod p (DH)."""
    s = int.from_bytes(nonce, "big")
    if isinstance(group, EcCurve):
        assert isinstance(h, tuple)
        pt = group.add(group.mul(s, group.generator), h)
        if pt is None:
            raise AuthenticationError("mapped generator is the point at infinity")
        return pt
    assert isinstance(h, int)
    return pow(group.g, s, group.p) * h % group.p


# Integrated mapping constants (ICAO 9303 Part 11 4.4.3.3.2): l = 128 for 3DES / AES-128,
# l = 256 for AES-192 / AES-256.
_IM_C0 = {128: bytes.fromhex("a668892a7c41e3ca739f40b057d85904"),
          256: bytes.fromhex("d463d65234124ef7897054986dca0a174e28df758cbaa03f240616414d5a1676")}
_IM_C1 = {128: bytes.fromhex("a4e136ac725f738b01c1f60217c188ad"),
          256: bytes.fromhex("54bd7255f0aaf831bec3423fcf39d69b6cbf066677d0faae5aadd99df8e53517")}


def nonce_length(cipher: CipherName, key_bits: int) -> int:
    """|s| = l: the smallest multiple of the block size >= the key size (3DES counts as 128)."""
    return 16 if cipher == "3DES" or key_bits == 128 else 32


def im_prf(cipher: CipherName, key_bits: int, s: bytes, t: bytes, p: int) -> bytes:
    """R(s, t) before the reduction mod p: x1 || ... || xn with n*l >= log2(p) + 64.

    k1 = E(t, s); x_i = E(k_i, c1); k_(i+1) = E(k_i, c0), keys cut to the cipher's key size.
    """
    l_bits = nonce_length(cipher, key_bits) * 8
    n = -(-(p.bit_length() + 64) // l_bits)
    key_len = 16 if cipher == "3DES" else key_bits // 8
    c0, c1 = _IM_C0[l_bits], _IM_C1[l_bits]
    k = crypto.cbc_encrypt(cipher, t[:key_len], s)
    out = b""
    for _ in range(n):
        key = k[:key_len]
        out += crypto.cbc_encrypt(cipher, key, c1)
        k = crypto.cbc_encrypt(cipher, key, c0)
    return out


def point_encode(curve: EcCurve, t: int) -> tuple[int, int]:
    """f_G: GF(p) -> E[q], the simplified SWU encoding of ICAO 9303 Part 11 Appendix B.2
    (requires p = 3 mod 4; the standardized curves used with IM have cofactor 1)."""
    p, a, b = curve.p, curve.a % curve.p, curve.b % curve.p
    if p % 4 != 3 or not 0 < t < p:
        raise ValueError("integrated mapping needs p = 3 mod 4 and 0 < t < p")
    alpha = -t * t % p
    x2 = -b * pow(a, -1, p) * (1 + pow(alpha + alpha * alpha, -1, p)) % p
    x3 = alpha * x2 % p
    h2 = (x2 * x2 * x2 + a * x2 + b) % p
    u = t * t * t * h2 % p
    big_a = pow(h2, p - 1 - (p + 1) // 4, p)
    pt = (x2, big_a * h2 % p) if big_a * big_a * h2 % p == 1 else (x3, big_a * u % p)
    if curve.h != 1:
        mul = curve.mul(curve.h, pt)
        if mul is None:
            raise ValueError("point encoding gave the point at infinity")
        pt = mul
    return pt


def integrated_map(group: Group, cipher: CipherName, key_bits: int, nonce: bytes, t: bytes) -> Element:
    """Integrated mapping: G' = f_G(R_p(s, t)) (EC) or g' = R_p(s, t)^((p-1)/q) mod p (DH)."""
    r = int.from_bytes(im_prf(cipher, key_bits, nonce, t, group.p), "big") % group.p
    if isinstance(group, EcCurve):
        return point_encode(group, r)
    g2 = pow(r, (group.p - 1) // group.q, group.p)
    if g2 == 1:
        raise AuthenticationError("integrated mapping gave the neutral element")
    return g2


def encode_element(group: Group, e: Element) -> bytes:
    if isinstance(group, EcCurve):
        assert isinstance(e, tuple)
        return group.encode_point(e)
    assert isinstance(e, int)
    return group.encode(e)


def session_keys(k: bytes, cipher: CipherName, key_bits: int) -> tuple[bytes, bytes]:
    return crypto.kdf(k, crypto.KDF_ENC, cipher, key_bits), crypto.kdf(k, crypto.KDF_MAC, cipher, key_bits)


def public_key_object(oid: str, group: Group, public: bytes) -> bytes:
    """The 7F49 public-key data object the tokens are computed over (TR-03110 Part 3 D.3)."""
    tag = 0x86 if isinstance(group, EcCurve) else 0x84
    return encode(0x7F49, encode(0x06, oid_value(oid)) + encode(tag, public))


def auth_token(cipher: CipherName, ks_mac: bytes, oid: str, group: Group, peer_public: bytes) -> bytes:
    """T = MAC(KS_mac, public-key object of the *other* side's ephemeral key), 8 bytes."""
    return crypto.token_mac(cipher, ks_mac, public_key_object(oid, group, peer_public))


def mse_set_at(oid: str, password: int, parameter_id: int | None) -> CommandApdu:
    data = encode(0x80, oid_value(oid)) + encode(0x83, bytes([password]))
    if parameter_id is not None:
        data += encode(0x84, bytes([parameter_id]))
    return CommandApdu(0x00, 0x22, 0xC1, 0xA4, data)


def general_authenticate(tag: int | None, value: bytes, *, last: bool = False) -> CommandApdu:
    inner = encode(tag, value) if tag is not None else b""
    return CommandApdu(0x00 if last else 0x10, 0x86, 0x00, 0x00, encode(0x7C, inner), le=256)


def dynamic_object(resp: ResponseApdu, tag: int, what: str) -> Tlv:
    """The object ``tag`` inside the 7C dynamic authentication data of a GA answer."""
    if not resp.ok:
        raise StatusError(f"PACE {what}", resp.sw)
    try:
        outer = decode(resp.data)
        if outer.tag != 0x7C:
            raise AuthenticationError(f"PACE {what}: answer is not a 7C object")
        for obj in iter_tlv(outer.value):
            if obj.tag == tag:
                return obj
    except TlvError as exc:
        raise AuthenticationError(f"PACE {what}: {exc}") from exc
    raise AuthenticationError(f"PACE {what}: tag {tag:X} missing")


# -- terminal ------------------------------------------------------------------------------


def cam_encrypt(ks_enc: bytes, ca_data: bytes) -> bytes:
    """PACE-CAM chip side: A_IC = E(KS_enc, CA_IC), AES-CBC with IV = E(KS_enc, -1)."""
    iv = crypto.aes_ecb_block(ks_enc, b"\xff" * 16)
    return crypto.aes_cbc_encrypt(ks_enc, crypto.pad(ca_data, 16), iv)


def cam_decrypt(ks_enc: bytes, encrypted: bytes) -> bytes:
    iv = crypto.aes_ecb_block(ks_enc, b"\xff" * 16)
    try:
        return crypto.unpad(crypto.aes_cbc_decrypt(ks_enc, encrypted, iv))
    except ValueError as exc:
        raise AuthenticationError(f"PACE-CAM: chip authentication data does not decrypt: {exc}") from exc


def cam_verify(curve: EcCurve, chip_map_public: bytes, ca_data: bytes, chip_static_public: bytes) -> bool:
    """PACE-CAM terminal check (Part 11 4.4.3.5.2): PK_Map,IC = CA_IC * PK_IC."""
    try:
        pk_ic = curve.decode_point(chip_static_public)
        pk_map = curve.decode_point(chip_map_public)
    except ValueError:
        return False
    return curve.mul(int.from_bytes(ca_data, "big"), pk_ic) == pk_map


@dataclass
class PaceResult:
    sm: SecureMessaging
    info: PaceInfo
    #: The chip's ephemeral public key (PACE-CAM / CA bind to it).
    chip_public: bytes
    #: PACE-CAM: the chip's mapping public key and its decrypted Chip Authentication Data.
    chip_map_public: bytes = b""
    cam_data: bytes | None = None


def pace_authenticate(channel: Channel, key: AccessKey, info: PaceInfo, *,
                      map_private: int | None = None, eph_private: int | None = None,
                      im_nonce: bytes | None = None) -> PaceResult:
    """Run PACE (generic or integrated mapping) over ``channel``; returns the new session
    with SSC = 0 (the caller installs it). The optional keys and nonce fix the randomness
    for replaying worked examples."""
    if not info.supported or info.parameter_id is None:
        raise ChipError(f"PACE {info.oid} with parameter id {info.parameter_id} is not supported")
    group = domain(info.parameter_id)
    cipher, bits = info.cipher, info.key_bits
    k_pi = password_key(key, cipher, bits)

    r = channel.send(mse_set_at(info.oid, password_ref(key), info.parameter_id))
    if not r.ok:
        raise StatusError("PACE MSE:Set AT", r.sw)
    z = dynamic_object(channel.send(general_authenticate(None, b"")), 0x80, "encrypted nonce").value
    nonce = decrypt_nonce(cipher, k_pi, z)

    chip_map = b""
    if info.mapping == "IM":
        t = im_nonce or secrets.token_bytes(16 if cipher == "3DES" else bits // 8)
        dynamic_object(channel.send(general_authenticate(0x81, t)), 0x82, "mapping")
        g2 = integrated_map(group, cipher, bits, nonce, t)
    else:
        map_private = map_private or random_private(group)
        map_public = public_key(group, generator(group), map_private)
        chip_map = dynamic_object(channel.send(general_authenticate(0x81, map_public)), 0x82, "mapping").value
        if chip_map == map_public:
            raise AuthenticationError("PACE: the chip echoed our mapping key")
        g2 = map_generator(group, nonce, shared_element(group, map_private, chip_map))

    eph_private = eph_private or random_private(group)
    eph_public = public_key(group, g2, eph_private)
    chip_eph = dynamic_object(channel.send(general_authenticate(0x83, eph_public)), 0x84, "key agreement").value
    if chip_eph == eph_public:
        raise AuthenticationError("PACE: the chip echoed our ephemeral key")
    k = shared_secret(group, eph_private, chip_eph)  # validates the chip's key on the group
    ks_enc, ks_mac = session_keys(k, cipher, bits)

    t_ifd = auth_token(cipher, ks_mac, info.oid, group, chip_eph)
    resp = channel.send(general_authenticate(0x85, t_ifd, last=True))
    if resp.sw == 0x6300 or resp.sw1 == 0x63:
        raise AuthenticationError("PACE refused: wrong access key (MRZ or CAN)?")
    t_ic = dynamic_object(resp, 0x86, "token").value
    if not crypto.equal(t_ic, auth_token(cipher, ks_mac, info.oid, group, eph_public)):
        raise AuthenticationError("PACE: the chip's authentication token does not verify")
    result = PaceResult(SecureMessaging(cipher, ks_enc, ks_mac, 0), info, chip_eph)
    if info.mapping == "CAM":
        if cipher != "AES":
            raise AuthenticationError("PACE-CAM is defined for AES only")
        result.chip_map_public = chip_map
        result.cam_data = cam_decrypt(ks_enc, dynamic_object(resp, 0x8A, "chip authentication data").value)
    return result

