"""Optional second embedder: dlib's ResNet (the model behind face_recognition), fused with SFace.

Why a second network: SFace and dlib's ResNet were trained on different data with
different losses, so on one pair their errors are only partly correlated (on the
non-CelebA fitting pairs, r = 0.28 over impostors) and a weighted sum of the two
normalised scores separates better than either (see :mod:`proofing.face.fusion`).

Why not dlib's own detector: its HOG detector missed 20 of CelebA's 533 faces. dlib
only needs a starting box for its 5-point shape predictor, which then finds the eye
corners and the nose base that cut its 150x150 chips; that box is derived from the face
the stage already chose (YuNet's box, which is taller and sits higher than the HOG box
the predictor was trained on). The mapping below was measured on the 84 faces of
deepface_unit and the face_recognition examples that both detectors found (not CelebA):
HOG box centre = YuNet centre + (0.00 w, 0.07 h), side = 1.10 w ~ 0.78 h (sd 0.06-0.09).

Why ONNX: dlib's own CPU kernels take ~75-95 ms per chip here; the same network converted
to ONNX (:mod:`proofing.face.dlib_onnx`, a derived model pinned by sha256 in the manifest,
equal to dlib's descriptor within 4e-7) takes ~4.4 ms, so the face stage can afford it
on every frame, and on the chip's mirror image too: the two descriptors are averaged
(measured on CelebA all pairs, dlib alone: EER 3.92% -> 3.80%, AUC 0.9929 -> 0.9939).
dlib itself still runs the 5-point shape predictor and cuts the 150x150 chip (~2 ms).

Needs the ``dlib`` extra (dlib-bin, prebuilt wheels, and face-recognition-models, whose
weights the registry finds by sha256). Absent: :func:`available` is False and the face
stage runs SFace alone, which its model-version string says.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

import numpy as np

from proofing.face.detect import Face
from proofing.face.dlib_onnx import CHIP_PADDING, CHIP_SIZE, chip_tensor
from proofing.runtime.onnx import get_session

log = logging.getLogger(__name__)

REQUIREMENTS = "dlib-bin>=20.0.1 face-recognition-models>=0.3.0"
RESNET, SHAPES = "dlib_resnet", "dlib_shape5"
#: The ResNet as ONNX, derived from RESNET's file by the registry on first use.
RESNET_ONNX = "dlib_resnet_onnx"

#: YuNet box -> the HOG-like square box dlib's shape predictor expects (see the module doc).
_CENTRE_DY = 0.071  # of the YuNet box height
_SIDE_W, _SIDE_H = 1.097, 0.778  # of the YuNet box width and height; the mean of both is used

#: dlib's objects are not documented as thread-safe; a session's frames are few.
_LOCK = threading.Lock()


_READY: list[bool] = []  # [True] once everything resolved (a failure is looked at again next time)
_LOGGED: set[str] = set()


def available() -> bool:
    """dlib imports, the shape predictor resolves by sha256 and the ONNX ResNet can be
    resolved or derived; a failure is logged (without it the stage runs SFace alone)."""
    if _READY:
        return True
    try:
        _shape_predictor()
        from proofing.runtime.registry import default_registry

        default_registry().resolve(RESNET_ONNX)
    except Exception as e:  # noqa: BLE001 - ImportError, ModelNotFound, a broken wheel: all mean "not here"
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        if why not in _LOGGED:  # once per reason, not once per image
            _LOGGED.add(why)
            log.warning("dlib embedder unavailable, SFace runs alone: %s", why)
        return False
    _READY.append(True)
    return True


@lru_cache(maxsize=1)
def _shape_predictor() -> Any:
    import dlib

    from proofing.runtime.registry import default_registry

    return dlib.shape_predictor(str(default_registry().resolve(SHAPES)))


def dlib_box(face: Face) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the square box dlib's shape predictor starts from."""
    x, y, w, h = face.box
    cx, cy = x + w / 2.0, y + h / 2.0 + _CENTRE_DY * h
    half = (_SIDE_W * w + _SIDE_H * h) / 4.0
    return round(cx - half), round(cy - half), round(cx + half), round(cy + half)


def face_chip(image_bgr: np.ndarray, face: Face) -> np.ndarray:
    """The 150x150 RGB chip dlib's ResNet was trained on, cut where dlib's 5-point shape
    predictor (started from a box derived from ``face``) puts the eye corners and nose."""
    import cv2
    import dlib

    shapes = _shape_predictor()
    left, top, right, bottom = dlib_box(face)
    # Only the box and a margin of one side around it is read (the chip pads by 0.25), so
    # a large photo is not converted whole; the descriptor is the same as on the full image.
    side = right - left
    h, w = image_bgr.shape[:2]
    x0, y0 = max(left - side, 0), max(top - side, 0)
    x1, y1 = min(right + side, w), min(bottom + side, h)
    rgb = np.ascontiguousarray(cv2.cvtColor(image_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2RGB))
    with _LOCK:
        shape = shapes(rgb, dlib.rectangle(left - x0, top - y0, right - x0, bottom - y0))
        return np.asarray(dlib.get_face_chip(rgb, shape, CHIP_SIZE, CHIP_PADDING))


def embed_dlib(
    image_bgr: np.ndarray, face: Face, variant: str = "fp32", threads: int = 1, flip: bool = True
) -> np.ndarray:
    """dlib's 128-d descriptor of ``face`` (mean over the chip and its mirror with ``flip``);
    compare with :func:`dlib_similarity`."""
    chip = face_chip(image_bgr, face)
    chips = [chip, chip[:, ::-1]] if flip else [chip]
    out = get_session(RESNET_ONNX, variant, threads).run(chip_tensor(chips))[0]
    return np.asarray(out.mean(axis=0), dtype=np.float32)


def dlib_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """1 - Euclidean distance: the space dlib's metric loss trained (same person below 0.6)."""
    return 1.0 - float(np.linalg.norm(a - b))
