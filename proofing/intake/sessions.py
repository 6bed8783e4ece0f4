"""Applicant sessions: open one, upload into it, submit it, read its outcome, withdraw.

A session is a row with a hashed bearer token and the server's fresh chip challenge;
every upload is an encrypted blob. Nothing lives in one process's memory, so any API
process or worker can serve any session.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from proofing.intake.errors import SessionExpired, UploadRejected
from proofing.intake.models import ApplicantSession, Upload
from proofing.intake.uploads import check_chip, check_image
from proofing.review.errors import InvalidState, NotFound, PermissionDenied
from proofing.review.models import Case
from proofing.review.store import ReviewStore
from proofing.settings import Settings, get_settings

OPEN, SUBMITTED, PROCESSING, DECIDED, EXPIRED, ERASED = (
    "open", "submitted", "processing", "decided", "expired", "erased")
FRAME_KINDS = ("document", "selfie")
CHALLENGE_BYTES = 8  # ICAO 9303-11 Active Authentication: an 8-byte nonce


@dataclass
class SessionInfo:
    """What the applicant (and the API) may know about a session: no personal data."""

    id: str
    status: str
    created_at: datetime
    expires_at: datetime
    challenge: bytes
    counts: dict[str, int] = field(default_factory=dict)
    decision: str | None = None
    #: The machine's decision when a reviewer has since decided differently (or not yet).
    machine_decision: str | None = None
    reasons: list[dict[str, str]] = field(default_factory=list)
    risk_score: float | None = None
    policy_hash: str | None = None
    case_id: str | None = None
    decided_at: datetime | None = None
    #: REVIEW cases: queued / claimed / decided ... (the reviewer's progress).
    review_status: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.id,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "challenge": self.challenge.hex(),
            "counts": dict(self.counts),
            "decision": self.decision,
            "machine_decision": self.machine_decision,
            "reasons": [dict(r) for r in self.reasons],
            "risk_score": self.risk_score,
            "policy_hash": self.policy_hash,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "review_status": self.review_status,
        }


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def blob_aad_id(session_id: str) -> str:
    return f"intake:{session_id}"


def create_session(store: ReviewStore, *, ttl: timedelta | None = None,
                   settings: Settings | None = None) -> tuple[SessionInfo, str]:
    """A new session, its applicant token (shown once, stored only as a hash) and challenge."""
    settings = settings or get_settings()
    now = store.clock()
    token = secrets.token_urlsafe(32)
    row = ApplicantSession(
        id=str(uuid.uuid4()), token_hash=token_hash(token), challenge=secrets.token_bytes(CHALLENGE_BYTES).hex(),
        status=OPEN, created_at=now, expires_at=now + (ttl or timedelta(seconds=settings.session_ttl_s)),
        attempts=0,
    )
    with store.transaction() as s:
        s.add(row)
    return session_info(store, row, {}), token


def authenticate(store: ReviewStore, session_id: str, token: str) -> SessionInfo:
    """The session when ``token`` is its applicant token; NotFound / PermissionDenied otherwise."""
    with store.sessions() as s:
        row = _get(s, session_id)
        if not hmac.compare_digest(row.token_hash, token_hash(token or "")):
            raise PermissionDenied("this token does not belong to this session")
        return session_info(store, row, upload_counts(s, session_id), s)


def get_session(store: ReviewStore, session_id: str) -> SessionInfo:
    with store.sessions() as s:
        row = _get(s, session_id)
        return session_info(store, row, upload_counts(s, session_id), s)


def add_frames(store: ReviewStore, session_id: str, kind: str, frames: Sequence[bytes],
               *, settings: Settings | None = None) -> SessionInfo:
    """Store document or selfie frames (each checked, then encrypted)."""
    settings = settings or get_settings()
    if kind not in FRAME_KINDS:
        raise ValueError(f"frame kind must be one of {FRAME_KINDS}")
    if not frames:
        raise UploadRejected(422, "UPLOAD_EMPTY", "no frames in the upload")
    types = [check_image(f, settings) for f in frames]
    items = [(kind, "", ctype, data) for ctype, data in zip(types, frames, strict=True)]
    return _store_uploads(store, session_id, items, limit=settings.max_frames)


def set_chip(store: ReviewStore, session_id: str, files: dict[str, bytes],
             aa_signature: bytes | None = None) -> SessionInfo:
    """Store the chip's raw files (replacing an earlier upload) and the AA signature."""
    check_chip(files, aa_signature)
    items = [("chip", name, "application/octet-stream", data) for name, data in sorted(files.items())]
    if aa_signature is not None:
        items.append(("aa_signature", "AA", "application/octet-stream", aa_signature))
    return _store_uploads(store, session_id, items, replace=("chip", "aa_signature"))


