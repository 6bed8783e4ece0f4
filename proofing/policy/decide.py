"""``decide(result, policy) -> Decision``: stage facts in, ACCEPT / REVIEW / REJECT out.

Stages report what they found as codes; this module turns scores into facts with the
policy's thresholds, matches the policy's rules against all facts, and explains each
reason twice (for the reviewer and for the applicant). It reads only what the
:class:`StageView` protocol names, so the pipeline's result types stay the pipeline's
and policy tests can build stage outcomes by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Protocol

from proofing.policy.model import ACCEPT, REVIEW, SEVERITY, Policy

SCHEMA = "proofing.decision/1"

PERFORMED, NOT_PERFORMED, ERROR = "performed", "not_performed", "error"
#: Stages whose "similarity" score is judged against the face thresholds.
FACE_STAGES = ("face_chip", "face_page")
LIVENESS_STAGE = "liveness"


class StageView(Protocol):
    """What the policy reads of one stage's outcome."""

    @property
    def status(self) -> str: ...  # performed | not_performed | error

    @property
    def codes(self) -> Sequence[str]: ...

    @property
    def scores(self) -> Mapping[str, float]: ...


class SessionView(Protocol):
    @property
    def stages(self) -> Mapping[str, StageView]: ...


@dataclass(frozen=True)
class DecisionReason:
    code: str
    decision: str
    risk: float
    reviewer: str
    applicant: str
    #: The facts that raised it, e.g. ["chip:DG_HASH_MISMATCH:DG2"].
    facts: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "decision": self.decision,
            "risk": self.risk,
            "reviewer_text": self.reviewer,
            "applicant_text": self.applicant,
            "facts": list(self.facts),
        }


@dataclass(frozen=True)
class Decision:
    decision: str
    reasons: tuple[DecisionReason, ...]
    risk_score: float
    policy: dict[str, object]
    facts: tuple[str, ...] = field(default=())

    @property
    def policy_hash(self) -> str:
        return str(self.policy["sha256"])

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "decision": self.decision,
            "risk_score": round(self.risk_score, 4),
            "reasons": [r.to_dict() for r in self.reasons],
            "policy": self.policy,
            "facts": list(self.facts),
        }


def _face_fact(similarity: float, policy: Policy) -> str:
    t = policy.thresholds
    if similarity >= t.face_accept:
        return "MATCH"
    return "BORDERLINE" if similarity >= t.face_review else "NO_MATCH"


def _liveness_fact(scores: Mapping[str, float], policy: Policy) -> str:
    """Score semantics: higher is more live; the stage's own threshold when it gives one."""
    t = policy.thresholds
    score = float(scores["live"])
    threshold = float(scores.get("threshold", t.liveness_default))
    if score >= threshold:
        return "LIVE" if score >= threshold + t.liveness_live_margin else "BORDERLINE"
    return "BORDERLINE" if score >= threshold - t.liveness_attack_margin else "ATTACK"


def session_facts(result: SessionView, policy: Policy) -> list[str]:
    """Every fact the rules are matched against, "stage:CODE", in stage order."""
    facts: list[str] = []
    for name, stage in result.stages.items():
        if stage.status == NOT_PERFORMED:
            facts.append(f"{name}:NOT_PERFORMED")
        elif stage.status == ERROR:
            facts.append(f"{name}:ERROR")
        facts += [f"{name}:{c}" for c in stage.codes]
        if stage.status != PERFORMED:
            continue
        if name in FACE_STAGES and "similarity" in stage.scores:
            facts.append(f"{name}:{_face_fact(float(stage.scores['similarity']), policy)}")
        elif name == LIVENESS_STAGE and "live" in stage.scores:
            facts.append(f"{name}:{_liveness_fact(stage.scores, policy)}")
    return list(dict.fromkeys(facts))


def decide(result: SessionView, policy: Policy) -> Decision:
    """Match the policy's rules against the session's facts; the most severe decision wins."""
    facts = session_facts(result, policy)
    reasons: list[DecisionReason] = []
    for rule in policy.rules:
        hits = tuple(f for f in facts if any(fnmatchcase(f, p) for p in rule.when))
        if hits and not any(fnmatchcase(f, p) for f in facts for p in rule.unless):
            reasons.append(
                DecisionReason(rule.code, rule.decision, rule.risk, rule.reviewer, rule.applicant, hits)
            )
    decision = max((r.decision for r in reasons), key=SEVERITY.__getitem__, default=ACCEPT)
    if decision == ACCEPT:
        missing = tuple(f for f in policy.accept_require if f not in facts)
        if missing:
            rule = policy.rule("ACCEPT_EVIDENCE_MISSING")
            reasons.append(
                DecisionReason(rule.code, REVIEW, rule.risk, rule.reviewer, rule.applicant,
                               tuple(f"missing {m}" for m in missing))
            )
            decision = REVIEW
    safe = 1.0
    for r in reasons:
        safe *= 1.0 - r.risk
    reasons.sort(key=lambda r: -SEVERITY[r.decision])
    return Decision(
        decision=decision,
        reasons=tuple(reasons),
        risk_score=1.0 - safe,
        policy=policy.to_dict(),
        facts=tuple(facts),
    )
