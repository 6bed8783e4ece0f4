"""Face quality from the five landmarks and the aligned crop, with reason codes.

Measures are cheap and explainable rather than learned: eye distance in source pixels
(resolution), variance of the Laplacian on the aligned crop (focus), mean and clipped
fraction of grey levels (exposure), and head pose from landmark geometry. Pose is coarse:
yaw from the nose's offset from the eye midpoint (about atan of that offset in half
inter-eye units, for a nose about as deep as half the eye distance), roll from the eye
line, pitch from where the nose sits between the eye line and the mouth line compared
with the ArcFace template. When MediaPipe's FaceLandmarker is available the pose comes
from its dense mesh instead (:mod:`proofing.face.headpose`: no assumed depths) and its
eyeBlink blendshapes add eye closure. Limits come from the policy file.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from proofing.face.align import ARCFACE_TEMPLATE
from proofing.face.headpose import MeshQuality
from proofing.face.policy import QualityLimits

# The template's own nose position between eye line and mouth line (a frontal face).
_EYE_Y = float(ARCFACE_TEMPLATE[:2, 1].mean())
_MOUTH_Y = float(ARCFACE_TEMPLATE[3:, 1].mean())
_FRONTAL_NOSE_RATIO = (float(ARCFACE_TEMPLATE[2, 1]) - _EYE_Y) / (_MOUTH_Y - _EYE_Y)


@dataclass(frozen=True)
class Pose:
    yaw_deg: float
    pitch_deg: float
    roll_deg: float


@dataclass(frozen=True)
class FaceQuality:
    eye_distance_px: float
    sharpness: float
    brightness: float
    contrast: float
    clipped_fraction: float
    pose: Pose
    codes: tuple[str, ...]
    #: "mesh" (FaceLandmarker) or "landmarks5" (YuNet's five points).
    pose_source: str = "landmarks5"
    #: eyeBlink blendshape of the less-closed eye (0 open .. 1 closed); None: not measured.
    eye_closure: float | None = None

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["codes"] = list(self.codes)
        d["pose"] = {k: round(v, 2) for k, v in d["pose"].items()}
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}


def estimate_pose(landmarks: np.ndarray) -> Pose:
    lm = np.asarray(landmarks, dtype=np.float64)
    left, right, nose = lm[0], lm[1], lm[2]
    mouth = (lm[3] + lm[4]) / 2.0
    dx, dy = right - left
    roll = math.degrees(math.atan2(dy, dx))
    # Undo roll about the eye midpoint so yaw and pitch are read along image axes.
    c, s = math.cos(-math.radians(roll)), math.sin(-math.radians(roll))
    rot = np.array([[c, -s], [s, c]])
    mid = (left + right) / 2.0
    half = max(math.hypot(dx, dy) / 2.0, 1e-6)
    n = rot @ (nose - mid)
    m = rot @ (mouth - mid)
    yaw = math.degrees(math.atan(n[0] / half))
    ratio = n[1] / m[1] if abs(m[1]) > 1e-6 else _FRONTAL_NOSE_RATIO
    pitch = math.degrees(math.atan((ratio - _FRONTAL_NOSE_RATIO) / _FRONTAL_NOSE_RATIO))
    return Pose(yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll)


def assess_quality(
    landmarks: np.ndarray, crop_bgr: np.ndarray, limits: QualityLimits, mesh: MeshQuality | None = None
) -> FaceQuality:
    """Quality measures of one detected face and the codes of every limit it breaks.

    ``mesh`` (from :func:`proofing.face.headpose.mesh_quality`) replaces the five-point
    pose and adds eye closure; the reason codes keep their names whichever source measured.
    """
    import cv2

    lm = np.asarray(landmarks, dtype=np.float64)
    eye_px = float(np.hypot(*(lm[1] - lm[0])))
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    inner = grey[24:104, 20:92]  # eyes to chin, inside the cheeks: mostly skin, little background
    sharp = float(cv2.Laplacian(inner, cv2.CV_64F).var())
    bright = float(inner.mean())
    contrast = float(inner.std())
    clipped = float(((inner <= 8) | (inner >= 247)).mean())
    if mesh is not None:
        pose = Pose(yaw_deg=mesh.pose.yaw_deg, pitch_deg=mesh.pose.pitch_deg, roll_deg=mesh.pose.roll_deg)
    else:
        pose = estimate_pose(lm)
    codes = []
    if eye_px < limits.min_eye_distance_px:
        codes.append("FACE_TOO_SMALL")
    if sharp < limits.min_sharpness:
        codes.append("FACE_BLURRY")
    if bright < limits.min_brightness:
        codes.append("FACE_UNDEREXPOSED")
    elif bright > limits.max_brightness:
        codes.append("FACE_OVEREXPOSED")
    if clipped > limits.max_clipped_fraction:
        codes.append("FACE_CLIPPED_EXPOSURE")
    if contrast < limits.min_contrast:
        codes.append("FACE_LOW_CONTRAST")
    if abs(pose.yaw_deg) > limits.max_abs_yaw_deg:
        codes.append("POSE_YAW")
    if abs(pose.pitch_deg) > limits.max_abs_pitch_deg:
        codes.append("POSE_PITCH")
    if abs(pose.roll_deg) > limits.max_abs_roll_deg:
        codes.append("POSE_ROLL")
    if mesh is not None and limits.max_eye_closure is not None and mesh.eye_closure > limits.max_eye_closure:
        codes.append("EYES_CLOSED")
    return FaceQuality(
        eye_distance_px=eye_px,
        sharpness=sharp,
        brightness=bright,
        contrast=contrast,
        clipped_fraction=clipped,
        pose=pose,
        codes=tuple(codes),
        pose_source="mesh" if mesh is not None else "landmarks5",
        eye_closure=None if mesh is None else mesh.eye_closure,
    )
