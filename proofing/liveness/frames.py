"""Per-frame analysis before judging: find the face (upright), gate on quality.

A frame that cannot be judged fairly (no face, two faces, too small, blurred, badly
exposed, turned away) must ask for a retake with a reason code, not count as an attack:
the PAD models were never trained on such frames and their scores there mean little.
Frames are tried as given first; only when no face is found are the three other
rotations tried (a phone photo without EXIF orientation is often stored sideways).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from proofing.face.align import align_face
from proofing.face.detect import DetectOptions, Face, detect_faces
from proofing.face.quality import FaceQuality, assess_quality
from proofing.liveness.policy import LivenessPolicy

#: cv2 rotate codes by the clockwise quarter turns they apply.
_ROTATIONS = {90: 0, 180: 1, 270: 2}


@dataclass(frozen=True)
class FrameCheck:
    """One frame as the burst sees it: the upright image, its main face, gating codes."""

    image: np.ndarray
    face: Face | None
    faces_found: int
    rotation: int
    quality: FaceQuality | None
    codes: tuple[str, ...]

    @property
    def usable(self) -> bool:
        return self.face is not None and not self.codes


def rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate clockwise by a multiple of 90 degrees."""
    import cv2

    return image if degrees % 360 == 0 else cv2.rotate(image, _ROTATIONS[degrees % 360])


def find_face(image: np.ndarray, detect: DetectOptions) -> tuple[np.ndarray, list[Face], int]:
    """(upright image, faces, rotation applied): as given first, then other quarter turns."""
    faces = detect_faces(image, detect)
    if faces:
        return image, faces, 0
    for degrees in (90, 270, 180):
        turned = rotate(image, degrees)
        faces = detect_faces(turned, detect)
        if faces:
            return turned, faces, degrees
    return image, [], 0


def check_frame(image: np.ndarray, policy: LivenessPolicy, detect: DetectOptions) -> FrameCheck:
    upright, faces, rotation = find_face(image, detect)
    if not faces:
        return FrameCheck(image, None, 0, 0, None, ("NO_FACE",))
    face = faces[0]
    codes: list[str] = []
    if len(faces) > 1 and faces[1].area >= policy.second_face_area_ratio * face.area:
        codes.append("MULTIPLE_FACES")
    quality = assess_quality(face.landmarks, align_face(upright, face.landmarks), policy.quality)
    codes += quality.codes
    return FrameCheck(upright, face, len(faces), rotation, quality, tuple(codes))
