"""A glyph classifier of our own: one OCR-B character cell in, 37 probabilities out.

Tesseract reads the line; its character boxes put every slot of the monospaced MRZ at an x
position. This model then looks at each slot again, alone. It was trained on OCR-B cells
cut exactly this way from the project's synthetic captures (blur, motion, noise, JPEG;
:mod:`proofing.mrz.glyph_train`), so it knows one font under the degradations a webcam
brings, where tesseract's model knows many fonts. On held-out synthetic cells the two
were never both wrong on one character, and where they disagreed the classifier was right
59 times out of 99; :func:`fuse` lets it overrule tesseract only where it is confident
and the field type allows its character.

The model is a small MLP exported to ONNX. It is built on the user's machine (``proofing
models train-glyphs``), not downloaded, into ``<cache>/mrz_glyphs.onnx`` with a JSON
record (seed, corpus size, held-out accuracy, sha256). Without it the reader works as
before (tesseract alone); ``PROOFING_MRZ_GLYPH_MODEL=off`` ignores a built one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from proofing.mrz.formats import Check, Kind, Layout
from proofing.mrz.ocr import MRZ_WHITELIST
from proofing.settings import Settings, get_settings

ALPHABET = MRZ_WHITELIST
#: Cell size fed to the model (width, height): about the aspect of an OCR-B cell.
CELL_W, CELL_H = 16, 24
#: The cell spans this many pitches around the slot centre, and this fraction of the glyph
#: height above and below it.
CELL_PITCHES = 1.2
CELL_MARGIN = 0.15
#: The classifier overrules tesseract only at this probability or above. Chosen on the
#: held-out synthetic seeds 1-3 (600 documents, never the benchmark's seed 0): exact
#: 585/600 at 0.99, 586/600 at 0.95 and at 0.9; the real specimens read exactly with each.
OVERRULE_PROB = 0.95

#: More confident disagreements than this in one reading and the classifier is ignored:
#: misread synthetic documents have one to three, a print in a foreign OCR-B cut a dozen.
MAX_VOTES = 4
#: Characters confirmed by a check digit that the classifier reads otherwise, from which on
#: it is ignored for the reading (on held-out synthetic cells it errs on one in ~250).
MAX_CONTRADICTIONS = 2
#: ... counting readings at least this sure. At 0.9 the held-out seeds gained 3 of 600
#: documents, but a weakly trained model (40 captures) then rewrote a name on a real card
#: (tests/test_mrz_glyphs.py): safety first.
FOREIGN_PROB = 0.5

MODEL_FILE = "mrz_glyphs.onnx"
RECORD_FILE = "mrz_glyphs.json"

#: Characters each field kind may hold (the filler everywhere: unknown dates, padding).
ALLOWED = {
    Kind.NUM: "0123456789<",
    Kind.DIGIT: "0123456789<",
    Kind.NAME: "ABCDEFGHIJKLMNOPQRSTUVWXYZ<",
    Kind.ALPHA: "ABCDEFGHIJKLMNOPQRSTUVWXYZ<",
    Kind.SEX: "MFX<",
    Kind.ALNUM: ALPHABET,
}

_log = logging.getLogger(__name__)


#: Class indices each field kind may take.
_ALLOWED_IDX = {kind: np.array([ALPHABET.index(a) for a in chars]) for kind, chars in ALLOWED.items()}


def best_allowed(p: np.ndarray, kind: Kind | None) -> int:
    """The most probable class of one cell among those its field kind allows."""
    idx = _ALLOWED_IDX.get(kind) if kind is not None else None
    return int(np.argmax(p)) if idx is None else int(idx[int(np.argmax(p[idx]))])


def text_rows(image: np.ndarray, top: int, bottom: int, x0: float, x1: float) -> tuple[int, int]:
    """The rows the glyphs of one line occupy inside its box: OCR line boxes and line
    bands frame the text differently, so cells are framed by the ink itself."""
    h, w = image.shape[:2]
    a, b = max(0, top), min(h, bottom + 1)
    c, d = max(0, int(x0)), min(w, int(x1) + 1)
    if b - a < 4 or d - c < 4:
        return a, b
    strip = 255.0 - image[a:b, c:d].astype(np.float32)
    profile = strip.mean(axis=1)
    profile -= profile.min()
    if profile.max() <= 1e-3:
        return a, b
    # The run of inked rows that holds the most ink: a box that reaches into the next line
    # (tesseract's boxes sometimes do) must not frame both.
    on = profile >= 0.3 * profile.max()
    best, best_ink, y = (0, len(on)), -1.0, 0
    while y < len(on):
        if not on[y]:
            y += 1
            continue
        y0 = y
        while y < len(on) and on[y]:
            y += 1
        ink = float(profile[y0:y].sum())
        if ink > best_ink:
            best, best_ink = (y0, y), ink
    return a + best[0], a + best[1]


def cut_cells(image: np.ndarray, rows: tuple[int, int], centres: list[float], pitch: float) -> np.ndarray:
    """One normalised cell per slot centre, shape (n, CELL_H * CELL_W), ink high, 0..1."""
    h, w = image.shape[:2]
    glyph_h = rows[1] - rows[0]
    m = CELL_MARGIN * glyph_h
    a, b = max(0, int(rows[0] - m)), min(h, int(rows[1] + m) + 1)
    half = CELL_PITCHES * pitch / 2
    out = np.zeros((len(centres), CELL_H * CELL_W), np.float32)
    for i, x in enumerate(centres):
        x0, x1 = max(0, round(x - half)), min(w, round(x + half) + 1)
        if b - a < 4 or x1 - x0 < 3:
            continue
        p = 255.0 - cv2.resize(image[a:b, x0:x1], (CELL_W, CELL_H), interpolation=cv2.INTER_AREA).astype(np.float32)
        p -= p.min()
        top = float(p.max())
        out[i] = (p / top if top > 1e-3 else p).ravel()
    return out


@dataclass(frozen=True)
class GlyphModel:
    """The ONNX session and where it came from."""

    path: Path
    sha256: str
    record: dict[str, object]

    def probabilities(self, cells: np.ndarray) -> np.ndarray:
        """(n, 37) class probabilities in :data:`ALPHABET` order."""
        if len(cells) == 0:
            return np.zeros((0, len(ALPHABET)), np.float32)
        session = _session(str(self.path))
        return np.asarray(session.run(None, {"cells": cells.astype(np.float32)})[0])


@lru_cache(maxsize=4)
def _session(path: str) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # a few hundred cells: threads cost more than they give
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def model_paths(settings: Settings | None = None) -> tuple[Path, Path]:
    cache = (settings or get_settings()).cache_dir
    return cache / MODEL_FILE, cache / RECORD_FILE


def glyph_model(settings: Settings | None = None) -> GlyphModel | None:
    """The built model, or None where it is switched off, not built, or does not match its
    record (then a warning says so and the reader goes on with tesseract alone)."""
    settings = settings or get_settings()
    if settings.mrz_glyph_model == "off":
        return None
    path, record_path = model_paths(settings)
    return _load(str(path), str(record_path))


@lru_cache(maxsize=4)
def _load(path: str, record_path: str) -> GlyphModel | None:
    p, rp = Path(path), Path(record_path)
    if not p.is_file() or not rp.is_file():
        return None
    try:
        record = json.loads(rp.read_text())
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
    except (OSError, ValueError) as e:
        _log.warning("MRZ glyph model record %s is unreadable (%s): not used", rp, e)
        return None
    if not isinstance(record, dict):
        _log.warning("MRZ glyph model record %s is not an object: not used", rp)
        return None
    if digest != record.get("sha256"):
        _log.warning("MRZ glyph model %s does not match its record (sha256 %s, recorded %s): not used",
                     p, digest[:16], str(record.get("sha256"))[:16])
        return None
    return GlyphModel(p, digest, record)


@dataclass(frozen=True)
class GlyphVote:
    """What the classifier said of one slot where it overruled the OCR."""

    line: int
    pos: int
    before: str
    after: str
    prob: float


def fuse(texts: list[str], confs: list[list[float]], probs: list[np.ndarray | None],
         layout: Layout | None) -> tuple[list[str], list[list[float]], list[GlyphVote]]:
    """Per slot: where the classifier's best character allowed by the field type differs
    from the OCR's and has at least :data:`OVERRULE_PROB`, take it (its confidence is then the
    classifier's probability); elsewhere the confidence is the lower of the two engines'
    (the check-digit corrector changes the least certain characters first).

    In characters a check digit covers, the classifier must earn its say: its changes to
    one check's characters stand only together and only if they turn that check from
    invalid to valid. On real prints the classifier (trained on rendered OCR-B) can be
    sure and wrong, and a valid check digit is better evidence than its certainty; so where
    it contradicts a check digit that validates as read, or disagrees too often
    (:data:`MAX_VOTES`), it is ignored for the whole reading.
    """
    votes: list[GlyphVote] = []
    out_c = [list(c) for c in confs]
    for li, (text, p) in enumerate(zip(texts, probs, strict=True)):
        if p is None or len(p) != len(text):
            continue
        for k, ch in enumerate(text):
            best = best_allowed(p[k], layout.kind_at(li, k) if layout is not None else None)
            prob = float(p[k][best])
            if ALPHABET[best] != ch and prob >= OVERRULE_PROB:
                votes.append(GlyphVote(li, k, ch, ALPHABET[best], prob))
            else:
                out_c[li][k] = min(out_c[li][k], float(p[k][ALPHABET.index(ch)]))
    if len(votes) > MAX_VOTES or (layout is not None and _foreign(texts, probs, layout)):
        return list(texts), [list(c) for c in confs], []  # out of its depth (see _checked)
    kept = _checked(votes, texts, layout) if layout is not None else votes
    grid = [list(t) for t in texts]
    for v in kept:
        grid[v.line][v.pos] = v.after
        out_c[v.line][v.pos] = v.prob
    return ["".join(row) for row in grid], out_c, kept


def _foreign(texts: list[str], probs: list[np.ndarray | None], layout: Layout) -> bool:
    """The classifier reads characters that a check digit confirms as something else (any
    character, field type aside) at least :data:`MAX_CONTRADICTIONS` times: the print is
    in an OCR-B cut or size it was not trained on (a real card read its '1' as 'I')."""
    from proofing.mrz.parse import evaluate_checks

    valid = evaluate_checks(layout, texts)
    seen: set[tuple[int, int]] = set()
    for check in layout.checks:
        if check.name != "composite" and valid[check.name].valid:
            seen.add((check.line, check.pos))
            seen.update((ln, k) for ln, a, b in check.spans for k in range(a, b))
    wrong = 0
    for line, pos in seen:
        p = probs[line]
        if p is None or pos >= len(p):
            continue
        best = int(np.argmax(p[pos]))
        wrong += ALPHABET[best] != texts[line][pos] and float(p[pos][best]) >= FOREIGN_PROB
    return wrong >= MAX_CONTRADICTIONS


def _checked(votes: list[GlyphVote], texts: list[str], layout: Layout) -> list[GlyphVote]:
    """The votes that survive the check digits (see :func:`fuse`); the composite check
    judges only what no field check covers."""
    from proofing.mrz.parse import evaluate_checks

    def covered(check: Check, v: GlyphVote) -> bool:
        return (v.line, v.pos) == (check.line, check.pos) or any(
            ln == v.line and a <= v.pos < b for ln, a, b in check.spans)

    def apply(vs: list[GlyphVote]) -> list[str]:
        grid = [list(t) for t in texts]
        for v in vs:
            grid[v.line][v.pos] = v.after
        return ["".join(row) for row in grid]

    before = evaluate_checks(layout, texts)
    decided: set[GlyphVote] = set()
    kept: list[GlyphVote] = []
    for check in sorted(layout.checks, key=lambda c: c.name == "composite"):
        group = [v for v in votes if v not in decided and covered(check, v)]
        if not group:
            continue
        decided.update(group)
        if before[check.name].valid:
            # It contradicts characters a check digit confirms: this print is not what
            # it was trained on (another OCR-B cut, another size), so it has no say here.
            return []
        if evaluate_checks(layout, apply(group))[check.name].valid:
            kept += group
    return kept + [v for v in votes if v not in decided]
