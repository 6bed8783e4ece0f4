"""read_mrz(image) -> MrzResult: the whole MRZ stage for one image or a burst of frames.

load -> locate (:mod:`proofing.mrz.locate`) -> OCR (:mod:`proofing.mrz.ocr`) -> fit the
lines to the layout length -> correct confusions (:mod:`proofing.mrz.correct`) -> parse.

Where the glyph classifier is built (:mod:`proofing.mrz.glyphs`), it reads the best
candidate first, alone (:mod:`proofing.mrz.glyph_read`); a reading it is sure of and whose
check digits all validate as read needs no tesseract call at all. Otherwise it looks again
at every slot tesseract read and may overrule it (:func:`proofing.mrz.glyphs.fuse`).

Tesseract calls dominate the time (each is a process, ~100 ms on an idle core), so the
reader escalates only while the reading is not settled: the best candidate as one block,
turned by 180 degrees if that reads as noise, then the other preprocessing, then line by
line, then the next candidates, at most ``MAX_OCR_ATTEMPTS`` calls in all. A reading is
settled when every check digit validates as read, with no doubtful field (an unknown or
withdrawn state code), or when two tries agree. Two valid readings that disagree (in a
name, which no check digit covers) call for a third, and three or more are voted per
character. Otherwise the reading with the most valid checks is returned as read, so a
document printed with a wrong check digit comes back as printed. A reading still
doubtful at the end gets a second engine's opinion where that is switched on
(``PROOFING_MRZ_SECOND_ENGINE``, off by default) and its model installed
(:mod:`proofing.mrz.second`).
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from proofing.imaging import ImageError, as_bgr, load_image
from proofing.mrz.codes import code_kind
from proofing.mrz.correct import correct_lines, field_name
from proofing.mrz.formats import LAYOUTS, Kind, layout_for
from proofing.mrz.glyph_read import MIN_SLOT_PROB, read_by_glyphs
from proofing.mrz.glyphs import GlyphModel, GlyphVote, cut_cells, fuse, glyph_model, text_rows
from proofing.mrz.locate import (
    Candidate,
    line_bands,
    locate_mrz,
    looks_upside_down,
    rotate_candidate,
    text_mask,
)
from proofing.mrz.ocr import (
    OCRB_LANG,
    Engine,
    OcrChar,
    OcrLine,
    OcrResult,
    binarise,
    ocr_block,
    ocr_lines,
    resolve_engine,
)
from proofing.mrz.parse import parse_lines
from proofing.mrz.ppocr import mode as second_mode
from proofing.mrz.ppocr import recogniser
from proofing.mrz.result import Correction, MrzResult

ImageSource = str | Path | bytes | np.ndarray

#: Read the binarised crop first with the OCR-B model. Off: on the synthetic corpus the
#: grey crop read better first (56/60 against 53/60), binarisation helps as a second try.
OCRB_BINARY_FIRST = False

#: Letters OCR-B shares a shape with a digit (0, 1, 2, 5, 6, 8).
DIGIT_LIKE = frozenset("ODQILZSGB")

#: Refuse images too small to hold a legible MRZ (30 characters need ~3 px each).
MIN_SIDE = 32
#: Upper bound on tesseract runs per image (each is tens to hundreds of milliseconds).
MAX_OCR_ATTEMPTS = 6
#: The longer side the locator works at: enough for a passport page filling a 12 MP frame.
LOCATE_MAX_SIDE = 2400
MRZ_LENGTHS = {3: (30,), 2: (36, 44)}
#: A reading whose lines miss the layout length by more than this on average is not an MRZ.
MAX_MEAN_LENGTH_ERROR = 4.5
#: Cost of leaving an OCR character out (a doubled or spurious one) when aligning a line to
#: its slots, in squared pitches of misplacement.
DROP_COST = 0.8
#: At most this many doubled glyphs are resolved by trying both readings (2**n parses).
MAX_ALTERNATIVES = 4


@dataclass(frozen=True)
class Reading:
    """One OCR attempt after fitting and correction, with how good it is."""

    result: MrzResult
    mean_conf: float
    refit: int = 0  # slots two different characters were read on

    @property
    def key(self) -> tuple[int, int, int, int, float]:
        """Found, then valid checks, then fewest doubtful fields, then fewest guesses:
        characters changed to satisfy a check digit or chosen between two read on one
        slot (a check digit has a one-in-ten chance of accepting a wrong guess), then OCR
        confidence."""
        r = self.result
        guessed = sum(c.rule == "check_digit" for c in r.corrections) + self.refit
        return (int(r.found), sum(c.valid for c in r.checks.values()), -_doubts(r), -guessed, self.mean_conf)

    @property
    def settled(self) -> bool:
        """Good enough to stop: every check valid, as read, nothing doubtful."""
        return self.result.valid and self.key[2] == 0 and self.key[3] == 0


def read_mrz(source: ImageSource, *, lang: str | None = None) -> MrzResult:
    """Read the MRZ of one image; bad input gives ``found=False`` and a reason code."""
    timings: dict[str, float] = {}
    label = _label(source)
    t = time.perf_counter()
    try:
        image = _load(source)
    except ImageError as e:
        return MrzResult(found=False, reasons=[e.code], source=label,
                         timings_ms={"load": _ms(t)})
    timings["load"] = _ms(t)
    engine = resolve_engine(lang)
    result = _read_image(image, engine, timings)
    if engine.fallback_reason:
        result.reasons.append(engine.fallback_reason)
    result.source = label
    result.frames_used = 1 if result.found else 0
    return result


def read_mrz_frames(sources: Sequence[ImageSource], *, lang: str | None = None) -> MrzResult:
    """Read a burst of one document: stop at the first frame whose checks all validate,
    otherwise vote per character over the frames read in the same layout."""
    from proofing.mrz.vote import vote_lines

    engine = resolve_engine(lang)
    readings: list[MrzResult] = []
    timings: dict[str, float] = {}
    reasons: list[str] = []
    for i, src in enumerate(sources):
        t = time.perf_counter()
        try:
            image = _load(src)
        except ImageError as e:
            reasons.append(e.code)
            continue
        frame_t: dict[str, float] = {"load": _ms(t)}
        r = _read_image(image, engine, frame_t)
        for k, v in frame_t.items():
            timings[k] = timings.get(k, 0.0) + v
        if engine.fallback_reason:
            r.reasons.append(engine.fallback_reason)
        if r.valid:
            r.frames_used = i + 1
            r.timings_ms = timings
            r.source = _label(src)
            return r
        if r.found:
            readings.append(r)
        else:
            reasons.extend(r.reasons)
    if not readings:
        codes = sorted(set(reasons)) or ["MRZ_NOT_FOUND"]
        return MrzResult(found=False, reasons=codes, timings_ms=timings, frames_used=0)
    t = time.perf_counter()
    voted, agreement = vote_lines([r.lines for r in readings])
    result = _finish(voted, [])
    timings["vote"] = _ms(t)
    result.raw_lines = voted
    result.frames_used = len(sources)
    result.timings_ms = timings
    result.confidence = result.confidence * agreement
    return result


# --------------------------------------------------------------------------------------
# One image


def _load(source: ImageSource) -> np.ndarray:
    if isinstance(source, np.ndarray):
        image = as_bgr(source)
        h, w = image.shape[:2]
        if max(h, w) > LOCATE_MAX_SIDE:
            s = LOCATE_MAX_SIDE / max(h, w)
            image = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    else:
        image = load_image(source, max_side=LOCATE_MAX_SIDE)
    if min(image.shape[:2]) < MIN_SIDE:
        raise ImageError("IMAGE_TOO_SMALL", f"{image.shape[1]}x{image.shape[0]} is too small for an MRZ")
    return image


def _read_image(image: np.ndarray, engine: Engine, timings: dict[str, float]) -> MrzResult:
    t = time.perf_counter()
    candidates = locate_mrz(image)
    timings["locate"] = _ms(t)
    if not candidates:
        return MrzResult(found=False, reasons=["MRZ_NOT_FOUND"], timings_ms=timings)
    model = glyph_model() if engine.lang == OCRB_LANG else None
    if model is not None:
        t = time.perf_counter()
        quick = _glyphs_alone(candidates[0], model)
        timings["glyphs"] = _ms(t)
        if quick is not None:
            quick.timings_ms = timings
            return quick
    session = _Session(engine)
    for rank, cand in enumerate(candidates[:3]):
        if session.read_candidate(cand, thorough=rank == 0):
            break
    timings["ocr"] = session.ocr_ms
    timings["parse"] = session.parse_ms
    best = session.voted()
    if best is not None and best.result.found and session.best_cand is not None and recogniser() is not None \
            and session.unsure(best):
        # A second engine, only on a doubtful reading (see proofing.mrz.second).
        from proofing.mrz.second import second_opinion

        t = time.perf_counter()
        best = second_opinion(best, session.best_cand)
        timings["ocr2"] = _ms(t)
    if best is None or not best.result.found:
        return MrzResult(found=False, reasons=["MRZ_NOT_FOUND"], timings_ms=timings)
    result = best.result
    result.timings_ms = timings
    return result


def _glyphs_alone(cand: Candidate, model: GlyphModel) -> MrzResult | None:
    """The glyph classifier's reading of the best candidate (upright by the ink cue), if it
    stands alone: see :mod:`proofing.mrz.glyph_read`."""
    if looks_upside_down(cand.crop):
        cand = rotate_candidate(cand)
    got = read_by_glyphs(cand, model)
    if got is None or got[1] < MIN_SLOT_PROB:
        return None
    lines, worst = got
    result = _finish(lines, [])
    if not result.valid or result.corrections or _doubts(result):
        return None
    result.raw_lines = lines
    result.confidence = result.confidence * worst
    return result


#: Reasons that make a reading doubtful even when its check digits validate: fields no
#: check digit covers, read wrongly (a nationality 'KLD' for 'NLD').
_DOUBT = ("UNKNOWN_ISSUER_CODE", "UNKNOWN_NATIONALITY_CODE", "INVALID_SEX", "INVALID_DATE")


def _plausible(r: MrzResult) -> bool:
    """Text, not noise: most check digits valid and at most one doubtful field (upside-down
    text read as garbage still passes a check digit one time in ten)."""
    n_valid = sum(c.valid for c in r.checks.values())
    return r.found and n_valid >= max(2, len(r.checks) // 2) and _doubts(r) <= 1


def _doubts(r: MrzResult) -> int:
    n = sum(reason.startswith(_DOUBT) for reason in r.reasons)
    if r.fields is not None:
        # A withdrawn code ('MID' for 'NLD') on a current document is more likely a misread.
        n += sum(code_kind(c) == "historic" for c in (r.fields.issuing_state, r.fields.nationality))
    return n


class _Session:
    """The OCR tries for one image: keeps the best reading and the call budget."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.best: Reading | None = None
        self.valid: list[Reading] = []  # every reading whose check digits all validate
        self.calls = 0
        self.valid_seen: set[tuple[str, ...]] = set()
        self.confirmed = False  # two tries gave the same valid text
        self.ocr_ms = 0.0
        self.parse_ms = 0.0
        self.best_cand: Candidate | None = None  # the crop (as turned) the best reading came from

    def done(self) -> bool:
        return self.calls >= MAX_OCR_ATTEMPTS or self.confirmed or (
            self.best is not None and self.best.settled and (not self.disputed() or len(self._same()) >= 3))

    def unsure(self, chosen: Reading) -> bool:
        """Worth a second engine's opinion: not settled, or tesseract's tries disagreed
        (every reading with ``PROOFING_MRZ_SECOND_ENGINE=always``). Tesseract's mean
        confidence does not single out the rest: 0.96-0.99 on the misread synthetic images,
        as on the others."""
        return second_mode() == "always" or not chosen.settled or self.disputed()

    def _same(self) -> list[Reading]:
        """The best reading first, then the other valid readings of its layout."""
        best = self.best
        if best is None:
            return []
        return [best] + [r for r in self.valid if r is not best and _shape(r) == _shape(best)]

    def disputed(self) -> bool:
        """Another reading that validates says something else: check digits cannot tell
        which is right (names, nationality and sex carry none), so a further try should
        break the tie (see :meth:`voted`)."""
        best = self.best
        return best is not None and any(r.result.lines != best.result.lines for r in self.valid
                                        if _shape(r) == _shape(best))

    def voted(self) -> Reading | None:
        """The best reading, or, where three or more valid readings of its layout disagree,
        their per-character majority (ties keep the best reading's character), used only if
        it validates as well and is no more doubtful."""
        best = self.best
        if best is None or not best.result.valid or not self.disputed():
            return best
        same = self._same()
        if len(same) < 3:
            return best
        lines = []
        for i, line in enumerate(best.result.lines):
            chars = []
            for pos, ch in enumerate(line):
                votes = Counter(r.result.lines[i][pos] for r in same)
                top = votes.most_common(1)[0][1]
                chars.append(ch if votes[ch] == top else votes.most_common(1)[0][0])
            lines.append("".join(chars))
        if lines == best.result.lines:
            return best
        result = parse_lines(lines)
        if not result.valid or _doubts(result) > _doubts(best.result):
            return best
        # The best reading's corrections that the vote kept.
        result.corrections = [c for c in best.result.corrections if lines[c.line][c.position] == c.after]
        result.raw_lines = best.result.raw_lines
        agreement = sum(r.result.lines == lines for r in same) / len(same)
        result.confidence = best.result.confidence * max(agreement, 0.5)
        return Reading(result, best.mean_conf, best.refit)

    def attempt(self, run: Callable[[], OcrResult], expected: int = 0,
                cand: Candidate | None = None) -> Reading | None:
        if self.done():
            return None
        self.calls += 1
        t = time.perf_counter()
        ocr = run()
        self.ocr_ms += _ms(t)
        t = time.perf_counter()
        reading = _interpret(ocr, expected)
        self.parse_ms += _ms(t)
        if reading is not None and (self.best is None or reading.key > self.best.key):
            self.best = reading
            self.best_cand = cand
        if reading is not None and reading.result.valid:
            self.valid.append(reading)
            text = tuple(reading.result.lines)
            if text in self.valid_seen and self.best is not None and tuple(self.best.result.lines) == text:
                self.confirmed = True
            self.valid_seen.add(text)
        return reading

    def read_candidate(self, cand: Candidate, *, thorough: bool) -> bool:
        """The grey crop first, upright by the ink cue, turned over only if that reads as
        noise; then (best candidate only) the binarised crop and line by line."""
        e = self.engine
        first, second = cand, rotate_candidate(cand)
        if looks_upside_down(cand.crop):
            first, second = second, first
        n = cand.n_lines
        binary_first = e.lang == OCRB_LANG and OCRB_BINARY_FIRST

        def block(c: Candidate, binary: bool) -> Callable[[], OcrResult]:
            return lambda: ocr_block(binarise(c.crop, c.char_height) if binary else c.crop, e)

        r = self.attempt(block(first, binary_first), n, first)
        if r is None or not _plausible(r.result):
            r2 = self.attempt(block(second, binary_first), n, second)
            # Turn over only on evidence (more checks valid), not on OCR confidence:
            # tesseract is as confident about upside-down garbage as about text.
            if r2 is not None and (r is None or r2.key[:2] > r.key[:2]):
                first = second
        if thorough:
            self.attempt(block(first, not binary_first), n, first)
            self.attempt(lambda: _by_lines(first, e), n, first)
        return self.done()


