"""ONNX Runtime sessions: one per (model, variant, threads) per process, warmed up once.

Creating a session costs tens of milliseconds and the first run costs more (kernel
selection, memory arena), so a stage never builds its own: it asks :func:`get_session`,
which resolves the model through the registry (by sha256), pins the thread counts
explicitly (ONNX Runtime's default takes every core, which is wrong for a server running
several workers) and runs one dummy inference before handing the session out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from proofing.runtime.registry import ModelNotFound, Registry, default_registry, sha256_of

if TYPE_CHECKING:
    from proofing.settings import Settings

#: Precision variants a session can be built from; fp32 is the manifest's own file.
VARIANTS = ("fp32", "fp16", "int8", "int8-dynamic")

_LOCK = threading.Lock()
_SESSIONS: dict[tuple[str, str, int, int], ModelSession] = {}


@dataclass(frozen=True)
class ModelSession:
    """A ready session plus what a result must report about the model that produced it."""

    name: str
    variant: str
    sha256: str
    path: Path
    intra_threads: int
    session: object  # onnxruntime.InferenceSession (kept untyped: ORT ships no stubs)
    input_name: str
    output_names: tuple[str, ...]

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Run on one input tensor; returns every output in graph order."""
        out = self.session.run(list(self.output_names), {self.input_name: x})  # type: ignore[attr-defined]
        return [np.asarray(o) for o in out]

    @property
    def version(self) -> str:
        """Short identifier recorded in every result: name, variant and sha256 prefix."""
        return f"{self.name}:{self.variant}:{self.sha256[:12]}"

    def describe(self) -> dict[str, str]:
        """Name, variant and the full sha256 of the file that ran: enough to find the exact
        bytes again (a variant's sha256 is the one in its build record)."""
        return {"name": self.name, "variant": self.variant, "sha256": self.sha256}


def clean_model_bytes(path: Path) -> bytes:
    """The model with initializers removed from the graph inputs (old exporters list them).

    ONNX Runtime treats an initializer that is also a graph input as overridable, which
    blocks constant folding and prints one warning per tensor; SFace 2021dec has 174.
    """
    import onnx

    model = onnx.load(str(path))
    inits = {i.name for i in model.graph.initializer}
    if any(i.name in inits for i in model.graph.input):
        keep = [i for i in model.graph.input if i.name not in inits]
        del model.graph.input[:]
        model.graph.input.extend(keep)
    return bytes(model.SerializeToString())


def variant_path(name: str, variant: str, registry: Registry | None = None) -> Path:
    """The verified file for ``name`` at ``variant``: the manifest file or a built variant."""
    reg = registry or default_registry()
    if variant == "fp32":
        return reg.resolve(name)
    if variant not in VARIANTS:
        raise ModelNotFound(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    from proofing.runtime.variants import load_built_variant

    return load_built_variant(name, variant, reg)


def _warm_up(sess: object, input_name: str) -> None:
    """One run on zeros; dynamic spatial dims at 640 (a webcam frame's scale) so that the
    first real request does not pay for planning the most common shape."""
    meta = sess.get_inputs()[0]  # type: ignore[attr-defined]
    shape = [d if isinstance(d, int) and d > 0 else (1 if i < 2 else 640) for i, d in enumerate(meta.shape)]
    dtype = np.float16 if "float16" in meta.type else np.float32
    sess.run(None, {input_name: np.zeros(shape, dtype=dtype)})  # type: ignore[attr-defined]


def get_session(
    name: str,
    variant: str = "fp32",
    threads: int = 1,
    inter_threads: int = 1,
    registry: Registry | None = None,
) -> ModelSession:
    """The process-wide session for (model, variant, threads), created and warmed on first use."""
    key = (name, variant, threads, inter_threads)
    with _LOCK:
        cached = _SESSIONS.get(key)
        if cached is not None:
            return cached
        import onnxruntime as ort

        path = variant_path(name, variant, registry)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = max(1, inter_threads)
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # Threads spinning after a run burn a core for nothing between requests.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(clean_model_bytes(path), sess_options=opts, providers=["CPUExecutionProvider"])
        input_name = sess.get_inputs()[0].name
        _warm_up(sess, input_name)
        ms = ModelSession(
            name=name,
            variant=variant,
            sha256=sha256_of(path),
            path=path,
            intra_threads=threads,
            session=sess,
            input_name=input_name,
            output_names=tuple(o.name for o in sess.get_outputs()),
        )
        _SESSIONS[key] = ms
        return ms


def clear_sessions() -> None:
    """Drop every cached session (tests; after building new variants)."""
    with _LOCK:
        _SESSIONS.clear()


def parse_variant_choice(spec: str) -> dict[str, str]:
    """Parse ``"sface=int8,yunet=fp32"`` (``"*=fp16"``: every model) into a per-model choice.

    A malformed entry is an error rather than silently fp32: a typo in a deployment's
    setting must not quietly change which model bytes decide.
    """
    out: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"bad model variant entry {part!r}: expected MODEL=VARIANT, e.g. sface=int8")
        model, variant = (s.strip() for s in part.split("=", 1))
        if not model or variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r} for {model!r}; known: {', '.join(VARIANTS)}")
        out[model] = variant
    return out


def chosen_variant(choice: dict[str, str], model: str) -> str:
    """The variant ``choice`` gives ``model``: its own entry, else ``*``, else fp32."""
    return choice.get(model, choice.get("*", "fp32"))


def variant_choice(settings: Settings, registry: Registry | None = None) -> dict[str, str]:
    """The per-model precision: what ``PROOFING_MODEL_VARIANTS`` names; for a model it does
    not name (and no ``*``), the manifest's ``default_variant`` (the benchmark's choice for
    this CPU) when that variant is built here and met the agreement budget; else fp32."""
    explicit = parse_variant_choice(settings.model_variants)
    if "*" in explicit:
        return explicit
    reg = registry or _registry_for(settings)
    out = {}
    for name, spec in reg.specs.items():
        wanted = spec.extra.get("default_variant")
        if isinstance(wanted, str) and wanted != "fp32" and name not in explicit and _usable(name, wanted, reg):
            out[name] = wanted
    return out | explicit


def _registry_for(settings: Settings) -> Registry:
    """The process's registry when ``settings`` point where it looks, else one for them."""
    reg = default_registry()
    same = (reg.settings.data_dir, reg.settings.models_dir) == (settings.data_dir, settings.models_dir)
    return reg if same else Registry.load(settings=settings)


def _usable(name: str, variant: str, reg: Registry) -> bool:
    """Built, matching the manifest's recipe, and within the agreement budget."""
    from proofing.runtime.variants import load_built_variant, variant_record, within_budget

    try:
        load_built_variant(name, variant, reg)
    except ModelNotFound:
        return False
    return within_budget(variant_record(name, variant, reg))


def inherited_version(session: ModelSession, registry: Registry | None = None) -> str:
    """The version whose calibrated thresholds ``session`` may use: its own, or for a
    reduced-precision variant that met the agreement budget (cosine to fp32 >= 0.99 on every
    held-out input), its fp32 source's."""
    if session.variant == "fp32":
        return session.version
    from proofing.runtime.variants import variant_record, within_budget

    record = variant_record(session.name, session.variant, registry or default_registry())
    return f"{session.name}:fp32:{str(record['source_sha256'])[:12]}" if within_budget(record) else session.version
