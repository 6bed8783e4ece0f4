"""Model input tensors from a folder of face photos, for building and checking variants.

Quantisation must see what the model sees in service: SFace gets aligned 112x112 crops, dlib's ResNet its 150x150 chips,
YuNet gets whole images resized the detector's way. Images are taken in sorted order and
split deterministically, so a build is reproducible and its record can name its inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from proofing.face.align import align_face
from proofing.face.detect import DetectOptions, _prepare, detect_faces
from proofing.face.dlib_embed import RESNET_ONNX, face_chip
from proofing.face.dlib_onnx import chip_tensor
from proofing.face.embed import _tensor
from proofing.imaging import ImageError, load_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".jp2", ".webp")


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def model_inputs(model: str, task: str, images: list[Path], detect: DetectOptions | None = None) -> list[np.ndarray]:
    """One input tensor per usable image for ``model`` (an embedder or a YuNet detector)."""
    out: list[np.ndarray] = []
    for path in images:
        try:
            image = load_image(path)
        except ImageError:
            continue
        if task == "face-detection":
            out.append(_prepare(image, 640, fixed=model == "yunet")[0])
            continue
        faces = detect_faces(image, detect)
        if not faces:
            continue
        if model == RESNET_ONNX:  # dlib's ResNet sees the chip dlib cuts, not SFace's crop
            out.append(chip_tensor([face_chip(image, faces[0])]))
        else:
            out.append(_tensor(align_face(image, faces[0].landmarks)))
    return out