def _shape(r: Reading) -> tuple[int, ...]:
    return tuple(len(line) for line in r.result.lines)


def _by_lines(cand: Candidate, engine: Engine) -> OcrResult:
    bands = list(cand.line_bands) or line_bands(text_mask(cand.crop, cand.char_height), 0.45 * cand.char_height)
    if not 2 <= len(bands) <= 3:
        return ocr_block(cand.crop, engine)
    return ocr_lines(cand.crop, bands, engine)


def _interpret(ocr: OcrResult, expected: int = 0) -> Reading | None:
    picked = pick_lines(ocr.lines, expected)
    if picked is None:
        return None
    # The OCR-B model reads fillers reliably, and on blurred OCR-B a 'K' can look like a
    # filler to the glyph check: with it, only characters between two fillers are checked.
    texts, confs, alts, slots = _fit(picked, ocr.image, between_fillers_only=ocr.lang == OCRB_LANG)
    glyph_votes: list[GlyphVote] = []
    if slots is not None and ocr.image is not None and (model := glyph_model()) is not None:
        texts, confs, glyph_votes = _second_look(model, texts, confs, picked, slots, ocr.image)
    mean_conf = float(np.mean([c for row in confs for c in row])) if confs else 0.0
    # Two different characters read on one slot: whichever is kept is a guess. (Fillers
    # dropped or doubled in a filler run are not: tesseract does that all the time.)
    refit = len(alts)
    options: list[tuple[tuple[int, int, str], ...]] = [(a,) for a in alts] + _round_letter_runs(texts)
    best: Reading | None = None
    # Where OCR put two characters on one slot, or read a run of zeros as O/D, each choice
    # is tried: check digits decide, and on a tie the digits.
    for choice in itertools.product(*([None, o] for o in options[:MAX_ALTERNATIVES])):
        variant = [list(t) for t in texts]
        for option in choice:
            for line, pos, ch in option or ():
                variant[line][pos] = ch
        result = _finish(["".join(v) for v in variant], confs, glyph_votes)
        result.raw_lines = [line.text for line in picked]
        result.confidence = result.confidence * mean_conf
        reading = Reading(result, mean_conf, refit)
        if best is None or (reading.key[:4], -_letters_in_numbers(result)) > (best.key[:4], -_letters_in_numbers(best.result)):
            best = reading
    return best


