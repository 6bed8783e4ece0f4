"""Cross-check the chip's DG1 against the MRZ read from the data page by OCR.

A mismatch means the printed page and the chip disagree: a substituted chip, a
manipulated page, or an OCR misread that check digits did not catch. Each field is
reported on its own so a reviewer sees which one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proofing.mrz.result import MrzResult

FIELDS = (
    "document_code",
    "issuing_state",
    "document_number",
    "primary_identifier",
    "secondary_identifier",
    "nationality",
    "birth_date_raw",
    "sex",
    "expiry_date_raw",
    "optional_data",
    "optional_data_2",
)


@dataclass(frozen=True)
class FieldComparison:
    field: str
    chip: str
    ocr: str
    match: bool


@dataclass
class MrzComparison:
    fields: list[FieldComparison] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def match(self) -> bool:
        return bool(self.fields) and all(f.match for f in self.fields) and not self.reasons

    @property
    def mismatches(self) -> list[str]:
        return [f.field for f in self.fields if not f.match]

    def to_dict(self) -> dict[str, object]:
        return {
            "match": self.match,
            "mismatches": self.mismatches,
            "fields": [vars(f) for f in self.fields],
            "reasons": self.reasons,
        }


def compare_mrz(chip: MrzResult, ocr: MrzResult) -> MrzComparison:
    """Field-by-field equality of two parsed MRZs (names compared with fillers normalised)."""
    out = MrzComparison()
    if chip.fields is None:
        out.reasons.append("CHIP_MRZ_MISSING")
    if ocr.fields is None:
        out.reasons.append("OCR_MRZ_MISSING")
    if chip.fields is None or ocr.fields is None:
        return out
    if chip.document_type != ocr.document_type:
        out.reasons.append("DOCUMENT_TYPE_MISMATCH")
    for name in FIELDS:
        a = str(getattr(chip.fields, name) or "")
        b = str(getattr(ocr.fields, name) or "")
        out.fields.append(FieldComparison(name, a, b, _norm(a) == _norm(b)))
    if out.mismatches:
        out.reasons += [f"MRZ_FIELD_MISMATCH:{f}" for f in out.mismatches]
    return out


def _norm(value: str) -> str:
    return " ".join(value.replace("<", " ").split())