def submit(store: ReviewStore, session_id: str) -> SessionInfo:
    """Close the session for uploads; the caller then hands it to an executor."""
    with store.transaction() as s:
        row = lock_row(s, session_id)
        if row.status in (SUBMITTED, PROCESSING, DECIDED):
            return session_info(store, row, upload_counts(s, session_id), s)  # a double submit is harmless
        _require_open(store, row)
        counts = upload_counts(s, session_id)
        if not counts.get("selfie") and not counts.get("document"):
            raise InvalidState("nothing to check yet: upload the document and the selfie first")
        row.status, row.submitted_at = SUBMITTED, store.clock()
        return session_info(store, row, counts, s)


def add_recapture(store: ReviewStore, session_id: str, kind: str, frames: Sequence[bytes],
                  *, settings: Settings | None = None) -> SessionInfo:
    """New frames after a reviewer asked for a new capture: they go straight into the case
    (encrypted, audited as the applicant's) and the case queues again."""
    from proofing.review.cases import AWAITING_CAPTURE, EvidenceIn, add_capture

    settings = settings or get_settings()
    if kind not in FRAME_KINDS:
        raise ValueError(f"frame kind must be one of {FRAME_KINDS}")
    if not frames:
        raise UploadRejected(422, "UPLOAD_EMPTY", "no frames in the upload")
    if len(frames) > settings.max_frames:
        raise UploadRejected(413, "TOO_MANY_FRAMES", f"at most {settings.max_frames} frames at a time")
    types = [check_image(f, settings) for f in frames]
    info = get_session(store, session_id)
    if info.case_id is None or info.review_status != AWAITING_CAPTURE:
        raise InvalidState("no new capture was requested for this session")
    evidence_kind = "document_image" if kind == "document" else "selfie"
    add_capture(store, info.case_id, [EvidenceIn(evidence_kind, t, f) for t, f in zip(types, frames, strict=True)],
                actor=f"applicant:{session_id}")
    return get_session(store, session_id)


def erase_applicant(store: ReviewStore, session_id: str) -> SessionInfo:
    """The applicant withdraws: every upload and case evidence is deleted; the decision,
    its reasons and the hashes stay (they hold no personal data)."""
    from proofing.review.retention import erase_session

    keys: list[str] = []
    with store.transaction() as s:
        row = lock_row(s, session_id)
        if row.status == PROCESSING:
            raise InvalidState("the session is being checked right now; withdraw again in a moment")
        for up in s.scalars(select(Upload).where(Upload.session_id == session_id, Upload.purged_at.is_(None))):
            up.purged_at = store.clock()
            keys.append(up.storage_key)
        if row.status in (OPEN, SUBMITTED):
            row.status = ERASED
        row.erased_at = store.clock()
    for key in keys:
        store.storage.delete(key)
    if row.case_id:
        erase_session(store, session_id, actor=f"applicant:{session_id}", reason="withdrawn by the applicant")
    return get_session(store, session_id)


def read_uploads(store: ReviewStore, session_id: str) -> list[tuple[Upload, bytes]]:
    """Every live upload of the session, decrypted, in upload order."""
    with store.sessions() as s:
        rows = list(s.scalars(select(Upload).where(Upload.session_id == session_id, Upload.purged_at.is_(None))
                              .order_by(Upload.created_at, Upload.name)))
    return [(up, store.keyring.decrypt(store.storage.get(up.storage_key), blob_aad_id(session_id), up.kind))
            for up in rows]


def purge_uploads(store: ReviewStore, session_id: str) -> int:
    """Delete the session's upload blobs (after the decision copied what a case keeps)."""
    keys: list[str] = []
    with store.transaction() as s:
        for up in s.scalars(select(Upload).where(Upload.session_id == session_id, Upload.purged_at.is_(None))):
            up.purged_at = store.clock()
            keys.append(up.storage_key)
    for key in keys:
        store.storage.delete(key)
    return len(keys)


def expire_sessions(store: ReviewStore) -> list[str]:
    """Close open sessions past their deadline and delete what they uploaded."""
    now = store.clock()
    with store.transaction() as s:
        rows = list(s.scalars(select(ApplicantSession).where(ApplicantSession.status == OPEN,
                                                             ApplicantSession.expires_at < now)))
        for row in rows:
            row.status = EXPIRED
    for row in rows:
        purge_uploads(store, row.id)
    return [r.id for r in rows]


