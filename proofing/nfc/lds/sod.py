"""EF.SOD (ICAO 9303 Part 10 4.6.2) and other CMS SignedData the chip world uses.

EF.SOD is tag 77 around a CMS ContentInfo whose SignedData encapsulates an
LDSSecurityObject (the hash of every data group). The same SignedData shape carries
EF.CardSecurity (SecurityInfos) and CSCA master lists, so the generic part is
:func:`parse_signed_data`. Parsing is strict: a SOD we cannot fully read is an error,
never a half-filled object. :func:`build_signed_data` / :func:`build_sod` create them
for test chips.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import algos, cms, core, x509

from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.util import guarded, unwrap
from proofing.nfc.tlv import encode

OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
OID_CSCA_MASTER_LIST = "2.23.136.1.1.2"
OID_SECURITY_OBJECT = "0.4.0.127.0.7.3.2.1"  # EF.CardSecurity (BSI TR-03110)

#: Hash OIDs -> names (hashlib spelling).
HASH_OIDS: dict[str, str] = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
HASH_OID_BY_NAME = {v: k for k, v in HASH_OIDS.items()}

#: Signs the DER of the signed attributes and returns the signature value.
SignFunction = Callable[[bytes], bytes]


@dataclass(frozen=True)
class PssParams:
    hash_name: str
    mgf_hash_name: str
    salt_length: int


@dataclass(frozen=True)
class SignerInfo:
    """One CMS SignerInfo, with what signature verification needs kept as raw bytes."""

    digest_algorithm: str  # hashlib name
    signature_algorithm: str  # "rsassa_pkcs1v15" | "rsassa_pss" | "ecdsa"
    signature_algorithm_oid: str
    signature_hash: str  # hash named by the signature algorithm, else the digest algorithm
    pss: PssParams | None
    signature: bytes
    #: Signed attributes re-tagged as SET (0x31): the exact bytes the signature covers.
    signed_attrs: bytes | None
    content_type_attr: str | None
    message_digest_attr: bytes | None
    signing_time: datetime | None
    sid_serial: int | None
    sid_issuer: bytes | None  # DER Name
    sid_key_identifier: bytes | None


@dataclass(frozen=True)
class SignedContent:
    content_type: str  # dotted OID of the encapsulated content
    content: bytes
    signer: SignerInfo
    certificates: list[bytes] = field(default_factory=list)  # DER X.509
    crls: list[bytes] = field(default_factory=list)

    def signer_certificate(self) -> bytes | None:
        """The certificate named by the signer's sid, if the SignedData carries it."""
        for der in self.certificates:
            cert = x509.Certificate.load(der)
            if self.signer.sid_serial is not None and self.signer.sid_issuer is not None:
                if (
                    cert.serial_number == self.signer.sid_serial
                    and cert.issuer.dump() == self.signer.sid_issuer
                ):
                    return der
                # Some issuers re-encode the Name; compare it semantically too.
                if cert.serial_number == self.signer.sid_serial and cert.issuer == x509.Name.load(
                    self.signer.sid_issuer
                ):
                    return der
            elif (
                self.signer.sid_key_identifier is not None
                and cert.key_identifier == self.signer.sid_key_identifier
            ):
                return der
        return None


@dataclass(frozen=True)
class LdsSecurityObject:
    version: int
    hash_algorithm: str  # hashlib name
    dg_hashes: dict[int, bytes]
    lds_version: str | None = None
    unicode_version: str | None = None


@dataclass(frozen=True)
class Sod:
    signed: SignedContent
    lds: LdsSecurityObject

    def to_dict(self) -> dict[str, object]:
        return {
            "hash_algorithm": self.lds.hash_algorithm,
            "data_groups": sorted(self.lds.dg_hashes),
            "signature_algorithm": self.signed.signer.signature_algorithm,
            "lds_version": self.lds.lds_version,
        }


class _DataGroupHash(core.Sequence):
    _fields = [("number", core.Integer), ("value", core.OctetString)]


class _DataGroupHashes(core.SequenceOf):
    _child_spec = _DataGroupHash


