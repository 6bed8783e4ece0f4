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
For both int8 builders, layers that break are found by measurement (``search=True``):
each block (a convolution or Gemm with the activations after it) is kept in float on its
own and the rise of the minimum cosine to fp32 on held-out faces is measured; blocks then
go back to float in order of that gain, re-measured each time, until the target is met
(:func:`_search_float_blocks`). Every measurement is kept in the record; the result goes
into the manifest as the variant's recipe (``[models.NAME.int8] keep_float = [...]``),
which later builds apply directly and re-check on the held-out faces.

Static int8 can also rescale channels of the float graph first (``equalize``: cross-layer
equalisation from the weights, or from calibration activation ranges) and correct the
int8 graph's biases afterwards (``bias_correction``), see :mod:`proofing.runtime.equalize`;
the manifest's ``[models.NAME.int8]`` table names both, and the record keeps what was done.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

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


@lru_cache(maxsize=64)
def _record_at(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    """A build record, parsed once per version of the file (the face stage asks on every compare)."""
    return dict(json.loads(Path(path).read_text()))


def variant_record(name: str, variant: str, registry: Registry) -> dict[str, Any]:
    """The build record of a built variant ({} when there is none)."""
    record_path = _paths(name, variant, registry)[1]
    if not record_path.is_file():
        return {}
    st = record_path.stat()
    return dict(_record_at(str(record_path), st.st_mtime_ns, st.st_size))


def within_budget(record: dict[str, Any]) -> bool:
    """Whether a build met its agreement budget (min cosine to fp32 on the held-out inputs):
    what lets a variant run as a model's default and inherit its fp32 thresholds."""
    return bool(record.get("measured", {}).get("meets_min_cosine")) and bool(record.get("source_sha256"))


def load_built_variant(name: str, variant: str, registry: Registry) -> Path:
    """The verified variant file, or an error saying how to build it."""
    model_path, record_path = _paths(name, variant, registry)
    hint = f"run `proofing models build {name} --variant {variant}`"
    if not model_path.is_file() or not record_path.is_file():
        raise ModelNotFound(f"variant {variant} of {name!r} is not built ({model_path}); {hint}")
    record = variant_record(name, variant, registry)
    spec = registry.spec(name)
    if record.get("source_sha256") != spec.sha256:
        raise ModelNotFound(
            f"variant {variant} of {name!r} was built from another model "
            f"({record.get('source_sha256')}); {hint}"
        )
    wanted = recipe(registry, name, variant)
    builder = record.get("builder", {})
    if wanted is not None and list(builder.get("kept_in_float", [])) != wanted:
        raise ModelNotFound(
            f"variant {variant} of {name!r} was built with other float layers than the manifest's "
            f"recipe; {hint}"
        )
    if variant == "int8" and builder.get("equalization_recipe", {}) != equalization(registry, name, variant):
        raise ModelNotFound(
            f"variant {variant} of {name!r} was built with another equalisation / bias correction "
            f"than the manifest's recipe; {hint}"
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


def float_blocks(model: object) -> list[list[str]]:
    """Node groups that can be kept in float together: each Conv / Gemm / MatMul with the
    nodes after it up to the next one (its BatchNorm, PRelu, ...); nodes before the first
    convolution (input scaling) form the first group.

    Whole blocks, not single nodes: in QDQ a tensor between a float node and a quantised
    one is still quantised, so excluding a Conv alone leaves its output rounded to 8 bits
    (measured on SFace: excluding any single PRelu changed nothing at all).
    """
    blocks: list[list[str]] = [[]]
    for n in model.graph.node:  # type: ignore[attr-defined]
        if n.op_type in ("Conv", "Gemm", "MatMul") and blocks[-1]:
            blocks.append([])
        blocks[-1].append(n.name)
    return [b for b in blocks if b]


def _search_float_blocks(
    fp32: Path,
    holdout: Sequence[np.ndarray],
    quantize: Callable[[list[str], Path], None],
    min_cosine: float,
    max_steps: int,
    tmp: Path,
) -> tuple[list[str], list[dict[str, object]]]:
    """Which blocks to keep in float, by measured minimum cosine to fp32 on ``holdout``.

    1. Sensitivity: quantise once per block with only that block in float and measure
       how much the minimum cosine rises (a full greedy search would repeat this at every
       step: N quantisations per step, too slow for a build on a small CPU).
    2. Keep blocks in float in order of that measured gain, re-measuring after each one,
       until the target is met or ``max_steps`` blocks are in float; the prefix with the
       best minimum wins (more float is not always better: rounding errors partly cancel).
    Returns the chosen node names and every measurement.
    """
    import onnx

    reference = _run(fp32, holdout)
    blocks = float_blocks(onnx.load(str(fp32)))
    attempt = tmp / "attempt.onnx"

    def score(exclude: list[str]) -> tuple[float, float]:
        quantize(exclude, attempt)
        cos = _cosines(reference, _run(attempt, holdout))
        return float(cos.min()), float(cos.mean())

    base_min, base_mean = score([])
    steps: list[dict[str, object]] = [{"kept_in_float": [], "cos_min": base_min, "cos_mean": base_mean}]
    if base_min >= min_cosine:
        return [], steps
    gains = []
    for block in blocks:
        bmin, bmean = score(block)
        gains.append({"block": block[0], "nodes": block, "cos_min": bmin, "cos_mean": bmean})
    steps.append({"sensitivity": [{k: g[k] for k in ("block", "cos_min", "cos_mean")} for g in gains]})
    ranked = sorted(
        (g for g in gains if float(g["cos_min"]) > base_min),  # type: ignore[arg-type]
        key=lambda g: (-float(g["cos_min"]), -float(g["cos_mean"])),  # type: ignore[arg-type]
    )
    best: tuple[float, list[str]] = (base_min, [])
    chosen: list[str] = []
    for g in ranked[:max_steps]:
        chosen = chosen + list(g["nodes"])  # type: ignore[call-overload]
        cmin, cmean = score(chosen)
        steps.append({"kept_in_float": list(chosen), "cos_min": cmin, "cos_mean": cmean})
        if cmin > best[0]:
            best = (cmin, list(chosen))
        if cmin >= min_cosine:
            break
    return best[1], steps


class _Reader:
    """ORT CalibrationDataReader over a list of ready input tensors."""

    def __init__(self, input_name: str, tensors: Sequence[np.ndarray]) -> None:
        self._it = iter([{input_name: t} for t in tensors])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def _quantize_static(
    fp32: Path,
    out: Path,
    calib: Sequence[np.ndarray],
    exclude: list[str],
    percentile: float,
    cache: Path | None = None,
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
        # Ranges depend only on the float model and the inputs: computed once per build,
        # reused by every attempt of the search.
        calibration_cache_path=str(cache) if cache else None,
    )


def _quantize_dynamic(fp32: Path, out: Path, exclude: list[str]) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32), str(out), per_channel=True, weight_type=QuantType.QInt8, nodes_to_exclude=exclude
    )


