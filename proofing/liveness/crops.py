"""MiniFASNet input crops: the face box widened by a model-specific scale.

The PAD models judge the face *and its surroundings* (paper edges, a screen's bezel,
the texture around the head), so each model sees the detector box scaled about its
centre (x2.7 for MiniFASNetV2, x4.0 for MiniFASNetV1SE), shifted to stay inside the
image rather than padded, and resized to 80x80 BGR floats 0..255 (no normalisation).
A box too large for the scale inside the image gets the largest scale that still fits,
as the models were trained.
"""

from __future__ import annotations

import numpy as np

#: The network input side for both MiniFASNets.
INPUT_SIDE = 80


def crop_window(
    image_shape: tuple[int, ...], box: tuple[float, float, float, float], scale: float
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) inclusive pixel window: ``box`` scaled about its centre, kept inside."""
    height, width = int(image_shape[0]), int(image_shape[1])
    x, y, w, h = box
    w, h = max(w, 1.0), max(h, 1.0)
    s = min(scale, (height - 1) / h, (width - 1) / w)
    nw, nh = w * s, h * s
    cx, cy = x + w / 2.0, y + h / 2.0
    x0, y0, x1, y1 = cx - nw / 2.0, cy - nh / 2.0, cx + nw / 2.0, cy + nh / 2.0
    # Shift (never shrink) the window back inside the image.
    if x0 < 0:
        x1, x0 = x1 - x0, 0.0
    if y0 < 0:
        y1, y0 = y1 - y0, 0.0
    if x1 > width - 1:
        x0, x1 = x0 - (x1 - (width - 1)), float(width - 1)
    if y1 > height - 1:
        y0, y1 = y0 - (y1 - (height - 1)), float(height - 1)
    return int(max(x0, 0)), int(max(y0, 0)), int(x1), int(y1)


def pad_crop(image: np.ndarray, box: tuple[float, float, float, float], scale: float) -> np.ndarray:
    """The 80x80 uint8 BGR crop a MiniFASNet of crop ``scale`` expects."""
    import cv2

    x0, y0, x1, y1 = crop_window(image.shape, box, scale)
    patch = image[y0 : y1 + 1, x0 : x1 + 1]
    return cv2.resize(patch, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_LINEAR)


def to_tensor(crops: list[np.ndarray]) -> np.ndarray:
    """Stack 80x80 BGR crops into an [N,3,80,80] float32 batch (values 0..255)."""
    return np.ascontiguousarray(np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32))
