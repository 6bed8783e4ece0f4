"""dlib's face-recognition ResNet as an ONNX model, read from dlib's own weight file.

Why: dlib runs this network with its own CPU kernels at ~75 ms per 150x150 chip on this
machine; the same arithmetic in ONNX Runtime runs in a fraction of that and can be
quantised like every other model here. Nothing is downloaded and no weights are
retrained: the converter reads ``dlib_face_recognition_resnet_model_v1.dat`` (found by
sha256 through the registry) and writes an equivalent graph; :func:`check_against_dlib`
compares the two on real chips, and the build refuses a conversion that disagrees.

The file is dlib's serialisation of its ``anet_type`` (the network of dlib's
dnn_face_recognition_ex): after the loss and input records, every layer in forward order
as a type string and its parameters. The parts read here, as dlib writes them:

* an integer: one byte (byte count | 0x80 if negative), then that many little-endian bytes;
* a string: its length as an integer, then the bytes;
* a tensor (version 2): version, n, k, nr, nc as integers, then n*k*nr*nc little-endian
  float32 (a version-1 tensor stores each float as two integers, mantissa and exponent);
* ``con_4``: params (filters OIHW then biases), then filters, rows, cols, strides, paddings;
* ``affine_``: params (gamma then beta, per channel: y = gamma * x + beta);
* ``max_pool_2`` / ``avg_pool_2``: rows, cols, strides, paddings (rows 0: the whole map);
* ``add_prev_``: adds the tagged earlier output; tensors of different shape are added as
  if the smaller one were padded with zeros at its end (channels and, in the last
  down-sampling block, one row and column);
* ``fc_2``: outputs, inputs, then params as an inputs x outputs matrix (no bias here).

The residual wiring is not in the file (tags carry no names); it is the published
architecture: a block starts after the stem's max-pool or after a residual's ReLU, and
``avg_pool`` right before ``add_prev`` pools the block's input (down-sampling blocks).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CHIP_SIZE = 150
CHIP_PADDING = 0.25  # dlib's default for this network (face_recognition uses it too)


class DlibFormatError(ValueError):
    """The file is not the dlib network this converter knows."""


@dataclass
class Layer:
    kind: str  # "con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "fc"
    params: dict[str, Any] = field(default_factory=dict)


class _Stream:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def int(self) -> int:
        head = self.data[self.pos]
        size, negative = head & 0x0F, bool(head & 0x80)
        if size > 8:
            raise DlibFormatError(f"bad integer header 0x{head:02x} at {self.pos}")
        raw = self.data[self.pos + 1 : self.pos + 1 + size]
        self.pos += 1 + size
        value = int.from_bytes(raw, "little")
        return -value if negative else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(np.ldexp(float(mantissa), exponent))

    def tensor(self) -> np.ndarray:
        version = self.int()
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        if version == 2:
            end = self.pos + 4 * count
            if end > len(self.data):
                raise DlibFormatError("tensor runs past the end of the file")
            out = np.frombuffer(self.data[self.pos : end], dtype="<f4").reshape(shape)
            self.pos = end
            return out.astype(np.float32)
        if version == 1:
            return np.array([self.float() for _ in range(count)], dtype=np.float32).reshape(shape)
        raise DlibFormatError(f"unknown tensor version {version} at {self.pos}")


_KINDS = {
    b"con_4": "con",
    b"con_5": "con",
    b"affine_": "affine",
    b"relu_": "relu",
    b"max_pool_2": "max_pool",
    b"avg_pool_2": "avg_pool",
    b"add_prev_": "add_prev",
    b"fc_2": "fc",
}


#: A layer's type string as dlib writes it: its length as an integer (0x01 <len>), then the bytes.
_RECORD = re.compile(b"|".join(re.escape(bytes([1, len(tag)]) + tag) for tag in _KINDS))


def _find_records(data: bytes, start: int) -> list[tuple[int, bytes]]:
    """Offsets just past each layer's type string after ``start``, with the string, in file order."""
    return [(m.end(), m.group()[2:]) for m in _RECORD.finditer(data, start)]


