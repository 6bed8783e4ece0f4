"""Head pose and eye closure from MediaPipe's 478-point face mesh.

Five YuNet points give only a coarse pose (the nose depth has to be assumed). The dense
mesh (:mod:`proofing.liveness.landmarker`, reused here, not duplicated) gives hundreds of
points whose 3D positions on a canonical face are known: the canonical mesh that
MediaPipe ships inside the same ``face_landmarker.task`` bundle. Fitting a scaled
rotation that maps that canonical face onto the observed 2D points (weak perspective,
least squares over all 468 mesh vertices) gives yaw, pitch and roll without assumed
constants. Eye closure is the FaceLandmarker's own eyeBlink blendshapes.

Everything here is optional: without mediapipe or the model the face stage keeps the
five-point estimate (:func:`proofing.face.quality.estimate_pose`).
"""

from __future__ import annotations

import math
import struct
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

#: Member of the .task bundle holding the canonical mesh (a GeometryPipelineMetadata proto).
_GEOMETRY_MEMBER = "geometry_pipeline_metadata_landmarks.binarypb"
#: The mesh has 468 vertices; the landmarker adds 10 iris points after them.
MESH_VERTICES = 468


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(buf: bytes) -> list[tuple[int, bytes | int]]:
    """Top-level (field number, value) pairs of a protobuf message (wire format only)."""
    out: list[tuple[int, bytes | int]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
            out.append((number, v))
        elif wire == 2:
            n, i = _varint(buf, i)
            out.append((number, buf[i : i + n]))
            i += n
        elif wire == 5:
            out.append((number, buf[i : i + 4]))
            i += 4
        elif wire == 1:
            out.append((number, buf[i : i + 8]))
            i += 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


@lru_cache(maxsize=2)
def canonical_mesh(task_path: Path) -> np.ndarray:
    """(468, 3) canonical face vertices (cm; x to the subject's left, y up, z to the camera).

    Read from the bundle rather than copied into the code, so the pose always matches the
    landmarker model in use. GeometryPipelineMetadata.canonical_mesh (field 1) is a Mesh3d
    whose vertex_buffer (field 3) holds x, y, z, u, v per vertex.
    """
    with zipfile.ZipFile(task_path) as z:
        meta = z.read(_GEOMETRY_MEMBER)
    mesh = next(v for n, v in _fields(meta) if n == 1)
    assert isinstance(mesh, bytes)
    floats: list[float] = []
    for n, v in _fields(mesh):
        if n != 3 or isinstance(v, int):
            continue
        if len(v) == 4:
            floats.append(struct.unpack("<f", v)[0])
        else:  # packed encoding
            floats.extend(np.frombuffer(v, dtype="<f4").tolist())
    verts = np.asarray(floats, dtype=np.float64).reshape(-1, 5)[:, :3]
    if verts.shape[0] != MESH_VERTICES:
        raise ValueError(f"{task_path}: canonical mesh has {verts.shape[0]} vertices, expected {MESH_VERTICES}")
    return verts


@dataclass(frozen=True)
class MeshPose:
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    #: RMS residual of the fit in units of the fitted face scale: large when the mesh is
    #: not a face seen under a rigid rotation (a bad mesh), so the pose should not be used.
    residual: float


def fit_pose(points: np.ndarray, canonical: np.ndarray) -> MeshPose:
    """Weak-perspective fit of ``canonical`` (N,3) onto image ``points`` (N,2, y down).

    Angle conventions follow :func:`proofing.face.quality.estimate_pose`: yaw > 0 when the
    nose points to the image right, pitch > 0 when the face looks down, roll is the angle
    of the line from the subject's right eye to the left eye in the image.
    """
    p = np.asarray(points, dtype=np.float64)[: len(canonical)].copy()
    p[:, 1] *= -1.0  # image y down -> canonical y up
    x = canonical - canonical.mean(axis=0)
    p = p - p.mean(axis=0)
    m, *_ = np.linalg.lstsq(x, p, rcond=None)  # (3, 2): p ~ x @ m
    a = m.T  # (2, 3): rows are s*r1, s*r2
    u, sig, vt = np.linalg.svd(a, full_matrices=False)
    scale = float(sig.mean())
    r12 = u @ vt  # closest pair of orthonormal rows
    r3 = np.cross(r12[0], r12[1])
    rot = np.vstack([r12, r3])
    resid = p - scale * x @ r12.T
    residual = float(np.sqrt((resid**2).sum(axis=1).mean()) / max(scale, 1e-9))
    # rot maps canonical axes to camera axes; decomposed as Rz(roll) Rx(pitch) Ry(yaw):
    # turning about the neck first, then nodding, then tilting in the image plane.
    yaw = math.degrees(math.atan2(-rot[2, 0], rot[2, 2]))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, rot[2, 1]))))
    roll = math.degrees(math.atan2(rot[0, 1], rot[1, 1]))
    return MeshPose(yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll, residual=residual)


@dataclass(frozen=True)
class MeshQuality:
    pose: MeshPose
    #: The less-closed eye's eyeBlink blendshape (0 open .. 1 closed): both eyes must be
    #: closed for the face to count as eyes-closed.
    eye_closure: float


def _crop_box(box: tuple[float, float, float, float], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The face box doubled about its centre, inside the image: the landmarker's own face
    detector needs context around the face, and the crop makes sure the mesh is of the
    face the detector chose, not of another person in the picture."""
    x, y, w, h = box
    cx, cy, side = x + w / 2.0, y + h / 2.0, max(w, h) * 2.0
    x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    x1, y1 = min(shape[1], int(cx + side / 2)), min(shape[0], int(cy + side / 2))
    return x0, y0, x1, y1


def mesh_quality(image: np.ndarray, box: tuple[float, float, float, float]) -> MeshQuality | None:
    """Pose and eye closure of the face in ``box``, or None when the landmarker is not
    installed, its model is missing, or it finds no face there."""
    from proofing.liveness import landmarker

    if not landmarker.available():
        return None
    from proofing.runtime.registry import ModelError, default_registry

    try:
        canonical = canonical_mesh(default_registry().resolve("face_landmarker"))
    except (ModelError, OSError, KeyError, ValueError, StopIteration):
        return None
    x0, y0, x1, y1 = _crop_box(box, image.shape)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    dense = landmarker.dense_face(np.ascontiguousarray(image[y0:y1, x0:x1]))
    if dense is None:
        return None
    pose = fit_pose(dense.points[:MESH_VERTICES], canonical)
    return MeshQuality(pose=pose, eye_closure=float(dense.blink))
