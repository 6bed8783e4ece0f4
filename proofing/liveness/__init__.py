"""Liveness stage: passive presentation-attack detection over a webcam burst.

detect + gate each frame (:mod:`.frames`) -> MiniFASNet PAD per frame, fused (:mod:`.pad`)
-> robust session score (:mod:`.burst`) -> temporal (:mod:`.temporal`) and screen
(:mod:`.screen`) cues, deciding only where the policy enables them -> :class:`LivenessResult`.
Also an active challenge (:mod:`.challenge`) and ISO/IEC 30107-3 evaluation
(:mod:`.evaluate`, :mod:`.metrics`). Thresholds live in ``proofing/policy/liveness.toml``.
"""

from __future__ import annotations

from proofing.liveness.burst import LivenessOptions, check_liveness
from proofing.liveness.challenge import ChallengeResult, check_challenge
from proofing.liveness.evaluate import Evaluation, evaluate_list
from proofing.liveness.metrics import PadReport, pad_report
from proofing.liveness.policy import LivenessPolicy, load_policy
from proofing.liveness.result import ATTACK, BONA_FIDE, RETAKE, SCHEMA, FrameResult, LivenessResult

__all__ = [
    "ATTACK",
    "BONA_FIDE",
    "RETAKE",
    "SCHEMA",
    "ChallengeResult",
    "Evaluation",
    "FrameResult",
    "LivenessOptions",
    "LivenessPolicy",
    "LivenessResult",
    "PadReport",
    "check_challenge",
    "check_liveness",
    "evaluate_list",
    "load_policy",
    "pad_report",
]
