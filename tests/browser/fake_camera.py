"""Fake-camera videos for the browser tests, made from real images.

Chromium's ``--use-file-for-fake-video-capture`` plays a YUV4MPEG2 file in a loop as the
webcam. We write two: the project's rendered specimen data page (its MRZ is the demo's,
its printed portrait a real face photo) held in front of the camera, and a selfie of the
same person from another real photo (``../shared/data/faces``; scikit-image's astronaut
when the shared data is absent), both with the small motion, relighting and sensor noise
of a hand-held webcam shot so that the frames are not identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

#: Two photos of the same person (a genuine pair of deepface_unit/master.csv): the first
#: is printed on the page, the second is the selfie.
FACE_PAIR = ("deepface_unit/img1.jpg", "deepface_unit/img2.jpg")
FRAME_SIZE = (1280, 720)  # width, height: a common webcam mode
FPS = 10


@dataclass(frozen=True)
class Faces:
    page: np.ndarray  # BGR
    selfie: np.ndarray  # BGR
    source: str


def find_faces(shared_data: Path | None) -> Faces:
    """The face pair from the shared data, else the demo's astronaut for both."""
    if shared_data is not None:
        paths = [shared_data / "faces" / p for p in FACE_PAIR]
        page, selfie = (cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths)
        if page is not None and selfie is not None:
            return Faces(np.asarray(page), np.asarray(selfie), ", ".join(str(p) for p in paths))
    from proofing.pipeline.samples import astronaut_bgr

    full = astronaut_bgr()
    return Faces(full, full, "scikit-image astronaut (../shared/data/faces absent)")


def _face_box(image: np.ndarray) -> tuple[float, float, float, float] | None:
    """The largest face (x, y, w, h) by the project's detector, None without its model."""
    try:
        from proofing.face.detect import detect_faces

        faces = detect_faces(image)
    except Exception:  # the detector's weights are not on this machine
        return None
    if not faces:
        return None
    x, y, w, h = max((f.box for f in faces), key=lambda b: b[2] * b[3])[:4]
    return float(x), float(y), float(w), float(h)


def _centre_and_size(image: np.ndarray) -> tuple[float, float, float]:
    """Face centre (x, y) and face height; a guess at the upper centre without a detector."""
    box = _face_box(image)
    if box is None:
        h, w = image.shape[:2]
        return w / 2, h * 0.4, h * 0.35
    x, y, bw, bh = box
    return x + bw / 2, y + bh / 2, bh


def portrait(image: np.ndarray, size: tuple[int, int] = (390, 500)) -> np.ndarray:
    """A passport-style head-and-shoulders crop (35x45 mm proportions)."""
    cx, cy, fh = _centre_and_size(image)
    w, h = size
    scale = (0.55 * h) / fh  # the face takes about 55 % of the photo's height
    m = np.array([[scale, 0, w / 2 - cx * scale], [0, scale, h * 0.45 - cy * scale]], np.float32)
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def document_page(face: np.ndarray) -> np.ndarray:
    """The demo's TD3 specimen page (proofing.pipeline.samples) with ``face`` printed on it."""
    from proofing.pipeline.samples import demo_mrz, render_page

    return render_page(demo_mrz(), portrait(face))


def _jitter(rng: np.random.Generator, frame: np.ndarray, gain: float) -> np.ndarray:
    out = frame.astype(np.float32) * gain + rng.normal(0.0, 2.0, frame.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def document_frames(page: np.ndarray, n: int = 12, seed: int = 9303) -> list[np.ndarray]:
    """The page on a desk, filling ~80 % of the frame width, with hand tremor."""
    w, h = FRAME_SIZE
    rng = np.random.default_rng(seed)
    ph, pw = page.shape[:2]
    scale = min(0.8 * w / pw, 0.9 * h / ph)
    desk = np.full((h, w, 3), (70, 80, 95), np.uint8)  # a brownish table, BGR
    frames = []
    for i in range(n):
        angle = 1.0 * np.sin(i / 2.0)  # degrees
        m = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, scale)
        m[0, 2] += w / 2 - pw / 2 + rng.uniform(-4, 4)
        m[1, 2] += h / 2 - ph / 2 + rng.uniform(-4, 4)
        frame = cv2.warpAffine(page, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=(0, 0, 0))
        mask = cv2.warpAffine(np.full((ph, pw), 255, np.uint8), m, (w, h), flags=cv2.INTER_NEAREST)
        frame = np.where(mask[:, :, None] > 0, frame, desk)
        # Indoor light: a white page reads ~230, not a clipped 255 (which looks like glare).
        frames.append(_jitter(rng, frame, 0.88))
    return frames


def selfie_frames(photo: np.ndarray, n: int = 12, seed: int = 7) -> list[np.ndarray]:
    """The person facing the webcam: face ~45 % of the frame height, small head motion."""
    w, h = FRAME_SIZE
    cx, cy, fh = _centre_and_size(photo)
    rng = np.random.default_rng(seed)
    base = 0.45 * h / fh
    frames = []
    for i in range(n):
        m = cv2.getRotationMatrix2D((cx, cy), 2.0 * np.sin(i / 1.7), base * (1 + 0.01 * np.sin(i)))
        m[0, 2] += w / 2 - cx + rng.uniform(-3, 3)
        m[1, 2] += h * 0.48 - cy + rng.uniform(-3, 3)
        frame = cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        frames.append(_jitter(rng, frame, 0.95 + 0.03 * np.sin(i / 3.0)))
    return frames


def bgr_to_i420(frame: np.ndarray) -> bytes:
    """BT.601 limited range ("studio swing"), 4:2:0 with the chroma averaged over 2x2."""
    b, g, r = (frame[:, :, k].astype(np.float32) / 255.0 for k in range(3))
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    u = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    v = 128 + 112.0 * r - 93.786 * g - 18.214 * b

    def sub(c: np.ndarray) -> np.ndarray:
        return (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]) / 4

    planes = [y, sub(u), sub(v)]
    return b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def write_y4m(path: Path, frames: Sequence[np.ndarray], fps: int = FPS) -> Path:
    """A YUV4MPEG2 file (C420, progressive, square pixels) of the BGR ``frames``."""
    h, w = frames[0].shape[:2]
    if w % 2 or h % 2:
        raise ValueError("4:2:0 needs even frame sizes")
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420\n".encode())
        for frame in frames:
            if frame.shape[:2] != (h, w):
                raise ValueError("all frames must have the same size")
            f.write(b"FRAME\n")
            f.write(bgr_to_i420(frame))
    return path
