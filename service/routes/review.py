"""The reviewer console's API over ``proofing.review``: queue, claim, case detail,
evidence, decide, escalate, request a capture, release.

Roles are checked twice: here (a clear 403 before any work) and again inside every store
function (the rule of record, shared with the CLI). Personal data -- the images and the
MRZ / chip fields -- goes only to the reviewer holding the case or an admin, exactly the
store's rule for reading evidence; each such read is audited by the store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator

from proofing import review as rv
from proofing.review.detail import case_audit, case_fields, session_scores
from proofing.review.roles import OPERATE
from service.errors import ApiError
from service.logging import event
from service.security import ConsoleUser, Viewer, Worker, app_store

router = APIRouter(prefix="/v1/review", tags=["review"])

UUID = r"^[0-9a-fA-F-]{36}$"
CaseId = Annotated[str, Path(pattern=UUID)]
EvidenceId = Annotated[str, Path(pattern=UUID)]
STATUSES = Literal["queued", "claimed", "pending_confirmation", "awaiting_capture", "escalated", "decided", "withdrawn"]
#: Evidence served inline with its own type; anything else is a download.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why; no personal data (it goes to the audit log).")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a reason is required")
        return value.strip()


class DecideBody(Reason):
    decision: Literal["ACCEPT", "REJECT"]


def _now() -> datetime:
    return datetime.now(UTC)


def _overdue(case: rv.CaseView, now: datetime) -> bool:
    return case.status not in ("decided", "withdrawn") and case.sla_deadline < now


def summary(case: rv.CaseView, now: datetime | None = None) -> dict[str, Any]:
    out = case.to_json()
    out["overdue"] = _overdue(case, now or _now())
    return out


def _may_see_personal_data(user: ConsoleUser, case: rv.CaseView) -> bool:
    """The store's rule for evidence: the live holder of the claim, or an operator (admin)."""
    holds = case.status == "claimed" and case.claimed_by == user.name and not case.lease_expired
    return holds or user.can(OPERATE)


def detail(request: Request, user: ConsoleUser, case: rv.CaseView) -> dict[str, Any]:
    personal = _may_see_personal_data(user, case)
    return {
        "case": summary(case),
        "reasons": [{"code": r.code, "explanation": r.explanation} for r in case.reasons],
        "scores": session_scores(app_store(request), case.session_id),
        "fields": case_fields(app_store(request), case, user.name) if personal else [],
        "personal_data_visible": personal,
        "evidence": [{"id": e.id, "kind": e.kind, "content_type": e.content_type,
                      "purged": e.purged_at is not None} for e in case.evidence],
        "audit": case_audit(app_store(request), case.id),
    }


@router.get("/cases", summary="The queue (priority, then SLA deadline)")
def list_cases(
    request: Request,
    user: Viewer,
    status: STATUSES | None = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    now = _now()
    cases = rv.list_cases(app_store(request), user.name, status=status, limit=limit)
    out = [summary(c, now) for c in cases]
    return [c for c in out if overdue is None or c["overdue"] == overdue]


@router.post("/claim-next", summary="Claim the next case (204 when the queue is empty)",
             responses={204: {"description": "the queue is empty"}})
def claim_next(request: Request, user: Worker) -> Any:
    case = rv.claim_next(app_store(request), user.name)
    if case is None:
        return Response(status_code=204)
    event("claim", actor=user.name, case_id=case.id)
    return detail(request, user, case)


@router.post("/cases/{case_id}/claim", summary="Claim one case (or renew your lease on it)")
def claim(request: Request, case_id: CaseId, user: Worker) -> dict[str, Any]:
    case = rv.claim(app_store(request), case_id, user.name)
    event("claim", actor=user.name, case_id=case_id)
    return detail(request, user, case)


@router.get("/cases/{case_id}", summary="Case detail: reasons, scores, fields, evidence, audit trail")
def get_case(request: Request, case_id: CaseId, user: Viewer) -> dict[str, Any]:
    return detail(request, user, rv.get_case(app_store(request), case_id, user.name))


@router.get("/cases/{case_id}/evidence/{evidence_id}", response_class=Response,
            summary="One piece of evidence, decrypted (the holder of the case or an admin)",
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "application/octet-stream": {}}}})
def evidence(request: Request, case_id: CaseId, evidence_id: EvidenceId,
             user: Worker) -> Response:
    store = app_store(request)
    case = rv.get_case(store, case_id, user.name)
    info = next((e for e in case.evidence if e.id == evidence_id.lower()), None)
    if info is None:
        raise ApiError(404, "not_found", "no such evidence in this case")
    data = rv.read_evidence(store, info.id, user.name)
    event("view_evidence", actor=user.name, case_id=case_id, evidence_id=info.id)
    inline = info.content_type in INLINE_TYPES
    return Response(
        data,
        media_type=info.content_type if inline else "application/octet-stream",
        headers={"Content-Disposition": "inline" if inline else f'attachment; filename="{info.id}.bin"',
                 "Cache-Control": "no-store, private"},
    )


@router.post("/cases/{case_id}/decide", summary="ACCEPT or REJECT with a reason (four eyes on overrides)")
def decide(request: Request, case_id: CaseId, body: DecideBody,
           user: Worker) -> dict[str, Any]:
    result = rv.decide(app_store(request), case_id, user.name, body.decision, body.reason)
    event("decide", actor=user.name, case_id=case_id, decision=body.decision)
    return {"case": summary(result.case), "status": result.case.status,
            "pending_second_review": result.needs_confirmation, "duplicate": result.duplicate}


@router.post("/cases/{case_id}/escalate", summary="Hand the case to a senior reviewer")
def escalate(request: Request, case_id: CaseId, body: Reason,
             user: Worker) -> dict[str, Any]:
    case = rv.escalate(app_store(request), case_id, user.name, body.reason)
    event("escalate", actor=user.name, case_id=case_id)
    return summary(case)


@router.post("/cases/{case_id}/request-capture", summary="Ask the applicant for a new capture")
def request_capture(request: Request, case_id: CaseId, body: Reason,
                    user: Worker) -> dict[str, Any]:
    case = rv.request_capture(app_store(request), case_id, user.name, body.reason)
    event("request_capture", actor=user.name, case_id=case_id)
    return summary(case)


@router.post("/cases/{case_id}/release", summary="Give a claimed case back to the queue")
def release(request: Request, case_id: CaseId, user: Worker) -> dict[str, Any]:
    case = rv.release(app_store(request), case_id, user.name)
    event("release", actor=user.name, case_id=case_id)
    return summary(case)
