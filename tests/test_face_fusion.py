"""SFace + dlib score fusion: the fit, the mapping, and the face stage running it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from proofing.face.detect import Face
from proofing.face.fusion import FusionParams, fit_fusion

NL = "emrtd/specimens/nl_specimen_2006/DG2_face_extracted.jp2"
NL_PAGE = "mrz/images/98_pass-nld.jpg"


def test_fit_gives_equal_weights_to_equal_independent_systems() -> None:
    rng = np.random.default_rng(0)
    same = np.r_[np.ones(4000, bool), np.zeros(4000, bool)]
    a = np.where(same, 0.6, 0.1) + rng.normal(0, 0.1, same.size)
    b = np.where(same, 3.0, 1.0) + rng.normal(0, 0.4, same.size)  # other scale, same separation
    p = fit_fusion(a, b, same)
    assert p.weight == pytest.approx(0.5, abs=0.03)
    assert p.sface_mean == pytest.approx(0.1, abs=0.01)
    assert p.second_std == pytest.approx(0.4, abs=0.02)


def test_fit_ignores_a_useless_second_system() -> None:
    rng = np.random.default_rng(1)
    same = np.r_[np.ones(3000, bool), np.zeros(3000, bool)]
    a = np.where(same, 0.6, 0.1) + rng.normal(0, 0.1, same.size)
    b = rng.normal(0, 1, same.size)
    assert fit_fusion(a, b, same).weight < 0.05


def test_fused_score_lives_on_the_sface_scale() -> None:
    p = FusionParams(weight=0.3, sface_mean=0.13, sface_std=0.09, second_mean=0.12, second_std=0.08)
    assert p.fuse(0.13, 0.12) == pytest.approx(0.13)  # an average stranger on both
    assert p.fuse(0.13 + 0.09, 0.12 + 0.08) == pytest.approx(0.13 + 0.09)  # one sd above on both
    assert p.tag() == "w0.300"


def test_dlib_box_is_square_and_lower_than_yunets() -> None:
    from proofing.face.dlib_embed import dlib_box

    face = Face(box=(100.0, 100.0, 70.0, 100.0), landmarks=np.zeros((5, 2), np.float32))
    left, top, right, bottom = dlib_box(face)
    assert right - left == pytest.approx(bottom - top, abs=1)
    assert (top + bottom) / 2 > 150  # the HOG box sits lower than YuNet's (which includes the forehead)


@pytest.mark.shared
def test_stage_fuses_dlib_and_says_so(models_dir: Path, shared_data: Path) -> None:
    from proofing.face.compare import (
        FaceOptions,
        analyse_face,
        compare_faces,
        model_versions,
        similarity,
        threshold_key,
    )
    from proofing.face.dlib_embed import available
    from proofing.face.policy import load_policy

    if not available():
        pytest.skip("dlib extra not installed")
    policy = load_policy()
    opts = FaceOptions(landmarker=False)
    assert "+dlib_resnet_onnx:" in model_versions(opts)["embedder"]
    assert threshold_key(opts) == policy.calibrated_for  # the shipped thresholds fit the default
    result = compare_faces(shared_data / NL, shared_data / NL_PAGE, policy, opts)
    assert result.is_match, result.to_dict()
    assert "embed_dlib" in result.probe.timings_ms
    assert "THRESHOLD_NOT_CALIBRATED_FOR_MODEL" not in result.reason_codes
    alone = replace(opts, second_embedder=None)
    assert "dlib" not in model_versions(alone)["embedder"]
    a, b = analyse_face(shared_data / NL, policy, alone), analyse_face(shared_data / NL_PAGE, policy, alone)
    assert a.second_embedding is None
    s = similarity(a, b)
    assert s is not None and s != result.similarity
    assert FaceOptions.from_choice({}, fast=True).second_embedder is None


def test_unknown_second_embedder_is_refused(models_dir: Path) -> None:
    from proofing.face.compare import FaceOptions, model_versions

    with pytest.raises(ValueError, match="unknown second embedder"):
        model_versions(FaceOptions(second_embedder="arcface"))


def test_setting_turns_the_second_embedder_off() -> None:
    from proofing.face.compare import FaceOptions
    from proofing.settings import Settings

    assert FaceOptions.from_settings(Settings()).second_embedder == "dlib"
    assert FaceOptions.from_settings(Settings(face_second_embedder="none")).second_embedder is None


@pytest.mark.shared
def test_accurate_mode_runs_its_own_stage_with_its_own_thresholds(
    models_dir: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PROOFING_FACE_MODE=accurate switches the stage (two detectors, every alignment) and
    the thresholds file together, for the face stage and for the session decision."""
    import tomllib

    from proofing.face.compare import FaceOptions, compare_faces, threshold_key
    from proofing.face.dlib_embed import available
    from proofing.face.policy import load_policy, policy_path
    from proofing.policy import load_policy as load_session_policy
    from proofing.settings import get_settings

    if not available():
        pytest.skip("dlib extra not installed")
    monkeypatch.setenv("PROOFING_FACE_MODE", "accurate")
    opts = replace(FaceOptions.from_settings(get_settings()), landmarker=False)
    assert (opts.ensemble_detector, opts.keep_coarse_alignment, opts.detect.side) == ("yunet", True, 640)
    policy = load_policy()
    assert policy.path == policy_path("accurate") != policy_path("fast")
    assert threshold_key(opts) == policy.calibrated_for != load_policy(policy_path("fast")).calibrated_for
    result = compare_faces(shared_data / NL, shared_data / NL_PAGE, policy, opts)
    assert result.is_match and "THRESHOLD_NOT_CALIBRATED_FOR_MODEL" not in result.reason_codes
    assert result.threshold == policy.thresholds["fmr_1e-3"]
    session = load_session_policy()
    accurate = tomllib.loads(policy_path("accurate").read_text())["match"]["thresholds"]
    assert session.thresholds.face_accept == pytest.approx(accurate["fmr_1e-3"])
    assert "face_thresholds_accurate.toml" in session.components
    monkeypatch.setenv("PROOFING_FACE_MODE", "fastest")
    with pytest.raises(ValueError, match="unknown face mode"):
        FaceOptions.from_settings(get_settings())
