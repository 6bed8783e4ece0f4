"""Head pose from the dense mesh, eye closure, and the five-point fallback."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

NL = "emrtd/specimens/nl_specimen_2006/DG2_face_extracted.jp2"


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-from-face rotation in the conventions of proofing.face.headpose.fit_pose."""
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), math.sin(r), 0], [-math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


@pytest.mark.parametrize("angles", [(0.0, 0.0, 0.0), (25.0, 0.0, 0.0), (-20.0, 10.0, 0.0), (10.0, -15.0, 12.0)])
def test_fit_pose_recovers_a_known_rotation(models_dir: Path, angles: tuple[float, float, float]) -> None:
    from proofing.face.headpose import canonical_mesh, fit_pose

    mesh = canonical_mesh(models_dir / "mediapipe" / "face_landmarker.task")
    cam = mesh @ _rotation(*angles).T
    pts = cam[:, :2] * 12.0 + np.array([320.0, 240.0])
    pts[:, 1] = 480.0 - pts[:, 1]  # camera y up -> image y down
    pose = fit_pose(pts, mesh)
    assert pose.residual < 1e-6
    got = (pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    assert got == pytest.approx(angles, abs=0.5), got


def test_yaw_sign_matches_the_five_point_estimate(models_dir: Path) -> None:
    """Nose towards the image right is positive yaw in both estimates."""
    from proofing.face.headpose import canonical_mesh, fit_pose

    mesh = canonical_mesh(models_dir / "mediapipe" / "face_landmarker.task")
    cam = mesh @ _rotation(20.0, 0.0, 0.0).T
    nose_x, cheeks_x = cam[1, 0], (cam[234, 0] + cam[454, 0]) / 2
    assert nose_x > cheeks_x  # the nose tip (vertex 1) moved to the image right
    assert fit_pose(np.c_[cam[:, 0], -cam[:, 1]], mesh).yaw_deg > 0


def _mediapipe_or_skip() -> None:
    from proofing.liveness import landmarker

    if not landmarker.available():
        pytest.skip("mediapipe or the face_landmarker model is not available")


def test_quality_uses_the_mesh_when_available(shared_data: Path, models_dir: Path) -> None:
    from proofing.face.compare import FaceOptions, analyse_face
    from proofing.face.policy import load_policy

    _mediapipe_or_skip()
    a = analyse_face(shared_data / NL, load_policy())
    assert a.quality is not None and a.quality.pose_source == "mesh"
    assert a.quality.eye_closure is not None and a.quality.eye_closure < 0.5
    assert abs(a.quality.pose.yaw_deg) < 10 and abs(a.quality.pose.roll_deg) < 10  # ICAO frontal portrait
    assert not {"POSE_YAW", "POSE_PITCH", "POSE_ROLL", "EYES_CLOSED"} & set(a.codes)
    b = analyse_face(shared_data / NL, load_policy(), FaceOptions(landmarker=False))
    assert b.quality is not None and b.quality.pose_source == "landmarks5" and b.quality.eye_closure is None


def test_turned_head_and_closed_eyes_give_reason_codes(shared_data: Path, models_dir: Path) -> None:
    """A strict policy turns the measured pose and eye closure into their codes."""
    from dataclasses import replace

    from proofing.face.compare import analyse_face
    from proofing.face.policy import load_policy

    _mediapipe_or_skip()
    pol = load_policy()
    strict = replace(
        pol,
        quality=replace(pol.quality, max_abs_yaw_deg=0.0, max_abs_pitch_deg=0.0, max_abs_roll_deg=0.0, max_eye_closure=0.0),
    )
    a = analyse_face(shared_data / NL, strict)
    assert {"POSE_YAW", "POSE_PITCH", "POSE_ROLL", "EYES_CLOSED"} <= set(a.codes)


def test_pad_build_inputs_are_pad_crops(shared_data: Path, models_dir: Path) -> None:
    """`proofing models build minifasnet_*` calibrates on the PAD stage's own crops."""
    from proofing.cli.models import _model_inputs

    images = sorted((shared_data / "faces" / "deepface_unit").glob("img1*.jpg"))[:3]
    tensors = _model_inputs("minifasnet_v2", "face-anti-spoofing", images)
    assert tensors and all(t.shape == (1, 3, 80, 80) for t in tensors)
