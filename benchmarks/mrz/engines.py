"""The MRZ readers under test, each reduced to ``path -> lines`` so they are scored alike.

Every engine gets the same file path (so each pays for decoding the image), a wall-clock
deadline per call (PassportEye's tophat step is known to hang on some inputs) and the
same scoring afterwards: nothing engine-specific (validity flags, confidences) is trusted.
"""

from __future__ import annotations

import signal
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class EngineTimeout(Exception):
    """The call ran past its deadline."""


class EngineUnavailable(Exception):
    """The engine cannot run here at all (not installed, or not implemented yet)."""


@dataclass
class Reading:
    lines: list[str]
    seconds: float
    error: str | None = None


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise EngineTimeout in the main thread after ``seconds`` (POSIX interval timer)."""

    def _alarm(signum: int, frame: Any) -> None:
        raise EngineTimeout(f"over {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _ours(lang: str | None) -> Callable[[Path], list[str]]:
    from proofing.mrz.reader import read_mrz

    def run(path: Path) -> list[str]:
        try:
            result = read_mrz(path, lang=lang)
        except NotImplementedError as exc:
            raise EngineUnavailable("proofing.mrz.reader.read_mrz is not implemented yet") from exc
        return list(result.lines) if result.found else []

    return run


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """``name=value`` in the environment for one call only, so the other columns of the same
    run keep the default."""
    import os

    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _ours_second(mode: str) -> Callable[[Path], list[str]]:
    """The reader with the second engine (PP-OCRv4) in ``mode``."""
    from proofing.mrz import ppocr

    base = _ours(None)

    def run(path: Path) -> list[str]:
        with _env("PROOFING_MRZ_SECOND_ENGINE", mode):
            if ppocr.recogniser() is None:
                raise EngineUnavailable("PP-OCRv4 model not found (pip install --no-deps rapidocr-onnxruntime==1.4.4)")
            return base(path)

    return run


def _ours_tesseract_only() -> Callable[[Path], list[str]]:
    """The reader without the glyph classifier: what it does on a machine where the
    classifier was never built."""
    base = _ours(None)

    def run(path: Path) -> list[str]:
        with _env("PROOFING_MRZ_GLYPH_MODEL", "off"):
            return base(path)

    return run


def _passporteye() -> Callable[[Path], list[str]]:
    try:
        from passporteye import read_mrz
        from passporteye.mrz.text import MRZOCRCleaner
    except ImportError as exc:
        raise EngineUnavailable("pip install passporteye (bench extra)") from exc

    def run(path: Path) -> list[str]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mrz = read_mrz(str(path))
        if mrz is None:
            return []
        # Its own clean-up (spaces removed, per-position letter/digit fixes) is part of
        # what PassportEye returns as the MRZ, so score the lines after it.
        text = mrz.aux.get("raw_text") or mrz.aux.get("text") or ""
        return [str(line) for line in MRZOCRCleaner.apply(text)]

    return run


#: Column name -> factory. "ours" is the project reader as configured (OCR-B tesseract
#: model, plus the glyph classifier where `proofing models train-glyphs` built it).
ENGINES: dict[str, Callable[[], Callable[[Path], list[str]]]] = {
    "ours": lambda: _ours(None),
    "ours_tess": _ours_tesseract_only,
    "ours_eng": lambda: _ours("eng"),
    # Opt-in columns (not in the default set): the second engine on doubtful readings / on all.
    "ours_pp": lambda: _ours_second("doubtful"),
    "ours_pp_always": lambda: _ours_second("always"),
    "passporteye": _passporteye,
}


class Engine:
    """One column of the benchmark; disables itself for the run once it proves unavailable."""

    def __init__(self, name: str, timeout_s: float) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.unavailable: str | None = None
        self._run: Callable[[Path], list[str]] | None = None
        try:
            self._run = ENGINES[name]()
        except EngineUnavailable as exc:
            self.unavailable = str(exc)

    def read(self, path: Path) -> Reading | None:
        """The lines read and the wall time; None when the engine is unavailable."""
        if self._run is None or self.unavailable:
            return None
        start = time.perf_counter()
        try:
            with _deadline(self.timeout_s):
                lines = self._run(path)
        except EngineUnavailable as exc:
            self.unavailable = str(exc)
            return None
        except EngineTimeout as exc:
            return Reading([], time.perf_counter() - start, f"timeout: {exc}")
        except Exception as exc:  # an engine crash is a failed read, not a failed benchmark
            return Reading([], time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
        return Reading(lines, time.perf_counter() - start)
