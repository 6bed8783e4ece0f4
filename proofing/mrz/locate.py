"""Find the machine-readable zone in a photo and cut it out, deskewed, at OCR size.

An MRZ is two or three long, parallel text lines of equal length, in a monospaced font,
one line pitch (about 1.75 character heights) apart. That shape is found with cheap
morphology rather than OCR: black-hat (dark strokes on a lighter page, independent of
uneven light), a horizontal closing that fuses each text line into a blob, collinear
pieces joined (blur, glare and wide spacing break lines up), ``minAreaRect`` for each
blob's angle, and blobs grouped by angle, length and spacing.

Each group is then checked on a small crop, enlarged by a line pitch on every side and
straightened by projection-profile deskew: the rows must hold 24-50 characters of equal
height at a constant pitch, and the crop snaps to the run of such lines, which takes in
a line the grouping missed and leaves out a neighbouring text line. Only quarter turns
change which way the closing must run, so the image turned by 90 degrees is searched
only when the upright search verifies nothing; the remaining 180-degree question is left
to the reader (one OCR call answers it), helped by :func:`looks_upside_down`.

Character height is unknown (the document may fill the frame or be small in it), so the
search runs on a short pyramid and stops at the first level that yields a verified zone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

#: Character height (px) the crops are scaled to. Tesseract's LSTM models read MRZ glyphs
#: best at 20-30 px here (measured on the shared specimens), and faster than at 32-40.
TARGET_CHAR_HEIGHT = 24
#: Character height of the quick crops used only to check candidates.
VERIFY_CHAR_HEIGHT = 16
#: Long sides of the search pyramid; the design character height at each level is ~6-24 px.
PYRAMID_LONG_SIDES = (560, 900, 360, 1400)
#: Line blobs longer than this many of their own heights look like MRZ lines (30-44 chars).
MIN_LINE_ASPECT = 12.0
MAX_LINE_ASPECT = 75.0
#: Line pitch in units of blob thickness (ICAO: 6 lines per inch, cap height ~2.4 mm).
PITCH_RANGE = (1.15, 2.9)
MAX_CANDIDATES = 4
#: Geometric candidates per orientation that are cropped and checked character by character.
MAX_VERIFIED = 4


@dataclass(frozen=True)
class Candidate:
    """One possible MRZ: the deskewed grey crop and where it came from.

    ``box`` holds the crop's corners (top-left, top-right, bottom-right, bottom-left as
    read) in source-image pixels; ``angle`` is the clockwise rotation (degrees) that was
    undone, quarter turns included, so a caller can draw or re-crop it.
    """

    crop: np.ndarray
    box: np.ndarray
    angle: float
    score: float
    n_lines: int
    char_height: float  # estimated character height in the crop (px)
    line_bands: tuple[tuple[int, int], ...] = field(default=())  # (top, bottom) rows per line
    verified: bool = False  # the crop has 2-3 lines of 24-50 evenly spaced characters


@dataclass(frozen=True)
class _Blob:
    cx: float
    cy: float
    length: float
    thick: float
    angle: float  # radians, in (-pi/2, pi/2]; direction of the long side

    @property
    def u(self) -> tuple[float, float]:
        return math.cos(self.angle), math.sin(self.angle)

    @property
    def v(self) -> tuple[float, float]:
        return -math.sin(self.angle), math.cos(self.angle)


def to_grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def locate_mrz(image: np.ndarray, *, max_candidates: int = MAX_CANDIDATES) -> list[Candidate]:
    """Candidate MRZ crops, best first (empty when nothing MRZ-like is in the image).

    Upright (or up to about 20 degrees off) is tried first, the image turned by a quarter
    only when nothing there passes the character-level check. Pyramid levels run from the
    commonest scale outwards and stop at the first verified zone; candidates are checked
    on small crops, and only the ones returned are cut at OCR resolution.
    """
    grey = to_grey(image)
    h, w = grey.shape[:2]
    if min(h, w) < 16:
        return []
    kept: list[_Quad] = []
    for quarter in (0, 1):
        for long_side in _levels(max(h, w)):
            scale = long_side / max(h, w)
            level = _resize(grey, scale)
            if quarter:
                level = cv2.rotate(level, cv2.ROTATE_90_CLOCKWISE)
            groups = sorted(_groups(_line_blobs(level)), key=lambda g: -g[0])
            tried = 0
            for score, group in groups:
                quad = _quad(group, scale, quarter, score, h)
                if quad is None or any(
                    _overlaps(quad, q) and (q.verified or q.geo_score >= quad.geo_score) for q in kept
                ):
                    continue
                kept.append(_verified(grey, quad))
                tried += 1
                if tried >= MAX_VERIFIED:
                    break
            if any(q.verified for q in kept):
                break
        if any(q.verified for q in kept):
            break
    kept.sort(key=lambda q: -q.score)
    best: list[_Quad] = []
    for q in kept:
        if not any(_overlaps(q, b) for b in best):
            best.append(q)
    return [_render(grey, q) for q in best[:max_candidates]]


def _levels(long_side: int) -> list[int]:
    """Pyramid levels that make sense for this image (no pointless upscaling)."""
    levels = [s for s in PYRAMID_LONG_SIDES if s <= long_side * 1.05]
    return levels or [min(PYRAMID_LONG_SIDES)]


def _resize(grey: np.ndarray, scale: float) -> np.ndarray:
    if abs(scale - 1.0) < 1e-3:
        return grey
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    h, w = grey.shape[:2]
    return cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)


def _line_blobs(level: np.ndarray) -> list[_Blob]:
    """Each dark text line fused into one blob, as oriented rectangles."""
    blackhat = cv2.morphologyEx(level, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (25, 25)))
    # Threshold relative to the strongest strokes: Otsu alone over-segments a mostly
    # empty black-hat image; a floor keeps paper texture out.
    peak = float(np.percentile(blackhat, 99.5))
    otsu, _ = cv2.threshold(blackhat, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    thresh = max(otsu, 0.28 * peak, 12.0)
    binary = (blackhat > thresh).astype(np.uint8) * 255
    closed = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (11, 1)))
    opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (2, 3)))
    contours, _ = cv2.findContours(opened, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pieces: list[tuple[_Blob, np.ndarray]] = []
    for cnt in contours:
        if len(cnt) < 4:
            continue
        blob = _blob(cv2.minAreaRect(cnt))
        if blob.thick < 3 or blob.length < 2.5 * blob.thick or abs(blob.angle) > math.radians(25):
            continue
        # A run of characters fills much of its rectangle; a diagonal stroke does not.
        if cv2.contourArea(cnt) < 0.45 * blob.length * blob.thick:
            continue
        pieces.append((blob, cv2.boxPoints(cv2.minAreaRect(cnt))))
    lw = level.shape[1]
    return [
        b for b, _ in _merge_collinear(pieces)
        if b.length >= 0.12 * lw and MIN_LINE_ASPECT * 0.6 <= b.length / b.thick <= MAX_LINE_ASPECT
    ]


def _blob(rect: tuple[Sequence[float], Sequence[float], float]) -> _Blob:
    (cx, cy), (rw, rh), ang = rect
    if rw < rh:
        rw, rh, ang = rh, rw, ang + 90.0
    theta = (math.radians(ang) + math.pi / 2) % math.pi - math.pi / 2
    return _Blob(cx, cy, rw, rh, theta)


def _merge_collinear(pieces: list[tuple[_Blob, np.ndarray]]) -> list[tuple[_Blob, np.ndarray]]:
    """Join pieces of one text line that the closing left apart (a wide gap, a blurred
    or glared stretch): same angle and thickness, on one axis, a short gap between."""
    pieces = sorted(pieces, key=lambda p: -p[0].length)
    merged = True
    while merged:
        merged = False
        for i in range(len(pieces)):
            a, pa = pieces[i]
            for j in range(i + 1, len(pieces)):
                b, pb = pieces[j]
                if _joinable(a, b):
                    pts = np.vstack([pa, pb]).astype(np.float32)
                    rect = cv2.minAreaRect(pts)
                    pieces[i] = (_blob(rect), cv2.boxPoints(rect))
                    del pieces[j]
                    merged = True
                    break
            if merged:
                break
    return pieces


def _joinable(a: _Blob, b: _Blob) -> bool:
    thick = max(a.thick, b.thick)
    if not 0.6 <= a.thick / b.thick <= 1 / 0.6:
        return False
    if abs(a.angle - b.angle) > math.radians(8) and min(a.length, b.length) > 4 * thick:
        return False
    ux, uy = a.u
    vx, vy = a.v
    dx, dy = b.cx - a.cx, b.cy - a.cy
    if abs(dx * vx + dy * vy) > 0.4 * thick:
        return False
    gap = abs(dx * ux + dy * uy) - (a.length + b.length) / 2
    return gap < 2.0 * thick


def _groups(blobs: list[_Blob]) -> list[tuple[float, list[_Blob]]]:
    """Sets of 2-3 parallel line blobs of equal length, one line pitch apart, with a score."""
    out: list[tuple[float, list[_Blob]]] = []
    blobs = sorted(blobs, key=lambda b: b.cy)
    n = len(blobs)
    nxt: dict[int, list[int]] = {i: [] for i in range(n)}
    for i in range(n):
        a = blobs[i]
        for j in range(i + 1, n):
            b = blobs[j]
            if _compatible(a, b):
                nxt[i].append(j)
    for i in range(n):
        for j in nxt[i]:
            pair = [blobs[i], blobs[j]]
            out.append((_score(pair), pair))
            for k in nxt[j]:
                if _compatible(blobs[i], blobs[k], pitches=2):
                    triple = [blobs[i], blobs[j], blobs[k]]
                    out.append((_score(triple), triple))
    # A lone blob as thick as two or three lines: the lines merged (blur, tight print).
    for b in blobs:
        aspect = b.length / b.thick
        if 4.0 <= aspect <= 26.0 and b.length > 60:
            out.append((_score([b]) - 0.6, [b]))
    return out


def _compatible(a: _Blob, b: _Blob, pitches: int = 1) -> bool:
    thick = (a.thick + b.thick) / 2
    if abs(a.angle - b.angle) > math.radians(5):
        return False
    if not 0.55 <= a.length / b.length <= 1 / 0.55:
        return False
    if not 0.55 <= a.thick / b.thick <= 1 / 0.55:
        return False
    ux, uy = a.u
    vx, vy = a.v
    dx, dy = b.cx - a.cx, b.cy - a.cy
    along = dx * ux + dy * uy
    across = dx * vx + dy * vy
    lo, hi = PITCH_RANGE
    if not lo * pitches * thick <= across <= hi * pitches * thick:
        return False
    # Centred on each other, or (lines of one zone broken up differently, e.g. a filler run
    # that did not fuse) sharing a left or a right end: MRZ lines are left-aligned.
    tol = 0.15 * max(a.length, b.length)
    half = (a.length - b.length) / 2
    return min(abs(along), abs(along - half), abs(along + half)) <= tol


def _score(group: list[_Blob]) -> float:
    """Higher is more MRZ-like: equal lengths, line aspect of 30-44 characters, 2-3 lines."""
    lengths = [b.length for b in group]
    thick = float(np.median([b.thick for b in group]))
    aspect = float(np.mean(lengths)) / thick
    uniform = min(lengths) / max(lengths)
    score = 1.0 + 2.0 * (uniform - 0.7) / 0.3
    if len(group) >= 2:
        score += 0.5 if 16 <= aspect <= 60 else 0.0
        score += 0.15 * (len(group) - 2)
    # Larger blobs are easier to read: a tie goes to the bigger zone.
    score += 0.1 * min(1.0, float(np.mean(lengths)) / 400)
    return score


@dataclass(frozen=True)
class _Quad:
    """A candidate zone before cropping: source corners, output size at TARGET_CHAR_HEIGHT."""

    src: np.ndarray
    out_w: int
    out_h: int
    angle: float
    score: float
    n_lines: int
    verified: bool = False
    bands: tuple[tuple[int, int], ...] = ()
    geo_score: float = 0.0  # the score from shape alone, before the character check


def _quad(group: list[_Blob], scale: float, quarter: int, score: float, src_h: int) -> _Quad | None:
    """The group's common rectangle plus margins, in source-image pixels."""
    ref = max(group, key=lambda b: b.length)
    ux, uy = ref.u
    vx, vy = ref.v
    pts = []
    for b in group:
        bux, buy = b.u
        bvx, bvy = b.v
        for su in (-0.5, 0.5):
            for sv in (-0.5, 0.5):
                pts.append((b.cx + su * b.length * bux + sv * b.thick * bvx,
                            b.cy + su * b.length * buy + sv * b.thick * bvy))
    arr = np.array(pts)
    pu = arr @ np.array([ux, uy])
    pv = arr @ np.array([vx, vy])
    if len(group) > 1:
        thick = float(np.median([b.thick for b in group]))
        n_lines = len(group)
    else:
        thick = ref.thick / 2.3  # merged lines: guess two to three lines
        n_lines = 0
    mu, mv = 0.8 * thick, 0.55 * thick
    u0, u1 = pu.min() - mu, pu.max() + mu
    v0, v1 = pv.min() - mv, pv.max() + mv
    corners = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
    level_pts = np.array([(a * ux + c * vx, a * uy + c * vy) for a, c in corners], dtype=np.float64)
    if quarter:
        # Undo ROTATE_90_CLOCKWISE at the level: (x', y') = (hl - 1 - y, x).
        hl = round(src_h * scale)
        level_pts = np.stack([level_pts[:, 1], hl - 1 - level_pts[:, 0]], axis=1)
    src = (level_pts / scale).astype(np.float32)
    # Character height in source px: the blob is a little thicker than the glyphs.
    char_src = max(1.0, 0.85 * thick / scale)
    k = TARGET_CHAR_HEIGHT / char_src
    out_w = round((u1 - u0) / scale * k)
    out_h = round((v1 - v0) / scale * k)
    if out_w < 20 or out_h < 10 or out_w > 4000 or out_h > 800:
        return None
    angle = math.degrees(ref.angle) + 90.0 * quarter
    return _Quad(src, out_w, out_h, angle, score, n_lines, geo_score=score)