# -- internals ------------------------------------------------------------------------------


def _get(s: Session, session_id: str) -> ApplicantSession:
    row = s.get(ApplicantSession, session_id) if _plausible_id(session_id) else None
    if row is None:
        raise NotFound("no such session")
    return row


def lock_row(s: Session, session_id: str) -> ApplicantSession:
    """The session's row, locked for this transaction (SELECT ... FOR UPDATE), so that two
    requests (or a worker and a request) cannot both change its state."""
    row = (s.execute(select(ApplicantSession).where(ApplicantSession.id == session_id).with_for_update())
           .scalar_one_or_none() if _plausible_id(session_id) else None)
    if row is None:
        raise NotFound("no such session")
    return row


def _plausible_id(session_id: str) -> bool:
    try:
        return str(uuid.UUID(session_id)) == session_id
    except (ValueError, TypeError, AttributeError):
        return False


def _require_open(store: ReviewStore, row: ApplicantSession) -> None:
    if row.status == OPEN and store.clock() >= row.expires_at:
        raise SessionExpired("the session has expired; start a new one")
    if row.status == EXPIRED:
        raise SessionExpired("the session has expired; start a new one")
    if row.status != OPEN:
        raise InvalidState(f"the session is {row.status}; uploads are closed")


def upload_counts(s: Session, session_id: str) -> dict[str, int]:
    """Live (not purged) uploads of the session per kind."""
    rows = s.execute(select(Upload.kind, func.count()).where(Upload.session_id == session_id,
                                                             Upload.purged_at.is_(None)).group_by(Upload.kind))
    return {kind: int(n) for kind, n in rows}


def _store_uploads(store: ReviewStore, session_id: str, items: list[tuple[str, str, str, bytes]], *,
                   limit: int | None = None, replace: tuple[str, ...] = ()) -> SessionInfo:
    now = store.clock()
    with store.sessions() as s:  # fail early, before encrypting anything
        _require_open(store, _get(s, session_id))
    written: list[Upload] = []
    try:
        for kind, name, ctype, data in items:
            uid = str(uuid.uuid4())
            key = f"intake/{session_id}/{uid}"
            store.storage.put(key, store.keyring.encrypt(data, blob_aad_id(session_id), kind))
            written.append(Upload(id=uid, session_id=session_id, kind=kind, name=name, content_type=ctype,
                                  size=len(data), sha256=hashlib.sha256(data).hexdigest(), storage_key=key,
                                  created_at=now))
        old_keys: list[str] = []
        with store.transaction() as s:
            row = lock_row(s, session_id)
            _require_open(store, row)
            if replace:
                for up in s.scalars(select(Upload).where(Upload.session_id == session_id,
                                                         Upload.kind.in_(replace), Upload.purged_at.is_(None))):
                    up.purged_at = now
                    old_keys.append(up.storage_key)
            counts = upload_counts(s, session_id)
            for i, up in enumerate(written):
                if not up.name:
                    up.name = str(counts.get(up.kind, 0) + i + 1)
            if limit is not None:
                for kind in {u.kind for u in written}:
                    total = counts.get(kind, 0) + sum(1 for u in written if u.kind == kind)
                    if total > limit:
                        raise UploadRejected(413, "TOO_MANY_FRAMES",
                                             f"at most {limit} {kind} frames per session")
            s.add_all(written)
            s.flush()
            info = session_info(store, row, upload_counts(s, session_id), s)
    except BaseException:
        for up in written:
            store.storage.delete(up.storage_key)
        raise
    for key in old_keys:
        store.storage.delete(key)
    return info


def session_info(store: ReviewStore, row: ApplicantSession, counts: dict[str, int], s: Session | None = None) -> SessionInfo:
    """What the applicant API shows of a session (expiry applied; the review status when a
    reviewer holds its case and ``s`` is given)."""
    status = row.status
    if status == OPEN and store.clock() >= row.expires_at:
        status = EXPIRED
    info = SessionInfo(
        id=row.id, status=status, created_at=row.created_at, expires_at=row.expires_at,
        challenge=bytes.fromhex(row.challenge), counts=counts, decision=row.decision,
        machine_decision=row.decision, reasons=json.loads(row.reasons) if row.reasons else [],
        risk_score=row.risk_score, policy_hash=row.policy_hash, case_id=row.case_id, decided_at=row.decided_at,
    )
    if row.case_id and s is not None:
        case = s.get(Case, row.case_id)
        if case is not None and row.decision == "REVIEW":
            info.review_status = case.status
            info.decision = case.final_decision or "REVIEW"
    return info
