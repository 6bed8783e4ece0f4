"""Screen-recapture cues on one frame: moire peaks, specular glare, a display's edges.

A face filmed off a display carries the display's pixel grid (beating with the camera's
sensor grid: isolated peaks in the spectrum of the face crop), glare from the glass
(large near-white, colourless patches on the skin) and often the bezel (long straight
edges around the head). The measures are plain signal processing; whether they help is
for the benchmark to show, and until it does they only report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from proofing.liveness.crops import crop_window

#: Side of the square the face crop is resampled to for the spectrum.
_FFT_SIDE = 128
#: Longer side of the face's surroundings when looking for straight edges.
_EDGE_SIDE = 192


@dataclass(frozen=True)
class ScreenCues:
    #: Strongest mid/high-frequency spectral peak over the band's median magnitude.
    moire_peak: float
    #: Fraction of face pixels that are near-white and colourless (glare).
    specular_fraction: float
    #: Longest straight edge outside the face, in face widths.
    edge_length_ratio: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


def moire_peak(grey_face: np.ndarray) -> float:
    import cv2

    g = cv2.resize(grey_face, (_FFT_SIDE, _FFT_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    g -= g.mean()
    win = np.outer(np.hanning(_FFT_SIDE), np.hanning(_FFT_SIDE)).astype(np.float32)
    mag = np.abs(np.fft.fftshift(np.fft.fft2(g * win)))
    yy, xx = np.mgrid[:_FFT_SIDE, :_FFT_SIDE] - _FFT_SIDE // 2
    r = np.hypot(yy, xx) / (_FFT_SIDE / 2)
    band = mag[(r > 0.25) & (r < 0.95)]
    return float(band.max() / max(float(np.median(band)), 1e-6)) if band.size else 0.0


def specular_fraction(face_bgr: np.ndarray) -> float:
    import cv2

    hsv = cv2.cvtColor(face_bgr, cv2.COLOR_BGR2HSV)
    return float(((hsv[:, :, 2] >= 240) & (hsv[:, :, 1] <= 30)).mean())


def edge_length_ratio(image: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Longest straight line in the x3 surroundings of the face, outside the face box."""
    import cv2

    x0, y0, x1, y1 = crop_window(image.shape, box, 3.0)
    region = cv2.cvtColor(image[y0 : y1 + 1, x0 : x1 + 1], cv2.COLOR_BGR2GRAY)
    # Work at a fixed scale: cost and the Hough parameters then do not depend on resolution.
    k = _EDGE_SIDE / max(region.shape)
    region = cv2.resize(region, (max(1, round(region.shape[1] * k)), max(1, round(region.shape[0] * k))), interpolation=cv2.INTER_AREA)
    edges = cv2.Canny(region, 60, 160)
    fx, fy, fw, fh = (int(round(v * k)) for v in (box[0] - x0, box[1] - y0, box[2], box[3]))
    edges[max(fy, 0) : max(fy + fh, 0), max(fx, 0) : max(fx + fw, 0)] = 0
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, 30, minLineLength=max(int(fw * 0.5), 10), maxLineGap=4)
    seg = np.zeros((0, 4)) if lines is None else np.asarray(lines).reshape(-1, 4).astype(np.float64)
    if not len(seg):
        return 0.0
    return float(np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]).max() / max(fw, 1))


def screen_cues(image: np.ndarray, box: tuple[float, float, float, float]) -> ScreenCues:
    import cv2

    x0, y0, x1, y1 = crop_window(image.shape, box, 1.0)
    face = image[y0 : y1 + 1, x0 : x1 + 1]
    return ScreenCues(
        moire_peak=moire_peak(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)),
        specular_fraction=specular_fraction(face),
        edge_length_ratio=edge_length_ratio(image, box),
    )
