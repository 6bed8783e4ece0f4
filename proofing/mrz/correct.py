"""Correct OCR confusions in MRZ text, guided by field types and check digits.

OCR-B glyph pairs that OCR engines confuse (0/O/D/Q, 1/I/L, 2/Z, 5/S, 6/G, 8/B, K/<) are
resolved in two ways:

* by field type, where only one reading is possible: a letter in a date or a check digit
  must be a digit, a digit in a state code or a name must be a letter;
* by check digits, where both readings are legal (document numbers and optional data mix
  letters and digits): a substitution is accepted only if it makes the field's check digit
  valid *and* leaves the composite check valid, and only if it is the unique smallest such
  change. Anything ambiguous is left as read, so a document printed with a wrong check
  digit is reported as such rather than "repaired" into another document.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from itertools import combinations, product

from proofing.mrz.checkdigit import is_valid
from proofing.mrz.codes import is_known_code
from proofing.mrz.formats import Check, Kind, Layout, layout_for
from proofing.mrz.parse import evaluate_checks
from proofing.mrz.result import Correction

CONFUSABLE_GROUPS = ("0ODQ", "1IL", "2Z", "5S", "6G", "8B", "K<")
_GROUP_OF = {c: g for g in CONFUSABLE_GROUPS for c in g}
#: The digit a letter stands for where only a digit is legal.
DIGIT_FOR = {"O": "0", "D": "0", "Q": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "G": "6", "B": "8"}
#: The letter a digit stands for where only a letter is legal.
LETTER_FOR = {"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B"}

#: The sex field holds M, F, X or '<' and no check digit covers it; these are the usual
#: misreads of M and F in OCR-B.
SEX_FOR = {"N": "M", "H": "M", "W": "M", "R": "M", "K": "M", "E": "F", "P": "F"}

#: Further shapes a blurred OCR-B letter of a state code is read as (an '8' for an 'S', a
#: 'P' for a 'D'). Tried only on a code that is not in the ICAO list, and kept only when
#: exactly one known code results.
CODE_LOOKALIKES = {"8": "S", "5": "S", "P": "D", "D": "P", "R": "H", "M": "W"}

#: At most this many characters are changed to satisfy one check digit.
MAX_CHANGES_PER_CHECK = 2


def alternatives(ch: str) -> str:
    """Characters ``ch`` may have been misread from (excluding itself)."""
    return _GROUP_OF.get(ch, ch).replace(ch, "")


def correct_lines(
    lines: list[str], confidences: list[list[float]] | None = None
) -> tuple[list[str], list[Correction]]:
    """Return corrected lines and the list of changes made (empty if none were needed).

    ``confidences`` (optional, per line and character, 0..1, from the OCR engine) make a
    low-confidence character the preferred one to change when several fixes would work.
    """
    layout = layout_for(lines)
    if layout is None:
        return list(lines), []
    grid = [list(line) for line in lines]
    corrections: list[Correction] = []
    _by_field_type(layout, grid, corrections)
    _by_check_digits(layout, grid, corrections, confidences)
    return ["".join(row) for row in grid], corrections


def field_name(layout: Layout, line: int, pos: int) -> str:
    for c in layout.checks:
        if c.line == line and c.pos == pos:
            return f"{c.name}_check_digit"
    for f in layout.fields:
        if f.line == line and f.start <= pos < f.end:
            return f.name
    return "filler"


def _set(layout: Layout, grid: list[list[str]], line: int, pos: int, ch: str, rule: str,
         out: list[Correction]) -> None:
    before = grid[line][pos]
    if before == ch:
        return
    grid[line][pos] = ch
    out.append(Correction(field_name(layout, line, pos), line, pos, before, ch, rule))


def _by_field_type(layout: Layout, grid: list[list[str]], out: list[Correction]) -> None:
    for line_no, row in enumerate(grid):
        for pos, ch in enumerate(row):
            kind = layout.kind_at(line_no, pos)
            if kind in (Kind.NUM, Kind.DIGIT) and ch in DIGIT_FOR:
                _set(layout, grid, line_no, pos, DIGIT_FOR[ch], "field_type", out)
            elif kind == Kind.NAME and ch in LETTER_FOR:
                _set(layout, grid, line_no, pos, LETTER_FOR[ch], "field_type", out)
            elif kind == Kind.SEX and ch in SEX_FOR:
                _set(layout, grid, line_no, pos, SEX_FOR[ch], "field_type", out)
    doc_code = layout.field("document_code")
    for pos in range(doc_code.start, doc_code.end):
        ch = grid[doc_code.line][pos]
        if ch in LETTER_FOR:  # second letters are mostly D (ID, PD), never O
            _set(layout, grid, doc_code.line, pos, "D" if ch == "0" else LETTER_FOR[ch], "field_type", out)
    for name in ("issuing_state", "nationality"):
        _fix_code(layout, grid, name, out)
    _fix_name_tail(layout, grid, out)
    _fix_name_noise(layout, grid, out)


def _fix_name_noise(layout: Layout, grid: list[list[str]], out: list[Correction]) -> None:
    """Letters after a run of three or more fillers that follows the name are not a name
    component (ICAO 9303 separates components by one filler, primary from secondary
    identifiers by two; longer runs only pad the field's end): they are glare or paper
    texture read as text, so they become fillers again."""
    f = layout.field("name")
    row = grid[f.line]
    text = "".join(row[f.start : f.end])
    stripped = text.lstrip("<")
    start = f.start + len(text) - len(stripped)
    run = stripped.find("<<<")
    if not stripped or run < 0:
        return
    for pos in range(start + run + 3, f.end):
        if row[pos] != "<":
            _set(layout, grid, f.line, pos, "<", "field_type", out)


def _fix_code(layout: Layout, grid: list[list[str]], name: str, out: list[Correction]) -> None:
    """A state code that is not in the ICAO list is replaced by the one confusable reading
    that is (e.g. '0<<' -> 'D<<'); several candidates mean we leave it alone."""
    f = layout.field(name)
    code = "".join(grid[f.line][f.start : f.end])
    if is_known_code(code):
        return
    options = [ch + alternatives(ch) + CODE_LOOKALIKES.get(ch, "") for ch in code]
    found = {"".join(c) for c in product(*options) if is_known_code("".join(c))}
    found = {c for c in found if "<" not in c.rstrip("<")}  # fillers only pad at the end
    direct = "".join(LETTER_FOR.get(ch, ch) for ch in code)
    if len(found) > 1 and direct in found:
        found = {direct}  # 'GB0': GBO and GBD both exist; 0 is read for O more often than D
    other = "nationality" if name == "issuing_state" else "issuing_state"
    if len(found) > 1 and any(f.name == other for f in layout.fields):
        g = layout.field(other)
        twin = "".join(grid[g.line][g.start : g.end])
        if twin in found:
            found = {twin}  # 'PRL' for PHL or PRI: most documents are issued to nationals
    if len(found) == 1:
        fixed = found.pop()
        for i, ch in enumerate(fixed):
            _set(layout, grid, f.line, f.start + i, ch, "field_type", out)


def _fix_name_tail(layout: Layout, grid: list[list[str]], out: list[Correction]) -> None:
    """Fillers misread as 'K' in the trailing filler run of the name ('ANNA<<<K<<' -> 'ANNA<<<<<<').

    Only K's between fillers are touched, so a name that ends in K keeps it, and so does a
    one-letter secondary identifier 'K' at the end of the field ('SMITH<<K').
    """
    f = layout.field("name")
    row = grid[f.line]
    i = f.end
    while i > f.start and row[i - 1] in "<K":
        i -= 1
    while i < f.end and row[i] == "K":
        i += 1
    tail = row[i : f.end]
    if tail.count("<") >= 2:
        for pos in range(i, f.end):
            if row[pos] == "K" and pos + 1 < f.end:
                _set(layout, grid, f.line, pos, "<", "field_type", out)


def _positions(check: Check, layout: Layout) -> list[tuple[int, int]]:
    """Positions covered by ``check`` whose characters may legally be letters or digits."""
    out = []
    for line, start, end in check.spans:
        for pos in range(start, end):
            if layout.kind_at(line, pos) == Kind.ALNUM:
                out.append((line, pos))
    out.append((check.line, check.pos))
    return out


def _candidates(grid: list[list[str]], positions: list[tuple[int, int]]) -> Iterator[
        tuple[tuple[int, int, str], ...]]:
    """Every way of changing 1..MAX_CHANGES_PER_CHECK positions to a confusable alternative,
    fewest changes first."""
    options = [(ln, p, alternatives(grid[ln][p])) for ln, p in positions]
    options = [o for o in options if o[2]]
    for k in range(1, MAX_CHANGES_PER_CHECK + 1):
        for chosen in combinations(options, k):
            for chars in product(*(o[2] for o in chosen)):
                yield tuple((o[0], o[1], c) for o, c in zip(chosen, chars, strict=True))


def _cost(change: tuple[tuple[int, int, str], ...], grid: list[list[str]],
          confidences: list[list[float]] | None) -> float:
    """How unlikely a change is: each substitution costs the OCR's confidence in the
    character it replaces (1.0 when unknown), and turning a digit into a letter costs a
    little more, since document numbers and optional data are mostly digits."""
    total = 0.0
    for ln, p, c in change:
        conf = 1.0
        if confidences is not None and ln < len(confidences) and p < len(confidences[ln]):
            conf = confidences[ln][p]
        total += conf + (0.25 if grid[ln][p].isdigit() and c.isalpha() else 0.0)
    return total


def _by_check_digits(layout: Layout, grid: list[list[str]], out: list[Correction],
                     confidences: list[list[float]] | None = None) -> None:
    """Fix each failing field check on its own, then let the composite pick among the
    combinations. The cheapest working combination is applied only if it is strictly
    cheaper than the next one; a tie means the text does not tell, so nothing changes."""
    composite = next((c for c in layout.checks if c.name == "composite"), None)

    def lines() -> list[str]:
        return ["".join(r) for r in grid]

    per_check: list[list[tuple[tuple[int, int, str], ...]]] = []
    for check in layout.checks:
        if check is composite or evaluate_checks(layout, lines())[check.name].valid:
            continue
        fixes: list[tuple[tuple[int, int, str], ...]] = []
        for change in _candidates(grid, _positions(check, layout)):
            if fixes and len(change) > len(fixes[0]):
                break  # only the smallest changes count
            if composite is None and len(change) > 1:
                break  # without a composite to confirm, trust single substitutions only
            with _applied(grid, change):
                if evaluate_checks(layout, lines())[check.name].valid:
                    fixes.append(change)
        if not fixes:
            return  # one field cannot be fixed by confusables: leave everything as read
        per_check.append(fixes)
    if not per_check:
        if composite is not None and not _ok(composite, lines()):
            _fix_composite_only(layout, grid, composite, out)
        return
    scored: list[tuple[float, tuple[tuple[int, int, str], ...]]] = []
    for combo in product(*per_check):
        flat = tuple(c for change in combo for c in change)
        if len({(ln, p) for ln, p, _ in flat}) != len(flat):
            continue  # two fixes touching the same character
        with _applied(grid, flat):
            if composite is not None and not _ok(composite, lines()):
                continue
            shape = _mixed_runs(layout, grid)
        scored.append((_cost(flat, grid, confidences) + 0.1 * shape, flat))
    scored.sort(key=lambda t: t[0])
    if not scored or (len(scored) > 1 and scored[1][0] - scored[0][0] < 1e-9):
        return
    for ln, p, c in scored[0][1]:
        _set(layout, grid, ln, p, c, "check_digit", out)


def _mixed_runs(layout: Layout, grid: list[list[str]]) -> int:
    """Letter/digit alternations inside alphanumeric fields: numbers such as 'L898902C3'
    are runs of letters and digits, so a fix that breaks a run ('1B4') is less likely."""
    n = 0
    for f in layout.fields:
        if f.kind != Kind.ALNUM:
            continue
        text = [c for c in grid[f.line][f.start : f.end] if c != "<"]
        n += sum(a.isdigit() != b.isdigit() for a, b in zip(text, text[1:], strict=False))
    return n


@contextmanager
def _applied(grid: list[list[str]], change: tuple[tuple[int, int, str], ...]) -> Iterator[None]:
    """Apply a tentative change for the duration of a check, then undo it."""
    saved = [(ln, p, grid[ln][p]) for ln, p, _ in change]
    for ln, p, c in change:
        grid[ln][p] = c
    try:
        yield
    finally:
        for ln, p, c in reversed(saved):
            grid[ln][p] = c


def _ok(check: Check, lines: list[str]) -> bool:
    return is_valid(check.data(lines), check.digit(lines), filler_ok=check.filler_ok)


def _fix_composite_only(layout: Layout, grid: list[list[str]], composite: Check,
                        out: list[Correction]) -> None:
    """All field checks pass but the composite fails: the error is in data only the
    composite covers (optional data without its own check digit, or the composite digit)."""
    lines = ["".join(r) for r in grid]
    checks = evaluate_checks(layout, lines)
    if not all(v.valid for k, v in checks.items() if k != "composite"):
        return
    covered = {(c.line, p) for c in layout.checks if c is not composite
               for ln, a, b in c.spans for p in range(a, b) if ln == c.line}
    covered |= {(c.line, c.pos) for c in layout.checks if c is not composite}
    positions = [(ln, p) for ln, p in _positions(composite, layout) if (ln, p) not in covered]
    hits = []
    for change in _candidates(grid, positions):
        if len(change) > 1:
            break
        (ln, p, c), = change
        old = grid[ln][p]
        grid[ln][p] = c
        if _ok(composite, ["".join(r) for r in grid]):
            hits.append(change)
        grid[ln][p] = old
    if len(hits) == 1:
        (ln, p, c), = hits[0]
        _set(layout, grid, ln, p, c, "check_digit", out)
