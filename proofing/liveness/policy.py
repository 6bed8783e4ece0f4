"""The liveness policy file: thresholds and switches, never constants in code.

``proofing/policy/liveness.toml`` ships with the package; the benchmark rewrites its
decision threshold. A deployment can pass its own file wherever a policy is used.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proofing.face.policy import QualityLimits

DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[1] / "policy" / "liveness.toml"


@dataclass(frozen=True)
class LivenessPolicy:
    threshold: float
    calibrated_for: str
    aggregate: str
    trim_fraction: float
    min_usable_frames: int
    burst_min_frames: int
    veto_cap: float
    target_frame_bpcer: float
    models: tuple[str, ...]
    weights: tuple[float, ...]
    quality: QualityLimits
    second_face_area_ratio: float
    temporal: dict[str, Any]
    screen: dict[str, Any]
    video: dict[str, Any]
    challenge: dict[str, Any]
    calibration: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def load_policy(path: Path | None = None) -> LivenessPolicy:
    p = path or DEFAULT_POLICY_PATH
    with open(p, "rb") as f:
        raw = tomllib.load(f)
    d = raw["decision"]
    q = dict(raw["quality"])
    second = float(q.pop("second_face_area_ratio"))
    fusion = raw["fusion"]
    if d["aggregate"] not in ("trimmed_mean", "median"):
        raise ValueError(f"policy {p}: unknown aggregate {d['aggregate']!r}")
    return LivenessPolicy(
        threshold=float(d["threshold"]),
        calibrated_for=str(d.get("calibrated_for", "")),
        aggregate=str(d["aggregate"]),
        trim_fraction=float(d["trim_fraction"]),
        min_usable_frames=int(d["min_usable_frames"]),
        burst_min_frames=int(d["burst_min_frames"]),
        veto_cap=float(d["veto_cap"]),
        target_frame_bpcer=float(d["target_frame_bpcer"]),
        models=tuple(str(m) for m in fusion["models"]),
        weights=tuple(float(w) for w in fusion["weights"]),
        quality=QualityLimits(**{k: float(v) for k, v in q.items()}),
        second_face_area_ratio=second,
        temporal=dict(raw["temporal"]),
        screen=dict(raw["screen"]),
        video=dict(raw["video"]),
        challenge=dict(raw["challenge"]),
        calibration=dict(d.get("calibration", {})),
        path=p,
    )
