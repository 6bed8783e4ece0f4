"""The review queue: claim with a lease, decide, ask for a new capture, escalate.

Claiming is atomic on both backends: PostgreSQL picks the next row with ``FOR UPDATE SKIP
LOCKED`` (twenty reviewers never wait on each other or take the same case); SQLite runs the
same statements inside ``BEGIN IMMEDIATE``. In both, the row is then taken with a
conditional UPDATE whose WHERE repeats the eligibility test, and the rowcount is checked.

A claim is a lease: when it runs out the case is back in the queue for anyone (an expired
claim is simply eligible again; :func:`expire_leases` also records the return). A decision
is one transaction that re-checks the lease under a row lock, so a reviewer whose process
dies mid-decision leaves the case claimed, then expired, never half-decided.

Four eyes: overriding the machine's REJECT with ACCEPT puts the case in
``pending_confirmation``; another reviewer must claim and confirm it. A repeated submission
of the same decision (a double click) returns the recorded result without a second action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, false, or_, select, true, update
from sqlalchemy.orm import Session

from proofing.review import audit
from proofing.review.cases import (
    AWAITING_CAPTURE,
    CLAIMED,
    DECIDED,
    ESCALATED,
    PENDING_CONFIRMATION,
    QUEUED,
    CaseView,
    in_status,
    lease_expired,
    state,
    view,
)
from proofing.review.errors import FourEyesError, InvalidState, LeaseError, NotFound
from proofing.review.models import AuditEntry, Case
from proofing.review.roles import ROLES, SENIOR, WORK, require
from proofing.review.store import ReviewStore

DEFAULT_LEASE = timedelta(minutes=15)
DECISIONS = ("ACCEPT", "REJECT")


def _eligible(reviewer: str, senior: bool, now: datetime) -> ColumnElement[bool]:
    """SQL: cases ``reviewer`` may claim now."""
    return or_(
        in_status(QUEUED, now),
        and_(
            in_status(PENDING_CONFIRMATION, now),
            or_(Case.pending_by.is_(None), Case.pending_by != reviewer),
        ),
        and_(in_status(ESCALATED, now), true() if senior else false()),
    )


def _take(s: Session, case_id: str, reviewer: str, senior: bool, now: datetime, lease: timedelta) -> Case | None:
    """Conditional UPDATE: take ``case_id`` only if it is still eligible; None if not."""
    case = s.get(Case, case_id)
    if case is None:
        return None
    back_to = case.return_status if case.status == CLAIMED else case.status
    before = state(case)
    result = s.execute(
        update(Case)
        .where(Case.id == case_id, _eligible(reviewer, senior, now))
        .values(status=CLAIMED, claimed_by=reviewer, lease_expires_at=now + lease, return_status=back_to)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    s.refresh(case)
    action = "claim" if before["status"] != CLAIMED else "claim_expired"
    audit.append(s, at=now, actor=reviewer, action=action, case_id=case_id, before=before, after=state(case))
    return case


def _held_by(s: Session, reviewer: str, now: datetime) -> Case | None:
    return s.execute(
        select(Case)
        .where(Case.status == CLAIMED, Case.claimed_by == reviewer, Case.lease_expires_at > now)
        .order_by(Case.lease_expires_at)
        .limit(1)
    ).scalar_one_or_none()


def claim_next(store: ReviewStore, reviewer: str, *, lease: timedelta = DEFAULT_LEASE) -> CaseView | None:
    """The next case for ``reviewer`` (highest priority, then earliest SLA deadline), or
    None when nothing waits. A reviewer works one case at a time: while they hold a live
    claim, this returns that case again (a double click on "next" takes nothing more)."""
    now = store.clock()
    with store.transaction() as s:
        user = require(s, reviewer, WORK)
        senior = SENIOR in ROLES[user.role]
        held = _held_by(s, reviewer, now)
        if held is not None:
            return view(s, held, now)
        case_id = s.execute(
            select(Case.id)
            .where(_eligible(reviewer, senior, now))
            .order_by(Case.priority.desc(), Case.sla_deadline, Case.created_at, Case.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if case_id is None:
            return None
        # The row is ours (row lock on PostgreSQL, write lock on SQLite), so the conditional
        # UPDATE cannot miss; its rowcount check is the second line of defence.
        case = _take(s, case_id, reviewer, senior, now, lease)
        return view(s, case, now) if case is not None else None


def claim(store: ReviewStore, case_id: str, reviewer: str, *, lease: timedelta = DEFAULT_LEASE) -> CaseView:
    """Claim one named case, or renew the lease on a case the reviewer already holds."""
    now = store.clock()
    with store.transaction() as s:
        user = require(s, reviewer, WORK)
        case = _lock(s, case_id)
        if case.status == CLAIMED and case.claimed_by == reviewer and case.lease_expires_at and case.lease_expires_at > now:
            before = state(case)
            case.lease_expires_at = now + lease
            audit.append(s, at=now, actor=reviewer, action="renew", case_id=case_id, before=before, after=state(case))
            return view(s, case, now)
        taken = _take(s, case_id, reviewer, SENIOR in ROLES[user.role], now, lease)
        if taken is None:
            raise InvalidState(f"case {case_id} cannot be claimed by {reviewer} (status {case.status})")
        return view(s, taken, now)


def release(store: ReviewStore, case_id: str, reviewer: str) -> CaseView:
    """Give a claimed case back to the queue before the lease runs out."""
    now = store.clock()
    with store.transaction() as s:
        require(s, reviewer, WORK)
        case = _lock(s, case_id)
        _check_lease(case, reviewer, now)
        before = state(case)
        _unclaim(case, case.return_status or QUEUED)
        audit.append(s, at=now, actor=reviewer, action="release", case_id=case_id, before=before, after=state(case))
        return view(s, case, now)


def expire_leases(store: ReviewStore) -> list[str]:
    """Return every case whose lease ran out to the status it was claimed from, and record
    it. Optional housekeeping: expired claims are claimable whether or not this runs."""
    now = store.clock()
    done: list[str] = []
    with store.transaction() as s:
        rows = s.execute(
            select(Case).where(lease_expired(now)).order_by(Case.id).with_for_update(skip_locked=True)
        ).scalars().all()
        for case in rows:
            before = state(case)
            _unclaim(case, case.return_status or QUEUED)
            audit.append(s, at=now, actor="system", action="lease_expired", case_id=case.id, before=before, after=state(case))
            done.append(case.id)
    return done


@dataclass(frozen=True)
class DecisionResult:
    case: CaseView
    #: True when this exact decision was already recorded (a repeated submission).
    duplicate: bool
    #: True when the decision waits for a second reviewer (four eyes).
    needs_confirmation: bool


def decide(store: ReviewStore, case_id: str, reviewer: str, decision: str, reason: str) -> DecisionResult:
    """Record ``reviewer``'s ACCEPT or REJECT with a mandatory reason.

    ACCEPT over the machine's REJECT by a first reviewer goes to ``pending_confirmation``;
    the same ACCEPT by a different reviewer (who claimed it) makes it final. A reviewer
    never confirms their own override. Submitting the same decision again is a no-op.
    """
    decision = decision.upper()
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}")
    reason = reason.strip()
    if not reason:
        raise ValueError("a decision needs a reason")
    now = store.clock()
    with store.transaction() as s:
        require(s, reviewer, WORK)
        case = _lock(s, case_id)
        if _already(case, reviewer, decision):
            return DecisionResult(view(s, case, now), True, case.status == PENDING_CONFIRMATION)
        if case.status == DECIDED:
            raise InvalidState(f"case {case_id} is already decided ({case.final_decision})")
        if case.pending_decision is not None and case.pending_by == reviewer:
            raise FourEyesError("you cannot confirm your own override; another reviewer must")
        _check_lease(case, reviewer, now)
        before = state(case)
        override = case.machine_decision == "REJECT" and decision == "ACCEPT"
        if override and case.pending_decision is None:
            case.pending_decision, case.pending_by, case.pending_reason = decision, reviewer, reason
            _unclaim(case, PENDING_CONFIRMATION)
            action = "override_pending"
        else:
            confirming = case.pending_decision is not None and decision == case.pending_decision
            case.status = DECIDED
            case.final_decision, case.final_reason = decision, reason
            case.decided_at = now
            if confirming:
                case.decided_by, case.confirmed_by = case.pending_by, reviewer
                action = "confirm"
            else:
                case.decided_by = reviewer
                action = "decide" if case.pending_decision is None else "override_refused"
            _unclaim(case, DECIDED)
        audit.append(
            s, at=now, actor=reviewer, action=action, case_id=case_id, before=before, after=state(case),
            details={"decision": decision, "reason": reason},
        )
        return DecisionResult(view(s, case, now), False, case.status == PENDING_CONFIRMATION)


def request_capture(store: ReviewStore, case_id: str, reviewer: str, reason: str) -> CaseView:
    """Ask the applicant for a new capture; the case waits (unclaimed) until it arrives."""
    return _park(store, case_id, reviewer, reason, AWAITING_CAPTURE, "request_capture")


def escalate(store: ReviewStore, case_id: str, reviewer: str, reason: str) -> CaseView:
    """Hand the case to a senior reviewer (only senior reviewers and admins claim it)."""
    return _park(store, case_id, reviewer, reason, ESCALATED, "escalate")


def _park(store: ReviewStore, case_id: str, reviewer: str, reason: str, to: str, action: str) -> CaseView:
    reason = reason.strip()
    if not reason:
        raise ValueError(f"{action} needs a reason")
    now = store.clock()
    with store.transaction() as s:
        require(s, reviewer, WORK)
        case = _lock(s, case_id)
        if case.status == to and _last_actor_did(s, case_id, reviewer, action):
            return view(s, case, now)  # repeated submission
        _check_lease(case, reviewer, now)
        before = state(case)
        _unclaim(case, to)
        audit.append(
            s, at=now, actor=reviewer, action=action, case_id=case_id, before=before, after=state(case),
            details={"reason": reason},
        )
        return view(s, case, now)


def _last_actor_did(s: Session, case_id: str, actor: str, action: str) -> bool:
    last = s.execute(
        select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.seq.desc()).limit(1)
    ).scalar_one_or_none()
    return last is not None and last.actor == actor and last.action == action


def _already(case: Case, reviewer: str, decision: str) -> bool:
    """This reviewer's identical decision is already the case's recorded state."""
    if case.status == PENDING_CONFIRMATION:
        return case.pending_by == reviewer and case.pending_decision == decision
    if case.status == DECIDED:
        return case.final_decision == decision and reviewer in (case.decided_by, case.confirmed_by)
    return False


def _lock(s: Session, case_id: str) -> Case:
    case = s.execute(select(Case).where(Case.id == case_id).with_for_update()).scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def _check_lease(case: Case, reviewer: str, now: datetime) -> None:
    if case.status != CLAIMED or case.claimed_by != reviewer:
        raise LeaseError(f"case {case.id} is {case.status}; claim it first")
    if case.lease_expires_at is None or case.lease_expires_at <= now:
        raise LeaseError(f"your claim on case {case.id} expired; claim it again")


def _unclaim(case: Case, to: str) -> None:
    case.status = to
    case.claimed_by = case.lease_expires_at = case.return_status = None
