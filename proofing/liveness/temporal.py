"""Temporal evidence over a burst that a printed photo or a replayed screen lacks.

- Blink: both eyeBlink blendshapes go above ``blink_closed`` and, in another frame,
  below ``blink_open``. Positive evidence only: its absence proves nothing (most 1-second
  bursts contain no blink) and a replayed video blinks too.
- Face-size stability: the coefficient of variation of the face size. A person looking
  into a webcam holds still; a photo waved in front of it zooms in and out.
- Non-rigid motion: the dense landmarks of each frame are mapped to the first frame's by
  the best homography; a flat picture (print or screen) moves as a plane, so the
  residual stays at landmark noise, while a face's 3-D shape and expression leave more.
Each returns a measurement (None when it cannot be measured); the burst applies the
policy's limits and switches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from proofing.face.detect import Face
from proofing.liveness.landmarker import DenseFace


@dataclass(frozen=True)
class TemporalEvidence:
    frames: int
    blink_max: float | None
    blink_min: float | None
    scale_cv: float | None
    nonplanar_residual: float | None
    yaw_range_deg: float | None

    def to_dict(self) -> dict[str, object]:
        return {k: (None if v is None else round(float(v), 4)) for k, v in self.__dict__.items()}


def blinked(dense: Sequence[DenseFace | None], closed: float, opened: float) -> bool | None:
    scores = [d.blink for d in dense if d is not None]
    if len(scores) < 2:
        return None
    return max(scores) >= closed and min(scores) <= opened


def scale_cv(faces: Sequence[Face]) -> float | None:
    if len(faces) < 2:
        return None
    sizes = np.sqrt(np.array([f.area for f in faces], dtype=np.float64))
    return float(sizes.std() / max(sizes.mean(), 1e-9))


def nonplanar_residual(dense: Sequence[DenseFace | None]) -> float | None:
    """Mean over frames of the mean landmark residual after a homography to frame 0 (eye distances)."""
    import cv2

    faces = [d for d in dense if d is not None]
    if len(faces) < 2:
        return None
    ref = faces[0].points.astype(np.float32)
    out = []
    for d in faces[1:]:
        pts = d.points.astype(np.float32)
        h, _ = cv2.findHomography(ref, pts, 0)
        if h is None:
            continue
        mapped = cv2.perspectiveTransform(ref[None], h)[0]
        out.append(float(np.linalg.norm(mapped - pts, axis=1).mean() / max(d.eye_distance, 1e-6)))
    return float(np.mean(out)) if out else None


def gather(
    faces: Sequence[Face], dense: Sequence[DenseFace | None], yaws: Sequence[float]
) -> TemporalEvidence:
    blinks = [d.blink for d in dense if d is not None]
    return TemporalEvidence(
        frames=len(faces),
        blink_max=max(blinks) if len(blinks) >= 2 else None,
        blink_min=min(blinks) if len(blinks) >= 2 else None,
        scale_cv=scale_cv(faces),
        nonplanar_residual=nonplanar_residual(dense),
        yaw_range_deg=(max(yaws) - min(yaws)) if len(yaws) >= 2 else None,
    )
