"""Dense face landmarks and blink blendshapes from MediaPipe FaceLandmarker (optional).

YuNet's five points cannot show a blink (no eyelids) and are too noisy to separate the
non-rigid motion of a face from a flat picture's; the 478-point mesh and its eyeBlink
blendshapes can. MediaPipe is optional: when it (or its model) is missing the temporal
cues that need it are reported as unmeasured, never guessed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

_LOCK = threading.Lock()


@dataclass(frozen=True)
class DenseFace:
    """Landmarks (478, 2) in image pixels and the two eye-blink blendshape scores."""

    points: np.ndarray = field(compare=False)
    blink_left: float
    blink_right: float

    @property
    def blink(self) -> float:
        """Both eyes must close for a blink; a wink or a squint of one eye does not count."""
        return min(self.blink_left, self.blink_right)

    @property
    def eye_distance(self) -> float:
        # Mesh indices 33 and 263: the outer eye corners.
        return float(np.linalg.norm(self.points[33] - self.points[263]))


@lru_cache(maxsize=1)
def _landmarker() -> object | None:
    # MediaPipe's C++ logging would otherwise print several lines per process on stderr.
    os.environ.setdefault("GLOG_minloglevel", "2")
    try:
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError:
        return None
    from proofing.runtime.registry import ModelError, default_registry

    try:
        path = default_registry().resolve("face_landmarker")
    except ModelError:
        return None
    opts = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(path)),
        output_face_blendshapes=True,
        num_faces=1,
        running_mode=vision.RunningMode.IMAGE,
    )
    landmarker = vision.FaceLandmarker.create_from_options(opts)
    # Close it while the interpreter is whole: left to __del__ at exit, MediaPipe's
    # close() runs after its dispatcher thread pool has shut down and prints a TypeError
    # traceback. That pool stops in threading's own exit hooks (which run before atexit's,
    # newest first), so ours must be one of those, registered after the pool's.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(_close, landmarker)
    else:
        atexit.register(_close, landmarker)
    return landmarker


def _close(landmarker: object) -> None:
    with contextlib.suppress(Exception):
        landmarker.close()  # type: ignore[attr-defined]


def available() -> bool:
    return _landmarker() is not None


def dense_face(image: np.ndarray) -> DenseFace | None:
    """The mesh of the most prominent face in an 8-bit BGR image, or None."""
    lm = _landmarker()
    if lm is None:
        return None
    import mediapipe as mp

    rgb = np.ascontiguousarray(image[:, :, ::-1])
    with _LOCK:
        res = lm.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))  # type: ignore[attr-defined]
    if not res.face_landmarks:
        return None
    h, w = image.shape[:2]
    pts = np.array([[p.x * w, p.y * h] for p in res.face_landmarks[0]], dtype=np.float32)
    shapes = {c.category_name: float(c.score) for c in res.face_blendshapes[0]}
    return DenseFace(points=pts, blink_left=shapes.get("eyeBlinkLeft", 0.0), blink_right=shapes.get("eyeBlinkRight", 0.0))


def close() -> None:
    """Release the landmarker. Call it before the process ends: MediaPipe's finaliser fails
    during interpreter shutdown (its executor is already gone), so a landmarker left open
    prints a traceback at exit."""
    if _landmarker.cache_info().currsize == 0:
        return
    lm = _landmarker()
    if lm is not None:
        lm.close()  # type: ignore[attr-defined]
    _landmarker.cache_clear()