def read_layers(path: Path) -> tuple[np.ndarray, list[Layer]]:
    """(per-channel RGB mean the input layer subtracts, layers in forward order)."""
    data = Path(path).read_bytes()
    start = data.find(b"input_rgb_image_sized")
    if start < 0:
        raise DlibFormatError(f"{path}: not dlib's face ResNet (no input_rgb_image_sized)")
    s = _Stream(data, start + len(b"input_rgb_image_sized"))
    mean = np.array([s.float(), s.float(), s.float()], dtype=np.float32)
    layers: list[Layer] = []
    for offset, tag in _find_records(data, start):
        s = _Stream(data, offset)
        kind = _KINDS[tag]
        if kind == "con":
            params = s.tensor().ravel()
            filters, rows, cols, sy, sx, py, px = (s.int() for _ in range(7))
            if sy != sx or py != px or rows != cols:
                raise DlibFormatError(f"unsupported convolution geometry at {offset}")
            n_w = params.size - filters
            channels = n_w // (filters * rows * cols)
            w = params[:n_w].reshape(filters, channels, rows, cols)
            layers.append(Layer(kind, {"w": w, "b": params[n_w:], "stride": sy, "pad": py}))
        elif kind == "affine":
            params = s.tensor().ravel()
            half = params.size // 2
            layers.append(Layer(kind, {"gamma": params[:half], "beta": params[half:]}))
        elif kind in ("max_pool", "avg_pool"):
            rows, cols, sy, sx, py, px = (s.int() for _ in range(6))
            layers.append(Layer(kind, {"size": rows, "stride": sy, "pad": py}))
        elif kind == "fc":
            outputs, inputs = s.int(), s.int()
            params = s.tensor().ravel()
            if params.size != outputs * inputs:
                raise DlibFormatError("fc layer with a bias is not expected in this network")
            layers.append(Layer(kind, {"w": params.reshape(inputs, outputs)}))
        else:
            layers.append(Layer(kind))
    if not layers or layers[-1].kind != "fc":
        raise DlibFormatError(f"{path}: layer sequence does not end in a fully connected layer")
    return mean, layers


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def build_model(mean: np.ndarray, layers: list[Layer]) -> Any:
    """An ONNX model: input ``chip`` [N,3,150,150] float RGB 0..255, output ``descriptor``
    [N,128]. dlib's affine layers and its input normalisation ((x - mean) / 256) are folded
    into the convolutions (exact: the first convolution has no padding)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(prefix: str, value: np.ndarray) -> str:
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), n))
        return n

    def pool(op: str, src: str, sshape: tuple[int, int, int], p: dict[str, Any]) -> tuple[str, tuple[int, int, int]]:
        """A k x k pooling node (no padding in this network) and its output shape."""
        out = name({"MaxPool": "maxpool", "AveragePool": "avgpool"}[op])
        k, st, pad = p["size"], p["stride"], p["pad"]
        nodes.append(helper.make_node(op, [src], [out], kernel_shape=[k, k], strides=[st, st], pads=[pad] * 4, name=out))
        return out, (sshape[0], _out_size(sshape[1], k, st, pad), _out_size(sshape[2], k, st, pad))

    x, shape = "chip", (3, CHIP_SIZE, CHIP_SIZE)  # (channels, rows, cols)
    block_input: tuple[str, tuple[int, int, int]] | None = None
    pooled_skip: tuple[str, tuple[int, int, int]] | None = None
    previous = ""
    first_conv = True
    i = 0
    while i < len(layers):
        layer = layers[i]
        p = layer.params
        if layer.kind == "con":
            w, b = p["w"].astype(np.float64), p["b"].astype(np.float64)
            if i + 1 < len(layers) and layers[i + 1].kind == "affine":
                g, beta = layers[i + 1].params["gamma"], layers[i + 1].params["beta"]
                w, b = w * g[:, None, None, None], b * g + beta
                i += 1
            if first_conv:
                if p["pad"] != 0:
                    raise DlibFormatError("first convolution has padding: normalisation cannot be folded")
                # fsum: a correctly rounded sum, so the file's bytes (and its sha256 in the
                # manifest) do not depend on the CPU's vector width.
                shift = w * mean.astype(np.float64)[None, :, None, None]
                b = b - np.array([math.fsum(row) for row in shift.reshape(len(b), -1)]) / 256.0
                w = w / 256.0
                first_conv = False
            out = name("conv")
            k, s_, pad = w.shape[2], p["stride"], p["pad"]
            nodes.append(
                helper.make_node(
                    "Conv",
                    [x, const("w", w.astype(np.float32)), const("b", b.astype(np.float32))],
                    [out],
                    kernel_shape=[k, k],
                    strides=[s_, s_],
                    pads=[pad] * 4,
                    name=out,
                )
            )
            x = out
            shape = (w.shape[0], _out_size(shape[1], k, s_, pad), _out_size(shape[2], k, s_, pad))
        elif layer.kind == "affine":
            raise DlibFormatError("affine layer not following a convolution")
        elif layer.kind == "relu":
            out = name("relu")
            nodes.append(helper.make_node("Relu", [x], [out], name=out))
            x = out
            if previous == "add_prev":
                block_input = (x, shape)
        elif layer.kind in ("max_pool", "avg_pool") and p["size"] == 0:
            out = name("gap")
            nodes.append(helper.make_node("GlobalAveragePool", [x], [out], name=out))
            flat = name("flat")
            nodes.append(helper.make_node("Flatten", [out], [flat], axis=1, name=flat))
            x, shape = flat, (shape[0], 1, 1)
        elif layer.kind == "max_pool":
            x, shape = pool("MaxPool", x, shape, p)
            block_input = (x, shape)
        elif layer.kind == "avg_pool":
            if block_input is None:
                raise DlibFormatError("pooled skip connection before any block")
            pooled_skip = pool("AveragePool", *block_input, p)
        elif layer.kind == "add_prev":
            skip = pooled_skip or block_input
            if skip is None:
                raise DlibFormatError("residual addition before any block")
            pooled_skip = None
            target = tuple(max(a, b) for a, b in zip(shape, skip[1], strict=True))
            terms = []
            for src, sshape in ((x, shape), skip):
                if sshape != target:
                    pads = [
                        0,
                        0,
                        0,
                        0,
                        0,
                        target[0] - sshape[0],
                        target[1] - sshape[1],
                        target[2] - sshape[2],
                    ]
                    padded = name("pad")
                    nodes.append(
                        helper.make_node(
                            "Pad",
                            [src, const("pads", np.array(pads, dtype=np.int64))],
                            [padded],
                            name=padded,
                        )
                    )
                    src = padded
                terms.append(src)
            out = name("add")
            nodes.append(helper.make_node("Add", terms, [out], name=out))
            x, shape = out, target  # type: ignore[assignment]
        elif layer.kind == "fc":
            out = "descriptor"
            nodes.append(helper.make_node("MatMul", [x, const("fc", p["w"].astype(np.float32))], [out], name="fc"))
            x = out
        previous = layer.kind
        i += 1
    if x != "descriptor":
        raise DlibFormatError("network did not end in the descriptor")
    graph = helper.make_graph(
        nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chip", TensorProto.FLOAT, ["N", 3, CHIP_SIZE, CHIP_SIZE])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["N", 128])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="proofing")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def convert(dat_path: Path, out_path: Path) -> Path:
    """Write the ONNX equivalent of ``dat_path`` to ``out_path``."""
    import onnx

    mean, layers = read_layers(dat_path)
    onnx.save(build_model(mean, layers), str(out_path))
    return out_path


def chip_tensor(chips: list[np.ndarray]) -> np.ndarray:
    """RGB uint8 chips (150x150x3, as dlib cuts them) -> the model's NCHW float input."""
    return np.stack([np.asarray(c, dtype=np.float32).transpose(2, 0, 1) for c in chips])
