"""Typed outcome of a session: one :class:`StageResult` per stage plus the decision.

A stage is *performed* (its codes and scores say how it went), *not performed* (it did
not apply: no chip read, no selfie; ``reason`` says why) or an *error* (it crashed on bad
input; ``codes`` holds the reason code). ``to_dict`` is the stable JSON schema
``proofing.session/1``; the typed stage values (``value``) stay out of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from proofing.pipeline.evidence import SessionEvidence
    from proofing.policy import Decision

SCHEMA = "proofing.session/1"
PERFORMED, NOT_PERFORMED, ERROR = "performed", "not_performed", "error"
#: The stages in the order they run (and appear in the JSON).
STAGES = ("mrz", "chip", "mrz_chip", "liveness", "face_chip", "face_page")


@dataclass
class StageResult:
    name: str
    status: str
    codes: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    #: For not_performed / error: a sentence for a person.
    reason: str | None = None
    timing_ms: float = 0.0
    models: dict[str, str] = field(default_factory=dict)
    #: The stage's own JSON (its result's ``to_dict``), for the record and the reviewer.
    details: dict[str, Any] | None = None
    #: The typed stage result (MrzResult, ChipResult, MatchResult, ...); not serialised.
    value: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def not_performed(cls, name: str, reason: str, code: str | None = None) -> StageResult:
        return cls(name, NOT_PERFORMED, [code] if code else [], reason=reason)

    @classmethod
    def error(cls, name: str, code: str, reason: str) -> StageResult:
        return cls(name, ERROR, [f"ERROR:{code}"], reason=reason)

    @property
    def performed(self) -> bool:
        return self.status == PERFORMED

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "reason": self.reason,
            "codes": list(self.codes),
            "scores": {k: round(v, 5) for k, v in self.scores.items()},
            "timing_ms": round(self.timing_ms, 2),
            "models": dict(self.models),
            "details": self.details,
        }


@dataclass
class SessionResult:
    session_id: str
    started_at: str
    stages: dict[str, StageResult] = field(default_factory=dict)
    decision: Decision | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: The evidence the session ran on (for filing a review case); not serialised.
    evidence: SessionEvidence | None = field(default=None, repr=False, compare=False)

    @property
    def models(self) -> dict[str, str]:
        """Every model version used, as "stage.role" -> version."""
        return {f"{s}.{k}": v for s, st in self.stages.items() for k, v in st.models.items()}

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "session_id": self.session_id,
            "started_at": self.started_at,
            "decision": self.decision.to_dict() if self.decision else None,
            "stages": {name: st.to_dict() for name, st in self.stages.items()},
            "models": self.models,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
