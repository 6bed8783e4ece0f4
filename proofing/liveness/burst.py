"""Session verdict over a webcam burst: gate frames, score them, aggregate, add cues.

One odd frame must not decide a session (a motion-blurred frame can score low, a lucky
angle of a photo high), so per-frame scores are combined robustly: a trimmed mean
(or the median) over the frames that passed quality gating. Frames that fail gating ask
for a retake; they never count as attack evidence. Temporal and screen cues are always
measured and reported; only those the policy enables (because the benchmark showed
they help) can veto a session, by capping its score at ``veto_cap``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from proofing.face.detect import DetectOptions
from proofing.imaging import ImageError, as_bgr
from proofing.liveness import landmarker as lmk
from proofing.liveness import temporal
from proofing.liveness.frames import FrameCheck, check_frame
from proofing.liveness.pad import PadOptions, fuse, model_scores
from proofing.liveness.policy import LivenessPolicy, load_policy
from proofing.liveness.result import (
    ATTACK,
    BONA_FIDE,
    RETAKE,
    CueResult,
    FrameResult,
    LivenessResult,
)
from proofing.liveness.screen import screen_cues


@dataclass(frozen=True)
class LivenessOptions:
    detect: DetectOptions = field(default_factory=DetectOptions)
    variant: str = "fp32"
    threads: int = 1
    #: Run MediaPipe for blinks and dense landmarks: None = as the policy says.
    landmarker: bool | None = None
    #: Measure the screen cues (cheap; they decide only where the policy enables them).
    screen: bool = True


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def aggregate(scores: Sequence[float], policy: LivenessPolicy) -> float:
    """Trimmed mean (``trim_fraction`` off each end) or median of per-frame scores."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if policy.aggregate == "median":
        return float(np.median(s))
    k = int(len(s) * policy.trim_fraction)
    kept = s[k : len(s) - k] if len(s) - 2 * k >= 1 else s
    return float(kept.mean())


def pad_options(policy: LivenessPolicy, opts: LivenessOptions) -> PadOptions:
    return PadOptions(models=policy.models, weights=policy.weights, variant=opts.variant, threads=opts.threads)


def _cue(name: str, value: float | None, limit: float, enabled: bool, above: bool, code: str) -> CueResult:
    fired = value is not None and (value > limit if above else value < limit)
    return CueResult(name, value, limit, enabled and value is not None, bool(fired), code)


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def _cues(
    frames: list[FrameResult], checks: list[FrameCheck], dense: list[lmk.DenseFace | None], policy: LivenessPolicy
) -> tuple[list[CueResult], dict[str, object]]:
    t, s = policy.temporal, policy.screen
    faces = [c.face for c in checks if c.face is not None]
    yaws = [f.yaw_deg for f in frames if f.yaw_deg is not None]
    ev = temporal.gather(faces, dense, yaws)
    blink = temporal.blinked(dense, float(t["blink_closed"]), float(t["blink_open"]))
    screens = [f.screen for f in frames if f.screen is not None]
    cues = [
        # A blink is positive evidence: the cue "fires" (vetoes, when enabled) if none is seen.
        _cue("blink", None if blink is None else float(blink), 0.5, bool(t["blink_enabled"]), False, "NO_BLINK"),
        _cue("scale_stability", ev.scale_cv, float(t["max_scale_cv"]), bool(t["scale_enabled"]), True, "FACE_SCALE_UNSTABLE"),
        _cue("nonrigid_motion", ev.nonplanar_residual, float(t["min_nonplanar_residual"]), bool(t["motion_enabled"]), False, "NO_NONRIGID_MOTION"),
        _cue("screen_moire", _median([c["moire_peak"] for c in screens]), float(s["max_moire_peak"]), bool(s["moire_enabled"]), True, "SCREEN_MOIRE"),
        _cue("screen_specular", _median([c["specular_fraction"] for c in screens]), float(s["max_specular_fraction"]), bool(s["specular_enabled"]), True, "SCREEN_SPECULAR"),
        _cue("screen_edges", _median([c["edge_length_ratio"] for c in screens]), float(s["max_edge_length_ratio"]), bool(s["edges_enabled"]), True, "SCREEN_EDGES"),
    ]
    info = ev.to_dict()
    info["blink_detected"] = blink
    return cues, info


def _frame(
    index: int, check: FrameCheck, scores: np.ndarray | None, fused: float | None, models: Sequence[str],
    dense: lmk.DenseFace | None, screen: dict[str, float] | None, timings: dict[str, float],
) -> FrameResult:
    q = check.quality
    return FrameResult(
        index=index,
        usable=check.usable,
        codes=check.codes,
        score=fused,
        model_scores={} if scores is None else {m: float(v) for m, v in zip(models, scores, strict=True)},
        box=check.face.box if check.face else None,
        rotation=check.rotation,
        faces_found=check.faces_found,
        quality=q.to_dict() if q else None,
        screen=screen,
        blink=dense.blink if dense else None,
        yaw_deg=q.pose.yaw_deg if q else None,
        timings_ms=timings,
    )


