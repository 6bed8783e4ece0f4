"""Per-channel rescaling of an fp32 graph before static int8 (cross-layer equalisation).

Why: static int8 quantises every activation tensor with one scale, so a channel whose range
is a small fraction of its neighbours' keeps only a few levels. In a chain
``Conv -> PRelu -> Conv`` the PReLU is positively homogeneous per channel
(``prelu(x / s) = prelu(x) / s`` for ``s > 0``), so dividing the producer's output channel
``i`` (weights and bias) by ``s_i`` and multiplying the consumer's input channel ``i``
weights by ``s_i`` (a depthwise consumer's channel ``i``; its bias is untouched) leaves the
network's function exactly as it was while changing the ranges int8 sees.

Two ways to choose ``s`` (Nagel et al. 2019, "Data-Free Quantization through Weight
Equalization and Bias Correction"; Xiao et al. 2023, SmoothQuant):

- ``"cle"``: from the weights alone, ``s_i = sqrt(r1_i / r2_i)`` with ``r1`` the producer's
  per-output-channel and ``r2`` the consumer's per-input-channel weight range, repeated
  over the chain (at most ``iterations`` passes; data-free).
- ``"act"``: from per-channel activation ranges measured on calibration inputs,
  ``s_i = a_i ** alpha / r2_i ** (1 - alpha)``, normalised to a geometric mean of 1; with
  ``alpha = 1`` every channel of the tensor between the two convolutions gets the same range.

Only chains where nothing else reads the intermediate tensors are touched (no residual
``Add``, no graph output), and a final ``PRelu -> BatchNormalization`` is left alone. The
graph should have BatchNorm folded into its convolutions first (``quant_pre_process``).
:func:`correct_biases` then removes the mean shift int8 leaves in each convolution's output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Scales are clipped to this interval so that a dead channel cannot blow weights up.
SCALE_BOUNDS = (1e-3, 1e3)


@dataclass(frozen=True)
class _Pair:
    producer: Any  # onnx NodeProto (Conv with a bias)
    prelu: Any
    consumer: Any  # Conv, groups 1 or depthwise


def _attr(node: Any, name: str, default: int) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return default


def _pairs(model: Any) -> list[_Pair]:
    """``Conv -> PRelu -> Conv`` chains whose intermediate tensors have no other reader."""
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    outputs = {o.name for o in graph.output}
    readers: dict[str, list[Any]] = {}
    for n in graph.node:
        for t in n.input:
            readers.setdefault(t, []).append(n)
    uses: dict[str, int] = {}
    for n in graph.node:
        for t in n.input:
            if t in inits:
                uses[t] = uses.get(t, 0) + 1
    found = []
    for conv in graph.node:
        if conv.op_type != "Conv" or len(conv.input) < 3 or conv.output[0] in outputs:
            continue
        after = readers.get(conv.output[0], [])
        if len(after) != 1 or after[0].op_type != "PRelu" or after[0].input[0] != conv.output[0]:
            continue
        prelu = after[0]
        nxt = readers.get(prelu.output[0], [])
        if len(nxt) != 1 or nxt[0].op_type != "Conv" or nxt[0].input[0] != prelu.output[0]:
            continue
        if prelu.output[0] in outputs or prelu.input[1] not in inits:
            continue
        weights = [conv.input[1], conv.input[2], nxt[0].input[1]]
        if any(w not in inits or uses.get(w, 0) != 1 for w in weights):
            continue
        found.append(_Pair(conv, prelu, nxt[0]))
    return found


def _consumer_ranges(w2: np.ndarray, depthwise: bool) -> np.ndarray:
    """Per-input-channel max |w| of the consumer."""
    if depthwise:
        return np.abs(w2).reshape(w2.shape[0], -1).max(axis=1)
    return np.abs(w2).transpose(1, 0, 2, 3).reshape(w2.shape[1], -1).max(axis=1)


def _probe(model_bytes: bytes, names: list[str]) -> tuple[Any, str]:
    """A session whose outputs are the named intermediate tensors, and its input name."""
    import onnx
    import onnxruntime as ort

    probe = onnx.load_from_string(model_bytes)
    del probe.graph.output[:]
    probe.graph.output.extend(
        onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in names
    )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(probe.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
    return sess, sess.get_inputs()[0].name


def activation_ranges(model: Any, inputs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-channel max |x| over ``inputs`` of every tensor between the convolutions of an
    equalisable pair (the producer's output and its PReLU's output), keyed by the PReLU
    output name: the larger of the two, since both are scaled by the same ``s``."""

    pairs = _pairs(model)
    names = [t for p in pairs for t in (p.producer.output[0], p.prelu.output[0])]
    sess, feed = _probe(model.SerializeToString(), names)
    acc: dict[str, np.ndarray] = {}
    for x in inputs:
        for name, out in zip(names, sess.run(names, {feed: x}), strict=True):
            a = np.abs(np.asarray(out))
            m = a.transpose(1, 0, *range(2, a.ndim)).reshape(a.shape[1], -1).max(axis=1)
            acc[name] = m if name not in acc else np.maximum(acc[name], m)
    return {
        p.prelu.output[0]: np.maximum(acc[p.producer.output[0]], acc[p.prelu.output[0]])
        for p in pairs
    }


