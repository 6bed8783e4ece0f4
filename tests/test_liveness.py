"""Liveness stage: shared spoof samples, NUAA bursts, bad inputs, metrics, challenge, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from proofing.liveness import (
    ATTACK,
    BONA_FIDE,
    RETAKE,
    SCHEMA,
    FrameResult,
    LivenessOptions,
    check_challenge,
    check_liveness,
    load_policy,
    pad_report,
)
from proofing.liveness.burst import aggregate
from proofing.liveness.inputs import read_inputs
from proofing.liveness.result import LivenessResult

FAST = LivenessOptions(landmarker=False)


@pytest.fixture(scope="module")
def silent(shared_data: Path, models_dir: Path) -> dict[str, np.ndarray]:
    from proofing.imaging import load_image

    folder = shared_data / "pad" / "silent_face"
    with open(folder / "list.csv") as f:
        return {r["label"]: load_image(folder / r["path"]) for r in csv.DictReader(f)}


@pytest.mark.shared
@pytest.mark.parametrize("label", ["print", "replay", "bona_fide"])
def test_silent_face_samples(silent: dict[str, np.ndarray], label: str) -> None:
    result = check_liveness([silent[label]], opts=FAST)
    assert result.verdict == (BONA_FIDE if label == "bona_fide" else ATTACK), result.to_dict()
    assert "SINGLE_FRAME" in result.observations
    assert result.frames[0].timings_ms["pad"] > 0
    assert set(result.models) >= {"minifasnet_v2", "minifasnet_v1se", "detector"}


@pytest.mark.shared
def test_nuaa_bursts(shared_data: Path, models_dir: Path) -> None:
    from proofing.imaging import load_image

    root = shared_data / "pad" / "nuaa"
    with open(root / "list.csv") as f:
        rows = list(csv.DictReader(f))
    sessions: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        sessions.setdefault(r["session"], []).append(r)
    # Two bona fide and two print bursts of different subjects.
    picked = [s for s in sessions if "bona_fide" in s][::25][:2] + [s for s in sessions if "print" in s][::25][:2]
    for sid in picked:
        frames = [load_image(root / r["path"]) for r in sessions[sid]]
        result = check_liveness(frames, opts=FAST)
        expected = BONA_FIDE if sessions[sid][0]["label"] == "bona_fide" else ATTACK
        assert result.verdict == expected, (sid, result.score, result.reason_codes)
        assert len(result.frames) == len(frames)


def test_no_frames() -> None:
    r = check_liveness([], opts=FAST)
    assert r.verdict == RETAKE and r.reason_codes == ("NO_FRAMES",)


def test_frames_of_different_sizes() -> None:
    r = check_liveness([np.zeros((480, 640, 3), np.uint8), np.zeros((240, 320, 3), np.uint8)], opts=FAST)
    assert r.verdict == RETAKE and "FRAME_SIZE_MISMATCH" in r.reason_codes


@pytest.mark.shared
def test_frames_without_a_face(models_dir: Path) -> None:
    grey = np.full((480, 640, 3), 128, np.uint8)
    r = check_liveness([grey, grey.copy()], opts=FAST)
    assert r.verdict == RETAKE
    assert r.reason_codes[:2] == ("TOO_FEW_USABLE_FRAMES", "NO_FACE")
    assert json.loads(json.dumps(r.to_dict()))["schema"] == SCHEMA


def test_unusable_pixels() -> None:
    r = check_liveness([np.zeros((4, 4, 3), np.float32)], opts=FAST)
    assert r.verdict == RETAKE and "IMAGE_UNREADABLE" in r.reason_codes


def test_video_that_cannot_be_decoded(tmp_path: Path) -> None:
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00" * 2048)
    frames, codes = read_inputs([bad, tmp_path / "missing.avi"], 10, 3.0)
    assert frames == [] and codes == ["VIDEO_UNREADABLE", "VIDEO_UNREADABLE"]
    r = check_liveness(frames, opts=FAST)
    assert r.verdict == RETAKE


def test_video_is_sampled(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(40):
        writer.write(np.full((48, 64, 3), i * 5, np.uint8))
    writer.release()
    frames, codes = read_inputs([path], 5, 2.0)
    assert codes == [] and len(frames) == 5
    assert frames[0].shape == (48, 64, 3)


def test_one_odd_frame_does_not_decide() -> None:
    policy = load_policy()
    assert aggregate([0.9, 0.92, 0.88, 0.95, 0.01], policy) > policy.threshold
    assert aggregate([0.02, 0.05, 0.01, 0.03, 0.99], policy) < policy.threshold


def test_threshold_comes_from_the_policy_file(tmp_path: Path) -> None:
    text = load_policy().path.read_text()  # type: ignore[union-attr]
    custom = tmp_path / "liveness.toml"
    custom.write_text(text.replace("threshold = ", "threshold = 0.123 #", 1))
    assert load_policy(custom).threshold == pytest.approx(0.123)


def test_iso_30107_3_metrics() -> None:
    labels = ["bona_fide"] * 4 + ["print"] * 2 + ["replay"] * 2
    scores: list[float | None] = [0.9, 0.8, 0.7, 0.2, 0.1, 0.6, 0.05, None]
    r = pad_report(labels, scores, 0.5)
    assert r.bpcer == pytest.approx(0.25)
    assert r.apcer_per_species == {"print": 0.5, "replay": 0.0}
    assert r.apcer == 0.5 and r.acer == pytest.approx(0.375)
    assert r.unjudged == {"bona_fide": 0, "print": 0, "replay": 1}
    assert r.bpcer_at_apcer_5 == pytest.approx(0.25)  # threshold just above 0.6
    assert r.apcer_at_bpcer_5 == pytest.approx(0.5)  # threshold 0.2 keeps every bona fide


def _frame(i: int, yaw: float, blink: float | None) -> FrameResult:
    return FrameResult(index=i, usable=True, codes=(), score=0.9, blink=blink, yaw_deg=yaw)


def _burst(frames: list[FrameResult]) -> LivenessResult:
    return LivenessResult(BONA_FIDE, 0.9, 0.9, 0.5, (), (), tuple(frames), (), None, {}, {})


def test_active_challenge() -> None:
    frames = [_frame(0, 0, 0.1), _frame(1, 25, 0.1), _frame(2, 0, 0.8), _frame(3, -22, 0.1)]
    ok = check_challenge(_burst(frames), ["turn_left", "blink", "turn_right"])
    assert ok.passed and ok.seen_at == (1, 2, 3)
    wrong_order = check_challenge(_burst(frames), ["turn_right", "turn_left"])
    assert not wrong_order.passed and wrong_order.reason_codes == ("CHALLENGE_TURN_LEFT_MISSING",)
    no_mesh = [_frame(i, 0, None) for i in range(3)]
    assert check_challenge(_burst(no_mesh), ["blink"]).reason_codes == ("CHALLENGE_BLINK_UNMEASURED",)
    with pytest.raises(ValueError):
        check_challenge(_burst(frames), ["smile"])


@pytest.mark.shared
def test_cli_check_and_evaluate(shared_data: Path, models_dir: Path) -> None:
    from typer.testing import CliRunner

    from proofing.cli import app

    runner = CliRunner()
    sample = shared_data / "pad" / "silent_face" / "image_F2.jpg"
    res = runner.invoke(app, ["liveness", "check", str(sample), "--json", "--no-landmarker"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["schema"] == SCHEMA and payload["verdict"] == ATTACK
    res = runner.invoke(
        app, ["liveness", "evaluate", str(shared_data / "pad" / "silent_face" / "list.csv"), "--json", "--no-landmarker"]
    )
    assert res.exit_code == 0, res.output
    ev = json.loads(res.stdout)
    assert ev["session"]["apcer"] == 0 and ev["session"]["bpcer"] == 0
    assert ev["session"]["apcer_per_species"] == {"print": 0.0, "replay": 0.0}
