"""Filing cases, reading them back, and the evidence that comes with them.

The pipeline calls :func:`file_case`; nothing here interprets the evidence. Blob bytes are
encrypted before they touch the disk and hashed (sha256 of the plaintext) so the hash can
prove later what was seen, even after the bytes are purged.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from proofing.review import audit
from proofing.review.errors import InvalidState, LeaseError, NotFound, PermissionDenied
from proofing.review.models import Case, Evidence, Reason, User, as_dict
from proofing.review.roles import OPERATE, ROLES, VIEW, WORK, require
from proofing.review.store import ReviewStore

MACHINE_DECISIONS = ("ACCEPT", "REJECT", "REVIEW")
#: Evidence kinds that are biometric or identity data: purged by the retention job.
#: The session record holds the MRZ and chip fields (names, numbers), so it goes too.
BIOMETRIC_KINDS = frozenset({"document_image", "selfie", "chip_file", "chip_portrait", "page_portrait",
                             "session_record"})
DEFAULT_SLA = timedelta(hours=24)

# Case statuses.
QUEUED = "queued"
CLAIMED = "claimed"
PENDING_CONFIRMATION = "pending_confirmation"  # an override of REJECT waits for a 2nd reviewer
AWAITING_CAPTURE = "awaiting_capture"  # the applicant was asked for a new capture
ESCALATED = "escalated"  # waits for a senior reviewer
DECIDED = "decided"
WITHDRAWN = "withdrawn"  # erased on the applicant's request before a decision


@dataclass(frozen=True)
class EvidenceIn:
    """One blob to file: ``kind`` (document_image, selfie, chip_file, ...) and its bytes."""

    kind: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class ReasonIn:
    code: str
    explanation: str


@dataclass(frozen=True)
class EvidenceInfo:
    id: str
    kind: str
    content_type: str
    size: int
    sha256: str
    key_id: str
    purged_at: datetime | None
    purge_reason: str | None

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["purged_at"] = self.purged_at.isoformat() if self.purged_at else None
        return out


@dataclass(frozen=True)
class CaseView:
    """A case as a reviewer or the service sees it. ``status`` is the effective status: a
    claim whose lease ran out shows as the status it returns to, with ``lease_expired``."""

    id: str
    session_id: str
    status: str
    machine_decision: str
    risk_score: float
    policy_hash: str
    priority: int
    created_at: datetime
    sla_deadline: datetime
    claimed_by: str | None
    lease_expires_at: datetime | None
    lease_expired: bool
    pending_decision: str | None
    pending_by: str | None
    final_decision: str | None
    final_reason: str | None
    decided_by: str | None
    confirmed_by: str | None
    decided_at: datetime | None
    reasons: tuple[ReasonIn, ...]
    evidence: tuple[EvidenceInfo, ...]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
            elif key == "reasons":
                out[key] = [{"code": r.code, "explanation": r.explanation} for r in value]
            elif key == "evidence":
                out[key] = [e.to_json() for e in value]
            else:
                out[key] = value
        return out


def lease_expired(now: datetime) -> ColumnElement[bool]:
    """SQL: the case is claimed but the lease ran out."""
    return and_(Case.status == CLAIMED, Case.lease_expires_at <= now)


def in_status(status: str, now: datetime) -> ColumnElement[bool]:
    """SQL: the case's effective status is ``status`` (see :func:`effective_status`)."""
    if status == CLAIMED:
        return and_(Case.status == CLAIMED, Case.lease_expires_at > now)
    return or_(Case.status == status, and_(lease_expired(now), Case.return_status == status))


def effective_status(case: Case, now: datetime) -> str:
    if case.status == CLAIMED and case.lease_expires_at is not None and case.lease_expires_at <= now:
        return case.return_status or QUEUED
    return case.status


def view(session: Session, case: Case, now: datetime) -> CaseView:
    reasons = session.execute(
        select(Reason).where(Reason.case_id == case.id).order_by(Reason.id)
    ).scalars()
    evidence = session.execute(
        select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.created_at, Evidence.id)
    ).scalars()
    status = effective_status(case, now)
    expired = status != case.status
    return CaseView(
        id=case.id,
        session_id=case.session_id,
        status=status,
        machine_decision=case.machine_decision,
        risk_score=case.risk_score,
        policy_hash=case.policy_hash,
        priority=case.priority,
        created_at=case.created_at,
        sla_deadline=case.sla_deadline,
        claimed_by=case.claimed_by,
        lease_expires_at=case.lease_expires_at,
        lease_expired=expired,
        pending_decision=case.pending_decision,
        pending_by=case.pending_by,
        final_decision=case.final_decision,
        final_reason=case.final_reason,
        decided_by=case.decided_by,
        confirmed_by=case.confirmed_by,
        decided_at=case.decided_at,
        reasons=tuple(ReasonIn(r.code, r.explanation) for r in reasons),
        evidence=tuple(
            EvidenceInfo(e.id, e.kind, e.content_type, e.size, e.sha256, e.key_id, e.purged_at, e.purge_reason)
            for e in evidence
        ),
    )


