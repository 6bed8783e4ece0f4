"""Cross-layer equalisation keeps SFace's fp32 function while changing its channel ranges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def sface_setup(
    models_dir: Path, shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[object, list[np.ndarray]]:
    """SFace with BatchNorm folded (the graph the int8 build equalises) and a few real aligned
    face crops, or skip: neither the weights nor the photos are in the repo."""
    folder = shared_data / "faces" / "deepface_unit"
    if not folder.is_dir():
        pytest.skip(f"face photos not found at {folder} (set PROOFING_SHARED_DATA_DIR)")
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from proofing.face.calibration_data import list_images, model_inputs
    from proofing.runtime import default_registry
    from proofing.runtime.variants import clean_fp32

    tmp = tmp_path_factory.mktemp("equalize")
    onnx.save(clean_fp32(default_registry().resolve("sface")), str(tmp / "fp32.onnx"))  # type: ignore[arg-type]
    quant_pre_process(str(tmp / "fp32.onnx"), str(tmp / "pre.onnx"), skip_symbolic_shape=True)
    faces = model_inputs("sface", "face-embedding", list_images(folder)[:8])
    if len(faces) < 4:
        pytest.skip(f"fewer than 4 detectable faces under {folder}")
    return onnx.load(str(tmp / "pre.onnx")), faces


def _embed(model: object, inputs: list[np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    name = sess.get_inputs()[0].name
    out = np.stack([np.asarray(sess.run(None, {name: x})[0]).reshape(-1) for x in inputs]).astype(
        np.float64
    )
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _weights(model: object) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}  # type: ignore[attr-defined]


def _spread(r: np.ndarray) -> float:
    """Ratio of the largest to the median per-channel range of one tensor."""
    return float(r.max() / np.median(np.maximum(r, 1e-12)))


@pytest.mark.parametrize("method", ["cle", "act"])
def test_equalisation_keeps_the_embedding_and_moves_the_ranges(
    sface_setup: tuple[object, list[np.ndarray]], method: str
) -> None:
    from proofing.runtime.equalize import _pairs, activation_ranges, equalize

    model, faces = sface_setup
    calib, held = faces[: len(faces) // 2], faces[len(faces) // 2 :]
    ranges = activation_ranges(model, calib) if method == "act" else None
    eq, summary = equalize(model, method, ranges, alpha=0.5)
    assert summary["pairs"] == 26  # every Conv -> PRelu -> Conv of SFace's chain

    # The same function on faces the scales were not measured on.
    cos = (_embed(model, held) * _embed(eq, held)).sum(axis=1)
    assert cos.min() > 0.99999, cos

    # ... but really other weights: every pair's channels were rescaled, not by one constant.
    before, after = _weights(model), _weights(eq)
    for p in _pairs(model):
        w, v = before[p.producer.input[1]], after[p.producer.input[1]]
        s = np.abs(w).reshape(w.shape[0], -1).max(axis=1) / np.abs(v).reshape(v.shape[0], -1).max(
            axis=1
        )
        assert np.ptp(np.log(s)) > 0.05, p.producer.name

    if method == "act":
        # The tensors between the convolutions have more even channel ranges than before.
        assert ranges is not None
        new = activation_ranges(eq, calib)
        evened = [_spread(new[k]) < _spread(ranges[k]) for k in ranges]
        assert sum(evened) >= 0.8 * len(evened)


def test_unknown_method_and_missing_ranges_are_errors(
    sface_setup: tuple[object, list[np.ndarray]],
) -> None:
    from proofing.runtime.equalize import equalize

    model, _ = sface_setup
    with pytest.raises(ValueError):
        equalize(model, "smooth")
    with pytest.raises(ValueError):
        equalize(model, "act")


def test_no_pairs_in_a_graph_without_prelu_chains(tmp_path: Path) -> None:
    """A Conv whose output is also read elsewhere (a residual) is not rescaled."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from proofing.runtime.equalize import equalize

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(size=(4, 4, 1, 1)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(np.zeros(4, np.float32), "b1")
    slope = numpy_helper.from_array(np.full((4, 1, 1), 0.25, np.float32), "slope")
    w2 = numpy_helper.from_array(rng.normal(size=(4, 4, 1, 1)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"]),
        helper.make_node("PRelu", ["c1", "slope"], ["p1"]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"]),
        helper.make_node("Add", ["c2", "p1"], ["y"]),  # p1 read twice: scaling it would change y
    ]
    graph = helper.make_graph(
        nodes,
        "residual",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 2, 2])],
        [w1, b1, slope, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    _, summary = equalize(model, "cle")
    assert summary["pairs"] == 0