def _verified(grey: np.ndarray, q: _Quad, reach: float = 1.9 * TARGET_CHAR_HEIGHT, retried: bool = False,
              side: float = 0.0) -> _Quad:
    """Check the zone on a small crop, enlarged by ``reach`` (a line pitch) and a margin on
    every side, and snap it to the run of MRZ-like text lines found there: a line the
    grouping missed (a TD1 line broken up by blur or glare) is taken in, a neighbouring
    text line is not. A run cut by the crop's edge means the blob was short or the
    character height underestimated: the check is redone once, reaching two line pitches
    up and down and a third of the width sideways. So is a check that finds evenly spaced
    characters running off the crop but no whole line: the blob held only part of a line
    (wide letter spacing, a filler run that did not fuse), so it reaches 20 character
    heights sideways."""
    f = VERIFY_CHAR_HEIGHT / TARGET_CHAR_HEIGHT
    ex = max(0.35 * q.out_w + reach, side) if retried else (0.08 * q.out_w + TARGET_CHAR_HEIGHT)
    ey = reach
    big_w, big_h = q.out_w + 2 * ex, q.out_h + 2 * ey
    rect = np.array([(0, 0), (q.out_w - 1, 0), (q.out_w - 1, q.out_h - 1), (0, q.out_h - 1)], np.float32)
    to_src = cv2.getPerspectiveTransform(rect, q.src.astype(np.float32))
    big_pts = np.array([(-ex, -ey), (q.out_w - 1 + ex, -ey), (q.out_w - 1 + ex, q.out_h - 1 + ey),
                        (-ex, q.out_h - 1 + ey)], np.float32)
    big_src = cv2.perspectiveTransform(big_pts[None], to_src)[0]
    sw, sh = max(10, round(big_w * f)), max(5, round(big_h * f))
    small = _warp(grey, big_src, sw, sh, cv2.INTER_LINEAR)
    # The blob angle can be a degree or two off (a short or merged blob): straighten the
    # text itself before cutting it into lines (for line groups; lone blobs are rarely
    # the MRZ and are many).
    rot = _deskew(small) if q.n_lines >= 2 else cv2.getRotationMatrix2D((sw / 2.0, sh / 2.0), 0.0, 1.0)
    small = cv2.warpAffine(small, rot, (sw, sh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    bands = band_stats(small, VERIFY_CHAR_HEIGHT)
    run = _mrz_run(bands, (ey * f, (ey + q.out_h) * f), VERIFY_CHAR_HEIGHT)
    n_ok = sum(b.mrz for b in bands if ey * f <= (b.top + b.bottom) / 2 <= (ey + q.out_h) * f)
    partial = [b for b in bands if b.regular and (b.x0 <= 2 or b.x1 >= sw - 3)
               and ey * f <= (b.top + b.bottom) / 2 <= (ey + q.out_h) * f]
    if not run and partial and not retried:
        # Evenly spaced characters running off the crop: the blob held only part of a line
        # (a filler run or wide letter spacing that did not fuse). Look wider once.
        band_h = float(np.median([b.bottom - b.top for b in partial])) / f
        return _verified(grey, q, reach=max(reach, 4.5 * band_h), retried=True, side=20 * band_h)
    if not run:
        return _Quad(q.src, q.out_w, q.out_h, q.angle, q.score + 0.5 * min(n_ok, 1), q.n_lines,
                     False, (), q.geo_score)
    band_h = float(np.median([b.bottom - b.top for b in run])) / f
    cut = run[0].top <= 1 or run[-1].bottom >= sh - 2 or min(b.x0 for b in run) <= 2 \
        or max(b.x1 for b in run) >= sw - 3
    if cut and not retried:
        return _verified(grey, q, reach=max(reach, 4.5 * band_h), retried=True)
    if len(run) == 2 and not retried:
        # Two lines may be a TD1 whose third line the blob grouping missed and which lies
        # beyond the first reach (a group box placed low): look two pitches further once,
        # and take the wider run only if it is three MRZ lines.
        wider = _verified(grey, q, reach=max(reach, 4.5 * band_h), retried=True)
        if wider.verified and wider.n_lines == 3:
            return wider
    c = VERIFY_CHAR_HEIGHT
    # Horizontally, keep at least what the blobs covered: faint filler runs at a line's
    # end can drop out of the character chain but not out of the closed blob.
    x0 = max(0.0, min(min(b.x0 for b in run), ex * f) - 0.9 * c)
    x1 = min(sw - 1.0, max(max(b.x1 for b in run), (ex + q.out_w) * f) + 0.9 * c)
    y0 = max(0.0, run[0].top - 0.5 * c)
    y1 = min(sh - 1.0, run[-1].bottom + 0.5 * c)
    small_to_src = cv2.getPerspectiveTransform(
        np.array([(0, 0), (sw - 1, 0), (sw - 1, sh - 1), (0, sh - 1)], np.float32), big_src)
    corners = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], np.float32)
    corners = cv2.transform(corners[None], cv2.invertAffineTransform(rot))[0]
    src = cv2.perspectiveTransform(corners[None], small_to_src)[0]
    # Re-scale so the glyphs measured in the bands, not the blob estimate, are TARGET high.
    k = min(2.5, max(0.35, TARGET_CHAR_HEIGHT / max(band_h, 1.0))) / f
    out_w, out_h = round((x1 - x0) * k), round((y1 - y0) * k)
    full_bands = tuple((round((b.top - y0) * k), round((b.bottom - y0) * k)) for b in run)
    # Still cut after reaching further: part of the zone lies outside, so this is at best
    # a fragment of it (another candidate usually holds the whole).
    verified = 2 <= len(run) <= 3 and not cut
    score = q.score + 1.5 * len(run) / 3 + (1.5 if verified else 0.0) - (1.0 if cut else 0.0)
    return _Quad(src, out_w, out_h, q.angle, score, len(run), verified, full_bands, q.geo_score)


