"""``verify_chip``: everything the server can check about a chip from the raw files it got.

Parses each file (a file that does not parse is reported, never half-used), runs passive
authentication, verifies Active Authentication over *our* challenge, and carries the
Chip Authentication outcome the reader recorded. The JSON (``to_dict``) is the stable
schema ``proofing.chip/1``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from proofing.nfc.active import AaResult, verify_active_authentication
from proofing.nfc.dump import ChipDump
from proofing.nfc.lds import (
    Dg1,
    Dg2,
    Dg11,
    Dg12,
    EfCom,
    LdsError,
    PublicKeyInfo,
    SecurityInfos,
    parse_card_access,
    parse_com,
    parse_dg1,
    parse_dg2,
    parse_dg11,
    parse_dg12,
    parse_dg14,
    parse_dg15,
)
from proofing.nfc.passive import DG_VALID, PaResult, verify_card_security, verify_passive
from proofing.nfc.trust import TrustStore

SCHEMA = "proofing.chip/1"


@dataclass
class ChipResult:
    files: list[str]
    passive_authentication: PaResult
    com: EfCom | None = None
    dg1: Dg1 | None = None
    dg2: Dg2 | None = None
    dg11: Dg11 | None = None
    dg12: Dg12 | None = None
    dg14: SecurityInfos | None = None
    dg15: PublicKeyInfo | None = None
    card_access: SecurityInfos | None = None
    #: EF.CardSecurity's own signature / chain, where the reader read it (PACE-CAM chips).
    card_security: PaResult | None = None
    active_authentication: AaResult | None = None
    chip_authentication: dict[str, Any] | None = None
    parse_errors: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    timing_ms: dict[str, float] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """PA valid, every file parsed, AA valid where asked for, CA valid where performed."""
        aa_ok = self.active_authentication is None or self.active_authentication.valid
        ca = self.chip_authentication
        ca_ok = ca is None or ca.get("performed") is False or bool(ca.get("valid"))
        cs_ok = self.card_security is None or self.card_security.valid
        return (
            self.passive_authentication.valid
            and aa_ok
            and ca_ok
            and cs_ok
            and not self.parse_errors
        )

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "schema": SCHEMA,
            "valid": self.valid,
            "files": self.files,
            "passive_authentication": self.passive_authentication.to_dict(),
            "document": {
                "com": self.com.to_dict() if self.com else None,
                "mrz": self.dg1.to_dict() if self.dg1 else None,
                "face": self.dg2.to_dict() if self.dg2 else None,
                "additional_personal_details": self.dg11.to_dict() if self.dg11 else None,
                "additional_document_details": self.dg12.to_dict() if self.dg12 else None,
                "security_infos": self.dg14.to_dict() if self.dg14 else None,
                "card_access": self.card_access.to_dict() if self.card_access else None,
                "aa_public_key": self.dg15.to_dict() if self.dg15 else None,
            },
            "parse_errors": self.parse_errors,
            "reasons": self.reasons,
            "timing_ms": {k: round(v, 3) for k, v in self.timing_ms.items()},
        }
        if self.active_authentication is not None:
            out["active_authentication"] = self.active_authentication.to_dict()
        if self.chip_authentication is not None:
            out["chip_authentication"] = self.chip_authentication
        if self.card_security is not None:
            out["card_security"] = self.card_security.to_dict()
        return out


def _parse(
    result: ChipResult, files: dict[str, bytes], name: str, fn: Callable[[bytes], Any]
) -> Any:
    data = files.get(name)
    if data is None:
        return None
    try:
        return fn(data)
    except LdsError as exc:
        result.parse_errors[name] = str(exc)
        result.reasons.append(f"PARSE_ERROR:{name}")
        return None


def _active(dump: ChipDump, result: ChipResult, challenge: bytes | None) -> AaResult | None:
    sig = dump.aa_signature
    if result.dg15 is None:
        return None if sig is None else AaResult(False, False, reasons=["AA_KEY_MISSING"])
    if challenge is None and sig is None:
        return None  # nothing asked, nothing answered
    if sig is None:
        return AaResult(False, False, reasons=["AA_SIGNATURE_MISSING"])
    extra: list[str] = []
    used = challenge
    if used is None:
        used = dump.aa_challenge
        extra.append("AA_CHALLENGE_NOT_OURS")  # the dump's own challenge proves no freshness
        if used is None:
            return AaResult(False, False, reasons=["AA_CHALLENGE_MISSING"])
    elif dump.aa_challenge is not None and dump.aa_challenge != challenge:
        extra.append("AA_CHALLENGE_MISMATCH")
    aa = verify_active_authentication(result.dg15, used, sig, result.dg14)
    if result.passive_authentication.data_groups.get(15) != DG_VALID:
        extra.append("AA_KEY_NOT_AUTHENTICATED")
    valid = (
        aa.valid
        and "AA_CHALLENGE_MISMATCH" not in extra
        and "AA_KEY_NOT_AUTHENTICATED" not in extra
    )
    return AaResult(aa.performed, valid, aa.algorithm, aa.hash_name, aa.reasons + extra)


def verify_chip(
    dump: ChipDump, trust: TrustStore | None, challenge: bytes | None, *, at: datetime | None = None
) -> ChipResult:
    """Parse and verify a chip dump; ``challenge`` is the nonce *we* issued for AA."""
    t0 = time.perf_counter()
    files = dump.files
    pa = verify_passive(files, trust, at=at)
    result = ChipResult(files=sorted(files), passive_authentication=pa)
    t1 = time.perf_counter()
    result.com = _parse(result, files, "EF.COM", parse_com)
    result.dg1 = _parse(result, files, "DG1", parse_dg1)
    result.dg2 = _parse(result, files, "DG2", parse_dg2)
    result.dg11 = _parse(result, files, "DG11", parse_dg11)
    result.dg12 = _parse(result, files, "DG12", parse_dg12)
    result.dg14 = _parse(result, files, "DG14", parse_dg14)
    result.dg15 = _parse(result, files, "DG15", parse_dg15)
    result.card_access = _parse(result, files, "EF.CardAccess", parse_card_access)
    if "EF.CardSecurity" in files:
        result.card_security = verify_card_security(files["EF.CardSecurity"], trust, at=at)
        result.reasons += [f"CARD_SECURITY:{r}" for r in result.card_security.reasons]
    t2 = time.perf_counter()
    result.active_authentication = _active(dump, result, challenge)
    if dump.chip_authentication is not None:
        ca = dict(dump.chip_authentication)
        ca.setdefault("valid", bool(ca.get("success", False)))
        if pa.data_groups.get(14) != DG_VALID:
            ca["valid"] = False
            previous = ca.get("reasons")
            ca["reasons"] = [
                *(previous if isinstance(previous, list) else []),
                "CA_KEY_NOT_AUTHENTICATED",
            ]
        result.chip_authentication = ca
    if "DG1" not in files:
        result.reasons.append("DG1_MISSING")
    result.reasons = pa.reasons + result.reasons
    if result.active_authentication is not None:
        result.reasons += result.active_authentication.reasons
    t3 = time.perf_counter()
    result.timing_ms = {
        "passive": (t1 - t0) * 1000,
        "parse": (t2 - t1) * 1000,
        "active": (t3 - t2) * 1000,
    }
    return result
