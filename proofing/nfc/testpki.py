"""A test PKI of our own: CSCA -> Document Signer -> EF.SOD, and complete chip profiles.

Real CSCA keys are (rightly) never public, so tests and the virtual chip need chips signed
by a PKI we control. Everything is built with ``cryptography`` and the LDS encoders, so a
profile exercises the same parsers and checks as a real passport. Forged variants (a DG
changed after signing, a damaged SOD signature, an expired DS, an untrusted CSCA) let the
tests prove that each check fails for the right reason.

A profile saves to / loads from a directory: the raw files (EF.COM.bin, DG1.bin, ...,
readable by :meth:`ChipDump.from_dir`), ``keys.json`` (PEM private keys and
certificates) and ``profile.json`` (MRZ, CAN, protocol choices).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from proofing.mrz.checkdigit import check_digit
from proofing.nfc.dump import ChipDump
from proofing.nfc.lds.com import encode_com
from proofing.nfc.lds.dg1 import encode_dg1
from proofing.nfc.lds.dg2 import encode_dg2
from proofing.nfc.lds.dg11 import encode_dg11
from proofing.nfc.lds.dg12 import encode_dg12
from proofing.nfc.lds.dg15 import encode_dg15
from proofing.nfc.lds.keys import HASHES, ec_spki, key_to_spki, parse_spki
from proofing.nfc.lds.security_infos import (
    ID_AA,
    ID_CA_ECDH,
    ID_ECDSA_PLAIN,
    ID_PACE,
    ID_PK_ECDH,
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PaceInfo,
    SecurityInfos,
    encode_dg14,
)
from proofing.nfc.lds.sod import OID_SECURITY_OBJECT, build_signed_data, build_sod

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: id-PACE-ECDH-GM-AES-CBC-CMAC-128 with brainpoolP256r1 (standardized parameter 13).
DEFAULT_PACE_PROTOCOL = ID_PACE + ".2.2"
DEFAULT_PACE_PARAMETER_ID = 13
#: id-CA-ECDH-AES-CBC-CMAC-128.
DEFAULT_CA_PROTOCOL = ID_CA_ECDH + ".2"
_AA_EC_ALGORITHMS = {"sha1": ".1", "sha224": ".2", "sha256": ".3", "sha384": ".4", "sha512": ".5"}
_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "brainpoolP512r1": ec.BrainpoolP512R1,
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def make_key(kind: str = "ec", *, curve: str = "brainpoolP256r1", bits: int = 2048) -> PrivateKey:
    """'ec' (on ``curve``) or 'rsa' (``bits``)."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if kind == "ec":
        return ec.generate_private_key(_CURVES[curve]())
    raise ValueError(f"unknown key kind {kind!r}")


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key (CSCA or Document Signer)."""

    certificate: x509.Certificate
    private_key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


def _name(country: str, common_name: str, unit: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Proofing Test PKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_csca(
    country: str = "UT",
    *,
    common_name: str = "Utopia Test CSCA",
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    years: int = 15,
) -> Issued:
    """A self-signed Country Signing CA (ICAO 9303 Part 12 profile: CA, keyCertSign, cRLSign)."""
    key = key or make_key("ec")
    start = not_before or _now() - dt.timedelta(days=30)
    name = _name(country, common_name, "Country Signer")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def make_document_signer(
    csca: Issued,
    *,
    common_name: str = "Utopia Test Document Signer",
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    serial: int | None = None,
) -> Issued:
    """A Document Signer certificate issued by ``csca`` (digitalSignature only)."""
    key = key or make_key("ec")
    start = not_before or _now() - dt.timedelta(days=1)
    end = not_after or start + dt.timedelta(days=365 * 10)
    country = csca.certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value
    issuer_ski = csca.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(str(country), common_name, "Document Signer"))
        .issuer_name(csca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
        .sign(csca.private_key, hashes.SHA256())
    )
    return Issued(cert, key)


def make_crl(
    csca: Issued, revoked_serials: list[int], *, this_update: dt.datetime | None = None
) -> bytes:
    """A DER CRL from ``csca`` revoking the given certificate serials."""
    start = this_update or _now() - dt.timedelta(hours=1)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(csca.certificate.subject)
        .last_update(start)
        .next_update(start + dt.timedelta(days=90))
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(start).build()
        )
    return builder.sign(csca.private_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def sod_signer(
    ds: Issued, *, hash_name: str = "sha256", pss: bool = False, damage: bool = False
) -> tuple[Callable[[bytes], bytes], dict[str, object]]:
    """(sign function, CMS signatureAlgorithm) for a DS key; ``damage`` flips a signature bit."""
    h = HASHES[hash_name]()
    key = ds.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        if pss:
            pad: padding.AsymmetricPadding = padding.PSS(
                mgf=padding.MGF1(h), salt_length=h.digest_size
            )
            alg: dict[str, object] = {
                "algorithm": "rsassa_pss",
                "parameters": {
                    "hash_algorithm": {"algorithm": hash_name},
                    "mask_gen_algorithm": {
                        "algorithm": "mgf1",
                        "parameters": {"algorithm": hash_name},
                    },
                    "salt_length": h.digest_size,
                },
            }
        else:
            pad = padding.PKCS1v15()
            alg = {"algorithm": f"{hash_name}_rsa"}

        def sign(data: bytes) -> bytes:
            sig = key.sign(data, pad, h)
            return _flip(sig) if damage else sig

    else:
        alg = {"algorithm": f"{hash_name}_ecdsa"}

        def sign(data: bytes) -> bytes:
            sig = key.sign(data, ec.ECDSA(h))
            return _flip(sig) if damage else sig

    return sign, alg


def _flip(data: bytes, index: int = -1) -> bytes:
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


def td3_mrz(
    surname: str = "MUSTERFRAU",
    given_names: str = "ANNA MARIA",
    number: str = "T22000129",
    *,
    country: str = "UTO",
    nationality: str = "UTO",
    birth: str = "740812",
    sex: str = "F",
    expiry: str = "341231",
    personal_number: str = "",
) -> list[str]:
    """Two TD3 lines with correct check digits (for test documents)."""
    name = (surname.replace(" ", "<") + "<<" + given_names.replace(" ", "<")).upper()
    line1 = ("P<" + country + name).ljust(44, "<")[:44]
    num = number.ljust(9, "<")
    opt = personal_number.ljust(14, "<")
    body = (
        num
        + check_digit(num)
        + nationality
        + birth
        + check_digit(birth)
        + sex
        + expiry
        + check_digit(expiry)
    )
    body += opt + check_digit(opt)
    composite = body[0:10] + body[13:20] + body[21:43]
    return [line1, body + check_digit(composite)]


def default_face_jpeg() -> tuple[bytes, int, int]:
    """A real portrait (scikit-image's astronaut, cropped to the face) as JPEG, else a gradient."""
    import cv2
    import numpy as np

    try:
        from skimage import data as skdata

        rgb = skdata.astronaut()[10:250, 130:320]
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    except Exception:  # scikit-image absent or its data not available
        y, x = np.mgrid[0:240, 0:190]
        bgr = np.dstack([(x * 255 // 190), (y * 255 // 240), np.full_like(x, 128)]).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes(), bgr.shape[1], bgr.shape[0]


@dataclass
class ChipProfile:
    """Everything a virtual chip needs: its files, its secrets, and the PKI that signed it."""

    files: dict[str, bytes]
    mrz_lines: list[str]
    can: str
    csca_der: bytes
    ds_der: bytes
    aa_private_key: PrivateKey | None = None
    aa_hash: str = "sha1"
    ca_private_key: ec.EllipticCurvePrivateKey | None = None
    ca_key_id: int | None = None
    csca_private_key: PrivateKey | None = None
    ds_private_key: PrivateKey | None = None
    notes: list[str] = field(default_factory=list)  # forgeries applied, for test diagnostics

    def dump(self, challenge: bytes | None = None) -> ChipDump:
        """The files as a reader would return them, with an AA signature over ``challenge``."""
        d = ChipDump(files=dict(self.files))
        if challenge is not None and self.aa_private_key is not None:
            d.aa_challenge = challenge
            d.aa_signature = self.sign_aa(challenge)
        return d

    def sign_aa(self, challenge: bytes) -> bytes:
        from proofing.nfc.active import sign_active_authentication

        if self.aa_private_key is None:
            raise ValueError("this chip has no Active Authentication key")
        return sign_active_authentication(self.aa_private_key, challenge, hash_name=self.aa_hash)

    @property
    def card_access(self) -> bytes | None:
        return self.files.get("EF.CardAccess")

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        ChipDump(files=self.files).to_dir(directory)
        keys = {
            name: _pem(key)
            for name, key in (
                ("aa_private_key", self.aa_private_key),
                ("ca_private_key", self.ca_private_key),
                ("csca_private_key", self.csca_private_key),
                ("ds_private_key", self.ds_private_key),
            )
            if key is not None
        }
        keys["csca_certificate"] = _cert_pem(self.csca_der)
        keys["ds_certificate"] = _cert_pem(self.ds_der)
        (directory / "keys.json").write_text(json.dumps(keys, indent=1))
        meta = {
            "schema": "proofing.chip-profile/1",
            "mrz_lines": self.mrz_lines,
            "can": self.can,
            "aa_hash": self.aa_hash,
            "ca_key_id": self.ca_key_id,
            "files": sorted(self.files),
            "notes": self.notes,
        }
        (directory / "profile.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: Path) -> ChipProfile:
        meta = json.loads((directory / "profile.json").read_text())
        keys = json.loads((directory / "keys.json").read_text())
        files = ChipDump.from_dir(directory).files

        def key(name: str) -> PrivateKey | None:
            pem = keys.get(name)
            if pem is None:
                return None
            k = serialization.load_pem_private_key(pem.encode(), password=None)
            assert isinstance(k, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
            return k

        ca = key("ca_private_key")
        return cls(
            files=files,
            mrz_lines=list(meta["mrz_lines"]),
            can=str(meta["can"]),
            csca_der=_cert_der(keys["csca_certificate"]),
            ds_der=_cert_der(keys["ds_certificate"]),
            aa_private_key=key("aa_private_key"),
            aa_hash=str(meta.get("aa_hash", "sha1")),
            ca_private_key=ca if isinstance(ca, ec.EllipticCurvePrivateKey) else None,
            ca_key_id=meta.get("ca_key_id"),
            csca_private_key=key("csca_private_key"),
            ds_private_key=key("ds_private_key"),
            notes=list(meta.get("notes", [])),
        )


def _pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _cert_pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


def _cert_der(pem: str) -> bytes:
    return x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)


def make_profile(
    mrz_lines: list[str] | None = None,
    *,
    face_jpeg: bytes | None = None,
    face_size: tuple[int, int] | None = None,
    can: str = "123456",
    csca: Issued | None = None,
    ds: Issued | None = None,
    ds_key: str = "ec",
    sod_hash: str = "sha256",
    sod_pss: bool = False,
    aa: str | None = "rsa",
    aa_hash: str | None = None,
    chip_authentication: bool = True,
    ca_curve: str = "brainpoolP256r1",
    ca_key_id: int | None = None,
    ca_explicit_params: bool = False,
    pace_protocol: str = DEFAULT_PACE_PROTOCOL,
    pace_parameter_id: int = DEFAULT_PACE_PARAMETER_ID,
    card_security: bool = False,
    dg11: Mapping[str, str | bytes] | None = None,
    dg12: Mapping[str, str | bytes] | None = None,
    tamper_dg: int | None = None,
    damage_signature: bool = False,
    expired_ds: bool = False,
    signing_time: dt.datetime | None = None,
) -> ChipProfile:
    """A complete, correctly signed chip (unless a forgery option is set).

    ``aa``: 'rsa' (RSA-2048, 9796-2 with SHA-1 unless ``aa_hash``), 'ec' (ECDSA plain on
    brainpoolP256r1, SHA-256, announced in DG14) or None (no DG15). ``csca`` / ``ds``
    default to a fresh PKI; pass another CSCA to the trust store for an "untrusted" chip.
    ``card_security`` adds a DS-signed EF.CardSecurity. ``ca_explicit_params`` encodes the DG14 CA key with explicit curve parameters.
    Forgeries: ``tamper_dg`` flips a byte of that DG after signing, ``damage_signature``
    flips a bit of the SOD signature, ``expired_ds`` issues a DS whose validity has ended.
    """
    lines = mrz_lines or td3_mrz()
    csca = csca or make_csca()
    notes: list[str] = []
    if ds is None:
        if expired_ds:
            start = _now() - dt.timedelta(days=3 * 365)
            ds = make_document_signer(
                csca,
                key=make_key(ds_key),
                not_before=start,
                not_after=start + dt.timedelta(days=365),
            )
            signing_time = signing_time or start + dt.timedelta(days=10)
            notes.append("expired_ds")
        else:
            ds = make_document_signer(csca, key=make_key(ds_key))
    if face_jpeg is None:
        face_jpeg, width, height = default_face_jpeg()
    elif face_size is not None:
        width, height = face_size
    else:
        from proofing.nfc.lds.dg2 import decode_image

        height, width = decode_image(face_jpeg).shape[:2]

    groups: dict[int, bytes] = {
        1: encode_dg1(lines),
        2: encode_dg2(face_jpeg, width, height),
        11: encode_dg11(
            dg11 or {"full_name": lines[0][5:].rstrip("<"), "place_of_birth": "UTOPIA CITY"}
        ),
        12: encode_dg12(
            dg12 or {"issuing_authority": "UTOPIA TEST AUTHORITY", "date_of_issue": "20240101"}
        ),
    }
    infos: list = []
    aa_key: PrivateKey | None = None
    hash_for_aa = aa_hash or ("sha256" if aa == "ec" else "sha1")
    if aa == "rsa":
        aa_key = make_key("rsa", bits=2048)
    elif aa == "ec":
        aa_key = make_key("ec")
        infos.append(
            ActiveAuthenticationInfo(ID_AA, 1, ID_ECDSA_PLAIN + _AA_EC_ALGORITHMS[hash_for_aa])
        )
    elif aa is not None:
        raise ValueError(f"unknown AA kind {aa!r}")
    if aa_key is not None:
        groups[15] = encode_dg15(key_to_spki(aa_key.public_key()))

    ca_key: ec.EllipticCurvePrivateKey | None = None
    if chip_authentication:
        k = make_key("ec", curve=ca_curve)
        assert isinstance(k, ec.EllipticCurvePrivateKey)
        ca_key = k
        spki = parse_spki(key_to_spki(ca_key.public_key()))
        if ca_explicit_params:  # as many real chips encode it
            assert spki.curve is not None and spki.point is not None
            spki = parse_spki(ec_spki(spki.curve, spki.point, explicit=True))
        infos = [
            ChipAuthenticationPublicKeyInfo(ID_PK_ECDH, spki, ca_key_id),
            ChipAuthenticationInfo(DEFAULT_CA_PROTOCOL, 1, ca_key_id),
            *infos,
        ]
    if infos:
        groups[14] = encode_dg14(SecurityInfos(infos))

    sign, alg = sod_signer(ds, hash_name=sod_hash, pss=sod_pss, damage=damage_signature)
    if damage_signature:
        notes.append("damaged_signature")
    sod = build_sod(
        groups, ds.der, sign, hash_name=sod_hash, signature_algorithm=alg, signing_time=signing_time
    )

    if tamper_dg is not None:
        groups[tamper_dg] = _flip(groups[tamper_dg])
        notes.append(f"tampered_dg{tamper_dg}")

    files = {f"DG{n}": data for n, data in sorted(groups.items())}
    files["EF.COM"] = encode_com(sorted(groups))
    files["EF.SOD"] = sod
    pace_info = PaceInfo(pace_protocol, 2, pace_parameter_id)
    files["EF.CardAccess"] = SecurityInfos([pace_info]).to_der()
    if card_security:  # PACEInfo + the CA infos, signed by the DS (as PACE-CAM chips carry)
        content = SecurityInfos(
            [pace_info, *[i for i in infos if not isinstance(i, ActiveAuthenticationInfo)]]
        )
        files["EF.CardSecurity"] = build_signed_data(
            OID_SECURITY_OBJECT,
            content.to_der(),
            ds.der,
            sign,
            hash_name=sod_hash,
            signature_algorithm=alg,
            signing_time=signing_time,
        )
    return ChipProfile(
        files=files,
        mrz_lines=lines,
        can=can,
        csca_der=csca.der,
        ds_der=ds.der,
        aa_private_key=aa_key,
        aa_hash=hash_for_aa,
        ca_private_key=ca_key,
        ca_key_id=ca_key_id,
        csca_private_key=csca.private_key,
        ds_private_key=ds.private_key,
        notes=notes,
    )
