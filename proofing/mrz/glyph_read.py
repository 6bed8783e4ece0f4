"""Read a located MRZ with the glyph classifier alone, before any tesseract call.

The locator renders the zone at a fixed character height, and OCR-B is monospaced, so the
slots can be found without an OCR engine: every glyph is (mostly) one blob of ink, blob
centres sit on a grid of one pitch, and a line holds 30, 36 or 44 slots. Each slot's cell
goes to the classifier (:mod:`proofing.mrz.glyphs`).

A tesseract call costs ~100 ms of CPU; this costs a few. But it is trusted only when the
reading leaves nothing to doubt: every check digit valid as read (no correction), no
doubtful field, and every slot classified with at least :data:`MIN_SLOT_PROB`. Anything
else goes to tesseract as before, so on hard images it only adds its few milliseconds.
"""

from __future__ import annotations

import cv2
import numpy as np

from proofing.mrz.formats import layout_for
from proofing.mrz.glyphs import ALPHABET, GlyphModel, best_allowed, cut_cells, text_rows
from proofing.mrz.locate import Candidate, line_bands, text_mask

#: Every slot must be classified at least this surely for the reading to stand alone.
MIN_SLOT_PROB = 0.97
LENGTHS = {3: (30,), 2: (36, 44)}


def slot_centres(grey: np.ndarray, char_h: float, n_lines: int) -> tuple[list[tuple[int, int]], list[list[float]], float] | None:
    """Line bands, each line's slot centres and the pitch, from ink blobs; None when the
    blobs do not make 2-3 lines of one of the MRZ lengths."""
    mask = text_mask(grey, char_h)
    bands = line_bands(mask, 0.45 * char_h)
    if len(bands) != n_lines or not 2 <= n_lines <= 3:
        return None
    per_line: list[np.ndarray] = []
    for top, bottom in bands:
        n, _, stats, centroids = cv2.connectedComponentsWithStats(mask[top:bottom])
        keep = [i for i in range(1, n) if stats[i, cv2.CC_STAT_HEIGHT] >= 0.3 * (bottom - top)
                and stats[i, cv2.CC_STAT_AREA] >= 4]
        if len(keep) < 20:
            return None
        xs = np.sort(np.array([stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] / 2 for i in keep]))
        per_line.append(xs)
    gaps = np.concatenate([np.diff(xs) for xs in per_line])
    pitch = float(np.median(gaps))
    if pitch <= 2:
        return None
    good = gaps[(gaps > 0.8 * pitch) & (gaps < 1.2 * pitch)]
    pitch = float(np.mean(good)) if len(good) else pitch
    # Lines are left-aligned: the first slot is at the leftmost first blob of any line.
    x0 = min(float(xs[0]) for xs in per_line)
    span = max((float(xs[-1]) - x0) / pitch + 1 for xs in per_line)
    length = min(LENGTHS[n_lines], key=lambda n: abs(n - span))
    if abs(length - span) > 2.5:
        return None
    centres = []
    for xs in per_line:
        # The line's own grid: pitch refitted on blobs near a slot, offset from them.
        k = np.round((xs - x0) / pitch)
        near = np.abs((xs - x0) / pitch - k) < 0.3
        if near.sum() < 10 or len(np.unique(k[near])) < 10:
            return None
        a, b = np.polyfit(k[near], xs[near], 1)
        centres.append([float(b + a * s) for s in range(length)])
    return bands, centres, pitch


def read_by_glyphs(cand: Candidate, model: GlyphModel) -> tuple[list[str], float] | None:
    """The lines as the classifier reads them, constrained per field type, with the lowest
    slot probability; None where the slots cannot be found."""
    grey = cand.crop
    found = slot_centres(grey, cand.char_height, cand.n_lines)
    if found is None:
        return None
    bands, centres, pitch = found
    cells = []
    for (top, bottom), xs in zip(bands, centres, strict=True):
        rows = text_rows(grey, top, bottom, xs[0] - pitch, xs[-1] + pitch)
        cells.append(cut_cells(grey, rows, xs, pitch))
    probs = model.probabilities(np.concatenate(cells))
    raw = "".join(ALPHABET[i] for i in probs.argmax(axis=1))
    lengths = [len(xs) for xs in centres]
    lines = []
    i = 0
    for n in lengths:
        lines.append(raw[i : i + n])
        i += n
    layout = layout_for(lines)
    if layout is None:
        return None
    out, worst, i = [], 1.0, 0
    for li, n in enumerate(lengths):
        chars = []
        for k in range(n):
            best = best_allowed(probs[i], layout.kind_at(li, k))
            chars.append(ALPHABET[best])
            worst = min(worst, float(probs[i][best]))
            i += 1
        out.append("".join(chars))
    return out, worst