#: Residual angles (degrees) tried when straightening a candidate's text lines.
DESKEW_ANGLES = tuple(float(a) for a in np.arange(-3.0, 3.01, 0.5))


def _deskew(grey: np.ndarray) -> np.ndarray:
    """The rotation (2x3, about the centre) that makes the text rows sharpest: the one
    whose ink projection onto rows has the largest energy."""
    mask = text_mask(grey, VERIFY_CHAR_HEIGHT)
    h, w = mask.shape
    centre = (w / 2.0, h / 2.0)
    best, best_m = -1.0, cv2.getRotationMatrix2D(centre, 0.0, 1.0)
    for a in DESKEW_ANGLES:
        m = cv2.getRotationMatrix2D(centre, a, 1.0)
        turned = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_NEAREST)
        prof = turned.sum(axis=1).astype(np.float64)
        energy = float((prof * prof).sum())
        if energy > best * 1.0001:
            best, best_m = energy, m
    return best_m


def _one_pitch(a: TextBand, b: TextBand, char_h: float) -> bool:
    h = max(char_h * 0.6, (a.bottom - a.top + b.bottom - b.top) / 2)
    return 1.1 * h <= b.top - a.top <= 3.0 * h


def _mrz_run(bands: list[TextBand], rows: tuple[float, float], char_h: float) -> list[TextBand]:
    """The longest run (at most 3) of consecutive MRZ-like bands one line pitch apart that
    overlaps ``rows`` (where the candidate was found)."""
    best: list[TextBand] = []
    i = 0
    while i < len(bands):
        if not bands[i].mrz:
            i += 1
            continue
        run = [bands[i]]
        j = i + 1
        while j < len(bands) and bands[j].mrz and _one_pitch(run[-1], bands[j], char_h):
            run.append(bands[j])
            j += 1
        overlaps = any(rows[0] <= (b.top + b.bottom) / 2 <= rows[1] for b in run)
        if overlaps and len(run) > len(best):
            best = run
        i = j
    if len(best) > 3:
        # More than three: keep the three nearest the candidate's centre.
        mid = (rows[0] + rows[1]) / 2
        k = min(range(len(best) - 2), key=lambda s: abs((best[s].top + best[s + 2].bottom) / 2 - mid))
        best = best[k : k + 3]
    return best


