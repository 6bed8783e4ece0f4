"""Passive Authentication (ICAO 9303 Part 11 5.1), from the raw bytes only.

Three separate questions, answered separately because they mean different things:

* ``hashes_valid``   - every data group that was read hashes to its value in EF.SOD;
* ``signature_valid`` - EF.SOD's signed attributes match its content and the Document
  Signer's signature over them verifies (the SOD was not altered);
* ``chain_valid``    - the Document Signer certificate was issued by a CSCA in *our* trust
  store, is within its validity period and is not revoked.

A genuine document from a country whose CSCA we lack fails only the last one
(``CSCA_NOT_IN_TRUST_STORE``); a forged one fails the first two. Reason codes say which.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from proofing.nfc.dump import ChipDump
from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.sod import (
    OID_LDS_SECURITY_OBJECT,
    OID_SECURITY_OBJECT,
    SignedContent,
    Sod,
    parse_card_security,
    parse_sod,
)
from proofing.nfc.tlv import TlvError, decode
from proofing.nfc.trust import Certificate, TrustStore, parse_certificate, verify_signed_content

DG_VALID = "valid"
DG_MISMATCH = "mismatch"
DG_NOT_IN_SOD = "not_in_sod"
DG_NOT_READ = "not_read"


@dataclass
class PaResult:
    hashes_valid: bool = False
    signature_valid: bool = False
    chain_valid: bool = False
    signed_attributes_valid: bool = False
    csca_found: bool = False
    #: DG number -> DG_VALID / DG_MISMATCH / DG_NOT_IN_SOD / DG_NOT_READ
    data_groups: dict[int, str] = field(default_factory=dict)
    hash_algorithm: str | None = None
    signature_algorithm: str | None = None
    signing_time: datetime | None = None
    ds_certificate: Certificate | None = None
    csca_certificate: Certificate | None = None
    reasons: list[str] = field(default_factory=list)
    checked_at: datetime | None = None
    timing_ms: float = 0.0

    @property
    def valid(self) -> bool:
        return self.hashes_valid and self.signature_valid and self.chain_valid

    def to_dict(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "hashes_valid": self.hashes_valid,
            "signature_valid": self.signature_valid,
            "chain_valid": self.chain_valid,
            "signed_attributes_valid": self.signed_attributes_valid,
            "csca_found": self.csca_found,
            "data_groups": {f"DG{n}": v for n, v in sorted(self.data_groups.items())},
            "hash_algorithm": self.hash_algorithm,
            "signature_algorithm": self.signature_algorithm,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "ds_certificate": self.ds_certificate.to_dict() if self.ds_certificate else None,
            "csca_certificate": self.csca_certificate.to_dict() if self.csca_certificate else None,
            "reasons": self.reasons,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "timing_ms": round(self.timing_ms, 3),
        }


def _dg_number(name: str) -> int | None:
    if name.startswith("DG") and name[2:].isdigit():
        n = int(name[2:])
        return n if 1 <= n <= 16 else None
    return None


def _file_hash(hash_name: str, data: bytes) -> tuple[bytes, bytes | None]:
    """(hash of the bytes as read, hash of the bare TLV object if padding followed it)."""
    full = hashlib.new(hash_name, data).digest()
    try:
        end = decode(data).end
    except TlvError:
        return full, None
    return full, (hashlib.new(hash_name, data[:end]).digest() if end < len(data) else None)


def check_hashes(sod: Sod, files: Mapping[str, bytes], result: PaResult) -> None:
    expected = sod.lds.dg_hashes
    read = {n: data for name, data in files.items() if (n := _dg_number(name)) is not None}
    for n in sorted(set(expected) | set(read)):
        if n not in read:
            result.data_groups[n] = DG_NOT_READ
            continue
        if n not in expected:
            result.data_groups[n] = DG_NOT_IN_SOD
            result.reasons.append(f"DG_NOT_IN_SOD:DG{n}")
            continue
        full, bare = _file_hash(sod.lds.hash_algorithm, read[n])
        ok = expected[n] in (full, bare)
        result.data_groups[n] = DG_VALID if ok else DG_MISMATCH
        if not ok:
            result.reasons.append(f"DG_HASH_MISMATCH:DG{n}")
    if not read:
        result.reasons.append("NO_DATA_GROUPS")
    result.hashes_valid = bool(read) and all(result.data_groups[n] == DG_VALID for n in read)


def check_signature(
    signed: SignedContent, result: PaResult, content_type: str = OID_LDS_SECURITY_OBJECT
) -> Certificate | None:
    """Signed attributes and the DS signature; returns the DS certificate when present."""
    si = signed.signer
    result.signature_algorithm = si.signature_algorithm + (
        "" if si.pss else f"-{si.signature_hash}"
    )
    if si.pss:
        result.signature_algorithm = f"rsassa_pss-{si.pss.hash_name}"
    result.signing_time = si.signing_time
    ds_der = signed.signer_certificate()
    if ds_der is None:
        result.reasons.append("DS_CERT_MISSING")
        return None
    try:
        ds = parse_certificate(ds_der, "EF.SOD")
    except LdsError:
        result.reasons.append("DS_CERT_MALFORMED")
        return None
    result.ds_certificate = ds
    if si.signed_attrs is None:
        result.reasons.append("SIGNED_ATTRS_MISSING")
    else:
        digest_ok = (
            si.message_digest_attr == hashlib.new(si.digest_algorithm, signed.content).digest()
        )
        type_ok = si.content_type_attr == content_type == signed.content_type
        result.signed_attributes_valid = digest_ok and type_ok
        if not digest_ok:
            result.reasons.append("SIGNED_ATTRS_DIGEST_MISMATCH")
        if not type_ok:
            result.reasons.append("SIGNED_ATTRS_CONTENT_TYPE_MISMATCH")
    sig_ok = result.signed_attributes_valid and verify_signed_content(signed, ds)
    if result.signed_attributes_valid and not sig_ok:
        result.reasons.append("SOD_SIGNATURE_INVALID")
    result.signature_valid = sig_ok
    return ds


def check_chain(ds: Certificate, trust: TrustStore | None, at: datetime, result: PaResult) -> None:
    ok = True
    if trust is None:
        result.reasons.append("NO_TRUST_STORE")
        ok = False
    else:
        candidates = trust.issuers_for(ds)
        csca = trust.find_issuer(ds)
        if csca is None:
            ok = False
            # A CSCA of the same name but another key (no matching key id) is still "not
            # in the store"; a matching key that does not verify means a forged DS cert.
            same_key = [
                c
                for c in candidates
                if ds.authority_key_id is None or c.subject_key_id in (None, ds.authority_key_id)
            ]
            if any(ds.signed_by(c) for c in same_key):
                result.reasons.append("CSCA_LINK_NOT_ANCHORED")  # key known, chain to a root not
            else:
                result.reasons.append(
                    "DS_CERT_SIGNATURE_INVALID" if same_key else "CSCA_NOT_IN_TRUST_STORE"
                )
        else:
            result.csca_found = True
            result.csca_certificate = csca
            if not csca.valid_at(min(at, ds.not_after)):
                ok = False
                result.reasons.append("CSCA_CERT_EXPIRED")
            if trust.revoked(ds) is not None:
                ok = False
                result.reasons.append("DS_CERT_REVOKED")
            if trust.revoked(csca) is not None:
                ok = False
                result.reasons.append("CSCA_CERT_REVOKED")
    if result.signing_time is not None and not ds.valid_at(result.signing_time):
        ok = False
        result.reasons.append("DS_CERT_NOT_VALID_AT_SIGNING_TIME")
    if at > ds.not_after:
        ok = False
        result.reasons.append("DS_CERT_EXPIRED")
    elif at < ds.not_before:
        ok = False
        result.reasons.append("DS_CERT_NOT_YET_VALID")
    result.chain_valid = ok


def verify_passive(
    files: Mapping[str, bytes] | ChipDump, trust: TrustStore | None, *, at: datetime | None = None
) -> PaResult:
    """Passive authentication of the files read (canonical names: EF.SOD, DG1, ...).

    ``at``: the time the certificates must be valid at (default now); the DS certificate
    must also have been valid when the SOD was signed, where the SOD says when.
    """
    start = time.perf_counter()
    file_map = files.files if isinstance(files, ChipDump) else files
    when = at or datetime.now(UTC)
    result = PaResult(checked_at=when)
    sod_bytes = file_map.get("EF.SOD")
    if sod_bytes is None:
        result.reasons.append("SOD_MISSING")
        result.timing_ms = (time.perf_counter() - start) * 1000
        return result
    try:
        sod = parse_sod(sod_bytes)
    except LdsError as exc:
        result.reasons.append("SOD_MALFORMED")
        result.reasons.append(f"SOD_MALFORMED_DETAIL:{exc}")
        result.timing_ms = (time.perf_counter() - start) * 1000
        return result
    result.hash_algorithm = sod.lds.hash_algorithm
    check_hashes(sod, file_map, result)
    ds = check_signature(sod.signed, result)
    if ds is not None:
        check_chain(ds, trust, when, result)
    result.timing_ms = (time.perf_counter() - start) * 1000
    return result


def verify_card_security(
    data: bytes, trust: TrustStore | None, *, at: datetime | None = None
) -> PaResult:
    """EF.CardSecurity (PACE-CAM / CA SecurityInfos signed by a DS): signature and chain only."""
    start = time.perf_counter()
    when = at or datetime.now(UTC)
    result = PaResult(checked_at=when)
    try:
        signed = parse_card_security(data)
    except LdsError as exc:
        result.reasons += ["CARD_SECURITY_MALFORMED", f"CARD_SECURITY_MALFORMED_DETAIL:{exc}"]
        return result
    ds = check_signature(signed, result, OID_SECURITY_OBJECT)
    if ds is not None:
        check_chain(ds, trust, when, result)
    result.hashes_valid = True  # nothing hashed separately: the content is what is signed
    result.timing_ms = (time.perf_counter() - start) * 1000
    return result
