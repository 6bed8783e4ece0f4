"""Field layouts of the five ICAO 9303 machine-readable zones (Parts 4-7).

Each layout is data: which characters of which line form a field, what kind of
characters the field may hold (this drives OCR correction), and which characters each
check digit covers. Parsing, correction and synthesis all read these tables, so the
positions live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What a field may hold; OCR confusions are resolved towards this."""

    ALPHA = "alpha"  # A-Z and filler (document code, state codes)
    NAME = "name"  # A-Z and filler, no check digit
    NUM = "num"  # digits only (dates)
    ALNUM = "alnum"  # digits, letters, filler (document number, optional data)
    SEX = "sex"  # M, F, X or filler
    DIGIT = "digit"  # a check digit: 0-9 (or filler where allowed)


@dataclass(frozen=True)
class Field:
    name: str
    line: int
    start: int
    end: int
    kind: Kind

    def read(self, lines: list[str]) -> str:
        return lines[self.line][self.start : self.end]


@dataclass(frozen=True)
class Check:
    """A check digit at (line, pos) over the concatenation of ``spans``."""

    name: str
    line: int
    pos: int
    spans: tuple[tuple[int, int, int], ...]  # (line, start, end)
    filler_ok: bool = False  # '<' allowed when the covered data is all filler

    def data(self, lines: list[str]) -> str:
        return "".join(lines[ln][a:b] for ln, a, b in self.spans)

    def digit(self, lines: list[str]) -> str:
        return lines[self.line][self.pos]


@dataclass(frozen=True)
class Layout:
    doc_type: str
    n_lines: int
    length: int
    fields: tuple[Field, ...]
    checks: tuple[Check, ...]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def kind_at(self, line: int, pos: int) -> Kind:
        """The character kind at a position (check digits included)."""
        for c in self.checks:
            if c.line == line and c.pos == pos:
                return Kind.DIGIT
        for f in self.fields:
            if f.line == line and f.start <= pos < f.end:
                return f.kind
        return Kind.ALNUM


def _top_line(length: int) -> tuple[Field, ...]:
    return (
        Field("document_code", 0, 0, 2, Kind.ALPHA),
        Field("issuing_state", 0, 2, 5, Kind.ALPHA),
        Field("name", 0, 5, length, Kind.NAME),
    )


def _second_line_common() -> tuple[Field, ...]:
    return (
        Field("document_number", 1, 0, 9, Kind.ALNUM),
        Field("nationality", 1, 10, 13, Kind.ALPHA),
        Field("birth_date", 1, 13, 19, Kind.NUM),
        Field("sex", 1, 20, 21, Kind.SEX),
        Field("expiry_date", 1, 21, 27, Kind.NUM),
    )


def _second_line_checks() -> tuple[Check, ...]:
    return (
        Check("document_number", 1, 9, ((1, 0, 9),)),
        Check("birth_date", 1, 19, ((1, 13, 19),)),
        Check("expiry_date", 1, 27, ((1, 21, 27),)),
    )


TD3 = Layout(
    "TD3", 2, 44,
    _top_line(44) + _second_line_common() + (Field("personal_number", 1, 28, 42, Kind.ALNUM),),
    _second_line_checks()
    + (
        Check("personal_number", 1, 42, ((1, 28, 42),), filler_ok=True),
        Check("composite", 1, 43, ((1, 0, 10), (1, 13, 20), (1, 21, 43))),
    ),
)

TD2 = Layout(
    "TD2", 2, 36,
    _top_line(36) + _second_line_common() + (Field("optional_data", 1, 28, 35, Kind.ALNUM),),
    _second_line_checks()
    + (Check("composite", 1, 35, ((1, 0, 10), (1, 13, 20), (1, 21, 35))),),
)

MRV_A = Layout(
    "MRV-A", 2, 44,
    _top_line(44) + _second_line_common() + (Field("optional_data", 1, 28, 44, Kind.ALNUM),),
    _second_line_checks(),
)

MRV_B = Layout(
    "MRV-B", 2, 36,
    _top_line(36) + _second_line_common() + (Field("optional_data", 1, 28, 36, Kind.ALNUM),),
    _second_line_checks(),
)

TD1 = Layout(
    "TD1", 3, 30,
    (
        Field("document_code", 0, 0, 2, Kind.ALPHA),
        Field("issuing_state", 0, 2, 5, Kind.ALPHA),
        Field("document_number", 0, 5, 14, Kind.ALNUM),
        Field("optional_data", 0, 15, 30, Kind.ALNUM),
        Field("birth_date", 1, 0, 6, Kind.NUM),
        Field("sex", 1, 7, 8, Kind.SEX),
        Field("expiry_date", 1, 8, 14, Kind.NUM),
        Field("nationality", 1, 15, 18, Kind.ALPHA),
        Field("optional_data_2", 1, 18, 29, Kind.ALNUM),
        Field("name", 2, 0, 30, Kind.NAME),
    ),
    (
        Check("document_number", 0, 14, ((0, 5, 14),)),
        Check("birth_date", 1, 6, ((1, 0, 6),)),
        Check("expiry_date", 1, 14, ((1, 8, 14),)),
        Check("composite", 1, 29, ((0, 5, 30), (1, 0, 7), (1, 8, 15), (1, 18, 29))),
    ),
)

LAYOUTS: dict[str, Layout] = {lay.doc_type: lay for lay in (TD1, TD2, TD3, MRV_A, MRV_B)}


def layout_for(lines: list[str]) -> Layout | None:
    """Pick the layout from the line count, line length and document code.

    Two lines of 44 are a passport (TD3) unless the code starts with 'V' (visa, MRV-A);
    two lines of 36 are TD2 unless 'V' (MRV-B); three lines of 30 are TD1.
    """
    n = len(lines)
    if n == 0 or any(len(line) != len(lines[0]) for line in lines):
        return None
    length = len(lines[0])
    is_visa = lines[0][:1] == "V"
    if n == 3 and length == 30:
        return TD1
    if n == 2 and length == 44:
        return MRV_A if is_visa else TD3
    if n == 2 and length == 36:
        return MRV_B if is_visa else TD2
    return None
