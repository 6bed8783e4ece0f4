"""dlib's ResNet as ONNX: read from dlib's own file, checked against dlib's own descriptor.

The truth here is dlib itself (its C++ forward pass on the same chip), never the
converter's output from a moment ago; the architecture facts (29 convolutions, a 256->128
fully connected layer, dlib's mean RGB) are the published network's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from proofing.face import dlib_onnx
from proofing.runtime.registry import (
    ModelHashMismatch,
    ModelSpec,
    Registry,
    default_registry,
    sha256_of,
)
from proofing.settings import Settings

dlib = pytest.importorskip(
    "dlib", reason="the dlib extra is not installed (dlib-bin, face-recognition-models)"
)


@pytest.fixture(scope="module")
def dat() -> Path:
    try:
        return default_registry().resolve("dlib_resnet")
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"dlib's ResNet weights not found: {e}")


def test_reads_the_published_architecture(dat: Path) -> None:
    mean, layers = dlib_onnx.read_layers(dat)
    # dlib's input_rgb_image_sized<150> subtracts these (dnn_face_recognition_ex).
    assert mean == pytest.approx([122.782, 117.001, 104.298], abs=1e-3)
    convs = [la for la in layers if la.kind == "con"]
    assert len(convs) == 29  # "ResNet-29"
    assert convs[0].params["w"].shape == (32, 3, 7, 7) and convs[0].params["stride"] == 2
    assert [c.params["w"].shape[0] for c in convs[1:]].count(256) == 8
    assert sum(la.kind == "add_prev" for la in layers) == 14
    assert layers[-1].kind == "fc" and layers[-1].params["w"].shape == (256, 128)


def _chips() -> list[tuple[np.ndarray, object]]:
    """Real face photos (scikit-image's astronaut, and the shared NL specimen where present),
    cut into chips by dlib's own detector and shape predictor."""
    import cv2
    from skimage import data

    from proofing.face.dlib_embed import SHAPES

    shapes = dlib.shape_predictor(str(default_registry().resolve(SHAPES)))
    detector = dlib.get_frontal_face_detector()
    images = [np.ascontiguousarray(data.astronaut())]
    page = (
        Path(__file__).resolve().parents[2]
        / "shared"
        / "data"
        / "mrz"
        / "images"
        / "98_pass-nld.jpg"
    )
    if page.is_file():
        images.append(np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(page)), cv2.COLOR_BGR2RGB)))
    out = []
    for rgb in images:
        for rect in detector(rgb, 1):
            out.append((rgb, shapes(rgb, rect)))
    return out


def test_onnx_descriptor_equals_dlibs_own(dat: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    path = dlib_onnx.convert(dat, tmp_path / "resnet.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reference = dlib.face_recognition_model_v1(str(dat))
    faces = _chips()
    assert faces, "dlib found no face in the astronaut portrait"
    for rgb, shape in faces:
        truth = np.asarray(reference.compute_face_descriptor(rgb, shape, 1))
        chip = dlib.get_face_chip(rgb, shape, dlib_onnx.CHIP_SIZE, dlib_onnx.CHIP_PADDING)
        ours = session.run(None, {"chip": dlib_onnx.chip_tensor([chip])})[0][0]
        assert np.abs(ours - truth).max() < 1e-5
        assert np.linalg.norm(truth) > 0.5  # a real descriptor, not zeros on both sides


def test_registry_derives_the_pinned_file(dat: Path, tmp_path: Path) -> None:
    """Not found anywhere -> converted into the cache and kept because its sha256 is the
    manifest's (the conversion is deterministic); a manifest naming other bytes refuses it."""
    base = default_registry()
    settings = Settings(models_dir=dat.parent, data_dir=tmp_path / "data")
    specs = {n: base.spec(n) for n in ("dlib_resnet", "dlib_resnet_onnx")}
    path = Registry(specs, settings).resolve("dlib_resnet_onnx")
    assert path.parent == tmp_path / "data" / "models"
    assert sha256_of(path) == specs["dlib_resnet_onnx"].sha256
    path.unlink()
    wrong = ModelSpec(**{**specs["dlib_resnet_onnx"].__dict__, "sha256": "0" * 64})
    with pytest.raises(ModelHashMismatch):
        Registry({**specs, "dlib_resnet_onnx": wrong}, settings).resolve("dlib_resnet_onnx")
    assert not any((tmp_path / "data" / "models").iterdir())  # nothing half-made left behind


def test_a_truncated_file_is_refused_clearly(dat: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.dat"
    cut.write_bytes(dat.read_bytes()[:5_000_000])
    with pytest.raises(dlib_onnx.DlibFormatError):
        dlib_onnx.read_layers(cut)
    other = tmp_path / "other.dat"
    other.write_bytes(b"\x01\x05hello" * 100)
    with pytest.raises(dlib_onnx.DlibFormatError, match="not dlib's face ResNet"):
        dlib_onnx.read_layers(other)