#: Enlargement from the photo to the crop above which the crop is smoothed (see _render).
SMOOTH_ABOVE_ZOOM = 2.5


def _render(grey: np.ndarray, q: _Quad) -> Candidate:
    """Cut the zone at OCR size. Characters a few pixels high (a low-resolution or distant
    photo) come out of a large enlargement as blocks with JPEG edges, which tesseract reads
    as corners (N for M, 8 for S): a Gaussian a quarter of the zoom wide restores the
    smooth strokes it was trained on."""
    crop = _warp(grey, q.src, q.out_w, q.out_h, cv2.INTER_CUBIC)
    zoom = q.out_w / max(float(np.linalg.norm(q.src[1] - q.src[0])), 1.0)
    if zoom > SMOOTH_ABOVE_ZOOM:
        crop = cv2.GaussianBlur(crop, (0, 0), 0.25 * zoom)
    char_h = float(np.median([b - a for a, b in q.bands])) if q.bands else float(TARGET_CHAR_HEIGHT)
    return Candidate(crop=crop, box=q.src, angle=q.angle, score=q.score, n_lines=q.n_lines,
                     char_height=char_h, line_bands=q.bands, verified=q.verified)


def text_mask(grey: np.ndarray, char_h: float = TARGET_CHAR_HEIGHT) -> np.ndarray:
    """Dark strokes as 1s, robust to uneven light (black-hat, then Otsu)."""
    k = int(char_h * 1.6) | 1
    bh = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    otsu, _ = cv2.threshold(bh, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return (bh > max(otsu, 10.0)).astype(np.uint8)


def line_bands(mask: np.ndarray, min_height: float) -> list[tuple[int, int]]:
    """Text lines as (top, bottom) row ranges from the horizontal ink projection."""
    prof = mask.sum(axis=1).astype(np.float64)
    if prof.max() <= 0:
        return []
    on = prof > 0.12 * prof.max()
    bands = []
    y = 0
    n = len(on)
    while y < n:
        if on[y]:
            y0 = y
            while y < n and on[y]:
                y += 1
            if y - y0 >= min_height:
                bands.append((y0, y))
        else:
            y += 1
    return bands


@dataclass(frozen=True)
class TextBand:
    """A row of text in a crop: its rows, whether it looks like an MRZ line, its extent."""

    top: int
    bottom: int
    mrz: bool  # 24-50 characters of equal height at a constant pitch
    x0: float
    x1: float
    #: A chain of 12+ evenly spaced characters, even if too short for a whole MRZ line (the
    #: candidate may hold only part of the line).
    regular: bool = False


def band_stats(crop: np.ndarray, char_h: float = TARGET_CHAR_HEIGHT) -> list[TextBand]:
    """Text bands in the crop, each judged as an MRZ line or not: a monospaced upper-case
    line has 24-50 components of similar height at a constant pitch, which proportional or
    lower-case printing does not."""
    mask = text_mask(crop, char_h)
    out = []
    for a, b in line_bands(mask, 0.45 * char_h):
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask[a:b], connectivity=8)
        hb = b - a
        comps = [st for st in stats[1:] if st[3] >= 0.3 * hb and st[2] <= 1.3 * hb and st[4] >= 3]
        mrz, x0, x1, regular_chain = False, 0.0, 0.0, False
        if len(comps) >= 12:
            order = np.argsort([st[0] + st[2] / 2 for st in comps])
            xs = np.array([comps[i][0] + comps[i][2] / 2 for i in order])
            widths = np.array([comps[i][2] for i in order])
            gaps = np.diff(xs)
            pitch = float(np.median(gaps))
            if pitch > 2:
                regular = float(np.mean((gaps > 0.75 * pitch) & (gaps < 1.3 * pitch)))
                # The line: the longest chain of characters at most 2.5 pitches apart.
                breaks = np.flatnonzero(gaps > 2.5 * pitch)
                edges = np.concatenate(([0], breaks + 1, [len(xs)]))
                k = int(np.argmax(np.diff(edges)))
                lo, hi = edges[k], edges[k + 1] - 1
                n_chars = (xs[hi] - xs[lo]) / pitch + 1 if hi > lo else 0
                mrz = 24 <= n_chars <= 50 and regular >= 0.6
                regular_chain = 12 <= n_chars <= 50 and regular >= 0.6
                # Its extent grows by glyphs up to 4 pitches away (faint fillers), not by
                # thin strokes (a card's frame, a table rule).
                while lo > 0 and xs[lo] - xs[lo - 1] <= 4 * pitch and widths[lo - 1] >= 0.3 * pitch:
                    lo -= 1
                while hi < len(xs) - 1 and xs[hi + 1] - xs[hi] <= 4 * pitch and widths[hi + 1] >= 0.3 * pitch:
                    hi += 1
                x0, x1 = float(xs[lo] - pitch / 2), float(xs[hi] + pitch / 2)
        out.append(TextBand(a, b, mrz, x0, x1, regular_chain))
    return out