class _LdsVersionInfo(core.Sequence):
    _fields = [("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)]


class _LdsSecurityObject(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("hashes", _DataGroupHashes),
        ("version_info", _LdsVersionInfo, {"optional": True}),
    ]


def _hash_name(oid: str) -> str:
    name = HASH_OIDS.get(oid)
    if name is None:
        raise LdsError(f"unsupported hash algorithm {oid}")
    return name


def _signer(si: cms.SignerInfo) -> SignerInfo:
    digest = _hash_name(si["digest_algorithm"]["algorithm"].dotted)
    sig_alg = si["signature_algorithm"]
    sig_name = sig_alg.signature_algo
    pss = None
    sig_hash = digest
    if sig_name == "rsassa_pss":
        params = sig_alg["parameters"]
        mgf = params["mask_gen_algorithm"]
        pss = PssParams(
            _hash_name(params["hash_algorithm"]["algorithm"].dotted),
            _hash_name(mgf["parameters"]["algorithm"].dotted),
            int(params["salt_length"].native),
        )
        sig_hash = pss.hash_name
    elif sig_name not in ("rsassa_pkcs1v15", "ecdsa"):
        raise LdsError(f"unsupported signature algorithm {sig_alg['algorithm'].dotted}")
    else:
        try:
            sig_hash = sig_alg.hash_algo
        except ValueError:
            sig_hash = digest
    attrs = si["signed_attrs"]
    signed_attrs = None
    ctype = mdigest = None
    stime = None
    if not isinstance(attrs, core.Void) and attrs.contents is not None:
        raw = attrs.dump()
        signed_attrs = b"\x31" + raw[1:]
        for attr in attrs:
            kind = attr["type"].native
            values = attr["values"]
            if len(values) != 1:
                raise LdsError(f"signed attribute {kind} must have exactly one value")
            if kind == "content_type":
                ctype = values[0].dotted
            elif kind == "message_digest":
                mdigest = bytes(values[0].native)
            elif kind == "signing_time":
                stime = values[0].native
    sid = si["sid"]
    serial = issuer = ski = None
    if sid.name == "issuer_and_serial_number":
        serial = int(sid.chosen["serial_number"].native)
        issuer = sid.chosen["issuer"].dump()
    else:
        ski = bytes(sid.chosen.native)
    return SignerInfo(
        digest_algorithm=digest,
        signature_algorithm=sig_name,
        signature_algorithm_oid=sig_alg["algorithm"].dotted,
        signature_hash=sig_hash,
        pss=pss,
        signature=bytes(si["signature"].native),
        signed_attrs=signed_attrs,
        content_type_attr=ctype,
        message_digest_attr=mdigest,
        signing_time=stime,
        sid_serial=serial,
        sid_issuer=issuer,
        sid_key_identifier=ski,
    )


def parse_signed_data(der: bytes, *, what: str = "SignedData") -> SignedContent:
    """A DER ContentInfo holding SignedData with exactly one signer."""

    def run() -> SignedContent:
        ci = cms.ContentInfo.load(der, strict=True)
        if ci["content_type"].native != "signed_data":
            raise LdsError(f"content type is {ci['content_type'].dotted}, not signedData")
        sd = ci["content"]
        signers = sd["signer_infos"]
        if len(signers) != 1:
            raise LdsError(f"expected one SignerInfo, found {len(signers)}")
        eci = sd["encap_content_info"]
        content = eci["content"]
        if isinstance(content, core.Void) or content.contents is None:
            raise LdsError("no encapsulated content")
        certs = []
        if not isinstance(sd["certificates"], core.Void):
            certs = [c.chosen.dump() for c in sd["certificates"] if c.name == "certificate"]
        crls = []
        if not isinstance(sd["crls"], core.Void):
            crls = [c.chosen.dump() for c in sd["crls"]]
        signed = SignedContent(
            content_type=eci["content_type"].dotted,
            content=bytes(
                content.contents
                if isinstance(content, core.ParsableOctetString)
                else content.native
            ),
            signer=_signer(signers[0]),
            certificates=certs,
            crls=crls,
        )
        # Touch every certificate once so that malformed ones fail here, not later.
        for c in certs:
            x509.Certificate.load(c).native  # noqa: B018
        return signed

    return guarded(what, run)


def parse_lds_security_object(der: bytes) -> LdsSecurityObject:
    def run() -> LdsSecurityObject:
        obj = _LdsSecurityObject.load(der, strict=True)
        hashes: dict[int, bytes] = {}
        for item in obj["hashes"]:
            n = int(item["number"].native)
            if not 1 <= n <= 16 or n in hashes:
                raise LdsError(f"bad or repeated data group number {n}")
            hashes[n] = bytes(item["value"].native)
        info = obj["version_info"]
        lds_v = uni_v = None
        if not isinstance(info, core.Void):
            lds_v, uni_v = info["lds_version"].native, info["unicode_version"].native
        return LdsSecurityObject(
            version=int(obj["version"].native),
            hash_algorithm=_hash_name(obj["hash_algorithm"]["algorithm"].dotted),
            dg_hashes=hashes,
            lds_version=lds_v,
            unicode_version=uni_v,
        )

    return guarded("LDSSecurityObject", run)


def parse_sod(data: bytes) -> Sod:
    """EF.SOD bytes (tag 77, padding allowed) -> :class:`Sod`."""
    inner = unwrap(data, 0x77, "EF.SOD").value
    signed = parse_signed_data(inner, what="EF.SOD")
    if signed.content_type != OID_LDS_SECURITY_OBJECT:
        raise LdsError(f"EF.SOD encapsulates {signed.content_type}, not an LDSSecurityObject")
    return Sod(signed, parse_lds_security_object(signed.content))


def parse_card_security(data: bytes) -> SignedContent:
    """EF.CardSecurity: SignedData around SecurityInfos (parse ``.content`` with security_infos)."""
    obj = unwrap(data, 0x30, "EF.CardSecurity")
    signed = parse_signed_data(data[obj.start : obj.end], what="EF.CardSecurity")
    if signed.content_type != OID_SECURITY_OBJECT:
        raise LdsError(f"EF.CardSecurity encapsulates {signed.content_type}")
    return signed


# --- building (test chips) ---------------------------------------------------------------


def encode_lds_security_object(
    hash_name: str,
    dg_hashes: Mapping[int, bytes],
    *,
    lds_version: str | None = None,
    unicode_version: str | None = None,
) -> bytes:
    """LDSSecurityObject v0 (or v1 with LDSVersionInfo when versions are given)."""
    value: dict[str, object] = {
        "version": 1 if lds_version else 0,
        "hash_algorithm": {"algorithm": HASH_OID_BY_NAME[hash_name]},
        "hashes": [{"number": n, "value": dg_hashes[n]} for n in sorted(dg_hashes)],
    }
    if lds_version:
        value["version_info"] = {
            "lds_version": lds_version,
            "unicode_version": unicode_version or "040000",
        }
    return _LdsSecurityObject(value).dump()


def build_signed_data(
    content_type: str,
    content: bytes,
    certificate_der: bytes,
    sign: SignFunction,
    *,
    hash_name: str = "sha256",
    signature_algorithm: dict[str, object],
    signing_time: datetime | None = None,
    extra_certificates: list[bytes] | None = None,
) -> bytes:
    """A DER ContentInfo(SignedData) with one signer; ``sign`` signs the signed attributes."""
    cert = x509.Certificate.load(certificate_der)
    attrs_value: list[dict[str, object]] = [
        {"type": "content_type", "values": [content_type]},
        {"type": "message_digest", "values": [hashlib.new(hash_name, content).digest()]},
    ]
    if signing_time is not None:
        attrs_value.append(
            {"type": "signing_time", "values": [cms.Time({"utc_time": signing_time})]}
        )
    attrs = cms.CMSAttributes(attrs_value)
    signature = sign(attrs.dump())
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": cert.issuer,
                        "serial_number": cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": HASH_OID_BY_NAME[hash_name]},
            "signed_attrs": attrs,
            "signature_algorithm": signature_algorithm,
            "signature": signature,
        }
    )
    certs = [cert] + [x509.Certificate.load(c) for c in extra_certificates or []]
    sd = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": HASH_OID_BY_NAME[hash_name]}],
            "encap_content_info": {
                "content_type": content_type,
                "content": core.ParsableOctetString(content),
            },
            "certificates": certs,
            "signer_infos": [signer],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()


def build_sod(
    data_groups: Mapping[int, bytes],
    certificate_der: bytes,
    sign: SignFunction,
    *,
    hash_name: str = "sha256",
    signature_algorithm: dict[str, object],
    signing_time: datetime | None = None,
    lds_version: str | None = None,
) -> bytes:
    """EF.SOD (tag 77) over the given raw data group files."""
    hashes = {n: hashlib.new(hash_name, data).digest() for n, data in data_groups.items()}
    lso = encode_lds_security_object(hash_name, hashes, lds_version=lds_version)
    ci = build_signed_data(
        OID_LDS_SECURITY_OBJECT,
        lso,
        certificate_der,
        sign,
        hash_name=hash_name,
        signature_algorithm=signature_algorithm,
        signing_time=signing_time,
    )
    return encode(0x77, ci)
