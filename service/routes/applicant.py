"""The applicant's API: one session, one bearer token, uploads until submit.

Every route but creation takes the session's applicant token (``service.security.applicant``):
401 without one, 403 with another session's, 404 for an unknown id, 410 once expired.
Processing runs off the request path on the executor (a thread here, or Celery workers).
"""

from __future__ import annotations

import base64
import binascii
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from proofing import intake
from service.errors import ApiError
from service.logging import event
from service.security import (
    Applicant,
    Previewer,
    SessionId,
    Uploader,
    app_settings,
    app_store,
    rate_limited,
)
from service.uploads import read_frames, read_image

router = APIRouter(prefix="/v1/sessions", tags=["applicant"])

_executor_lock = threading.Lock()
Frames = Annotated[list[UploadFile], File(description="1..n JPEG / PNG / WebP frames")]
Frame = Annotated[UploadFile, File(description="one JPEG / PNG / WebP frame")]


class Limits(BaseModel):
    max_upload_bytes: int
    max_frames: int
    max_pixels: int
    content_types: list[str]


class SessionCreated(BaseModel):
    session_id: str
    applicant_token: str = Field(description="Bearer token for every other call on this session; shown once.")
    challenge: str = Field(description="8 bytes, hex: the chip must sign it (Active Authentication).")
    expires_at: str
    limits: Limits


class Reason(BaseModel):
    code: str
    message: str


class SessionState(BaseModel):
    session_id: str
    status: str
    expires_at: str
    challenge: str = Field(description="The chip challenge again (hex), for `proofing read-chip --session`.")
    counts: dict[str, int]
    decision: str | None = None
    review_status: str | None = None
    reasons: list[Reason] | None = None
    evidence_url: str | None = None


class UploadAnswer(BaseModel):
    status: str
    counts: dict[str, int]


class FeedbackAnswer(BaseModel, extra="allow"):
    ready: bool
    feedback: list[str]
    messages: list[str]


class ChipUpload(BaseModel):
    files: dict[Annotated[str, Field(max_length=32)], Annotated[str, Field(max_length=4_000_000)]] = Field(
        description='Raw chip files, base64: {"EF.COM": ..., "EF.SOD": ..., "DG1": ...}', max_length=24)
    aa_signature: str | None = Field(default=None, max_length=4096,
                                     description="Active Authentication signature over the challenge, base64.")


class Submitted(BaseModel):
    status: str


def state(info: Any) -> SessionState:
    decided = info.status == intake.DECIDED
    return SessionState(
        session_id=info.id,
        status=info.status,
        expires_at=info.expires_at.isoformat(),
        challenge=info.challenge.hex(),
        counts=dict(info.counts),
        decision=info.decision if decided else None,
        review_status=info.review_status if decided else None,
        reasons=[Reason(code=r.get("code", ""), message=r.get("applicant", "")) for r in info.reasons]
        if decided else None,
        evidence_url=f"/v1/sessions/{info.id}/evidence" if decided else None,
    )


def executor(request: Request) -> Any:
    """The app's executor, made once (Celery client or an in-process thread)."""
    with _executor_lock:
        if request.app.state.executor is None:
            request.app.state.executor = intake.get_executor(
                app_settings(request), app_store(request), getattr(request.app.state, "pipeline_context", None))
        return request.app.state.executor


def _live(info: Any) -> Any:
    if info.status == intake.EXPIRED:
        raise ApiError(410, "expired", "the session has expired; start a new one")
    return info


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "invalid_base64", f"{what} is not valid base64") from None


@router.post("", status_code=201, response_model=SessionCreated,
             dependencies=[Depends(rate_limited("session_create"))],
             responses={429: {"description": "too many sessions from this client"}})
def create_session(request: Request) -> SessionCreated:
    """Open a session: its id, the applicant token (shown once) and the chip challenge."""
    settings = app_settings(request)
    info, token = intake.create_session(app_store(request), settings=settings)
    event("session_created", session_id=info.id)
    return SessionCreated(
        session_id=info.id, applicant_token=token, challenge=info.challenge.hex(),
        expires_at=info.expires_at.isoformat(), limits=Limits(**request.app.state.limits.to_json()),
    )


@router.get("/{session_id}", response_model=SessionState)
def get_session(session_id: SessionId, info: Applicant) -> SessionState:
    """The session's status; the decision, reasons and evidence link once decided."""
    return state(_live(info))