def _round_letter_runs(texts: list[str]) -> list[tuple[tuple[int, int, str], ...]]:
    """Runs of round glyphs (0, O, D, Q) in the document number that touch a digit, with
    their letters as zeros: OCR-B zeros read as 'DOD' can pass a check digit by chance
    (13 + 24*7 + 13*3 = 220), and then only this alternative shows the tie."""
    layout = layout_for(texts)
    if layout is None:
        return []
    f = layout.field("document_number")
    text = texts[f.line][f.start : f.end]
    out = []
    i = 0
    while i < len(text):
        if text[i] not in "0ODQ":
            i += 1
            continue
        j = i
        while j < len(text) and text[j] in "0ODQ":
            j += 1
        run = text[i:j]
        touches_digit = "0" in run or any(
            0 <= k < len(text) and text[k].isdigit() for k in (i - 1, j))
        letters = [(f.line, f.start + k, "0") for k in range(i, j) if text[k] != "0"]
        if letters and touches_digit and j - i >= 2:
            out.append(tuple(letters))
        i = j
    return out


def _letters_in_numbers(r: MrzResult) -> int:
    """Letters that look like digits (O, D, Q, I, G...) in document numbers and optional
    data: on a tie the reading with digits wins, as issuers favour digits there."""
    if r.document_type is None:
        return 0
    layout = LAYOUTS[r.document_type]
    n = 0
    for f in layout.fields:
        if f.kind == Kind.ALNUM:
            n += sum(ch in DIGIT_LIKE for ch in f.read(r.lines))
    return n


