"""The second MRZ engine (PP-OCRv4 through onnxruntime): registered by sha256, optional,
and only ever a second opinion that the crop's own glyphs must back.

Tests that run the network skip where the model cannot be resolved (it is not in
../shared/models; ``pip install --no-deps rapidocr-onnxruntime==1.4.4`` carries it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from proofing.mrz import ppocr, second
from proofing.mrz.ocr import OcrChar, OcrLine
from proofing.mrz.synth import _ocrb, ocrb_available
from proofing.runtime import default_registry

LINE = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"


def _render(text: str, size: int = 40) -> tuple[np.ndarray, list[float]]:
    """Grey image of one OCR-B line and each character's centre x."""
    font = _ocrb(size)
    pitch = font.getlength("M")
    img = Image.new("L", (round(pitch * len(text)) + 40, round(size * 1.3)), 255)
    ImageDraw.Draw(img).text((20, size * 0.1), text, font=font, fill=0)
    return np.array(img), [20 + pitch * (k + 0.5) for k in range(len(text))]


@pytest.fixture(autouse=True)
def _fresh_recogniser() -> Iterator[None]:
    ppocr.load.cache_clear()
    yield
    ppocr.load.cache_clear()


def _model_or_skip(monkeypatch: pytest.MonkeyPatch) -> ppocr.Recogniser:
    monkeypatch.setenv("PROOFING_MRZ_SECOND_ENGINE", "doubtful")
    ppocr.load.cache_clear()
    rec = ppocr.recogniser()
    if rec is None:
        pytest.skip("PP-OCRv4 model not found (pip install --no-deps rapidocr-onnxruntime==1.4.4)")
    return rec


def test_manifest_names_the_pypi_member() -> None:
    spec = default_registry().spec(ppocr.PPOCR_MODEL)
    assert spec.sha256 == "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"
    assert spec.licence.startswith("Apache-2.0")
    assert [(p.requirement, p.module, p.member) for p in spec.pypi] == [
        ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime", "models/ch_PP-OCRv4_rec_infer.onnx")]


def test_without_the_model_the_reading_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(second, "recogniser", lambda: None)
    best = object()
    assert second.second_opinion(best, object()) is best  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, "off", "OFF ", "nonsense"])
def test_off_by_default_and_on_bad_values(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("PROOFING_MRZ_SECOND_ENGINE", raising=False)
    else:
        monkeypatch.setenv("PROOFING_MRZ_SECOND_ENGINE", value)
    assert ppocr.mode() == "off"
    assert ppocr.recogniser() is None


@pytest.mark.skipif(not ocrb_available(), reason="OCR-B font not installed")
def test_reads_a_clean_line_in_the_mrz_alphabet(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = _model_or_skip(monkeypatch)
    img, xs = _render(LINE)
    (line,) = rec.read_lines([img])
    assert line.text == LINE
    # Positions land on the right glyphs (within half a pitch).
    pitch = xs[1] - xs[0]
    assert all(abs(c.x - x) < 0.5 * pitch for c, x in zip(line.chars, xs, strict=True))


@pytest.mark.skipif(not ocrb_available(), reason="OCR-B font not installed")
def test_swap_needs_the_crops_own_glyphs() -> None:
    """Tesseract read 'N' where the print has 'M' (a name: no check digit); the second
    engine's 'M' is taken because the glyph matches the crop's other Ms. Where the second
    engine is the one that is wrong, the templates keep tesseract's character."""
    truth = "P<UTOMAMMOM<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<<<"
    img, xs = _render(truth)
    img = cv2.GaussianBlur(img, (0, 0), 1.5)
    h = img.shape[0]
    chars = tuple(OcrChar(ch, 0.9, round(x) - 1, round(x) + 1) for ch, x in zip(truth, xs, strict=True))
    lines = [OcrLine(truth, chars, 0, h)]
    tess = truth[:7] + "N" + truth[8:]
    assert second._swaps([tess], [truth], lines, img) == [(0, 7, "M")]
    wrong = truth[:9] + "N" + truth[10:]
    assert second._swaps([truth], [wrong], lines, img) == []


def test_found_inside_the_installed_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing in the models or cache directories, the registry finds the bytes as the
    wheel's member (a stand-in package laid out as rapidocr_onnxruntime 1.4.4 is)."""
    from proofing.runtime.registry import Registry
    from proofing.settings import Settings

    try:
        real = default_registry().resolve(ppocr.PPOCR_MODEL)
    except Exception:
        pytest.skip("PP-OCRv4 model not found (pip install --no-deps rapidocr-onnxruntime==1.4.4)")
    pkg = tmp_path / "site" / "rapidocr_onnxruntime"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models" / "ch_PP-OCRv4_rec_infer.onnx").symlink_to(real)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    reg = Registry.load(settings=Settings(models_dir=tmp_path / "empty", data_dir=tmp_path / "data"))
    assert reg.resolve(ppocr.PPOCR_MODEL) == pkg / "models" / "ch_PP-OCRv4_rec_infer.onnx"
