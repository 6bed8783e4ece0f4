"""Typed liveness results: per frame and per session, with reason codes and timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA = "proofing.liveness/1"

BONA_FIDE = "BONA_FIDE"
ATTACK = "ATTACK"
RETAKE = "RETAKE"


def _r(v: float | None, nd: int = 4) -> float | None:
    return None if v is None else round(float(v), nd)


@dataclass(frozen=True)
class FrameResult:
    index: int
    usable: bool
    #: Gating codes (why the frame was not judged); empty for a usable frame.
    codes: tuple[str, ...]
    #: Fused real-face probability; None for a frame not judged.
    score: float | None = None
    model_scores: dict[str, float] = field(default_factory=dict)
    box: tuple[float, float, float, float] | None = None
    rotation: int = 0
    faces_found: int = 0
    quality: dict[str, Any] | None = None
    screen: dict[str, float] | None = None
    blink: float | None = None
    yaw_deg: float | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "usable": self.usable,
            "codes": list(self.codes),
            "score": _r(self.score),
            "model_scores": {k: _r(v) for k, v in self.model_scores.items()},
            "box": None if self.box is None else [round(v, 1) for v in self.box],
            "rotation": self.rotation,
            "faces_found": self.faces_found,
            "quality": self.quality,
            "screen": self.screen,
            "blink": _r(self.blink),
            "yaw_deg": _r(self.yaw_deg, 2),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


@dataclass(frozen=True)
class CueResult:
    """One temporal or screen cue: its measurement, the policy limit, whether it decides."""

    name: str
    value: float | None
    limit: float
    enabled: bool
    fired: bool
    code: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": _r(self.value),
            "limit": self.limit,
            "enabled": self.enabled,
            "fired": self.fired,
            "code": self.code,
            "measured": self.value is not None,
        }


@dataclass(frozen=True)
class LivenessResult:
    verdict: str
    #: Session score (aggregated fused PAD score, after any enabled cue's veto); None if not judged.
    score: float | None
    #: Aggregated PAD score before cues.
    pad_score: float | None
    threshold: float
    #: Codes that explain the verdict (RETAKE reasons, attack reasons).
    reason_codes: tuple[str, ...]
    #: Informational codes (cues measured but not deciding, skipped frames, short burst).
    observations: tuple[str, ...]
    frames: tuple[FrameResult, ...]
    cues: tuple[CueResult, ...]
    temporal: dict[str, Any] | None
    timings_ms: dict[str, float]
    models: dict[str, str]
    policy: str = ""

    @property
    def usable_frames(self) -> int:
        return sum(f.usable for f in self.frames)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "verdict": self.verdict,
            "score": _r(self.score),
            "pad_score": _r(self.pad_score),
            "threshold": self.threshold,
            "reason_codes": list(self.reason_codes),
            "observations": list(self.observations),
            "frames_total": len(self.frames),
            "frames_usable": self.usable_frames,
            "frames": [f.to_dict() for f in self.frames],
            "cues": {c.name: c.to_dict() for c in self.cues},
            "temporal": self.temporal,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "models": self.models,
            "policy": self.policy,
        }