def _finish(lines: list[str], confs: list[list[float]], votes: Sequence[GlyphVote] = ()) -> MrzResult:
    corrected, corrections = _correct(lines, confs)
    result = parse_lines(corrected)
    layout = layout_for(lines)
    # The glyph classifier's changes first (they were made before the corrector ran), each
    # kept only where the final text still has it.
    result.corrections = [
        Correction(field_name(layout, v.line, v.pos) if layout else "unknown", v.line, v.pos, v.before, v.after,
                   "glyph_model")
        for v in votes if corrected[v.line][v.pos] == v.after
    ] + corrections
    return result


@dataclass(frozen=True)
class Slots:
    """Where each slot of the fitted lines sits in the crop that was read."""

    centres: list[list[float] | None]
    pitch: float


def _second_look(model: GlyphModel, texts: list[str], confs: list[list[float]], lines: list[OcrLine],
                 slots: Slots, image: np.ndarray) -> tuple[list[str], list[list[float]], list[GlyphVote]]:
    """Every slot classified again by the glyph model and fused with the OCR's reading."""
    probs: list[np.ndarray | None] = []
    cells, counts = [], []
    for ln, xs in zip(lines, slots.centres, strict=True):
        if xs is None:
            counts.append(0)
            continue
        rows = text_rows(image, ln.top, ln.bottom, min(xs) - slots.pitch, max(xs) + slots.pitch)
        cells.append(cut_cells(image, rows, xs, slots.pitch))
        counts.append(len(xs))
    if not cells:
        return texts, confs, []
    p_all = model.probabilities(np.concatenate(cells))
    i = 0
    for n in counts:
        probs.append(p_all[i : i + n] if n else None)
        i += n
    return fuse(texts, confs, probs, layout_for(texts))


