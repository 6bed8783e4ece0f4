"""read_mrz(image) -> MrzResult: the whole MRZ stage for one image or a burst of frames.

(Placeholder: locate + OCR are being written; see locate.py and ocr.py.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from proofing.mrz.result import MrzResult

ImageSource = str | Path | bytes | np.ndarray


def read_mrz(source: ImageSource, *, lang: str | None = None) -> MrzResult:
    raise NotImplementedError


def read_mrz_frames(sources: Sequence[ImageSource], *, lang: str | None = None) -> MrzResult:
    raise NotImplementedError
