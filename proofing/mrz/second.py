"""A second opinion on a doubtful tesseract reading, from an independent engine (PP-OCRv4).

Tesseract's tries of one crop share its blind spots: a blurred OCR-B 'M' read as 'N' in
a name comes back the same every time, confidently, and no check digit covers a name. The
second engine (:mod:`proofing.mrz.ppocr`) reads the same deskewed line crops; where the
two disagree on a slot, neither engine's confidence decides (both are confident when
wrong) but the crop itself: the disputed glyph is compared with the glyphs both engines
agree on elsewhere in the same crop, which share its font, blur and lighting. The
second engine's character is taken if its in-crop template fits the glyph clearly
better, or, where the templates do not speak against it, if PP-OCR is sure of it; the
result is kept only if no check digit that held fails, nothing else changes (no check
digit "repaired" by a further correction), at most one slot changes under each check
digit, and no field becomes doubtful. Where the tesseract reading fails its check digits,
the second engine's own reading competes as one more try.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from proofing.mrz.formats import Check, layout_for
from proofing.mrz.locate import Candidate, line_bands, text_mask
from proofing.mrz.ocr import OcrChar, OcrLine
from proofing.mrz.ppocr import RecLine, recogniser

if TYPE_CHECKING:
    from proofing.mrz.reader import Reading

_log = logging.getLogger(__name__)

#: Vertical margin around each line band for the second engine, in band heights.
BAND_PAD = 0.25
#: The second engine's character replaces tesseract's only if the glyph correlates with
#: its in-crop template by at least this much more than with tesseract's character's.
TEMPLATE_MARGIN = 0.05
#: Fewest agreed samples of a character to make its template.
MIN_SAMPLES = 1
#: Where tesseract's character occurs nowhere else in the crop (no template), the second
#: engine's is taken only if the glyph fits its template at least this well.
ALONE_MATCH = 0.85
#: A line on which the engines differ in more slots than this is misaligned (a character
#: dropped by one of them shifts the rest) or unreadable: it is left as tesseract read it.
MAX_LINE_DIFFS = 5
#: Where the templates do not speak against it, a character the second engine reads with
#: at least this probability is taken. On 150 held-out images (seed 3, engine forced on)
#: it was right 4 times in 4 where it mattered; with the engine on every reading it also
#: cost 3 of 500 on seed 0 (issuer letters, GBD -> GBO), hence "doubtful" mode only.
SURE_PROB = 0.9
#: At most this many swaps are weighed (every subset is parsed).
MAX_SWAPS = 6


def second_opinion(best: Reading, cand: Candidate) -> Reading:
    """``best`` (a :class:`proofing.mrz.reader.Reading`) improved by the second engine's
    reading of ``cand``'s lines, or ``best`` unchanged (no model, or no clear gain)."""
    from proofing.mrz.reader import Reading, _doubts, _finish, _fit

    rec = recogniser()
    if rec is None:
        return best
    result = best.result
    lines = list(result.lines)
    bands = list(cand.line_bands) or line_bands(text_mask(cand.crop, cand.char_height), 0.45 * cand.char_height)
    if len(bands) != len(lines):
        return best
    h = cand.crop.shape[0]
    crops, offsets = [], []
    for top, bottom in bands:
        pad = max(2, round((bottom - top) * BAND_PAD))
        a, b = max(0, top - pad), min(h, bottom + pad)
        crops.append(cand.crop[a:b])
        offsets.append((a, b))
    read = rec.read_lines(crops)
    ocr_lines = [_as_ocr_line(r, a, b) for r, (a, b) in zip(read, offsets, strict=True)]
    if any(len(ln.chars) < 20 for ln in ocr_lines):
        return best
    texts, confs, _, _ = _fit(ocr_lines, None)
    if [len(t) for t in texts] != [len(t) for t in lines]:
        return best
    # Its own reading, corrected as tesseract's are: where tesseract's fails its checks.
    own = _finish(texts, confs)
    own.raw_lines = [ln.text for ln in ocr_lines]
    candidates = [best]
    if not result.valid:
        mean = float(np.mean([c for row in confs for c in row]))
        own.confidence *= mean
        candidates.append(Reading(own, mean, 0))
    swaps = _swaps(lines, texts, ocr_lines, cand.crop, confs)
    held = [k for k, c in result.checks.items() if c.valid]
    layout = layout_for(lines)
    covers = [_covered(c) for c in layout.checks if c.name in held] if layout is not None else []
    # The largest set of swaps that breaks no check that held and adds no doubt (one wrong
    # swap, e.g. to an unknown state code, must not sink the good ones).
    for n in range(len(swaps), 0, -1):
        for subset in itertools.combinations(swaps, n):
            # Two changes under one check digit that held can cancel out (one time in ten).
            if any(sum((i, k) in cover for i, k, _ in subset) > 1 for cover in covers):
                continue
            merged = [list(t) for t in lines]
            for i, k, ch in subset:
                merged[i][k] = ch
            res = _finish(["".join(t) for t in merged], [])
            if len(res.lines) != len(lines):
                continue
            # Nothing but the swapped slots may change: a check digit "repaired" by a
            # further correction after a swap means the swap broke it.
            changed = {(i, k) for i, (a, b) in enumerate(zip(lines, res.lines, strict=True))
                       for k, (x, y) in enumerate(zip(a, b, strict=True)) if x != y}
            if changed and changed <= {(i, k) for i, k, _ in subset} \
                    and all(k in res.checks and res.checks[k].valid for k in held) \
                    and _doubts(res) <= _doubts(result):
                res.raw_lines = result.raw_lines
                res.corrections = list(result.corrections)
                res.confidence = result.confidence
                _log.debug("second opinion: %s -> %s", lines, res.lines)
                # Ahead of ``best``: on a tie of the keys the first wins.
                candidates.insert(0, Reading(res, best.mean_conf, best.refit))
                return max(candidates, key=lambda r: r.key)
    return max(candidates, key=lambda r: r.key)