def state(case: Case) -> dict[str, Any]:
    """The before/after snapshot the audit log records (no personal data in it)."""
    return as_dict(case)


def add_user(store: ReviewStore, name: str, role: str, *, actor: str = "operator") -> None:
    """Create or change a back-office account. An operator action (CLI / database access);
    the HTTP service should only expose it to admins."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    now = store.clock()
    with store.transaction() as s:
        user = s.get(User, name)
        before = {"role": user.role} if user else None
        if user is None:
            s.add(User(name=name, role=role, created_at=now))
        else:
            user.role = role
        audit.append(
            s, at=now, actor=actor, action="user_set", case_id=None,
            before=before, after={"name": name, "role": role},
        )


def store_blobs(store: ReviewStore, case_id: str, evidence: Sequence[EvidenceIn], now: datetime) -> list[Evidence]:
    rows: list[Evidence] = []
    try:
        for item in evidence:
            if not item.kind or not item.kind.replace("_", "").isalnum():
                raise ValueError(f"bad evidence kind {item.kind!r}")
            eid = str(uuid.uuid4())
            key = f"{case_id}/{eid}"
            store.storage.put(key, store.keyring.encrypt(item.data, case_id, item.kind))
            rows.append(
                Evidence(
                    id=eid, case_id=case_id, kind=item.kind, content_type=item.content_type,
                    size=len(item.data), sha256=hashlib.sha256(item.data).hexdigest(),
                    key_id=store.keyring.current_id, storage_key=key, created_at=now,
                )
            )
    except BaseException:
        drop_blobs(store, rows)
        raise
    return rows


def drop_blobs(store: ReviewStore, rows: Sequence[Evidence]) -> None:
    for row in rows:
        store.storage.delete(row.storage_key)


def file_case(
    store: ReviewStore,
    *,
    session_id: str,
    machine_decision: str,
    reasons: Sequence[ReasonIn],
    risk_score: float,
    policy_hash: str,
    priority: int = 0,
    evidence: Sequence[EvidenceIn] = (),
    sla: timedelta = DEFAULT_SLA,
    queued: bool = True,
    actor: str = "pipeline",
) -> str:
    """File one session's outcome; returns the case id. Higher ``priority`` is served
    first, then the earlier SLA deadline (filing time + ``sla``). ``queued=False`` records a final
    machine decision (ACCEPT/REJECT) without queueing it, so its evidence still falls under
    the same encryption, retention and erasure rules."""
    if machine_decision not in MACHINE_DECISIONS:
        raise ValueError(f"machine decision must be one of {MACHINE_DECISIONS}")
    if not queued and machine_decision == "REVIEW":
        raise ValueError("a REVIEW decision must be queued")
    now = store.clock()
    case_id = str(uuid.uuid4())
    blobs = store_blobs(store, case_id, evidence, now)
    try:
        with store.transaction() as s:
            insert_case(
                s, case_id=case_id, session_id=session_id, machine_decision=machine_decision,
                reasons=reasons, risk_score=risk_score, policy_hash=policy_hash, priority=priority,
                blobs=blobs, sla=sla, queued=queued, actor=actor, now=now,
            )
    except BaseException:
        drop_blobs(store, blobs)
        raise
    return case_id


def insert_case(
    s: Session,
    *,
    case_id: str,
    session_id: str,
    machine_decision: str,
    reasons: Sequence[ReasonIn],
    risk_score: float,
    policy_hash: str,
    priority: int,
    blobs: Sequence[Evidence],
    sla: timedelta,
    queued: bool,
    actor: str,
    now: datetime,
) -> None:
    """The rows of :func:`file_case` inside the caller's transaction (blobs already stored),
    so a caller can file a case atomically with its own state change."""
    if machine_decision not in MACHINE_DECISIONS:
        raise ValueError(f"machine decision must be one of {MACHINE_DECISIONS}")
    if not queued and machine_decision == "REVIEW":
        raise ValueError("a REVIEW decision must be queued")
    case = Case(
        id=case_id, session_id=session_id, machine_decision=machine_decision,
        risk_score=float(risk_score), policy_hash=policy_hash, priority=int(priority),
        status=QUEUED if queued else DECIDED, created_at=now, sla_deadline=now + sla,
    )
    if not queued:
        case.final_decision, case.decided_by, case.decided_at = machine_decision, "machine", now
        case.final_reason = "machine decision"
    s.add(case)
    s.flush()
    s.add_all(Reason(case_id=case_id, code=r.code, explanation=r.explanation) for r in reasons)
    s.add_all(blobs)
    s.flush()
    audit.append(
        s, at=now, actor=actor, action="file", case_id=case_id, before=None, after=state(case),
        details={
            "reasons": [r.code for r in reasons],
            "evidence": [{"id": b.id, "kind": b.kind, "sha256": b.sha256} for b in blobs],
        },
    )


class ReasonLike(Protocol):
    """A policy reason: its code and the explanation written for the reviewer."""

    @property
    def code(self) -> str: ...

    @property
    def reviewer(self) -> str: ...


class DecisionLike(Protocol):
    """What :func:`file_decision` needs of the policy's decision (duck-typed: no import)."""

    @property
    def decision(self) -> str: ...

    @property
    def risk_score(self) -> float: ...

    @property
    def policy_hash(self) -> str: ...

    @property
    def reasons(self) -> Sequence[ReasonLike]: ...