def equalize(
    model: Any,
    method: str = "cle",
    ranges: dict[str, np.ndarray] | None = None,
    alpha: float = 1.0,
    iterations: int = 50,
) -> tuple[Any, dict[str, object]]:
    """An equivalent copy of ``model`` with rescaled channels, and a summary for the build
    record. ``method`` is ``"cle"`` (weights only) or ``"act"`` (needs ``ranges`` from
    :func:`activation_ranges` on the same graph)."""
    import onnx
    from onnx import numpy_helper

    if method not in ("cle", "act"):
        raise ValueError(f"unknown equalisation {method!r}; known: cle, act")
    if method == "act" and ranges is None:
        raise ValueError("activation equalisation needs measured activation ranges")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    pairs = _pairs(out)
    init = {i.name: i for i in out.graph.initializer}
    arrays = {
        n: numpy_helper.to_array(init[n]).astype(np.float64)
        for p in pairs
        for n in (p.producer.input[1], p.producer.input[2], p.consumer.input[1])
    }
    total = {p.prelu.output[0]: np.ones(0) for p in pairs}

    def step(p: _Pair) -> np.ndarray:
        w1, b1, w2 = (
            arrays[p.producer.input[1]],
            arrays[p.producer.input[2]],
            arrays[p.consumer.input[1]],
        )
        depthwise = (
            _attr(p.consumer, "group", 1) == w2.shape[0] and w2.shape[1] == 1 and w2.shape[0] > 1
        )
        if not depthwise and _attr(p.consumer, "group", 1) != 1:
            return np.ones(w1.shape[0])
        r2 = np.maximum(_consumer_ranges(w2, depthwise), 1e-12)
        if method == "cle":
            r1 = np.maximum(np.abs(w1).reshape(w1.shape[0], -1).max(axis=1), 1e-12)
            s = np.sqrt(r1 / r2)
        else:
            a = np.maximum(np.asarray(ranges[p.prelu.output[0]], dtype=np.float64), 1e-12)  # type: ignore[index]
            s = a**alpha / r2 ** (1.0 - alpha)
            s = s / np.exp(np.log(s).mean())
        s = np.clip(s, *SCALE_BOUNDS)
        shape = (-1,) + (1,) * (w1.ndim - 1)
        arrays[p.producer.input[1]] = w1 / s.reshape(shape)
        arrays[p.producer.input[2]] = b1 / s
        arrays[p.consumer.input[1]] = w2 * (
            s.reshape(shape) if depthwise else s.reshape(1, -1, 1, 1)
        )
        return s

    rounds = 0
    while rounds < (iterations if method == "cle" else 1):
        rounds += 1
        change = 0.0
        for p in pairs:
            s = step(p)
            key = p.prelu.output[0]
            total[key] = s if total[key].size == 0 else total[key] * s
            change = max(change, float(np.abs(np.log(s)).max()))
        if change < 1e-4:
            break
    for name, arr in arrays.items():
        dtype = numpy_helper.to_array(init[name]).dtype
        init[name].CopyFrom(numpy_helper.from_array(arr.astype(dtype), name))
    scales = np.concatenate([v for v in total.values() if v.size]) if pairs else np.ones(1)
    summary: dict[str, object] = {
        "method": method,
        "pairs": len(pairs),
        "rounds": rounds,
        "scale_min": float(scales.min()),
        "scale_max": float(scales.max()),
    }
    if method == "act":
        summary["alpha"] = alpha
    return out, summary


def _channel_means(
    model_bytes: bytes, names: list[str], inputs: Sequence[np.ndarray]
) -> dict[str, np.ndarray]:
    """Per-channel mean over ``inputs`` (and space) of the named tensors."""

    sess, feed = _probe(model_bytes, names)
    sums = {n: np.zeros(0) for n in names}
    for x in inputs:
        for n, out in zip(names, sess.run(names, {feed: x}), strict=True):
            a = np.asarray(out, dtype=np.float64)
            m = a.transpose(1, 0, *range(2, a.ndim)).reshape(a.shape[1], -1).mean(axis=1)
            sums[n] = m if sums[n].size == 0 else sums[n] + m
    return {n: v / max(len(inputs), 1) for n, v in sums.items()}


def correct_biases(
    quantized: Any, reference: Any, inputs: Sequence[np.ndarray]
) -> tuple[Any, dict[str, object]]:
    """Empirical bias correction (Nagel et al. 2019, section 4.2) of a QDQ graph.

    int8 rounding and range clipping shift the mean of each convolution's output; the
    shift adds up along the chain. Layer by layer from the input, the per-channel mean of
    each convolution's output in ``quantized`` is measured on ``inputs`` against the same
    tensor of the float ``reference`` and the difference is added to that convolution's
    bias (its int32 values where the bias is quantised), so that each layer is corrected
    for what the layers before it still get wrong. Returns the corrected copy."""
    import onnx
    from onnx import numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(quantized)
    inits = {i.name: i for i in out.graph.initializer}
    producers = {o: n for n in out.graph.node for o in n.output}
    convs = [n for n in out.graph.node if n.op_type == "Conv" and len(n.input) > 2]
    names = [n.output[0] for n in convs]
    wanted = _channel_means(reference.SerializeToString(), names, inputs)
    shifts: dict[str, float] = {}
    for conv, name in zip(convs, names, strict=True):
        delta = wanted[name] - _channel_means(out.SerializeToString(), [name], inputs)[name]
        bias = conv.input[2]
        dq = producers.get(bias)
        if bias in inits:
            b = numpy_helper.to_array(inits[bias])
            new = (b + delta).astype(b.dtype)
            name_b = bias
        elif dq is not None and dq.op_type == "DequantizeLinear" and dq.input[0] in inits:
            b = numpy_helper.to_array(inits[dq.input[0]])
            scale = numpy_helper.to_array(inits[dq.input[1]]).astype(np.float64)
            new = (b + np.round(delta / scale)).astype(b.dtype)
            name_b = dq.input[0]
        else:
            continue
        inits[name_b].CopyFrom(numpy_helper.from_array(new, name_b))
        shifts[conv.name] = float(np.abs(delta).max())
    return out, {
        "bias_correction": "empirical, sequential",
        "convs": len(shifts),
        "max_shift": max(shifts.values(), default=0.0),
    }
