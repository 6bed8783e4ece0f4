"""The project's own session samples: a data page, a signed chip and a selfie burst of one
person, made on the spot from a public-domain portrait (scikit-image's astronaut).

The demo and the pipeline tests need a complete, consistent session on any fresh machine,
with no download and no real person's passport: the page is rendered in OCR-B, the chip is
signed by the project's test PKI with the same portrait in DG2, and the selfie frames are
that portrait moved, rescaled and relit as a webcam would show it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A fictitious Utopia passport (ICAO's specimen state) for the demo holder.
DEMO_MRZ_ARGS = {"surname": "SPECIMEN", "given_names": "ASTRONAUT", "number": "D23145890",
                 "birth": "650919", "sex": "F", "expiry": "341231"}
#: Seed of the rendered page: one whose layout has a portrait box.
PAGE_SEED = 9303
#: The placeholder's fill colour in proofing.mrz.synth (RGB).
_PLACEHOLDER_RGB = (205, 205, 200)


@dataclass(frozen=True)
class SessionSamples:
    mrz_lines: list[str]
    portrait_jpeg: bytes
    page: np.ndarray  # BGR
    selfie: list[np.ndarray]  # BGR frames


def demo_mrz() -> list[str]:
    from proofing.nfc.testpki import td3_mrz

    return td3_mrz(**DEMO_MRZ_ARGS)


def astronaut_bgr() -> np.ndarray:
    """scikit-image's astronaut (public domain, NASA), 512x512 BGR.

    Read straight from the PNG the package ships: ``skimage.data.astronaut()`` goes through
    ``skimage.io`` and costs the demo about a second of imports.
    """
    import importlib.resources

    import cv2

    png = importlib.resources.files("skimage") / "data" / "astronaut.png"
    image = cv2.imread(str(png), cv2.IMREAD_COLOR) if png.is_file() else None
    if image is None:
        from skimage import data as skdata

        image = np.ascontiguousarray(skdata.astronaut()[:, :, ::-1])
    return image


#: The face in the astronaut image (rows, columns): the chip portrait's crop.
PORTRAIT_CROP = (slice(10, 250), slice(130, 320))


def portrait_jpeg(image: np.ndarray | None = None) -> bytes:
    """The chip portrait (JPEG, 190x240): the astronaut's head and shoulders."""
    import cv2

    src = astronaut_bgr() if image is None else image
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(src[PORTRAIT_CROP]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def decode(jpeg: bytes) -> np.ndarray:
    import cv2

    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("portrait does not decode")
    return image


def render_page(lines: list[str], portrait: np.ndarray, seed: int = PAGE_SEED) -> np.ndarray:
    """A TD3 data page (BGR, about 300 dpi) with ``portrait`` printed in its photo box."""
    import cv2

    from proofing.mrz.synth import render_document

    rng = np.random.default_rng(seed)
    rgb, params = render_document(lines, "TD3", rng, ppm=11.8)
    page = np.ascontiguousarray(rgb[:, :, ::-1])
    mask = np.all(rgb == np.array(_PLACEHOLDER_RGB, np.uint8), axis=2)
    ys, xs = np.nonzero(mask)
    if params.get("portrait") and len(xs) > 100:
        x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    else:  # no photo box in this layout: print the photo at the usual place
        h, w = page.shape[:2]
        x0, y0 = int(0.035 * w), int(0.12 * h)
        x1, y1 = x0 + int(0.26 * w), y0 + int(0.26 * w * 1.3)
    page[y0:y1, x0:x1] = cv2.resize(portrait, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return page


def selfie_burst(n: int = 5, seed: int = 7, size: tuple[int, int] = (640, 480),
                 full: np.ndarray | None = None) -> list[np.ndarray]:
    """``n`` webcam-like frames of the astronaut: a wider view than the chip portrait,
    slightly rotated, rescaled and relit, with small motion and sensor noise between frames."""
    import cv2

    full = astronaut_bgr() if full is None else full
    rng = np.random.default_rng(seed)
    w, h = size
    face_centre = (225.0, 130.0)  # the face in the 512x512 image
    frames = []
    for i in range(n):
        angle = 4.0 + 0.6 * float(np.sin(i))  # small head movement
        scale = 1.7 + 0.02 * i
        m = cv2.getRotationMatrix2D(face_centre, angle, scale)
        m[0, 2] += w / 2 - face_centre[0] + float(rng.uniform(-3, 3))
        m[1, 2] += h * 0.42 - face_centre[1] + float(rng.uniform(-3, 3))
        frame = cv2.warpAffine(full, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        gain = np.array([1.08, 1.0, 0.92], np.float32)  # warmer indoor light
        relit = frame.astype(np.float32) * gain * 0.95 + 12.0
        relit += rng.normal(0.0, 3.0, relit.shape).astype(np.float32)
        frames.append(np.clip(relit, 0, 255).astype(np.uint8))
    return frames


def make_samples(n_selfie: int = 5) -> SessionSamples:
    full = astronaut_bgr()
    jpeg = portrait_jpeg(full)
    lines = demo_mrz()
    return SessionSamples(lines, jpeg, render_page(lines, decode(jpeg)), selfie_burst(n_selfie, full=full))
