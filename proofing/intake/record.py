"""The signed evidence record of a decided session (JWS, see :mod:`proofing.evidence`).

It is built from what outlives the retention purge (decision, reason codes, scores,
models, policy hash, sha256 of every piece of evidence), so a record can be re-issued and
re-checked after the images are gone. It names nobody.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from proofing.evidence import sign_record
from proofing.intake.models import ApplicantSession
from proofing.intake.sessions import DECIDED, get_session
from proofing.review.errors import InvalidState
from proofing.review.models import Case, Evidence
from proofing.review.store import ReviewStore
from proofing.settings import Settings


def record_payload(store: ReviewStore, session_id: str) -> dict[str, Any]:
    info = get_session(store, session_id)
    if info.status != DECIDED:
        raise InvalidState(f"the session is {info.status}; a record exists once it is decided")
    with store.sessions() as s:
        row = s.get(ApplicantSession, session_id)
        case = s.get(Case, info.case_id) if info.case_id else None
        evidence = list(s.scalars(select(Evidence).where(Evidence.case_id == info.case_id).order_by(Evidence.kind, Evidence.id)))
    assert row is not None
    summary = json.loads(row.summary) if row.summary else {}
    human = None
    if case is not None and case.decided_by not in (None, "machine"):
        human = {"decision": case.final_decision, "at": case.decided_at.isoformat() if case.decided_at else None,
                 "four_eyes": case.confirmed_by is not None}
    return {
        "iss": "proofing",
        "sub": session_id,
        "iat": int(store.clock().timestamp()),
        "decision": info.decision,
        "machine_decision": info.machine_decision,
        "human_review": human,
        "risk_score": info.risk_score,
        "policy_hash": info.policy_hash,
        "reasons": [r["code"] for r in info.reasons],
        "challenge": info.challenge.hex(),
        "stages": {name: {k: st.get(k) for k in ("status", "codes", "scores", "models")}
                   for name, st in summary.get("stages", {}).items()},
        "evidence": [{"kind": e.kind, "sha256": e.sha256, "size": e.size} for e in evidence],
        "decided_at": info.decided_at.isoformat() if info.decided_at else None,
    }


def evidence_record(store: ReviewStore, session_id: str, settings: Settings | None = None) -> str:
    """The compact JWS of the session's record, signed now with the service's key."""
    return sign_record(record_payload(store, session_id), settings)
