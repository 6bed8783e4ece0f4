"""Load untrusted images safely: bounded bytes, bounded pixels, every format to 8-bit BGR.

Every stage that takes a picture from outside goes through :func:`load_image`, so a
truncated file, a decompression bomb, a CMYK JPEG, a 16-bit PNG or an EXIF-rotated phone
photo is handled once, with a reason code instead of a traceback.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

#: Refuse files larger than this before decoding anything.
MAX_BYTES = 64 * 1024 * 1024
#: Refuse images with more pixels than this (a 50 MP photo is accepted and downscaled).
MAX_PIXELS = 80_000_000
#: Images are downscaled so that the longer side is at most this before any stage sees them.
WORKING_MAX_SIDE = 4096


class ImageError(ValueError):
    """An image that cannot be used; ``code`` is a reason code, the message is for a person."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def _read_bytes(source: str | Path | bytes) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as e:
            raise ImageError("IMAGE_UNREADABLE", f"{path}: {e.strerror or e}") from None
        if size > MAX_BYTES:
            raise ImageError("IMAGE_TOO_LARGE", f"{path}: {size} bytes exceeds {MAX_BYTES}")
        data = path.read_bytes()
    if not data:
        raise ImageError("IMAGE_EMPTY", "the file is empty")
    if len(data) > MAX_BYTES:
        raise ImageError("IMAGE_TOO_LARGE", f"{len(data)} bytes exceeds {MAX_BYTES}")
    return data


_EXIF_ORIENTATION = 0x0112


def load_image(source: str | Path | bytes, *, max_side: int = WORKING_MAX_SIDE) -> np.ndarray:
    """Decode to an 8-bit BGR array (H, W, 3), EXIF orientation applied, downscaled to max_side."""
    from PIL import Image, ImageOps

    data = _read_bytes(source)
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageError("IMAGE_TOO_LARGE", f"{w}x{h} pixels exceeds {MAX_PIXELS}")
            if max(w, h) > 2 * max_side:
                # Let the decoder skip detail we would throw away (JPEG DCT scaling).
                im.draft("RGB", (w // 2, h // 2))
            im.load()
            # exif_transpose copies the image even when there is nothing to turn.
            turned = ImageOps.exif_transpose(im) if im.getexif().get(_EXIF_ORIENTATION, 1) != 1 else im
            arr = _to_bgr8(turned)
    except ImageError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageError("IMAGE_TOO_LARGE", str(e)) from None
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError) as e:
        raise ImageError("IMAGE_UNREADABLE", f"not a decodable image: {e}") from None
    return _limit_side(arr, max_side)


def _to_bgr8(im: object) -> np.ndarray:
    from PIL import Image

    assert isinstance(im, Image.Image)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        peak = a.max() if a.size and a.max() > 255 else 255.0
        grey = np.clip(a * (255.0 / peak), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if im.mode == "RGBA" or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    import cv2

    if im.mode == "L":
        return cv2.cvtColor(np.asarray(im, dtype=np.uint8), cv2.COLOR_GRAY2BGR)
    rgb = np.asarray(im if im.mode == "RGB" else im.convert("RGB"), dtype=np.uint8)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _limit_side(arr: np.ndarray, max_side: int) -> np.ndarray:
    import cv2

    h, w = arr.shape[:2]
    if max(h, w) <= max_side:
        return arr
    scale = max_side / max(h, w)
    return cv2.resize(arr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Accept grey, BGR or BGRA arrays (as from cv2) and return 8-bit BGR."""
    import cv2

    if image.dtype != np.uint8:
        raise ImageError("IMAGE_UNREADABLE", f"expected 8-bit pixels, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ImageError("IMAGE_UNREADABLE", f"unsupported array shape {image.shape}")
