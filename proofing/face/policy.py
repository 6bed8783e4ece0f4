"""The face policy file: operating points and quality limits, never constants in code.

``proofing/policy/face_thresholds.toml`` ships with the package; ``proofing face
calibrate`` rewrites its ``[match]`` table from a labelled pair list. A different file can
be passed wherever a policy is used (tests, a deployment's own calibration).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[1] / "policy" / "face_thresholds.toml"
#: Face stage modes (``PROOFING_FACE_MODE``), each with its own thresholds: the scores of two
#: configurations are not on the same scale. The "fast" file also holds the quality limits.
FACE_MODES = ("fast", "accurate")


def check_mode(mode: str) -> str:
    """``mode`` if it is a face stage mode, else a ValueError naming the valid ones."""
    if mode not in FACE_MODES:
        raise ValueError(f"unknown face mode {mode!r} (PROOFING_FACE_MODE: {', '.join(FACE_MODES)})")
    return mode


def policy_path(mode: str | None = None) -> Path:
    """The packaged thresholds file of a face stage mode (default: the settings')."""
    if mode is None:
        from proofing.settings import get_settings

        mode = get_settings().face_mode
    check_mode(mode)
    return DEFAULT_POLICY_PATH if mode == "fast" else DEFAULT_POLICY_PATH.with_name(f"face_thresholds_{mode}.toml")


@dataclass(frozen=True)
class QualityLimits:
    min_eye_distance_px: float
    min_sharpness: float
    min_brightness: float
    max_brightness: float
    max_clipped_fraction: float
    max_abs_yaw_deg: float
    max_abs_roll_deg: float
    max_abs_pitch_deg: float
    min_contrast: float
    #: eyeBlink blendshape above which the eyes count as closed (FaceLandmarker only);
    #: None: not checked (a policy file without the key, e.g. the liveness one).
    max_eye_closure: float | None = None


@dataclass(frozen=True)
class FacePolicy:
    """Thresholds by operating-point name (e.g. ``"fmr_1e-3"``) plus the one that decides."""

    operating_point: str
    thresholds: dict[str, float]
    calibrated_for: str
    quality: QualityLimits
    calibration: dict[str, object] = field(default_factory=dict)
    path: Path | None = None

    @property
    def threshold(self) -> float:
        try:
            return self.thresholds[self.operating_point]
        except KeyError:
            raise ValueError(
                f"policy {self.path}: operating point {self.operating_point!r} has no threshold "
                f"(have: {', '.join(sorted(self.thresholds)) or 'none'})"
            ) from None


def fmr_key(target: float) -> str:
    """Operating-point name for a target FMR: 0.001 -> "fmr_1e-3"."""
    exp = round(-__import__("math").log10(target))
    return f"fmr_1e-{exp}"


def load_policy(path: Path | None = None) -> FacePolicy:
    """The thresholds file ``path`` (default: the one of the settings' face mode); a file
    without ``[quality]`` takes the limits of the default file."""
    p = path or policy_path()
    with open(p, "rb") as f:
        raw = tomllib.load(f)
    match = raw["match"]
    if "quality" in raw:
        q = raw["quality"]
    else:
        with open(DEFAULT_POLICY_PATH, "rb") as f:
            q = tomllib.load(f)["quality"]
    return FacePolicy(
        operating_point=str(match["operating_point"]),
        thresholds={str(k): float(v) for k, v in match.get("thresholds", {}).items()},
        calibrated_for=str(match.get("calibrated_for", "")),
        quality=QualityLimits(**{k: float(v) for k, v in q.items()}),
        calibration=dict(match.get("calibration", {})),
        path=p,
    )