def _correct(lines: list[str], confs: list[list[float]]) -> tuple[list[str], list[Correction]]:
    return correct_lines(lines, confs or None)


# --------------------------------------------------------------------------------------
# Fitting OCR lines to the layout


def pick_lines(lines: list[OcrLine], expected: int = 0) -> list[OcrLine] | None:
    """The 2-3 consecutive OCR lines that look like the MRZ (junk lines from the crop's
    margins are short); ``expected`` is the line count the locator saw, if it knows."""
    long = [ln for ln in lines if len(ln.text) >= 20]
    if len(long) < 2:
        return None
    best: tuple[float, float, list[OcrLine]] | None = None
    for n in (3, 2):
        for i in range(len(long) - n + 1):
            window = long[i : i + n]
            target = _layout_length(window)
            err = sum(abs(len(ln.text) - target) for ln in window) / n
            score = -err + (0.5 if n == 3 and target == 30 else 0.0) + (1.0 if n == expected else 0.0)
            if best is None or score > best[0]:
                best = (score, err, window)
    if best is None or best[1] > MAX_MEAN_LENGTH_ERROR:
        return None  # e.g. two lines of 30: a TD1 with a line missing, not a TD2
    return best[2]


def _pitch_and_origin(lines: list[OcrLine], length: int) -> tuple[float, float] | None:
    """Character pitch and the centre of the first slot, from lines read at full length
    when there are any (the MRZ is monospaced and its lines are left-aligned)."""
    exact = [ln for ln in lines if len(ln.chars) == length and len(ln.chars) > 1]
    if exact:
        pitch = float(np.mean([(ln.chars[-1].cx - ln.chars[0].cx) / (length - 1) for ln in exact]))
        x0 = float(np.mean([ln.chars[0].cx for ln in exact]))
        return pitch, x0
    gaps = [b.cx - a.cx for ln in lines for a, b in zip(ln.chars, ln.chars[1:], strict=False)]
    if not gaps:
        return None
    med = float(np.median(gaps))
    good = [g for g in gaps if 0.7 * med <= g <= 1.3 * med]
    if not good or med <= 0:
        return None
    return float(np.mean(good)), min(ln.chars[0].cx for ln in lines if ln.chars)


