"""Parse MRZ text into fields and check-digit results (ICAO 9303 Parts 3-7).

``parse_lines`` takes the lines exactly as read and never guesses characters: that is
:mod:`proofing.mrz.correct`'s job. It reports each check separately, so a caller sees
*which* field is inconsistent rather than a single yes/no.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date

from proofing.mrz.checkdigit import MRZ_ALPHABET, check_digit, is_valid
from proofing.mrz.codes import code_kind, normalise_code
from proofing.mrz.formats import Layout, layout_for
from proofing.mrz.result import CheckResult, MrzFields, MrzResult

#: Expiry dates further ahead than this many years are read as the previous century.
EXPIRY_HORIZON_YEARS = 20


def normalise_lines(lines: Sequence[str]) -> list[str]:
    """Upper-case, drop spaces and blank lines; does not change any MRZ character."""
    out = []
    for line in lines:
        cleaned = "".join(line.split()).upper()
        if cleaned:
            out.append(cleaned)
    return out


def resolve_birth_date(raw: str, today: date) -> date | None:
    """YYMMDD -> the most recent date not in the future (people are born in the past)."""
    d = _yymmdd(raw, today.year // 100 * 100)
    if d is None:
        return None
    if d > today:
        d = _yymmdd(raw, today.year // 100 * 100 - 100)
    return d


def resolve_expiry_date(raw: str, today: date) -> date | None:
    """YYMMDD -> this century unless that lies beyond the horizon (then the previous one)."""
    d = _yymmdd(raw, today.year // 100 * 100)
    if d is None:
        return None
    if d.year > today.year + EXPIRY_HORIZON_YEARS:
        d = _yymmdd(raw, today.year // 100 * 100 - 100)
    return d


def _yymmdd(raw: str, century: int) -> date | None:
    if len(raw) != 6 or not raw.isdigit():
        return None
    year, month, day = century + int(raw[:2]), int(raw[2:4]), int(raw[4:6])
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return date(year, month, day)


def split_name(raw: str) -> tuple[str, str]:
    """'ERIKSSON<<ANNA<MARIA<<<' -> ('ERIKSSON', 'ANNA MARIA').

    The primary identifier ends at the first double filler; single fillers separate
    name components and become spaces.
    """
    body = raw.rstrip("<")
    primary, sep, secondary = body.partition("<<")
    clean = lambda s: " ".join(p for p in s.split("<") if p)  # noqa: E731
    return clean(primary), clean(secondary) if sep else ""


def document_number_and_check(layout: Layout, lines: list[str]) -> tuple[str, str, str]:
    """The full document number, its printed check digit, and the overflow text if any.

    TD1 and TD2 numbers longer than nine characters put a filler in the check-digit
    position and continue in the optional data, ending with the real check digit.
    """
    field = layout.field("document_number")
    number = field.read(lines)
    check = next(c for c in layout.checks if c.name == "document_number")
    printed = check.digit(lines)
    if layout.doc_type in ("TD1", "TD2") and printed == "<" and not number.endswith("<"):
        optional = layout.field("optional_data").read(lines)
        extension = optional.split("<", 1)[0]
        if len(extension) >= 2:
            return number + extension[:-1], extension[-1], extension
    return number.rstrip("<"), printed, ""


def evaluate_checks(layout: Layout, lines: list[str]) -> dict[str, CheckResult]:
    """Every check digit of the layout, each reported on its own."""
    results: dict[str, CheckResult] = {}
    for check in layout.checks:
        if check.name == "document_number":
            number, printed, _ = document_number_and_check(layout, lines)
            data = number if len(number) > 9 else check.data(lines)
        else:
            data, printed = check.data(lines), check.digit(lines)
        try:
            computed = check_digit(data)
        except ValueError:
            computed = "?"
        valid = is_valid(data, printed, filler_ok=check.filler_ok)
        results[check.name] = CheckResult(printed=printed, computed=computed, valid=valid)
    return results


def parse_lines(lines: Sequence[str], *, today: date | None = None) -> MrzResult:
    """Parse MRZ lines into a :class:`MrzResult` (found=True if the format is recognised)."""
    today = today or date.today()
    norm = normalise_lines(lines)
    layout = layout_for(norm)
    if layout is None:
        return MrzResult(found=False, raw_lines=list(lines), reasons=["MRZ_FORMAT_UNKNOWN"])
    reasons: list[str] = []
    if any(ch not in MRZ_ALPHABET for line in norm for ch in line):
        reasons.append("NON_MRZ_CHARACTER")

    def read(name: str) -> str:
        return layout.field(name).read(norm)

    number, _, overflow = document_number_and_check(layout, norm)
    optional = read("personal_number" if layout.doc_type == "TD3" else "optional_data")
    if overflow:
        optional = optional[len(overflow) :]
    primary, secondary = split_name(read("name"))
    birth_raw, expiry_raw = read("birth_date"), read("expiry_date")
    sex = read("sex")
    fields = MrzFields(
        document_code=read("document_code").rstrip("<"),
        issuing_state=normalise_code(read("issuing_state")),
        primary_identifier=primary,
        secondary_identifier=secondary,
        document_number=number,
        nationality=normalise_code(read("nationality")),
        birth_date=resolve_birth_date(birth_raw, today),
        birth_date_raw=birth_raw,
        sex={"<": "X"}.get(sex, sex),
        expiry_date=resolve_expiry_date(expiry_raw, today),
        expiry_date_raw=expiry_raw,
        optional_data=optional.strip("<"),
        optional_data_2=read("optional_data_2").strip("<") if layout.doc_type == "TD1" else "",
    )
    checks = evaluate_checks(layout, norm)
    for name, check in checks.items():
        if not check.valid:
            reasons.append(f"CHECK_DIGIT_INVALID:{name}")
    for name, value in (("birth_date", fields.birth_date), ("expiry_date", fields.expiry_date)):
        if value is None:
            reasons.append(f"INVALID_DATE:{name}")
    if fields.sex not in ("M", "F", "X"):
        reasons.append("INVALID_SEX")
    if code_kind(fields.issuing_state) is None:
        reasons.append("UNKNOWN_ISSUER_CODE")
    if code_kind(fields.nationality) is None:
        reasons.append("UNKNOWN_NATIONALITY_CODE")
    if "specimen" in (code_kind(fields.issuing_state), code_kind(fields.nationality)):
        reasons.append("SPECIMEN_ISSUER")
    if fields.expiry_date is not None and fields.expiry_date < today:
        reasons.append("DOCUMENT_EXPIRED")
    if (
        fields.birth_date is not None
        and fields.expiry_date is not None
        and fields.expiry_date <= fields.birth_date
    ):
        reasons.append("EXPIRY_BEFORE_BIRTH")
    n_valid = sum(c.valid for c in checks.values())
    return MrzResult(
        found=True,
        document_type=layout.doc_type,
        lines=norm,
        raw_lines=list(lines),
        fields=fields,
        checks=checks,
        confidence=n_valid / len(checks) if checks else 0.0,
        reasons=reasons,
    )
