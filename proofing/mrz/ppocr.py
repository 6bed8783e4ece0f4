"""A second, independent OCR engine for MRZ lines: the PP-OCRv4 text-line recogniser.

Tesseract misreads some OCR-B letters *confidently* (M as N, H as R) in fields no check
digit covers, and two tesseract readings of one crop share its blind spots. PP-OCRv4 is a
different network (SVTR-LCNet, CTC) trained on other data, so where the two disagree on a
character the disagreement is informative. It runs in onnxruntime on one text line at a
time: input [N, 3, H, W] float RGB scaled to -1..1 (trained at H = 48), output per-frame softmax over the
6625 classes (0 = CTC blank, then the dictionary stored in the model's metadata under
``character``, then a space). Only the 37 MRZ classes are kept, so the decoding cannot
produce a character outside the MRZ alphabet.

The engine is optional and off by default (:data:`MODES`): when it is off, or the
registry cannot find the model, :func:`recogniser` returns None and the reader behaves as
without it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from proofing.mrz.ocr import MRZ_WHITELIST

#: The registry name of the PP-OCRv4 recognition model.
PPOCR_MODEL = "ppocr_rec"
#: The input height; the width follows the aspect ratio. The model was trained at 48 but
#: takes any height: at 32 it read 30 synthetic MRZs as well (21/30 exact against 20/30)
#: in 117 ms instead of 264 ms (the cost grows with the area).
INPUT_HEIGHT = 32
#: One output frame covers this many input columns (the network downsamples width by 8).
FRAME_STRIDE = 8

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecChar:
    char: str
    prob: float
    x: float  # centre in the line image's columns
    #: The runner-up MRZ character at the peak frame and its probability.
    alt: str = ""
    alt_prob: float = 0.0


@dataclass(frozen=True)
class RecLine:
    chars: tuple[RecChar, ...]

    @property
    def text(self) -> str:
        return "".join(c.char for c in self.chars)


class Recogniser:
    """PP-OCRv4 recognition restricted to the MRZ alphabet."""

    def __init__(self, path: str) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # One thread: the reader runs beside other work and tesseract has its own.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        dictionary = meta["character"].splitlines()
        index = {ch: i + 1 for i, ch in enumerate(dictionary)}  # 0 is the CTC blank
        self.alphabet = MRZ_WHITELIST
        self.columns = np.array([0] + [index[ch] for ch in self.alphabet], dtype=np.int64)
        self.input_name = self.session.get_inputs()[0].name

    def read_lines(self, images: list[np.ndarray]) -> list[RecLine]:
        """Read grey line images (one text line each, dark on light) in one batch."""
        if not images:
            return []
        widths = [max(INPUT_HEIGHT, round(INPUT_HEIGHT * im.shape[1] / max(1, im.shape[0]))) for im in images]
        width = max(widths)
        batch = np.zeros((len(images), 3, INPUT_HEIGHT, width), dtype=np.float32)
        for k, (im, w) in enumerate(zip(images, widths, strict=True)):
            resized = cv2.resize(im, (w, INPUT_HEIGHT), interpolation=cv2.INTER_AREA
                                 if im.shape[0] > INPUT_HEIGHT else cv2.INTER_LINEAR)
            batch[k, :, :, :w] = (resized.astype(np.float32) / 127.5 - 1.0)[None]
        probs = self.session.run(None, {self.input_name: batch})[0]
        out = []
        for k, im in enumerate(images):
            scale = im.shape[1] / widths[k]
            n_frames = min(probs.shape[1], int(np.ceil(widths[k] / FRAME_STRIDE)))
            out.append(self._decode(probs[k, :n_frames], scale))
        return out

    def _decode(self, frames: np.ndarray, scale: float) -> RecLine:
        """Greedy CTC over the MRZ classes; a character's position is its peak frame."""
        p = frames[:, self.columns]
        best = p.argmax(axis=1)
        chars: list[RecChar] = []
        run: list[int] = []

        def flush(cls: int) -> None:
            if not run or cls == 0:
                return
            peak = max(run, key=lambda t: p[t, cls])
            row = p[peak].copy()
            row[0] = 0.0
            row[cls] = 0.0
            alt = int(row.argmax())
            chars.append(RecChar(self.alphabet[cls - 1], float(p[peak, cls]),
                                 (peak + 0.5) * FRAME_STRIDE * scale,
                                 self.alphabet[alt - 1] if alt else "", float(row[alt])))

        prev = -1
        for t, cls in enumerate(best.tolist()):
            if cls != prev:
                flush(prev)
                run = []
            run.append(t)
            prev = cls
        flush(prev)
        return RecLine(tuple(chars))


#: When the reader asks the second engine (``PROOFING_MRZ_SECOND_ENGINE``): ``off`` (the
#: default), ``doubtful`` (readings that are not settled or that tesseract's tries dispute)
#: or ``always``. Measured on held-out synthetic seeds (2026-11-27, 2 shared vCPUs):
#: ``doubtful`` ran on ~7% of images and changed no result on 750 (seeds 1-3: the misreads
#: it could fix are mostly in readings tesseract settles at once); ``always`` fixed 5 of
#: 550 (seeds 2-3: 524 -> 529 exact, none lost) for +55 ms median (0.126 -> 0.18 s),
#: which the time target (a third of PassportEye's median) does not leave room for.
#: Where PP-OCR and tesseract differ on a misread slot, PP-OCR held the right character
#: 42 times in 56 (seeds 0 and 2, forced on): the arbiter, not the engine, is the limit.
MODES = ("off", "doubtful", "always")


def mode() -> str:
    """The mode from the settings; an unknown value reads as ``off`` (with a warning):
    a typo must not stop the reader."""
    from proofing.settings import get_settings

    value = get_settings().mrz_second_engine
    if value not in MODES:
        _log.warning("PROOFING_MRZ_SECOND_ENGINE=%r: expected one of %s; off", value, ", ".join(MODES))
        return "off"
    return value


def recogniser() -> Recogniser | None:
    """The PP-OCR recogniser if it is switched on and its model and onnxruntime are
    available, else None (the switch is read on every call; the model loads once)."""
    return None if mode() == "off" else load()


@lru_cache(maxsize=1)
def load() -> Recogniser | None:
    """The recogniser, loaded once per process; None without the model or onnxruntime."""
    try:
        import onnxruntime  # noqa: F401

        from proofing.runtime import default_registry
        from proofing.runtime.registry import ModelError

        try:
            path = default_registry().resolve(PPOCR_MODEL)
        except ModelError as e:
            _log.info("second MRZ engine off: %s", str(e).splitlines()[0])
            return None
        return Recogniser(str(path))
    except ImportError:
        return None