def _layout_length(lines: list[OcrLine]) -> int:
    options = MRZ_LENGTHS.get(len(lines), (44,))
    if len(options) == 1:
        return options[0]
    longest = max(len(ln.text) for ln in lines)
    span = None
    gaps = [b.cx - a.cx for ln in lines for a, b in zip(ln.chars, ln.chars[1:], strict=False)]
    if gaps:
        pitch = float(np.median(gaps))
        if pitch > 0:
            span = max((ln.chars[-1].cx - ln.chars[0].cx) / pitch + 1 for ln in lines if ln.chars)
    est = span if span is not None and span < 50 else float(longest)
    return min(options, key=lambda n: abs(n - est))


def fit_lines(lines: list[OcrLine], image: np.ndarray | None = None) -> tuple[list[str], list[list[float]]]:
    """Bring every line to the layout length: a line read at another length is re-slotted
    by its characters' x positions (a dropped '<' leaves an empty slot, a doubled
    character shares one), or, without usable boxes, its filler runs are padded or cut.

    With the ``image`` that was read, characters whose glyph is a filler's (stock models
    read OCR-B '<' as K, E, S...) become '<' again: see :func:`_glyph_fillers`.
    """
    texts, confs, _, _ = _fit(lines, image)
    return texts, confs


def _fit(lines: list[OcrLine], image: np.ndarray | None, *, between_fillers_only: bool = False,
         ) -> tuple[list[str], list[list[float]], list[tuple[int, int, str]], Slots | None]:
    """:func:`fit_lines` plus the alternatives (line, slot, char) that lost a slot to
    another character read at the same place, and each slot's x position (None without
    usable character boxes)."""
    length = _layout_length(lines)
    geometry = _pitch_and_origin(lines, length)
    texts: list[str] = []
    confs: list[list[float]] = []
    centres: list[list[float] | None] = []
    alts: list[tuple[int, int, str]] = []
    for i, ln in enumerate(lines):
        if len(ln.text) == length:
            texts.append(ln.text)
            confs.append([c.conf for c in ln.chars])
            centres.append([c.cx for c in ln.chars])
            continue
        fitted = _merge_doubles(ln, length) if len(ln.text) > length else None
        if fitted is None and geometry is not None:
            fitted = _reslot(ln, length, *geometry)
        if fitted is not None:
            text, conf, xs, line_alts = fitted
            centres.append(xs)
            alts.extend((i, slot, ch) for slot, ch in line_alts)
        else:
            text, conf = pad_or_trim(ln.text, length), [0.5] * length
            centres.append(None)
        texts.append(text)
        confs.append(conf)
    if image is not None and geometry is not None:
        texts, confs = _glyph_fillers(texts, confs, centres, lines, geometry[0], image, between_fillers_only)
    return texts, confs, alts, Slots(centres, geometry[0]) if geometry is not None else None


