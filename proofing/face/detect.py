"""Face detection with five landmarks (YuNet) through ONNX Runtime.

We run YuNet ourselves rather than through ``cv2.FaceDetectorYN`` so that the session,
its threads and its precision variant come from :mod:`proofing.runtime.onnx` like every
other model. The decoding follows YuNet's anchor-free head: for each stride, one
prediction per grid cell with class and objectness scores (score = sqrt(cls * obj)),
a box as offset + log-size, and five landmarks as offsets, all in units of the stride.

Images are resized so the longer side is ``DetectOptions.side`` (large photos shrink,
small chip portraits grow); when nothing is found in a large photo a second, finer
scale is tried, because a face in a full-body shot can shrink below YuNet's ~10 px floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from proofing.runtime.onnx import ModelSession, get_session

STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class DetectOptions:
    #: Which YuNet in the manifest: "yunet" (2023mar, fixed 640x640) or "yunet_dynamic".
    model: str = "yunet_dynamic"
    variant: str = "fp32"
    threads: int = 1
    #: Longer image side fed to the detector at the first scale.
    side: int = 640
    #: Extra longer sides tried, in order, when the first scale finds nothing.
    fallback_sides: tuple[int, ...] = (1280,)
    score_threshold: float = 0.6
    nms_threshold: float = 0.3


@dataclass(frozen=True)
class Face:
    """One detection in the coordinates of the image given to :func:`detect_faces`."""

    box: tuple[float, float, float, float]  # x, y, w, h
    landmarks: np.ndarray = field(compare=False)  # (5, 2): eye, eye, nose, mouth, mouth (image left first)
    score: float = 0.0

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]

    def to_dict(self) -> dict[str, object]:
        return {
            "box": [round(v, 1) for v in self.box],
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks],
            "score": round(self.score, 4),
        }


def _prepare(image: np.ndarray, side: int, fixed: bool) -> tuple[np.ndarray, float]:
    """Resize so the longer side is ``side`` and pad bottom/right to the network's grid."""
    import cv2

    h, w = image.shape[:2]
    scale = side / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    if fixed:
        ph, pw = side, side
    else:
        ph, pw = -(-nh // 32) * 32, -(-nw // 32) * 32
    canvas = np.zeros((ph, pw, 3), dtype=np.float32)
    canvas[:nh, :nw] = resized
    return canvas.transpose(2, 0, 1)[None], scale


def _decode(
    outputs: dict[str, np.ndarray], height: int, width: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (N,4 xywh), landmarks (N,5,2), scores (N) above ``threshold`` at input scale."""
    boxes, kps, scores = [], [], []
    for s in STRIDES:
        rows, cols = height // s, width // s
        cls = outputs[f"cls_{s}"].reshape(-1)
        obj = outputs[f"obj_{s}"].reshape(-1)
        score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
        keep = np.nonzero(score >= threshold)[0]
        if keep.size == 0:
            continue
        r, c = (keep // cols).astype(np.float32), (keep % cols).astype(np.float32)
        b = outputs[f"bbox_{s}"].reshape(rows * cols, 4)[keep]
        k = outputs[f"kps_{s}"].reshape(rows * cols, 10)[keep].reshape(-1, 5, 2)
        cx, cy = (c + b[:, 0]) * s, (r + b[:, 1]) * s
        bw, bh = np.exp(b[:, 2]) * s, np.exp(b[:, 3]) * s
        boxes.append(np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1))
        lm = np.empty_like(k)
        lm[:, :, 0] = (c[:, None] + k[:, :, 0]) * s
        lm[:, :, 1] = (r[:, None] + k[:, :, 1]) * s
        kps.append(lm)
        scores.append(score[keep])
    if not boxes:
        return np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros(0)
    return np.concatenate(boxes), np.concatenate(kps), np.concatenate(scores)


def _run_scale(
    session: ModelSession, image: np.ndarray, side: int, opts: DetectOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fixed = opts.model == "yunet"
    x, scale = _prepare(image, side, fixed)
    raw = session.run(x)
    outputs = dict(zip(session.output_names, raw, strict=True))
    boxes, kps, scores = _decode(outputs, x.shape[2], x.shape[3], opts.score_threshold)
    return boxes / scale, kps / scale, scores


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    import cv2

    if len(boxes) == 0:
        return []
    idx = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.0, threshold)
    return [int(i) for i in np.asarray(idx).reshape(-1)]


def detect_faces(image: np.ndarray, opts: DetectOptions | None = None) -> list[Face]:
    """Every face in an 8-bit BGR image, largest first."""
    opts = opts or DetectOptions()
    session = get_session(opts.model, opts.variant, opts.threads)
    long_side = max(image.shape[:2])
    sides = [opts.side]
    if opts.model != "yunet":
        sides += [s for s in opts.fallback_sides if s > opts.side and long_side > opts.side]
    boxes, kps, scores = np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros(0)
    for side in sides:
        boxes, kps, scores = _run_scale(session, image, side, opts)
        if len(boxes):
            break
    faces = [
        Face(
            box=(float(boxes[i, 0]), float(boxes[i, 1]), float(boxes[i, 2]), float(boxes[i, 3])),
            landmarks=kps[i].astype(np.float32),
            score=float(scores[i]),
        )
        for i in _nms(boxes, scores, opts.nms_threshold)
    ]
    return sorted(faces, key=lambda f: f.area, reverse=True)