def file_decision(
    store: ReviewStore,
    decision: DecisionLike,
    *,
    session_id: str,
    evidence: Sequence[EvidenceIn] = (),
    priority: int = 0,
    sla: timedelta = DEFAULT_SLA,
    queued: bool | None = None,
) -> str:
    """:func:`file_case` from the policy's decision object; REVIEW is queued, ACCEPT and
    REJECT are recorded as final unless ``queued`` says otherwise."""
    return file_case(
        store,
        session_id=session_id,
        machine_decision=decision.decision,
        reasons=[ReasonIn(r.code, r.reviewer) for r in decision.reasons],
        risk_score=decision.risk_score,
        policy_hash=decision.policy_hash,
        priority=priority,
        evidence=evidence,
        sla=sla,
        queued=decision.decision == "REVIEW" if queued is None else queued,
    )


def get_case(store: ReviewStore, case_id: str, user: str) -> CaseView:
    with store.sessions() as s:
        require(s, user, VIEW)
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(f"no case {case_id}")
        return view(s, case, store.clock())


def list_cases(
    store: ReviewStore, user: str, *, status: str | None = None, session_id: str | None = None, limit: int = 100
) -> list[CaseView]:
    """Cases in queue order (priority, then SLA deadline); ``status`` filters on the
    effective status (an expired claim counts as back in the queue)."""
    now = store.clock()
    with store.sessions() as s:
        require(s, user, VIEW)
        q = select(Case).order_by(Case.priority.desc(), Case.sla_deadline, Case.created_at, Case.id)
        if session_id is not None:
            q = q.where(Case.session_id == session_id)
        if status is not None:
            q = q.where(in_status(status, now))
        return [view(s, case, now) for case in s.execute(q.limit(limit)).scalars()]


def read_evidence(store: ReviewStore, evidence_id: str, user: str) -> bytes:
    """Decrypted bytes of one blob, for the reviewer holding the case (or an admin); the
    access is audited. Raises InvalidState once the blob is purged."""
    now = store.clock()
    with store.transaction() as s:
        u = require(s, user, WORK)
        ev = s.get(Evidence, evidence_id)
        if ev is None:
            raise NotFound(f"no evidence {evidence_id}")
        case = s.get(Case, ev.case_id)
        assert case is not None
        holds = case.status == CLAIMED and case.claimed_by == user and effective_status(case, now) == CLAIMED
        if not holds and OPERATE not in ROLES[u.role]:
            raise LeaseError("claim the case before viewing its evidence")
        if ev.purged_at is not None:
            raise InvalidState(f"evidence {evidence_id} was purged ({ev.purge_reason})")
        data = store.keyring.decrypt(store.storage.get(ev.storage_key), ev.case_id, ev.kind)
        if hashlib.sha256(data).hexdigest() != ev.sha256:
            raise InvalidState(f"evidence {evidence_id} does not match its recorded sha256")
        audit.append(
            s, at=now, actor=user, action="view_evidence", case_id=case.id,
            details={"evidence": ev.id, "kind": ev.kind},
        )
        return data


def add_capture(
    store: ReviewStore, case_id: str, evidence: Sequence[EvidenceIn], *, actor: str = "pipeline"
) -> None:
    """New evidence from the applicant after a capture request: the case queues again."""
    now = store.clock()
    blobs = store_blobs(store, case_id, evidence, now)
    try:
        with store.transaction() as s:
            case = s.execute(select(Case).where(Case.id == case_id).with_for_update()).scalar_one_or_none()
            if case is None:
                raise NotFound(f"no case {case_id}")
            if case.status != AWAITING_CAPTURE:
                raise InvalidState(f"case {case_id} is {case.status}, not awaiting a capture")
            before = state(case)
            case.status = QUEUED
            s.add_all(blobs)
            s.flush()
            audit.append(
                s, at=now, actor=actor, action="add_capture", case_id=case_id, before=before,
                after=state(case),
                details={"evidence": [{"id": b.id, "kind": b.kind, "sha256": b.sha256} for b in blobs]},
            )
    except BaseException:
        drop_blobs(store, blobs)
        raise


__all__ = [
    "BIOMETRIC_KINDS",
    "CaseView",
    "EvidenceIn",
    "EvidenceInfo",
    "PermissionDenied",
    "ReasonIn",
    "add_capture",
    "add_user",
    "file_case",
    "file_decision",
    "get_case",
    "list_cases",
    "read_evidence",
]
