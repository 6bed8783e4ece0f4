"""Frames from files: images through :func:`load_image`, videos sampled with OpenCV.

Every input from outside is untrusted: an undecodable image or video yields a reason
code, not a traceback. A video gives ``max_frames`` frames evenly spaced over its first
``max_seconds`` (a webcam burst's worth).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from proofing.imaging import ImageError, load_image

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


def read_video(path: Path, max_frames: int, max_seconds: float) -> list[np.ndarray]:
    """Sampled frames of a video; raises ImageError("VIDEO_UNREADABLE") when none decode."""
    import cv2

    if not path.is_file():
        raise ImageError("VIDEO_UNREADABLE", f"{path}: no such file")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ImageError("VIDEO_UNREADABLE", f"{path}: cannot open the video")
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        span = count if fps <= 0 else min(count, int(fps * max_seconds))
        span = max(span, max_frames)
        wanted = set(np.linspace(0, span - 1, max_frames).round().astype(int).tolist())
        frames: list[np.ndarray] = []
        i = 0
        while len(frames) < max_frames and i <= max(wanted):
            ok, frame = cap.read()
            if not ok:
                break
            if i in wanted:
                frames.append(frame)
            i += 1
    finally:
        cap.release()
    if not frames:
        raise ImageError("VIDEO_UNREADABLE", f"{path}: no frame could be decoded")
    return frames


def read_inputs(paths: list[Path], max_frames: int, max_seconds: float) -> tuple[list[np.ndarray], list[str]]:
    """(frames, reason codes of inputs that could not be read)."""
    frames: list[np.ndarray] = []
    codes: list[str] = []
    for p in paths:
        try:
            if p.suffix.lower() in VIDEO_SUFFIXES:
                frames += read_video(p, max_frames, max_seconds)
            else:
                frames.append(load_image(p))
        except ImageError as e:
            codes.append(e.code)
    return frames, codes