#: Correlation with the crop's own '<' glyph above which a character is taken for a filler
#: (misread fillers measured 0.77-0.96 on the specimens, real letters at most 0.57).
FILLER_GLYPH_CORR = 0.75


def _glyph_fillers(texts: list[str], confs: list[list[float]], centres: list[list[float] | None],
                   lines: list[OcrLine], pitch: float, image: np.ndarray,
                   between_fillers_only: bool = False) -> tuple[list[str], list[list[float]]]:
    """Compare every character's glyph with the mean of the glyphs read confidently as
    '<' in the same crop; a near-identical one is a filler, whatever the OCR said. The
    template comes from the document itself, so no font is assumed. With
    ``between_fillers_only``, only characters with a filler on both sides are checked."""
    half = 0.45 * pitch

    def patch(line: int, x: float) -> np.ndarray | None:
        ln = lines[line]
        a, b = max(0, ln.top), min(image.shape[0], ln.bottom + 1)
        x0, x1 = max(0, round(x - half)), min(image.shape[1], round(x + half) + 1)
        if b - a < 4 or x1 - x0 < 3:
            return None
        p = cv2.resize(255.0 - image[a:b, x0:x1].astype(np.float32), (12, 16), interpolation=cv2.INTER_AREA)
        p -= p.mean()
        n = float(np.linalg.norm(p))
        return p / n if n > 1e-6 else None

    samples = [
        p for i, (text, conf, xs) in enumerate(zip(texts, confs, centres, strict=True)) if xs is not None
        for ch, c, x in zip(text, conf, xs, strict=True) if ch == "<" and c >= 0.8
        if (p := patch(i, x)) is not None
    ]
    if len(samples) < 4:
        return texts, confs
    template = np.mean(samples, axis=0)
    template /= max(float(np.linalg.norm(template)), 1e-6)
    out_t, out_c = [], []
    for i, (text, conf, xs) in enumerate(zip(texts, confs, centres, strict=True)):
        if xs is None:
            out_t.append(text)
            out_c.append(conf)
            continue
        chars, cs = list(text), list(conf)
        for k, x in enumerate(xs):
            if between_fillers_only and not (
                (k == 0 or text[k - 1] == "<") and (k == len(text) - 1 or text[k + 1] == "<")
            ):
                continue
            if chars[k] != "<" and (p := patch(i, x)) is not None and float((p * template).sum()) >= FILLER_GLYPH_CORR:
                chars[k], cs[k] = "<", 0.6
        out_t.append("".join(chars))
        out_c.append(cs)
    return out_t, out_c


#: Cost of leaving an OCR character out (a doubled or spurious one) in slot alignment, in
#: squared pitches of misplacement.
DROP_COST = 0.8
#: At most this many doubled glyphs are resolved by trying both readings (2**n parses).
MAX_ALTERNATIVES = 4


def _merge_doubles(line: OcrLine, length: int,
                   ) -> tuple[str, list[float], list[float] | None, list[tuple[int, str]]] | None:
    """A line read too long because glyphs were read twice ('0O' for one '0'): two
    characters closer than half the line's own pitch are one glyph. Where exactly the
    surplus is explained so, the reading centred on the glyph keeps the slot and the other
    is returned as its alternative (check digits decide between them). None otherwise:
    the slot alignment (:func:`_reslot`) handles the rest."""
    chars = line.chars
    xs = [c.cx for c in chars]
    gaps = [b - a for a, b in zip(xs, xs[1:], strict=False)]
    if not gaps:
        return None
    pitch = float(np.median(gaps))
    close = [k for k, g in enumerate(gaps) if g < 0.5 * pitch]
    if len(chars) - len(close) != length or any(b - a < 2 for a, b in zip(close, close[1:], strict=False)):
        return None
    drop = {_spurious(xs, chars, k) for k in close}
    kept = [c for k, c in enumerate(chars) if k not in drop]
    alts = []
    for k in close:
        lost = k if k in drop else k + 1
        keeper = k + 1 if lost == k else k
        slot = keeper - sum(d < keeper for d in drop)
        if chars[lost].char != chars[keeper].char:
            alts.append((slot, chars[lost].char))
    return "".join(c.char for c in kept), [c.conf for c in kept], [c.cx for c in kept], alts


