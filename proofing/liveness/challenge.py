"""Optional active challenge: did the burst show the requested actions, in order?

The assisted path can ask the applicant to blink or turn the head; a photo cannot do
either on request and a pre-recorded replay is unlikely to do them in a random order.
Yaw comes from the five landmarks (positive: nose to the right of the eye midpoint in
the image, i.e. the subject turning to their own LEFT in an unmirrored camera image),
blinks from the MediaPipe blendshapes. Without MediaPipe a blink step is unmeasured,
which fails the challenge with its own code rather than pretending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proofing.liveness.policy import LivenessPolicy, load_policy
from proofing.liveness.result import LivenessResult

STEPS = ("blink", "turn_left", "turn_right")


@dataclass(frozen=True)
class ChallengeResult:
    passed: bool
    requested: tuple[str, ...]
    #: Frame index where each step was seen (None: not seen).
    seen_at: tuple[int | None, ...]
    reason_codes: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "requested": list(self.requested),
            "seen_at": list(self.seen_at),
            "reason_codes": list(self.reason_codes),
        }


def _shows(step: str, blink: float | None, yaw: float | None, closed: float, turn: float) -> bool:
    if step == "blink":
        return blink is not None and blink >= closed
    if yaw is None:
        return False
    return yaw >= turn if step == "turn_left" else yaw <= -turn


def check_challenge(
    result: LivenessResult, requested: Sequence[str], policy: LivenessPolicy | None = None
) -> ChallengeResult:
    """Check the frames of a judged burst against ``requested`` steps (in order)."""
    policy = policy or load_policy()
    unknown = [s for s in requested if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown challenge step(s) {unknown}; known: {', '.join(STEPS)}")
    turn = float(policy.challenge["turn_yaw_deg"])
    closed = float(policy.temporal["blink_closed"])
    frames = result.frames
    seen: list[int | None] = []
    codes: list[str] = []
    start = 0
    for step in requested:
        hit = None
        for f in frames[start:]:
            if _shows(step, f.blink, f.yaw_deg, closed, turn):
                hit = f.index
                break
        seen.append(hit)
        if hit is None:
            measured = any(f.blink is not None for f in frames) if step == "blink" else True
            codes.append(f"CHALLENGE_{step.upper()}_{'MISSING' if measured else 'UNMEASURED'}")
        else:
            start = hit + 1
    return ChallengeResult(not codes, tuple(requested), tuple(seen), tuple(codes))
