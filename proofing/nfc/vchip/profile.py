"""What a virtual chip holds: its files, its access keys and its private keys.

A profile is a directory: the chip files as ChipDump names them (``DG1.bin``,
``EF.COM.bin``, ...), plus ``profile.json`` with the MRZ access key, the CAN, and the file
names of PEM private keys (``aa_key``, ``ca_key``). The test PKI (:mod:`proofing.nfc.testpki`)
writes such directories with a signed EF.SOD; :func:`make_profile` builds a quick one
(unsigned, no EF.SOD) for protocol tests.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from proofing.nfc.dump import ChipDump
from proofing.nfc.pace import oid_value
from proofing.nfc.tlv import decode, encode

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

ID_PACE_ECDH_GM_AES_128 = "0.4.0.127.0.7.2.2.4.2.2"
ID_CA_ECDH_AES_128 = "0.4.0.127.0.7.2.2.3.2.2"
ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"


@dataclass
class ChipProfile:
    files: dict[str, bytes]
    document_number: str
    birth: str
    expiry: str
    can: str | None = None
    aa_key: PrivateKey | None = None
    #: Hash for ECDSA Active Authentication (RSA uses SHA-1 with ISO 9796-2).
    aa_hash: str = "sha1"
    ca_key: ec.EllipticCurvePrivateKey | None = None
    ca_key_id: int | None = None
    extended_length: bool = True
    #: Announce the card capabilities (extended length) in the ATR's historical bytes.
    atr_caps: bool = True
    #: Serve EF.ATR/INFO (2F01) with the extended length information.
    atr_info: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _load_key(path: Path) -> Any:
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def from_testpki(tp: Any) -> ChipProfile:
    """Adopt a :class:`proofing.nfc.testpki.ChipProfile` (signed EF.SOD, AA and CA keys)."""
    from proofing.nfc.bac import MrzKey

    key = MrzKey.from_mrz_lines(tp.mrz_lines)
    return ChipProfile(dict(tp.files), key.document_number, key.birth, key.expiry, tp.can,
                       tp.aa_private_key, tp.aa_hash, tp.ca_private_key, tp.ca_key_id)


def load_profile(directory: Path) -> ChipProfile:
    """A profile directory (ours or the test PKI's), or a plain dump directory (then the
    MRZ key comes from DG1 and the chip has no AA/CA keys)."""
    dump = ChipDump.from_dir(directory)
    meta: dict[str, Any] = {}
    meta_path = directory / "profile.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
    if meta.get("schema") == "proofing.chip-profile/1":
        from proofing.nfc.testpki import ChipProfile as PkiProfile

        return from_testpki(PkiProfile.load(directory))
    files = dict(dump.files)
    ca_path = directory / "EF.CardAccess.bin"
    if "EF.CardAccess" not in files and ca_path.is_file():
        files["EF.CardAccess"] = ca_path.read_bytes()
    number, birth, expiry = meta.get("document_number"), meta.get("birth"), meta.get("expiry")
    if not (number and birth and expiry):
        if "DG1" not in files:
            raise ValueError(f"{directory}: no profile.json MRZ key and no DG1")
        number, birth, expiry = mrz_key_from_dg1(files["DG1"])
    aa = _load_key(directory / meta["aa_key"]) if meta.get("aa_key") else None
    ca = _load_key(directory / meta["ca_key"]) if meta.get("ca_key") else None
    return ChipProfile(files, number, birth, expiry, meta.get("can"), aa, meta.get("aa_hash", "sha1"),
                       ca, meta.get("ca_key_id"), meta.get("extended_length", True),
                       meta.get("atr_caps", True), meta.get("atr_info", True), meta)


def mrz_key_from_dg1(dg1: bytes) -> tuple[str, str, str]:
    """Document number, birth and expiry from DG1's MRZ (TD1, TD2 or TD3 layout)."""
    from proofing.mrz.parse import parse_lines

    mrz = decode(decode(dg1).value).value.decode("ascii")
    width = {90: 30, 72: 36, 88: 44}.get(len(mrz))
    if width is None:
        raise ValueError(f"DG1 MRZ has {len(mrz)} characters")
    result = parse_lines([mrz[i : i + width] for i in range(0, len(mrz), width)])
    if result.fields is None:
        raise ValueError("DG1 MRZ does not parse")
    f = result.fields
    return f.document_number, f.birth_date_raw, f.expiry_date_raw


