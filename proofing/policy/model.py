"""The session policy file, loaded into typed values, with the sha256 of every file read.

The policy is data, not code: a deployment changes what REJECTs or goes to REVIEW by
editing ``session.toml`` (or passing its own file), and every decision records the hash
of the exact bytes it was made under, so a decision can be replayed and audited later.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

POLICY_DIR = Path(__file__).resolve().parent
DEFAULT_POLICY_PATH = POLICY_DIR / "session.toml"

ACCEPT, REVIEW, REJECT = "ACCEPT", "REVIEW", "REJECT"
#: Severity order: the most severe decision raised wins.
SEVERITY = {ACCEPT: 0, REVIEW: 1, REJECT: 2}


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class ReasonRule:
    """One reason code: when it is raised, what it decides, and the two explanations."""

    code: str
    decision: str
    risk: float
    when: tuple[str, ...]
    reviewer: str
    applicant: str
    #: Not raised when one of these matches: a consequence of another reason already given.
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    face_accept: float
    face_review: float
    face_accept_at: str
    face_review_from: str
    liveness_default: float
    liveness_live_margin: float
    liveness_attack_margin: float


@dataclass(frozen=True)
class Policy:
    version: str
    name: str
    path: Path
    sha256: str
    thresholds: Thresholds
    accept_require: tuple[str, ...]
    rules: tuple[ReasonRule, ...]
    #: sha256 of each referenced file (face thresholds, liveness policy) by file name.
    components: dict[str, str] = field(default_factory=dict)

    def rule(self, code: str) -> ReasonRule:
        for r in self.rules:
            if r.code == code:
                return r
        raise KeyError(code)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "file": self.path.name,
            "sha256": self.sha256,
            "components": dict(self.components),
        }


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _face_thresholds(path: Path, accept_at: str, review_from: str) -> tuple[float, float, str]:
    try:
        data = tomllib.loads(path.read_text())
        match = data["match"]
        table = {str(k): float(v) for k, v in match["thresholds"].items()}
        accept_at = accept_at or str(match["operating_point"])
        return table[accept_at], table[review_from], accept_at
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: face thresholds unusable ({exc!r})") from exc


def _liveness_threshold(path: Path, default: float) -> float:
    """The liveness stage's calibrated threshold ([decision].threshold), else ``default``."""
    try:
        value = tomllib.loads(path.read_text()).get("decision", {}).get("threshold", default)
        return float(value)
    except (OSError, ValueError, TypeError, tomllib.TOMLDecodeError):
        return default


def _rule(code: str, raw: dict[str, object], path: Path) -> ReasonRule:
    decision = str(raw.get("decision", ""))
    if decision not in SEVERITY:
        raise PolicyError(f"{path}: reasons.{code}.decision must be ACCEPT, REVIEW or REJECT")
    when, unless = raw.get("when", []), raw.get("unless", [])
    if not isinstance(when, list) or not isinstance(unless, list):
        raise PolicyError(f"{path}: reasons.{code}.when and .unless must be lists of patterns")
    risk = raw.get("risk", 0.0)
    if not isinstance(risk, int | float) or not 0.0 <= float(risk) <= 1.0:
        raise PolicyError(f"{path}: reasons.{code}.risk must be a number in 0..1")
    return ReasonRule(
        code=code,
        decision=decision,
        risk=float(risk),
        when=tuple(str(w) for w in when),
        reviewer=str(raw.get("reviewer", code)),
        applicant=str(raw.get("applicant", "")),
        unless=tuple(str(u) for u in unless),
    )


def load_policy(path: Path | None = None) -> Policy:
    """Read and check a session policy (default: the packaged ``session.toml``)."""
    path = (path or DEFAULT_POLICY_PATH).resolve()
    try:
        raw_bytes = path.read_bytes()
        data = tomllib.loads(raw_bytes.decode())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: {exc}") from exc
    if not data.get("version"):
        raise PolicyError(f"{path}: a policy needs a version")
    t = data.get("thresholds", {})
    components: dict[str, str] = {}
    if str(t.get("face_file", "")):
        face_file = path.parent / str(t["face_file"])
        if not face_file.is_file():
            face_file = POLICY_DIR / face_file.name
    else:  # the thresholds of the face stage's mode (PROOFING_FACE_MODE)
        from proofing.face.policy import policy_path

        face_file = policy_path()
    review_from = str(t.get("face_review_from", "fmr_1e-2"))
    face_accept, face_review, accept_at = _face_thresholds(
        face_file, str(t.get("face_accept_at", "")), review_from
    )
    components[face_file.name] = sha256_file(face_file)
    liveness_file = path.parent / str(t.get("liveness_file", "liveness.toml"))
    if not liveness_file.is_file():
        liveness_file = POLICY_DIR / liveness_file.name
    liveness_default = float(t.get("liveness_threshold_default", 0.5))
    if liveness_file.is_file():
        components[liveness_file.name] = sha256_file(liveness_file)
        liveness_default = _liveness_threshold(liveness_file, liveness_default)
    thresholds = Thresholds(
        face_accept=face_accept,
        face_review=min(face_review, face_accept),
        face_accept_at=accept_at,
        face_review_from=review_from,
        liveness_default=liveness_default,
        liveness_live_margin=float(t.get("liveness_live_margin", 0.05)),
        liveness_attack_margin=float(t.get("liveness_attack_margin", 0.25)),
    )
    reasons = data.get("reasons", {})
    if not isinstance(reasons, dict) or not reasons:
        raise PolicyError(f"{path}: a policy needs [reasons.CODE] tables")
    rules = tuple(_rule(code, raw, path) for code, raw in reasons.items())
    require = tuple(str(x) for x in data.get("accept", {}).get("require", []))
    if require and "ACCEPT_EVIDENCE_MISSING" not in reasons:
        raise PolicyError(f"{path}: [accept].require needs a [reasons.ACCEPT_EVIDENCE_MISSING] to explain itself")
    return Policy(
        version=str(data["version"]),
        name=str(data.get("name", path.stem)),
        path=path,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        thresholds=thresholds,
        accept_require=require,
        rules=rules,
        components=components,
    )
