"""Typed results of the MRZ stage. ``to_dict`` is the stable JSON schema (proofing.mrz/1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

SCHEMA = "proofing.mrz/1"


@dataclass(frozen=True)
class CheckResult:
    """One check digit: what was printed, what the data computes to, and whether they agree."""

    printed: str
    computed: str
    valid: bool


@dataclass(frozen=True)
class Correction:
    """One character changed by check-digit- or field-type-guided correction."""

    field: str
    line: int
    position: int
    before: str
    after: str
    rule: str  # "check_digit" (a check digit became valid), "field_type" or "glyph_model"


@dataclass
class MrzFields:
    document_code: str = ""
    issuing_state: str = ""
    primary_identifier: str = ""
    secondary_identifier: str = ""
    document_number: str = ""
    nationality: str = ""
    birth_date: date | None = None
    birth_date_raw: str = ""
    sex: str = ""  # "M", "F" or "X" (unspecified, printed '<' or 'X')
    expiry_date: date | None = None
    expiry_date_raw: str = ""
    optional_data: str = ""  # TD3: the personal number
    optional_data_2: str = ""  # TD1 line 2 only


@dataclass
class MrzResult:
    found: bool
    document_type: str | None = None
    lines: list[str] = field(default_factory=list)
    raw_lines: list[str] = field(default_factory=list)
    fields: MrzFields | None = None
    checks: dict[str, CheckResult] = field(default_factory=dict)
    corrections: list[Correction] = field(default_factory=list)
    confidence: float = 0.0
    reasons: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    frames_used: int = 0
    source: str | None = None

    @property
    def valid(self) -> bool:
        """Every check digit validates (the MRZ is internally consistent)."""
        return self.found and bool(self.checks) and all(c.valid for c in self.checks.values())

    def to_dict(self) -> dict[str, object]:
        f = None
        if self.fields is not None:
            f = asdict(self.fields)
            for key in ("birth_date", "expiry_date"):
                v = getattr(self.fields, key)
                f[key] = v.isoformat() if v else None
        return {
            "schema": SCHEMA,
            "source": self.source,
            "found": self.found,
            "valid": self.valid,
            "document_type": self.document_type,
            "lines": self.lines,
            "raw_lines": self.raw_lines,
            "fields": f,
            "checks": {k: asdict(v) for k, v in self.checks.items()},
            "corrections": [asdict(c) for c in self.corrections],
            "confidence": round(self.confidence, 4),
            "reasons": self.reasons,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "frames_used": self.frames_used,
        }