def recipe(registry: Registry, name: str, variant: str) -> list[str] | None:
    """The manifest's measured list of nodes to keep in float for ``variant``, if any."""
    table = registry.spec(name).extra.get(variant)
    if isinstance(table, dict) and isinstance(table.get("keep_float"), list):
        return [str(n) for n in table["keep_float"]]
    return None


def equalization(registry: Registry, name: str, variant: str) -> dict[str, object]:
    """The manifest's channel equalisation and bias correction for ``variant`` (static
    int8 only): ``equalize`` ("cle" or "act"), ``equalize_alpha`` and ``bias_correction``
    under ``[models.NAME.VARIANT]``; empty when it names neither."""
    table = registry.spec(name).extra.get(variant)
    if variant != "int8" or not isinstance(table, dict):
        return {}
    out: dict[str, object] = {}
    method = str(table.get("equalize", "none"))
    if method != "none":
        out["equalize"] = method
        if method == "act":
            out["alpha"] = float(table.get("equalize_alpha", 1.0))
    if table.get("bias_correction"):
        out["bias_correction"] = True
    return out


def build_variant(
    name: str,
    variant: str,
    registry: Registry,
    calibration: Sequence[np.ndarray] = (),
    holdout: Sequence[np.ndarray] = (),
    calibration_source: dict[str, object] | None = None,
    min_cosine: float = 0.99,
    search: bool = False,
    keep_float: Sequence[str] | None = None,
    max_steps: int = 10,
    percentile: float = 99.999,
    equalize: dict[str, object] | None = None,
) -> VariantRecord:
    """Build ``variant`` of ``name`` into the cache and record it; returns the record.

    ``calibration`` (static int8) and ``holdout`` (measured cosine to fp32) are model
    input tensors, already preprocessed the way the model's stage feeds it. int8 keeps in
    float the nodes of ``keep_float``, else the manifest's recipe; ``search=True`` (needs
    ``holdout``) measures which blocks to keep instead (see the module docstring).
    ``equalize`` (static int8: ``{"equalize": "cle"|"act", "alpha": a, "bias_correction":
    True}``, ``{}`` for none) replaces the manifest's :func:`equalization`.
    """
    import onnx

    if variant not in BUILT_VARIANTS:
        raise ValueError(f"cannot build {variant!r}; buildable: {', '.join(BUILT_VARIANTS)}")
    if variant == "int8" and not calibration:
        raise ValueError("static int8 needs calibration inputs")
    if search and not holdout:
        raise ValueError("the float-layer search needs held-out inputs")
    spec = registry.spec(name)
    source = registry.resolve(name)
    out, record_path = _paths(name, variant, registry)
    out.parent.mkdir(parents=True, exist_ok=True)
    builder: dict[str, object] = {"opset": TARGET_OPSET, "onnx": onnx.__version__}
    measured: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(clean_fp32(source), str(fp32))  # type: ignore[arg-type]
        original = fp32  # the reference every cosine is measured against
        eq = dict(equalize if equalize is not None else equalization(registry, name, variant))
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
                builder["equalization_recipe"] = eq
                if eq.get("equalize"):
                    from proofing.runtime.equalize import activation_ranges
                    from proofing.runtime.equalize import equalize as equalize_graph

                    graph = onnx.load(str(fp32))
                    method = str(eq["equalize"])
                    ranges = activation_ranges(graph, calibration) if method == "act" else None
                    alpha = float(eq.get("alpha", 1.0))  # type: ignore[arg-type]
                    graph, summary = equalize_graph(graph, method, ranges, alpha=alpha)
                    fp32 = Path(tmp) / "equalized.onnx"
                    onnx.save(graph, str(fp32))
                    builder["equalize"] = summary
            cache = Path(tmp) / "ranges.json"

            def quantize(exclude: list[str], dest: Path) -> None:
                if variant == "int8":
                    _quantize_static(fp32, dest, calibration, exclude, percentile, cache)
                else:
                    _quantize_dynamic(fp32, dest, exclude)

            if search:
                exclude, steps = _search_float_blocks(fp32, holdout, quantize, min_cosine, max_steps, Path(tmp))
                measured["search"] = steps
                builder["kept_in_float_from"] = "search (greedy over blocks, min cosine to fp32 on the holdout)"
            else:
                listed = list(keep_float) if keep_float is not None else recipe(registry, name, variant)
                exclude = listed or []
                builder["kept_in_float_from"] = (
                    "argument" if keep_float is not None else "manifest recipe" if listed else "none"
                )
            quantize(exclude, tmp_out)
            if variant == "int8" and eq.get("bias_correction"):
                from proofing.runtime.equalize import correct_biases

                corrected, summary = correct_biases(onnx.load(str(tmp_out)), onnx.load(str(fp32)), calibration)
                onnx.save(corrected, str(tmp_out))
                builder["bias_correction"] = summary
            if variant == "int8":
                builder.update(
                    tool="onnxruntime.quantization.quantize_static QDQ per-channel, QUInt8 act / QInt8 weights",
                    calibrate_method="percentile",
                    percentile=percentile,
                )
            else:
                builder["tool"] = "onnxruntime.quantization.quantize_dynamic per-channel QInt8 weights"
            builder["kept_in_float"] = list(exclude)
        if holdout:
            ref = _run(original, holdout)
            cos = _cosines(ref, _run(tmp_out, holdout))
            measured.update(
                holdout=len(holdout),
                cos_to_fp32_min=float(cos.min()),
                cos_to_fp32_mean=float(cos.mean()),
                meets_min_cosine=bool(cos.min() >= min_cosine),
                min_cosine_target=min_cosine,
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