def _spurious(xs: list[float], chars: tuple[OcrChar, ...], k: int) -> int:
    """Of the pair k, k+1 read on one glyph, the one off the glyph's centre (halfway
    between the neighbours); the less confident one at a line's end."""
    if k > 0 and k + 2 < len(xs):
        mid = (xs[k - 1] + xs[k + 2]) / 2
        return k if abs(xs[k] - mid) > abs(xs[k + 1] - mid) else k + 1
    return k if chars[k].conf < chars[k + 1].conf else k + 1


def _reslot(line: OcrLine, length: int, pitch: float,
            x0: float) -> tuple[str, list[float], list[float] | None, list[tuple[int, str]]]:
    """Characters into slots by x position, in reading order (two characters never share
    a slot; a slot nobody lands in is a filler). The line's own offset is estimated
    first: a line can sit a little left or right of the others (skew, perspective).
    Also returns each slot's centre (the character's own where one landed there)."""
    chars = line.chars
    rel = [(c.cx - x0) / pitch for c in chars]
    shift = float(np.median([r - round(r) for r in rel]))
    assign = _align([r - shift for r in rel], length)
    slots: list[OcrChar | None] = [None] * length
    for i, slot in enumerate(assign):
        if slot >= 0:
            slots[slot] = chars[i]
    if sum(c is not None for c in slots) < 0.8 * min(len(chars), length):
        return pad_or_trim(line.text, length), [0.5] * length, None, []
    text = "".join(c.char if c else "<" for c in slots)
    conf = [c.conf if c else 0.3 for c in slots]
    xs = [c.cx if c else x0 + (k + shift) * pitch for k, c in enumerate(slots)]
    # A character left out right on top of a placed one is the other reading of that glyph.
    alts = []
    for i, slot in enumerate(assign):
        near = round(rel[i] - shift)
        if slot < 0 and 0 <= near < length and (other := slots[near]) is not None and other.char != chars[i].char \
                and abs((other.cx - chars[i].cx) / pitch) < 0.5:
            alts.append((near, chars[i].char))
    return text, conf, xs, alts


def _align(pos: list[float], length: int) -> list[int]:
    """Monotone assignment of characters at fractional slot positions to slots 0..length-1
    (-1: left out), least squared misplacement plus DROP_COST per character left out."""
    inf = float("inf")
    # cost[s]: best total with the last placed character in slot s; -1 is "none placed".
    none_cost = 0.0
    cost = [inf] * length
    back: list[list[tuple[bool, int]]] = []
    for p in pos:
        new = [inf] * length
        step: list[tuple[bool, int]] = [(False, -1)] * length
        best_prev, best_idx = none_cost, -1
        for s in range(length):
            placed = best_prev + (s - p) ** 2
            dropped = cost[s] + DROP_COST
            if placed < dropped:
                new[s], step[s] = placed, (True, best_idx)
            else:
                new[s], step[s] = dropped, (False, s)
            if cost[s] < best_prev:
                best_prev, best_idx = cost[s], s
        none_cost += DROP_COST
        cost = new
        back.append(step)
    s = min(range(length), key=lambda k: cost[k]) if length else -1
    if length == 0 or none_cost <= cost[s]:
        return [-1] * len(pos)
    out = [-1] * len(pos)
    for i in range(len(pos) - 1, -1, -1):
        if s < 0:
            break
        is_placed, prev = back[i][s]
        if is_placed:
            out[i] = s
            s = prev
    return out


def pad_or_trim(text: str, length: int) -> str:
    """Fix a line's length where OCR is most often wrong: the longest filler run (the
    trailing one on ties) gains or loses '<'; otherwise the end is padded or cut."""
    while len(text) != length:
        runs = [(m_end - m_start, m_end) for m_start, m_end in _filler_runs(text)]
        if len(text) > length:
            if runs:
                _, end = max(runs)
                text = text[: end - 1] + text[end:]
            else:
                text = text[:length]
        else:
            if runs:
                _, end = max(runs)
                text = text[:end] + "<" + text[end:]
            else:
                text = text + "<" * (length - len(text))
    return text


def _filler_runs(text: str) -> list[tuple[int, int]]:
    runs = []
    i = 0
    while i < len(text):
        if text[i] == "<":
            j = i
            while j < len(text) and text[j] == "<":
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def _label(source: ImageSource) -> str | None:
    if isinstance(source, str | Path):
        return str(source)
    return None


def _ms(t: float) -> float:
    return (time.perf_counter() - t) * 1000.0