def save_profile(profile: ChipProfile, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    ChipDump(files=profile.files).to_dir(directory)
    meta: dict[str, Any] = {"document_number": profile.document_number, "birth": profile.birth,
                            "expiry": profile.expiry, "can": profile.can, "aa_hash": profile.aa_hash,
                            "ca_key_id": profile.ca_key_id, "extended_length": profile.extended_length,
                            "atr_caps": profile.atr_caps, "atr_info": profile.atr_info}
    for name, key in (("aa_key", profile.aa_key), ("ca_key", profile.ca_key)):
        if key is not None:
            (directory / f"{name}.pem").write_bytes(key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            meta[name] = f"{name}.pem"
    (directory / "profile.json").write_text(json.dumps(meta, indent=2))


def _int(v: int) -> bytes:
    return encode(0x02, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big"))


def _oid(dotted: str) -> bytes:
    return encode(0x06, oid_value(dotted))


def _spki(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def td3_mrz(document_number: str, birth: str, expiry: str, name: str = "MUSTERMANN<<ERIKA",
            state: str = "UTO", sex: str = "F") -> str:
    from proofing.mrz.checkdigit import check_digit

    number = (document_number + "<" * 9)[:9]
    line1 = (f"P<{state}{name}" + "<" * 44)[:44]
    personal = "<" * 14
    body = number + check_digit(number) + state + birth + check_digit(birth) + sex + expiry + check_digit(expiry)
    composite = check_digit(number + check_digit(number) + birth + check_digit(birth) + expiry
                            + check_digit(expiry) + personal + "<")
    line2 = body + personal + "<" + composite
    return line1 + line2


def card_security(security_infos: bytes) -> bytes:
    """EF.CardSecurity as CMS SignedData around SecurityInfos, without a signer."""
    from asn1crypto import cms, core

    sd = cms.SignedData({"version": "v3", "digest_algorithms": [], "signer_infos": [],
                         "encap_content_info": {"content_type": "0.4.0.127.0.7.3.2.1",
                                                "content": core.ParsableOctetString(security_infos)}})
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump())


def make_profile(document_number: str = "C01X00T47", birth: str = "640812", expiry: str = "321031", *,
                 can: str = "123456", dg2_size: int = 20_000, aa: str = "rsa", with_ca: bool = True,
                 pace_oid: str | None = ID_PACE_ECDH_GM_AES_128, pace_parameter_id: int = 13,
                 ca_protocol: str | None = ID_CA_ECDH_AES_128) -> ChipProfile:
    """A fresh, unsigned test chip: DG1 from the MRZ, a filler DG2, DG14 (CA), DG15 (AA).

    ``ca_protocol=None`` leaves out the ChipAuthenticationInfo, as early chips do (the
    terminal then falls back to 3DES Chip Authentication with MSE:Set KAT).
    """
    files: dict[str, bytes] = {}
    files["DG1"] = encode(0x61, encode(0x5F1F, td3_mrz(document_number, birth, expiry).encode("ascii")))
    # DG2: a biometric information group template with an opaque filler image of the size asked.
    image = b"\xff\xd8\xff\xe0" + os.urandom(max(0, dg2_size - 64))
    bio = encode(0x7F61, _int(1) + encode(0x7F60, encode(0xA1, encode(0x80, b"\x01\x01")) + encode(0x5F2E, image)))
    files["DG2"] = encode(0x75, bio)
    tags = b"\x61\x75"
    aa_key: PrivateKey | None = None
    if aa == "rsa":
        aa_key = rsa.generate_private_key(65537, 1024)
    elif aa == "ec":
        aa_key = ec.generate_private_key(ec.SECP256R1())
    ca_key = ec.generate_private_key(ec.BrainpoolP256R1()) if with_ca else None
    infos = b""
    if ca_key is not None:
        if ca_protocol:
            infos += encode(0x30, _oid(ca_protocol) + _int(1))
        infos += encode(0x30, _oid(ID_PK_ECDH) + _spki(ca_key.public_key()))
    if pace_oid:
        pace_info = encode(0x30, _oid(pace_oid) + _int(2) + _int(pace_parameter_id))
        infos += pace_info
        files["EF.CardAccess"] = encode(0x31, pace_info)
    if isinstance(aa_key, ec.EllipticCurvePrivateKey):
        # ActiveAuthenticationInfo: id-AA, version 1, ecdsa-plain-SHA256
        infos += encode(0x30, _oid("2.23.136.1.1.5") + _int(1) + _oid("0.4.0.127.0.7.1.1.4.1.3"))
    if pace_oid and pace_oid.split(".")[-2] == "6" and ca_key is not None:
        # PACE-CAM: the terminal checks the chip's key against EF.CardSecurity (unsigned here;
        # the test PKI signs real ones).
        files["EF.CardSecurity"] = card_security(encode(0x31, infos))
    if infos:
        files["DG14"] = encode(0x6E, encode(0x31, infos))
        tags += b"\x6e"
    if aa_key is not None:
        files["DG15"] = encode(0x6F, _spki(aa_key.public_key()))
        tags += b"\x6f"
    files["EF.COM"] = encode(0x60, encode(0x5F01, b"0107") + encode(0x5F36, b"040000") + encode(0x5C, tags))
    return ChipProfile(files, document_number, birth, expiry, can, aa_key,
                       "sha1" if aa == "rsa" else "sha256", ca_key)
