"""Per-frame passive PAD: the MiniFASNet models on their own crops, fused.

Each model outputs three logits (class 1 = a real face, 0 and 2 = attack kinds); its
score is the softmax probability of class 1. The fused score is the weighted mean of
the models' scores, which is what upstream does with equal weights: the two models see
different context (x2.7 and x4.0 crops), so their errors are only partly shared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from proofing.liveness.crops import pad_crop, to_tensor
from proofing.runtime.onnx import ModelSession, get_session
from proofing.runtime.registry import default_registry

#: The PAD models in the manifest, in fusion order.
PAD_MODELS = ("minifasnet_v2", "minifasnet_v1se")
#: Class index of "real face" in the MiniFASNet logits.
REAL_CLASS = 1


@dataclass(frozen=True)
class PadOptions:
    models: tuple[str, ...] = PAD_MODELS
    #: Fusion weights (same order as ``models``); normalised to sum 1.
    weights: tuple[float, ...] = (1.0, 1.0)
    variant: str = "fp32"
    threads: int = 1


def crop_scale(model: str) -> float:
    """The crop scale the model was trained with, from the manifest (``crop_scale``)."""
    value = default_registry().spec(model).extra.get("crop_scale")
    if not isinstance(value, int | float):
        raise ValueError(f"manifest entry {model!r} has no numeric crop_scale")
    return float(value)


def _softmax_real(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e[:, REAL_CLASS] / e.sum(axis=1))


def sessions(opts: PadOptions) -> list[ModelSession]:
    return [get_session(m, opts.variant, opts.threads) for m in opts.models]


def model_scores(
    images: list[np.ndarray], boxes: list[tuple[float, float, float, float]], opts: PadOptions
) -> np.ndarray:
    """[N, M] real-face probability of each of N faces under each of M models (one batch per model)."""
    if not images:
        return np.zeros((0, len(opts.models)))
    cols = []
    for session in sessions(opts):
        scale = crop_scale(session.name)
        batch = to_tensor([pad_crop(img, box, scale) for img, box in zip(images, boxes, strict=True)])
        cols.append(_softmax_real(session.run(batch)[0].reshape(len(images), -1)))
    return np.stack(cols, axis=1)


def fuse(scores: np.ndarray, opts: PadOptions) -> np.ndarray:
    """Weighted mean over models of an [N, M] score matrix -> [N]."""
    w = np.asarray(opts.weights, dtype=np.float64)
    w = w / w.sum()
    return np.asarray(scores @ w)


def model_versions(opts: PadOptions) -> list[str]:
    return [s.version for s in sessions(opts)]


def model_inputs(model: str, images: list[np.ndarray], detect: object | None = None) -> list[np.ndarray]:
    """One [1,3,80,80] input per image with a face, cropped at ``model``'s scale.

    For calibrating and checking precision variants (``proofing models build``).
    """
    from proofing.face.detect import DetectOptions, detect_faces

    opts = detect if isinstance(detect, DetectOptions) else DetectOptions()
    scale = crop_scale(model)
    out = []
    for image in images:
        faces = detect_faces(image, opts)
        if faces:
            out.append(to_tensor([pad_crop(image, faces[0].box, scale)]))
    return out
