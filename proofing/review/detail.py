"""What a reviewer's case page shows beyond the case row: the audit trail, each score
against its threshold, and the printed MRZ against the chip, field by field.

Scores come from the session summary (no personal data); fields come from the encrypted
session record and are read through :func:`read_evidence`, so the same access rule
(the holder of the case, or an operator) and the same audit entry apply.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from proofing.review.cases import CaseView, read_evidence
from proofing.review.errors import ReviewError
from proofing.review.models import AuditEntry
from proofing.review.store import ReviewStore


def case_audit(store: ReviewStore, case_id: str) -> list[dict[str, Any]]:
    """The case's audit entries in order: who did what, when, with which details."""
    with store.sessions() as s:
        rows = s.execute(select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.seq)).scalars()
        return [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
                 "details": json.loads(e.payload).get("details") or {}} for e in rows]


def session_scores(store: ReviewStore, session_id: str) -> list[dict[str, Any]]:
    """Each stage score with the threshold it was judged against, and whether it passed."""
    from proofing.intake.models import ApplicantSession
    from proofing.policy import load_policy

    with store.sessions() as s:
        row = s.get(ApplicantSession, session_id)
        raw = row.summary if row is not None else None
    if not raw:
        return []
    t = load_policy().thresholds
    out = []
    for stage, st in json.loads(raw).get("stages", {}).items():
        scores = st.get("scores") or {}
        for name, value in scores.items():
            if name == "threshold":
                continue
            # The stage's own threshold when it reports one, else the policy's.
            threshold: float | None = None
            if name == "similarity" and stage.startswith("face"):
                threshold = float(scores.get("threshold", t.face_accept))
            elif name == "live" and stage == "liveness":
                threshold = float(scores.get("threshold", t.liveness_default))
            out.append({"name": f"{stage}.{name}", "value": value, "threshold": threshold,
                        "passed": None if threshold is None else float(value) >= threshold})
    return out


def case_fields(store: ReviewStore, case: CaseView, user: str) -> list[dict[str, Any]]:
    """Printed MRZ vs chip DG1 per field (``equal`` False highlights a difference)."""
    record = next((e for e in case.evidence if e.kind == "session_record" and e.purged_at is None), None)
    if record is None:
        return []
    try:
        result = json.loads(read_evidence(store, record.id, user))
    except (ReviewError, ValueError):
        return []
    stages = result.get("stages", {})
    cmp = (stages.get("mrz_chip") or {}).get("details") or {}
    if cmp.get("fields"):
        return [{"name": f["field"], "mrz": f.get("ocr"), "chip": f.get("chip"), "equal": f.get("match")}
                for f in cmp["fields"]]
    page = ((stages.get("mrz") or {}).get("details") or {}).get("fields") or {}
    return [{"name": k, "mrz": v, "chip": None, "equal": None} for k, v in page.items()] if isinstance(page, dict) else []
