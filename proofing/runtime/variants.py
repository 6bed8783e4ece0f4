"""Precision variants built by the project from the manifest's fp32 models.

Third-party weights are verified by sha256; a variant is the project's own derived file,
so it is recorded just as strictly: next to every ``NAME.VARIANT.onnx`` in the cache a
``.json`` record keeps the source model's sha256, the variant's own sha256, how it was
built and, for static int8, which calibration images and which layers were kept in float
and why (the measured cosine to fp32). A variant whose record does not match the current
manifest or its own bytes is refused, like a wrong model file.

Builders:
- ``fp16``: weights and activations in float16 with float32 inputs/outputs
  (onnxconverter-common).
- ``int8-dynamic``: per-channel int8 weights, activations quantised on the fly.
- ``int8``: static QDQ int8 calibrated with percentile ranges on the given inputs.
For both int8 builders, layers that break are found by measurement: while the minimum
cosine to fp32 on held-out inputs is below the target, the next convolution from the
input side stays in float; every attempt is kept in the record.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from proofing.runtime.registry import ModelHashMismatch, ModelNotFound, Registry, sha256_of

BUILT_VARIANTS = ("fp16", "int8-dynamic", "int8")
#: The opset every variant is built at (the converters and ORT's quantiser need >= 13).
TARGET_OPSET = 17


@dataclass(frozen=True)
class VariantRecord:
    model: str
    variant: str
    source_sha256: str
    sha256: str
    file: str
    created: str
    builder: dict[str, object] = field(default_factory=dict)
    calibration: dict[str, object] = field(default_factory=dict)
    measured: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def variants_dir(registry: Registry) -> Path:
    return registry.settings.cache_dir / "variants"


def _paths(name: str, variant: str, registry: Registry) -> tuple[Path, Path]:
    folder = variants_dir(registry)
    return folder / f"{name}.{variant}.onnx", folder / f"{name}.{variant}.json"


def load_built_variant(name: str, variant: str, registry: Registry) -> Path:
    """The verified variant file, or an error saying how to build it."""
    model_path, record_path = _paths(name, variant, registry)
    hint = f"run `proofing models build {name} --variant {variant}`"
    if not model_path.is_file() or not record_path.is_file():
        raise ModelNotFound(f"variant {variant} of {name!r} is not built ({model_path}); {hint}")
    record = json.loads(record_path.read_text())
    spec = registry.spec(name)
    if record.get("source_sha256") != spec.sha256:
        raise ModelNotFound(
            f"variant {variant} of {name!r} was built from another model "
            f"({record.get('source_sha256')}); {hint}"
        )
    digest = sha256_of(model_path)
    if digest != record.get("sha256"):
        raise ModelHashMismatch(f"{name}.{variant}", model_path, str(record.get("sha256")), digest)
    return model_path


def clean_fp32(path: Path) -> object:
    """The manifest model as a clean graph: initializers out of the inputs, opset 17, shapes inferred."""
    import onnx
    from onnx import version_converter

    from proofing.runtime.onnx import clean_model_bytes

    model = onnx.load_from_string(clean_model_bytes(path))
    current = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if current < TARGET_OPSET:
        model = version_converter.convert_version(model, TARGET_OPSET)
    return onnx.shape_inference.infer_shapes(model)


def _run(model_path: Path, inputs: Sequence[np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.stack([np.asarray(sess.run(None, {name: x})[0]).reshape(-1) for x in inputs])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.asarray((an * bn).sum(axis=1))


def _float_candidates(model: object) -> list[str]:
    """Layers to try keeping in float, in order: convolutions from the input side.

    The first layers see raw 0..255 pixels with a wide, skewed range; on SFace the search
    measured that keeping the output-side Gemm or last conv in float changed nothing,
    while the first depthwise conv (conv_2_dw) took the minimum cosine from 0.972 to 0.988.
    """
    return [n.name for n in model.graph.node if n.op_type == "Conv"]  # type: ignore[attr-defined]


class _Reader:
    """ORT CalibrationDataReader over a list of ready input tensors."""

    def __init__(self, input_name: str, tensors: Sequence[np.ndarray]) -> None:
        self._it = iter([{input_name: t} for t in tensors])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def _quantize_static(
    fp32: Path, out: Path, calib: Sequence[np.ndarray], exclude: list[str], percentile: float
) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    input_name = onnx.load(str(fp32)).graph.input[0].name
    quantize_static(
        str(fp32),
        str(out),
        _Reader(input_name, calib),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=exclude,
        calibrate_method=CalibrationMethod.Percentile,
        extra_options={"CalibPercentile": percentile},
    )


def _quantize_dynamic(fp32: Path, out: Path, exclude: list[str]) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32), str(out), per_channel=True, weight_type=QuantType.QInt8, nodes_to_exclude=exclude
    )


def build_variant(
    name: str,
    variant: str,
    registry: Registry,
    calibration: Sequence[np.ndarray] = (),
    holdout: Sequence[np.ndarray] = (),
    calibration_source: dict[str, object] | None = None,
    min_cosine: float = 0.99,
    max_float_convs: int = 6,
    percentile: float = 99.999,
) -> VariantRecord:
    """Build ``variant`` of ``name`` into the cache and record it; returns the record.

    ``calibration`` (static int8) and ``holdout`` (measured cosine to fp32) are model
    input tensors, already preprocessed the way the model's stage feeds it.
    """
    import onnx

    if variant not in BUILT_VARIANTS:
        raise ValueError(f"cannot build {variant!r}; buildable: {', '.join(BUILT_VARIANTS)}")
    if variant == "int8" and not calibration:
        raise ValueError("static int8 needs calibration inputs")
    spec = registry.spec(name)
    source = registry.resolve(name)
    out, record_path = _paths(name, variant, registry)
    out.parent.mkdir(parents=True, exist_ok=True)
    builder: dict[str, object] = {"opset": TARGET_OPSET, "onnx": onnx.__version__}
    measured: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(clean_fp32(source), str(fp32))  # type: ignore[arg-type]
        tmp_out = Path(tmp) / "variant.onnx"
        if variant == "fp16":
            from onnxconverter_common import float16

            half = float16.convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True)
            onnx.save(half, str(tmp_out))
            builder["tool"] = "onnxconverter_common.float16 keep_io_types=True"
        else:
            if variant == "int8":
                from onnxruntime.quantization.shape_inference import quant_pre_process

                # Static QDQ: fold BatchNorm into Conv first; without it SFace stayed at
                # cos min 0.957 whichever layers were kept in float. (Dynamic int8 measured
                # better without this step: min 0.991 vs 0.988.)
                pre = Path(tmp) / "pre.onnx"
                quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
                fp32 = pre
                builder["pre_process"] = "onnxruntime quant_pre_process (Conv+BN folded)"
            reference = _run(fp32, holdout) if holdout else None
            convs = _float_candidates(onnx.load(str(fp32)))
            attempts = []
            exclude: list[str] = []
            best: tuple[float, int] = (-2.0, 0)
            for k in range(0, max_float_convs + 1):
                exclude = convs[:k]
                attempt = Path(tmp) / f"attempt{k}.onnx"
                if variant == "int8":
                    _quantize_static(fp32, attempt, calibration, exclude, percentile)
                else:
                    _quantize_dynamic(fp32, attempt, exclude)
                if reference is None:
                    best = (0.0, k)
                    break
                cos = _cosines(reference, _run(attempt, holdout))
                attempts.append(
                    {"float_convs": exclude, "cos_min": float(cos.min()), "cos_mean": float(cos.mean())}
                )
                if float(cos.min()) > best[0]:
                    best = (float(cos.min()), k)
                if cos.min() >= min_cosine:
                    break
            # Target unmet: keep the attempt with the best minimum, not merely the last one.
            exclude = convs[: best[1]]
            shutil.move(str(Path(tmp) / f"attempt{best[1]}.onnx"), str(tmp_out))
            if variant == "int8":
                builder.update(
                    tool="onnxruntime.quantization.quantize_static QDQ per-channel, QUInt8 act / QInt8 weights",
                    calibrate_method="percentile",
                    percentile=percentile,
                )
            else:
                builder["tool"] = "onnxruntime.quantization.quantize_dynamic per-channel QInt8 weights"
            builder["kept_in_float"] = list(exclude)
            measured["search"] = attempts
        if holdout:
            ref = _run(fp32, holdout)
            cos = _cosines(ref, _run(tmp_out, holdout))
            measured.update(
                holdout=len(holdout), cos_to_fp32_min=float(cos.min()), cos_to_fp32_mean=float(cos.mean())
            )
        shutil.move(str(tmp_out), str(out))
    calib: dict[str, object] = dict(calibration_source or {})
    if variant == "int8":
        h = hashlib.sha256()
        for t in calibration:
            h.update(np.ascontiguousarray(t).tobytes())
        calib.update(count=len(calibration), tensors_sha256=h.hexdigest())
    record = VariantRecord(
        model=name,
        variant=variant,
        source_sha256=spec.sha256,
        sha256=sha256_of(out),
        file=out.name,
        created=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        builder=builder,
        calibration=calib,
        measured=measured,
    )
    record_path.write_text(json.dumps(record.to_dict(), indent=2) + "\n")
    return record
