"""The MRZ glyph classifier: fusion rules, a real (small) build, and the reader using it.

The build test trains on synthetic captures read by real tesseract and checks the model
on captures of another seed against the generator's truth, not against anything the model
or the reader produced.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from proofing.mrz import glyphs
from proofing.mrz.formats import layout_for
from proofing.mrz.glyphs import ALPHABET, OVERRULE_PROB, fuse
from proofing.mrz.synth import ocrb_available
from proofing.settings import get_settings

TD3 = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]


def _onehot(text: str, prob: float = 0.999) -> np.ndarray:
    p = np.full((len(text), len(ALPHABET)), (1 - prob) / (len(ALPHABET) - 1), np.float32)
    for k, ch in enumerate(text):
        p[k, ALPHABET.index(ch)] = prob
    return p


def test_fuse_overrules_only_confidently_and_within_the_field_type() -> None:
    read = ["P<UTOERIKSSON<<ANNA<NARIA<<<<<<<<<<<<<<<<<<<", TD3[1]]  # M read as N in a name
    probs = [_onehot(TD3[0]), _onehot(TD3[1])]
    confs = [[0.9] * 44, [0.9] * 44]
    texts, cs, votes = fuse(read, confs, probs, layout_for(read))
    assert texts == TD3
    assert [(v.line, v.pos, v.before, v.after) for v in votes] == [(0, 20, "N", "M")]
    assert cs[0][20] >= OVERRULE_PROB

    # Not confident enough: the OCR's reading stays.
    weak = [_onehot(TD3[0], prob=OVERRULE_PROB - 0.05), _onehot(TD3[1])]
    texts, _, votes = fuse(read, confs, weak, layout_for(read))
    assert texts == read and not votes

    # A letter is never put into a date, however sure the classifier is.
    sure_letter = _onehot(TD3[1])
    sure_letter[13] = _onehot("O")[0]  # birth date's first digit '7'
    texts, _, votes = fuse(list(TD3), confs, [_onehot(TD3[0]), sure_letter], layout_for(TD3))
    assert texts[1][13].isdigit() and not votes


def test_fuse_is_ignored_where_it_contradicts_a_valid_check_digit() -> None:
    """A classifier that 'sees' I for 1 in a document number whose check digit validates as
    read is reading another font: none of its votes count, not even in the name."""
    read = ["P<UTOERIKSSON<<ANNA<NARIA<<<<<<<<<<<<<<<<<<<", TD3[1]]
    line2 = TD3[1][:3] + "89I" + TD3[1][6:]  # L898902C3 -> L89I902C3 (digit 8 -> I)
    probs = [_onehot(TD3[0]), _onehot(line2)]
    texts, _, votes = fuse(read, [[0.9] * 44] * 2, probs, layout_for(read))
    assert texts == read and votes == []


def test_fuse_is_ignored_when_it_disagrees_too_often() -> None:
    read = list(TD3)
    # MAX_VOTES + 1 confident disagreements, all in the name (no check digit covers it).
    other = list(TD3[0])
    for pos in range(5, 5 + glyphs.MAX_VOTES + 1):  # ERIKSS... -> other letters
        other[pos] = "X"
    probs = [_onehot("".join(other)), _onehot(TD3[1])]
    texts, _, votes = fuse(read, [[0.9] * 44] * 2, probs, layout_for(read))
    assert texts == read and votes == []
    # One fewer and they count.
    other[5] = TD3[0][5]
    texts, _, votes = fuse(read, [[0.9] * 44] * 2, [_onehot("".join(other)), _onehot(TD3[1])], layout_for(read))
    assert len(votes) == glyphs.MAX_VOTES and texts[0] == "".join(other)


def test_without_a_built_model_the_reader_runs_alone(data_dir: Path) -> None:
    assert glyphs.glyph_model(get_settings()) is None


@pytest.mark.skipif(not ocrb_available(), reason="OCR-B font not installed (fonts-ocr-b)")
def test_small_build_beats_chance_on_another_seed_and_is_verified(data_dir: Path, models_dir: Path,
                                                                  shared_data: Path) -> None:
    from proofing.mrz.glyph_train import build

    settings = get_settings()
    model, record = glyphs.model_paths(settings)
    rec = build(model, record, images=40, heldout=10, epochs=4)
    held = rec["heldout"]
    assert isinstance(held, dict)
    # Truth is the generator's text; 40 captures are far too few for the real model (the
    # default build uses 800), but a wrong cell cut or label shift would sit near 1/37.
    assert held["cells"] > 500
    assert held["accuracy"] > 0.9, held
    loaded = glyphs.glyph_model(settings)
    assert loaded is not None and loaded.sha256 == rec["sha256"]

    # A model that does not match its record is refused (the reader then runs without it).
    # A weak model (40 captures) must never make a real specimen read wrong: the check
    # digit and agreement gates in glyphs.fuse / glyph_read keep it out where it is unsure.
    from proofing.mrz.reader import read_mrz

    truth = json.loads((shared_data / "mrz" / "ground_truth.json").read_text())
    wrong = []
    for entry in truth:
        if entry.get("confidence") != "high":
            continue
        r = read_mrz(shared_data / "mrz" / entry["file"])
        if r.lines != entry.get("lines_mrz_charset", entry["lines"]):
            wrong.append((entry["file"], r.lines))
    assert wrong == []

    glyphs._load.cache_clear()
    data = json.loads(record.read_text())
    data["sha256"] = "0" * 64
    record.write_text(json.dumps(data))
    assert glyphs.glyph_model(settings) is None
    glyphs._load.cache_clear()


@pytest.mark.skipif(not ocrb_available(), reason="OCR-B font not installed (fonts-ocr-b)")
def test_switched_off_by_setting(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, record = glyphs.model_paths(get_settings())
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(b"x")
    record.write_text(json.dumps({"sha256": hashlib.sha256(b"x").hexdigest()}))
    glyphs._load.cache_clear()
    assert glyphs.glyph_model(get_settings()) is not None
    monkeypatch.setenv("PROOFING_MRZ_GLYPH_MODEL", "off")
    assert glyphs.glyph_model(get_settings()) is None
    # A damaged record is a warning and no model, never an error in the reader.
    monkeypatch.setenv("PROOFING_MRZ_GLYPH_MODEL", "auto")
    for damaged in ("{not json", "[1, 2]"):
        record.write_text(damaged)
        glyphs._load.cache_clear()
        assert glyphs.glyph_model(get_settings()) is None
    glyphs._load.cache_clear()
