"""Live hints for the capture page: is this frame good enough, and if not, what to do.

Each hint is a code plus an English sentence; the page translates the codes from its own
message catalogues. Nothing here is stored: a preview frame is judged and forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MESSAGES = {
    "OK": "Good, hold still.",
    "IMAGE_UNREADABLE": "The camera picture could not be read; try again.",
    "TOO_DARK": "It is too dark: move to a brighter place.",
    "TOO_BRIGHT": "The picture is too bright: move away from the light.",
    "GLARE": "There is glare on the page: tilt it slightly away from the light.",
    "BLUR": "The picture is blurred: hold still.",
    "NO_MRZ": "Show the photo page with the two lines of characters at the bottom.",
    "MRZ_TOO_SMALL": "Move the passport closer to the camera.",
    "MRZ_UNREADABLE": "The lines at the bottom are not readable yet: hold still, avoid glare.",
    "FACE_NOT_FOUND": "We cannot see your face: look into the camera.",
    "MULTIPLE_FACES": "Only one person should be in the picture.",
    "FACE_TOO_SMALL": "Come closer to the camera.",
    "FACE_BLURRY": "The picture is blurred: hold still.",
    "FACE_UNDEREXPOSED": "Your face is too dark: face the light.",
    "FACE_OVEREXPOSED": "Your face is too bright: move away from direct light.",
    "FACE_CLIPPED_EXPOSURE": "Part of your face is over- or under-exposed: even the light.",
    "HINTS_UNAVAILABLE": "Live hints are not available; take the pictures when you are ready.",
    "POSE_YAW": "Look straight into the camera.",
    "POSE_PITCH": "Keep your head level.",
    "POSE_ROLL": "Keep your head upright.",
}


@dataclass
class Feedback:
    ready: bool
    codes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "feedback": list(self.codes),
                "messages": [MESSAGES.get(c, c.replace("_", " ").capitalize()) for c in self.codes],
                **self.details}


def _decode(image: bytes) -> np.ndarray | None:
    from proofing.imaging import ImageError, load_image

    try:
        return load_image(image)
    except ImageError:
        return None


def _light(grey: np.ndarray) -> list[str]:
    mean = float(grey.mean())
    if mean < 45:
        return ["TOO_DARK"]
    if mean > 225:
        return ["TOO_BRIGHT"]
    return []


def _frame(image: bytes) -> tuple[np.ndarray, np.ndarray, Feedback | None]:
    """The decoded frame and its grey version, or the hint that stops here (unreadable, bad light)."""
    import cv2

    img = _decode(image)
    if img is None:
        empty = np.zeros((1, 1), np.uint8)
        return empty, empty, Feedback(False, ["IMAGE_UNREADABLE"])
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    codes = _light(grey)
    return img, grey, (Feedback(False, codes) if codes else None)


def document_feedback(image: bytes) -> Feedback:
    """Locate and read the MRZ on one frame; ready when its check digits hold."""
    import cv2

    from proofing.mrz.reader import read_mrz

    img, grey, refusal = _frame(image)
    if refusal is not None:
        return refusal
    codes: list[str] = []
    result = read_mrz(img)
    if result.valid and result.fields is not None:
        f = result.fields
        # The chip's access key (BAC/PACE from the MRZ) for the applicant's own reader: shown
        # to the applicant who holds the passport, never stored or logged from here.
        return Feedback(True, ["OK"], {"document_type": result.document_type, "fields": {
            "document_number": f.document_number, "birth_date": f.birth_date_raw,
            "expiry_date": f.expiry_date_raw}})
    glare = float((grey >= 250).mean())
    sharp = float(cv2.Laplacian(cv2.resize(grey, (640, round(640 * grey.shape[0] / grey.shape[1]))),
                                cv2.CV_64F).var())
    if glare > 0.02:
        codes.append("GLARE")
    if sharp < 60:
        codes.append("BLUR")
    if not result.found:
        codes.append("NO_MRZ")
    else:
        codes.append("MRZ_UNREADABLE")
    return Feedback(False, codes)


def selfie_feedback(image: bytes) -> Feedback:
    """One face, big enough, sharp and well lit: the same quality rules as the face stage."""
    from proofing.face.align import align_face
    from proofing.face.detect import detect_faces
    from proofing.face.policy import load_policy
    from proofing.face.quality import assess_quality
    from proofing.runtime.registry import ModelError

    img, _, refusal = _frame(image)
    if refusal is not None:
        return refusal
    try:
        faces = detect_faces(img)
    except ModelError:  # no face model installed: the page falls back to a manual capture
        return Feedback(False, ["HINTS_UNAVAILABLE"])
    if not faces:
        return Feedback(False, ["FACE_NOT_FOUND"])
    if len(faces) > 1:
        return Feedback(False, ["MULTIPLE_FACES"])
    face = faces[0]
    quality = assess_quality(face.landmarks, align_face(img, face.landmarks), load_policy().quality)
    box = [round(float(v), 1) for v in face.box]
    if quality.codes:
        return Feedback(False, list(quality.codes), {"face_box": box})
    return Feedback(True, ["OK"], {"face_box": box})