def _upload(request: Request, session_id: str, kind: str, frames: list[UploadFile]) -> UploadAnswer:
    settings = app_settings(request)
    data = read_frames(frames, settings)
    out = intake.add_frames(app_store(request), session_id, kind, data, settings=settings)
    event("upload", session_id=session_id, kind=kind, count=len(data))
    return UploadAnswer(status=out.status, counts=dict(out.counts))


@router.post("/{session_id}/document", status_code=201, response_model=UploadAnswer)
def upload_document(request: Request, session_id: SessionId, frames: Frames,
                    info: Uploader) -> UploadAnswer:
    """Frames of the passport's data page (JPEG / PNG / WebP, checked by content)."""
    return _upload(request, session_id, "document", frames)


@router.post("/{session_id}/selfie", status_code=201, response_model=UploadAnswer)
def upload_selfie(request: Request, session_id: SessionId, frames: Frames,
                  info: Uploader) -> UploadAnswer:
    """The selfie burst (JPEG / PNG / WebP frames, checked by content)."""
    return _upload(request, session_id, "selfie", frames)


@router.post("/{session_id}/recapture/{kind}", status_code=201, response_model=SessionState)
def recapture(request: Request, session_id: SessionId, kind: Literal["document", "selfie"], frames: Frames,
              info: Applicant) -> SessionState:
    """New document or selfie frames after a reviewer asked for a new capture (409 otherwise)."""
    settings = app_settings(request)
    data = read_frames(frames, settings)
    out = intake.add_recapture(app_store(request), session_id, kind, data, settings=settings)
    event("recapture", session_id=session_id, kind=kind, count=len(data))
    return state(out)


@router.post("/{session_id}/document/preview", response_model=FeedbackAnswer)
def document_preview(request: Request, session_id: SessionId, frame: Frame,
                     info: Previewer) -> dict[str, Any]:
    """Live hints on one camera frame of the data page; nothing is stored."""
    _live(info)
    feedback: dict[str, Any] = intake.document_feedback(read_image(frame, app_settings(request))).to_json()
    return feedback


@router.post("/{session_id}/selfie/preview", response_model=FeedbackAnswer)
def selfie_preview(request: Request, session_id: SessionId, frame: Frame,
                   info: Previewer) -> dict[str, Any]:
    """Live hints on one selfie frame; nothing is stored."""
    _live(info)
    feedback: dict[str, Any] = intake.selfie_feedback(read_image(frame, app_settings(request))).to_json()
    return feedback


@router.post("/{session_id}/chip", status_code=201, response_model=UploadAnswer)
def upload_chip(request: Request, session_id: SessionId, body: ChipUpload,
                info: Uploader) -> UploadAnswer:
    """The chip's raw files and the AA signature over the session's challenge; the server
    re-verifies everything from these bytes."""
    files = {name: _b64(value, f"files[{name!r}]") for name, value in body.files.items()}
    signature = _b64(body.aa_signature, "aa_signature") if body.aa_signature is not None else None
    out = intake.set_chip(app_store(request), session_id, files, signature)
    event("upload", session_id=session_id, kind="chip", count=len(files))
    return UploadAnswer(status=out.status, counts=dict(out.counts))


@router.post("/{session_id}/submit", status_code=202, response_model=Submitted)
def submit(request: Request, session_id: SessionId, info: Uploader) -> Submitted:
    """Close the session for uploads and hand it to the executor (idempotent)."""
    out = intake.submit(app_store(request), session_id)
    if out.status == intake.SUBMITTED:
        executor(request).submit(session_id)
        event("submitted", session_id=session_id)
    return Submitted(status=out.status)


@router.get("/{session_id}/evidence", response_class=Response,
            responses={200: {"content": {"application/jose": {}}, "description": "compact JWS"},
                       409: {"description": "not decided yet"}})
def evidence(request: Request, session_id: SessionId, info: Applicant) -> Response:
    """The signed evidence record (compact JWS, ES256) of the decided session."""
    token = intake.evidence_record(app_store(request), session_id, app_settings(request))
    return Response(token, media_type="application/jose")


@router.delete("/{session_id}", status_code=204, response_class=Response)
def withdraw(request: Request, session_id: SessionId, info: Applicant) -> Response:
    """The applicant withdraws: uploads and case evidence are erased, the decision stays."""
    intake.erase_applicant(app_store(request), session_id)
    event("withdrawn", session_id=session_id)
    return Response(status_code=204)