def _covered(check: Check) -> set[tuple[int, int]]:
    """The (line, slot) positions a check digit covers, its own included."""
    return {(ln, k) for ln, a, b in check.spans for k in range(a, b)} | {(check.line, check.pos)}


def _as_ocr_line(line: RecLine, top: int, bottom: int) -> OcrLine:
    chars = tuple(OcrChar(c.char, c.prob, round(c.x) - 1, round(c.x) + 1) for c in line.chars)
    return OcrLine(line.text, chars, top, bottom)


def _swaps(lines: list[str], texts: list[str], ocr_lines: list[OcrLine],
           crop: np.ndarray, confs: list[list[float]] | None = None) -> list[tuple[int, int, str]]:
    """The slots the second engine read otherwise where the glyph templates of the crop
    itself side with it: (line, slot, its character), at most ``MAX_SWAPS``."""
    diffs = []
    for i, (a, b) in enumerate(zip(lines, texts, strict=True)):
        line_diffs = [(i, k) for k, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        # PP-OCR reads a blurred filler as K or 4: those do not count towards misalignment.
        if sum("<" not in (a[k], b[k]) for _, k in line_diffs) <= MAX_LINE_DIFFS:
            diffs += line_diffs
    if not diffs:
        return []
    length = len(lines[0])
    centres = [_slot_centres(ln, length) for ln in ocr_lines]
    if any(c is None for c in centres):
        return []
    pitch = float(np.median([(c[-1] - c[0]) / (length - 1) for c in centres if c is not None]))
    patches: dict[tuple[int, int], np.ndarray] = {}

    def patch(i: int, k: int) -> np.ndarray | None:
        if (i, k) not in patches:
            xs = centres[i]
            assert xs is not None
            p = _patch(crop, ocr_lines[i].top, ocr_lines[i].bottom, xs[k], pitch)
            if p is None:
                return None
            patches[(i, k)] = p
        return patches[(i, k)]

    agreed: dict[str, list[tuple[int, int]]] = {}
    for i, (a, b) in enumerate(zip(lines, texts, strict=True)):
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            if x == y:
                agreed.setdefault(x, []).append((i, k))
    out = []
    for i, k in diffs:
        a, b = lines[i][k], texts[i][k]
        if "<" in (a, b):
            continue  # tesseract's OCR-B model reads fillers reliably; PP-OCR reads blurred ones as K
        p = patch(i, k)
        if p is None:
            continue
        sa, sb = _match(p, a, agreed, patch), _match(p, b, agreed, patch)
        _log.debug("slot %d,%d tesseract %s (%.3f) second %s (%.3f) p %.3f", i, k, a, sa or -1, b, sb or -1,
                   confs[i][k] if confs else -1)
        templates_for = sb is not None and (sb >= ALONE_MATCH if sa is None else sb > sa + TEMPLATE_MARGIN)
        templates_against = sa is not None and (sa >= ALONE_MATCH if sb is None else sa > sb + TEMPLATE_MARGIN)
        sure = confs is not None and confs[i][k] >= SURE_PROB
        if templates_for or (sure and not templates_against):
            out.append((i, k, b))
    return out[:MAX_SWAPS]


def _match(p: np.ndarray, ch: str, agreed: dict[str, list[tuple[int, int]]],
           patch: Callable[[int, int], np.ndarray | None]) -> float | None:
    """Correlation of ``p`` with the mean of the crop's agreed glyphs of ``ch`` ('<' too)."""
    samples = [q for ik in agreed.get(ch, [])[:12] if (q := patch(*ik)) is not None]
    if len(samples) < MIN_SAMPLES:
        return None
    t = np.mean(samples, axis=0)
    t -= t.mean()
    n = float(np.linalg.norm(t))
    return float((p * t).sum() / n) if n > 1e-6 else None


def _slot_centres(line: OcrLine, length: int) -> list[float] | None:
    """Slot centres of a monospaced line from the characters read on it."""
    xs = [c.cx for c in line.chars]
    if len(xs) < 2:
        return None
    if len(xs) == length:
        pitch = (xs[-1] - xs[0]) / (length - 1)
        x0 = xs[0]
    else:
        gaps = np.diff(xs)
        med = float(np.median(gaps))
        good = gaps[(gaps > 0.7 * med) & (gaps < 1.3 * med)]
        if med <= 0 or not len(good):
            return None
        pitch = float(np.mean(good))
        rel = [(x - xs[0]) / pitch for x in xs]
        x0 = xs[0] + pitch * float(np.median([r - round(r) for r in rel]))
    return [x0 + j * pitch for j in range(length)]


def _patch(crop: np.ndarray, top: int, bottom: int, x: float, pitch: float) -> np.ndarray | None:
    half = 0.5 * pitch
    x0, x1 = max(0, round(x - half)), min(crop.shape[1], round(x + half) + 1)
    if bottom - top < 4 or x1 - x0 < 3:
        return None
    p = cv2.resize(255.0 - crop[top:bottom, x0:x1].astype(np.float32), (16, 24), interpolation=cv2.INTER_AREA)
    p -= p.mean()
    n = float(np.linalg.norm(p))
    return p / n if n > 1e-6 else None
