"""Tesseract (through pytesseract) configured for MRZ text.

The MRZ alphabet is 0-9, A-Z and '<', so everything else is blacklisted by a whitelist.
Output is hOCR with character boxes: the boxes let the reader put each character in its
slot of the monospaced line (tesseract often drops or doubles a '<' in filler runs), and
the per-character confidences steer check-digit correction towards the doubtful ones.

Two ways to call it, cheapest first: the whole crop in one call (page segmentation mode
6, one uniform block of text), or one call per text line (mode 7) when the block call
went wrong. Each call is a process costing tens of milliseconds, so the reader makes as
few as it can.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shlex
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from proofing.runtime.registry import ModelError
from proofing.settings import Settings, get_settings

MRZ_WHITELIST = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"
#: The registry name of the fine-tuned OCR-B model, and the language name tesseract needs.
OCRB_MODEL = "ocrb"
OCRB_LANG = "ocrb_int"

# Tesseract's OpenMP threads fight over the CPU when processes run side by side (and on a
# small machine even alone): one thread was 3x faster here. Only a default; an explicit
# setting in the environment wins.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@dataclass(frozen=True)
class OcrChar:
    char: str
    conf: float  # 0..1
    x0: int
    x1: int

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass(frozen=True)
class OcrLine:
    text: str
    chars: tuple[OcrChar, ...]
    top: int
    bottom: int

    @property
    def confidence(self) -> float:
        return float(np.mean([c.conf for c in self.chars])) if self.chars else 0.0


@dataclass(frozen=True)
class OcrResult:
    lines: list[OcrLine]
    lang: str
    psm: int
    elapsed_ms: float
    image: np.ndarray | None = None  # what was read (crop coordinates), for glyph checks

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]


_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Engine:
    """A tesseract language and where its model lives (None: the system tessdata)."""

    lang: str
    tessdata_dir: Path | None = None
    #: Set when the configured model was missing and stock tesseract stands in for it.
    fallback_reason: str | None = None

    def config(self, psm: int) -> str:
        parts = [f"--psm {psm}", "--oem 1"]
        if self.tessdata_dir is not None:
            parts.insert(0, f"--tessdata-dir {shlex.quote(str(self.tessdata_dir))}")
        parts += [f"-c tessedit_char_whitelist={MRZ_WHITELIST}", "-c hocr_char_boxes=1"]
        return " ".join(parts)


def resolve_engine(lang: str | None = None, settings: Settings | None = None) -> Engine:
    """'ocrb' (the default setting) -> the OCR-B model from the registry; anything else is a
    tesseract language from the system tessdata ('eng')."""
    settings = settings or get_settings()
    explicit = lang is not None
    lang = lang or settings.mrz_ocr_lang
    if lang in (OCRB_MODEL, OCRB_LANG):
        try:
            return Engine(OCRB_LANG, _ocrb_dir(str(settings.models_dir), str(settings.cache_dir)))
        except ModelError:
            if explicit or "eng" not in _system_languages():
                raise
            # A fresh install has no OCR-B model (it is not on PyPI): read with stock
            # tesseract, which is weaker on the '<' filler, and say so in every result.
            _log.warning("OCR-B model not found; reading the MRZ with stock tesseract 'eng'")
            return Engine("eng", fallback_reason="OCR_FALLBACK_ENG")
    if lang not in _system_languages():
        raise ValueError(f"tesseract has no language {lang!r} (installed: {', '.join(_system_languages())})")
    return Engine(lang)


@lru_cache(maxsize=1)
def _system_languages() -> tuple[str, ...]:
    import pytesseract

    return tuple(pytesseract.get_languages(config=""))


@lru_cache(maxsize=8)
def _ocrb_dir(models_dir: str, cache_dir: str) -> Path:
    """The directory to pass as --tessdata-dir: the model's own, or a cache directory with a
    link under the name tesseract expects when the registry found it under another name."""
    from proofing.runtime import default_registry

    path = default_registry().resolve(OCRB_MODEL)
    if path.name == f"{OCRB_LANG}.traineddata":
        return path.parent
    target_dir = Path(cache_dir) / "tessdata"
    target_dir.mkdir(parents=True, exist_ok=True)
    link = target_dir / f"{OCRB_LANG}.traineddata"
    if link.is_symlink() or link.exists():
        if link.resolve() == path.resolve():
            return target_dir
        link.unlink()
    link.symlink_to(path.resolve())
    return target_dir


def prepare(grey: np.ndarray) -> np.ndarray:
    """Stretch contrast (glare and shadow flatten it) and add a white margin: tesseract
    reads characters touching the border badly."""
    lo, hi = np.percentile(grey, (1, 99))
    if hi - lo >= 16:
        grey = np.clip((grey.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    return cv2.copyMakeBorder(grey, 12, 12, 16, 16, cv2.BORDER_CONSTANT, value=255)


def binarise(grey: np.ndarray, char_h: float) -> np.ndarray:
    """Black text on white from the black-hat image: an alternative input for a second try
    where the grey crop has uneven light or a textured background."""
    k = int(char_h * 1.6) | 1
    bh = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    _, bw = cv2.threshold(bh, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return bw


def ocr_block(grey: np.ndarray, engine: Engine, *, psm: int = 6) -> OcrResult:
    """All lines of the crop in one tesseract call."""
    t0 = time.perf_counter()
    img = prepare(grey)
    lines = _run(img, engine, psm, dx=-16, dy=-12)
    return OcrResult(lines, engine.lang, psm, (time.perf_counter() - t0) * 1000, grey)


def ocr_lines(grey: np.ndarray, bands: list[tuple[int, int]], engine: Engine) -> OcrResult:
    """One call per text line (psm 7); each band keeps the full crop width so character
    x positions stay comparable across lines."""
    t0 = time.perf_counter()
    out: list[OcrLine] = []
    h = grey.shape[0]
    for top, bottom in bands:
        pad = max(2, (bottom - top) // 4)
        a, b = max(0, top - pad), min(h, bottom + pad)
        img = prepare(grey[a:b])
        got = _run(img, engine, 7, dx=-16, dy=a - 12)
        chars = tuple(c for line in got for c in line.chars)
        if chars:
            out.append(OcrLine("".join(c.char for c in chars), chars, a, b))
    return OcrResult(out, engine.lang, 7, (time.perf_counter() - t0) * 1000, grey)


_TOKEN = re.compile(
    r"class='ocr_(?:line|textfloat|header|caption)'[^>]*title=\"bbox (\d+) (\d+) (\d+) (\d+)"
    r"|class='ocrx_cinfo' title='x_bboxes (-?\d+) -?\d+ (-?\d+) -?\d+; x_conf ([\d.]+)'>([^<]*)<"
)


def _run(img: np.ndarray, engine: Engine, psm: int, *, dx: int, dy: int) -> list[OcrLine]:
    import pytesseract

    try:
        raw = pytesseract.image_to_pdf_or_hocr(img, lang=engine.lang, config=engine.config(psm), extension="hocr")
    except pytesseract.TesseractError:
        return []  # tesseract gave up on this image (the language was checked beforehand)
    return parse_hocr(raw.decode("utf-8", "replace"), dx=dx, dy=dy)


def parse_hocr(text: str, *, dx: int = 0, dy: int = 0) -> list[OcrLine]:
    """Lines with their characters, boxes shifted by (dx, dy) into crop coordinates."""
    lines: list[OcrLine] = []
    chars: list[OcrChar] = []
    top = bottom = 0

    def flush() -> None:
        if chars:
            lines.append(OcrLine("".join(c.char for c in chars), tuple(chars), top, bottom))

    for m in _TOKEN.finditer(text):
        if m.group(1) is not None:
            flush()
            chars = []
            top, bottom = int(m.group(2)) + dy, int(m.group(4)) + dy
        else:
            ch = html.unescape(m.group(8)).strip().upper()
            if len(ch) != 1:
                continue
            chars.append(OcrChar(ch, float(m.group(7)) / 100.0, int(m.group(5)) + dx, int(m.group(6)) + dx))
    flush()
    return lines