def _retake(reasons: list[str], frames: list[FrameResult], policy: LivenessPolicy, models: dict[str, str], t0: float) -> LivenessResult:
    return LivenessResult(
        verdict=RETAKE, score=None, pad_score=None, threshold=policy.threshold,
        reason_codes=tuple(dict.fromkeys(reasons)), observations=(), frames=tuple(frames), cues=(),
        temporal=None, timings_ms={"total": _ms(t0)}, models=models, policy=str(policy.path or ""),
    )


def model_versions(policy: LivenessPolicy, opts: LivenessOptions, dense: bool = False) -> dict[str, str]:
    from proofing.runtime.onnx import get_session

    out = {m: get_session(m, opts.variant, opts.threads).version for m in policy.models}
    out["detector"] = get_session(opts.detect.model, opts.detect.variant, opts.detect.threads).version
    if dense:
        out["landmarker"] = "face_landmarker:mediapipe"
    return out


def check_liveness(
    frames: Sequence[np.ndarray],
    policy: LivenessPolicy | None = None,
    opts: LivenessOptions | None = None,
) -> LivenessResult:
    """Judge a burst of 8-bit frames (BGR, grey or BGRA) of one capture session."""
    t0 = time.perf_counter()
    policy = policy or load_policy()
    opts = opts or LivenessOptions()
    if len(frames) == 0:
        return _retake(["NO_FRAMES"], [], policy, {}, t0)
    images: list[np.ndarray | None] = []
    bad: list[FrameResult] = []
    for i, frame in enumerate(frames):
        try:
            images.append(as_bgr(np.asarray(frame)))
        except ImageError as e:
            images.append(None)
            bad.append(FrameResult(index=i, usable=False, codes=(e.code,)))
    if bad:
        return _retake([c for b in bad for c in b.codes], bad, policy, {}, t0)
    shapes = {im.shape[:2] for im in images if im is not None}
    if len(shapes) > 1:
        return _retake(["FRAME_SIZE_MISMATCH"], [], policy, {}, t0)
    use_dense = (policy.temporal["landmarker"] if opts.landmarker is None else opts.landmarker) and len(frames) > 1
    use_dense = bool(use_dense) and lmk.available()
    pad = pad_options(policy, opts)
    models = model_versions(policy, opts, use_dense)
    results: list[FrameResult] = []
    checks: list[FrameCheck] = []
    dense: list[lmk.DenseFace | None] = []
    for i, image in enumerate(images):
        assert image is not None
        timings: dict[str, float] = {}
        t = time.perf_counter()
        check = check_frame(image, policy, opts.detect)
        timings["detect_gate"] = _ms(t)
        scores, fused, d, screen = None, None, None, None
        if check.usable and check.face is not None:
            t = time.perf_counter()
            scores = model_scores([check.image], [check.face.box], pad)[0]
            fused = float(fuse(scores[None], pad)[0])
            timings["pad"] = _ms(t)
            if opts.screen:
                t = time.perf_counter()
                screen = screen_cues(check.image, check.face.box).to_dict()
                timings["screen"] = _ms(t)
            if use_dense:
                t = time.perf_counter()
                d = lmk.dense_face(check.image)
                timings["landmarker"] = _ms(t)
            checks.append(check)
            dense.append(d)
        timings["total"] = sum(timings.values())
        results.append(_frame(i, check, scores, fused, pad.models, d, screen, timings))
    usable = [r.score for r in results if r.score is not None]
    if len(usable) < max(policy.min_usable_frames, 1):
        retake = ["TOO_FEW_USABLE_FRAMES"] + [c for r in results for c in r.codes]
        return _retake(retake, results, policy, models, t0)
    pad_score = aggregate(usable, policy)
    cues, info = _cues(results, checks, dense, policy)
    vetoes = [c.code for c in cues if c.enabled and c.fired]
    score = min(pad_score, policy.veto_cap) if vetoes else pad_score
    # A missing blink proves nothing in a passive burst: only report it where it is required.
    observations = [c.code for c in cues if c.fired and not c.enabled and c.name != "blink"]
    if info.get("blink_detected"):
        observations.append("BLINK_DETECTED")
    if len(frames) == 1:
        observations.append("SINGLE_FRAME")
    elif len(frames) < policy.burst_min_frames:
        observations.append("SHORT_BURST")
    if len(usable) < len(frames):
        observations.append("FRAMES_SKIPPED")
        observations += sorted({c for r in results for c in r.codes})
    if any(r.rotation for r in results):
        observations.append("FRAME_ROTATED")
    reasons: list[str] = []
    if pad_score < policy.threshold:
        reasons.append("PAD_SCORE_BELOW_THRESHOLD")
    reasons += vetoes
    verdict = BONA_FIDE if not reasons else ATTACK
    return LivenessResult(
        verdict=verdict, score=score, pad_score=pad_score, threshold=policy.threshold,
        reason_codes=tuple(reasons), observations=tuple(dict.fromkeys(observations)),
        frames=tuple(results), cues=tuple(cues), temporal=info,
        timings_ms={"total": _ms(t0), "per_frame_mean": _ms(t0) / len(frames)},
        models=models, policy=str(policy.path or ""),
    )