def _warp(grey: np.ndarray, src: np.ndarray, out_w: int, out_h: int, interp: int) -> np.ndarray:
    """Perspective-warp quad ``src`` to an upright out_w x out_h image.

    When shrinking, the region is first area-averaged down (warpPerspective would alias).
    """
    dst = np.array([(0, 0), (out_w - 1, 0), (out_w - 1, out_h - 1), (0, out_h - 1)], dtype=np.float32)
    side = float(np.linalg.norm(src[1] - src[0]))
    shrink = out_w / max(side, 1.0)
    if shrink < 0.7:
        x0, y0 = np.floor(src.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(src.max(axis=0)).astype(int) + 2
        x0, y0 = max(x0, 0), max(y0, 0)
        roi = grey[y0:y1, x0:x1]
        if roi.size == 0:
            return np.full((out_h, out_w), 255, np.uint8)
        small = cv2.resize(roi, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        src = (src - np.array([x0, y0], dtype=np.float32)) * shrink
        grey = small
    m = cv2.getPerspectiveTransform(src.astype(np.float32), dst)
    return cv2.warpPerspective(grey, m, (out_w, out_h), flags=interp,
                               borderMode=cv2.BORDER_REPLICATE)


def _overlaps(a: _Quad, b: _Quad) -> bool:
    """Same zone found twice (another level or grouping): centres within half a height."""
    ca, cb = a.src.mean(axis=0), b.src.mean(axis=0)
    ha = float(np.linalg.norm(a.src[3] - a.src[0]))
    hb = float(np.linalg.norm(b.src[3] - b.src[0]))
    return bool(np.linalg.norm(ca - cb) < 0.5 * max(ha, hb))


def rotate_candidate(cand: Candidate) -> Candidate:
    """The same crop turned by 180 degrees (for a zone that was read upside down)."""
    return Candidate(crop=cv2.rotate(cand.crop, cv2.ROTATE_180), box=cand.box[[2, 3, 0, 1]],
                     angle=(cand.angle + 180.0) % 360.0, score=cand.score, n_lines=cand.n_lines,
                     char_height=cand.char_height)


def looks_upside_down(crop: np.ndarray) -> bool:
    """Cheap cue: MRZ lines end in light filler runs ('<<<'), so the right end of an
    upright zone carries less ink than the left end. Used only to order the OCR tries."""
    grey = to_grey(crop)
    bw = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[1]
    w = bw.shape[1]
    q = max(1, w // 4)
    left = float(bw[:, :q].sum())
    right = float(bw[:, w - q :].sum())
    return right > 1.25 * left
