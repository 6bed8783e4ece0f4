"""Case store and queue on SQLite and PostgreSQL: claims, leases, four eyes, idempotence,
roles, concurrency and a reviewer process killed mid-decision."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from proofing.review import (
    FourEyesError,
    InvalidState,
    LeaseError,
    PermissionDenied,
    ReviewStore,
    claim,
    claim_next,
    decide,
    escalate,
    expire_leases,
    get_case,
    list_cases,
    read_evidence,
    release,
    request_capture,
    verify_audit,
)
from proofing.review import testing as rt
from proofing.review.cases import EvidenceIn, add_capture
from proofing.review.models import AuditEntry, Base, Evidence

pg_url = rt.pg_url
db_url = rt.db_url
clock = rt.clock
store = rt.store
new_case = rt.new_case


def actions(st: ReviewStore, case_id: str | None = None) -> list[str]:
    with st.sessions() as s:
        q = select(AuditEntry.action).order_by(AuditEntry.seq)
        if case_id:
            q = q.where(AuditEntry.case_id == case_id)
        return list(s.execute(q).scalars())


def test_migrations_match_models(store: ReviewStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), Base.metadata)
    # The alembic version table is the migrations' own; anything else is drift.
    assert [d for d in diff if "alembic_version" not in str(d)] == []


def test_file_encrypts_and_only_the_holder_reads(store: ReviewStore, tmp_path: Path) -> None:
    cid = new_case(store)
    case = get_case(store, cid, "vic")
    assert case.status == "queued" and [r.code for r in case.reasons] == ["FACE_LOW"]
    selfie = next(e for e in case.evidence if e.kind == "selfie")
    with store.sessions() as s:
        row = s.get(Evidence, selfie.id)
        assert row is not None
        on_disk = (tmp_path / "data" / "evidence" / row.storage_key).read_bytes()
    assert b"selfie-" not in on_disk and on_disk.startswith(b"PRE1")
    with pytest.raises(LeaseError):
        read_evidence(store, selfie.id, "alice")
    with pytest.raises(PermissionDenied):
        read_evidence(store, selfie.id, "vic")
    claim_next(store, "alice")
    data = read_evidence(store, selfie.id, "alice")
    assert data.startswith(b"\xff\xd8selfie-")
    assert actions(store, cid) == ["file", "claim", "view_evidence"]


def test_file_decision_from_a_policy_decision(store: ReviewStore) -> None:
    from dataclasses import dataclass

    from proofing.review import file_decision

    @dataclass(frozen=True)
    class R:
        code: str
        reviewer: str

    @dataclass(frozen=True)
    class D:
        decision: str
        reasons: tuple[R, ...]
        risk_score: float
        policy_hash: str

    review = file_decision(store, D("REVIEW", (R("FACE_BORDERLINE", "check the portrait"),), 0.4, "p1"), session_id="s1")
    final = file_decision(store, D("ACCEPT", (), 0.0, "p1"), session_id="s2")
    assert get_case(store, review, "vic").status == "queued"
    assert get_case(store, review, "vic").reasons[0].explanation == "check the portrait"
    done = get_case(store, final, "vic")
    assert (done.status, done.final_decision, done.decided_by) == ("decided", "ACCEPT", "machine")
    assert [c.id for c in list_cases(store, "vic", status="queued")] == [review]


def test_roles(store: ReviewStore) -> None:
    cid = new_case(store)
    assert [c.id for c in list_cases(store, "vic")] == [cid]
    for call in (lambda: claim_next(store, "vic"), lambda: claim(store, cid, "vic"),
                 lambda: decide(store, cid, "vic", "ACCEPT", "x"), lambda: list_cases(store, "mallory")):
        with pytest.raises(PermissionDenied):
            call()
    claim_next(store, "alice")
    with pytest.raises(LeaseError):  # bob holds no claim
        decide(store, cid, "bob", "ACCEPT", "fine")
    with pytest.raises(ValueError):  # reason is mandatory
        decide(store, cid, "alice", "ACCEPT", "  ")
    assert get_case(store, cid, "vic").status == "claimed"


def test_queue_order_and_one_case_at_a_time(store: ReviewStore, clock: rt.FakeClock) -> None:
    low = new_case(store, priority=0, evidence=False)
    clock.advance(timedelta(seconds=1))
    high_late = new_case(store, priority=5, evidence=False, sla=timedelta(hours=8))
    high_early = new_case(store, priority=5, evidence=False, sla=timedelta(hours=1))
    first = claim_next(store, "alice")
    assert first is not None and first.id == high_early
    again = claim_next(store, "alice")  # double click on "next": same case, no second claim
    assert again is not None and again.id == high_early
    second = claim_next(store, "bob")
    assert second is not None and second.id == high_late
    release(store, high_early, "alice")
    third = claim_next(store, "carol")
    assert third is not None and third.id == high_early
    fourth = claim_next(store, "alice")
    assert fourth is not None and fourth.id == low
    assert claim_next(store, "ada") is None
    assert actions(store).count("claim") == 4


def test_lease_expires_and_case_returns(store: ReviewStore, clock: rt.FakeClock) -> None:
    cid = new_case(store)
    claim_next(store, "alice", lease=timedelta(minutes=5))
    assert claim_next(store, "bob") is None
    clock.advance(timedelta(minutes=5, seconds=1))
    view = get_case(store, cid, "vic")
    assert view.status == "queued" and view.lease_expired
    with pytest.raises(LeaseError):
        decide(store, cid, "alice", "ACCEPT", "too late")
    taken = claim_next(store, "bob")
    assert taken is not None and taken.id == cid and taken.claimed_by == "bob"
    assert decide(store, cid, "bob", "ACCEPT", "ok").case.status == "decided"
    # expire_leases records the return explicitly
    other = new_case(store)
    claim(store, other, "alice", lease=timedelta(minutes=1))
    clock.advance(timedelta(minutes=2))
    assert expire_leases(store) == [other]
    assert get_case(store, other, "vic").status == "queued"
    assert actions(store, other)[-1] == "lease_expired"
    assert verify_audit(store).ok


def test_four_eyes(store: ReviewStore, clock: rt.FakeClock) -> None:
    cid = new_case(store, machine="REJECT")
    claim_next(store, "alice")
    r = decide(store, cid, "alice", "ACCEPT", "document genuine, glare on photo")
    assert r.needs_confirmation and r.case.status == "pending_confirmation"
    assert r.case.final_decision is None
    # alice can neither take it back nor confirm herself
    assert claim_next(store, "alice") is None
    with pytest.raises(InvalidState):
        claim(store, cid, "alice")
    with pytest.raises(FourEyesError):
        decide(store, cid, "alice", "REJECT", "changed my mind")
    taken = claim_next(store, "bob")
    assert taken is not None and taken.id == cid
    r = decide(store, cid, "bob", "ACCEPT", "agree")
    assert r.case.status == "decided" and r.case.final_decision == "ACCEPT"
    assert (r.case.decided_by, r.case.confirmed_by) == ("alice", "bob")
    assert actions(store, cid) == ["file", "claim", "override_pending", "claim", "confirm"]
    assert [c.id for c in list_cases(store, "vic", status="decided")] == [cid]

    # the second reviewer may refuse the override: the machine's REJECT stands
    cid2 = new_case(store, machine="REJECT")
    claim_next(store, "alice")
    decide(store, cid2, "alice", "ACCEPT", "looks fine")
    claim_next(store, "bob")
    r = decide(store, cid2, "bob", "REJECT", "portrait differs")
    assert (r.case.final_decision, r.case.decided_by, r.case.confirmed_by) == ("REJECT", "bob", None)

    # a confirmer's lease that runs out returns the case to pending_confirmation
    cid4 = new_case(store, machine="REJECT")
    claim(store, cid4, "alice")
    decide(store, cid4, "alice", "ACCEPT", "fine")
    claim(store, cid4, "bob", lease=timedelta(minutes=1))
    assert [c.id for c in list_cases(store, "vic", status="claimed")] == [cid4]
    clock.advance(timedelta(minutes=2))
    assert [c.id for c in list_cases(store, "vic", status="pending_confirmation")] == [cid4]
    assert claim_next(store, "alice") is None
    taken = claim_next(store, "carol")
    assert taken is not None and taken.id == cid4 and taken.pending_by == "alice"

    # agreeing with the machine needs one reviewer only
    cid3 = new_case(store, machine="REJECT")
    claim_next(store, "alice")
    assert decide(store, cid3, "alice", "REJECT", "expired document").case.status == "decided"


def test_double_click_is_idempotent(store: ReviewStore) -> None:
    cid = new_case(store)
    claim_next(store, "alice")
    first = decide(store, cid, "alice", "ACCEPT", "all checks fine")
    second = decide(store, cid, "alice", "ACCEPT", "all checks fine")
    assert not first.duplicate and second.duplicate
    assert second.case.final_decision == "ACCEPT"
    with pytest.raises(InvalidState):
        decide(store, cid, "alice", "REJECT", "oops")
    assert actions(store, cid) == ["file", "claim", "decide"]

    # the same click arriving twice at the same time: one decision, one audit entry
    cid2 = new_case(store, machine="REJECT")
    claim_next(store, "bob")
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def click() -> None:
        barrier.wait()
        results.append(decide(store, cid2, "bob", "ACCEPT", "fine").duplicate)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]
    assert actions(store, cid2) == ["file", "claim", "override_pending"]

    # escalating twice is one escalation
    cid3 = new_case(store)
    claim(store, cid3, "alice")
    escalate(store, cid3, "alice", "needs a senior look")
    escalate(store, cid3, "alice", "needs a senior look")
    assert actions(store, cid3) == ["file", "claim", "escalate"]


def test_recapture_and_escalation(store: ReviewStore) -> None:
    cid = new_case(store)
    claim_next(store, "alice")
    assert request_capture(store, cid, "alice", "selfie too dark").status == "awaiting_capture"
    assert claim_next(store, "bob") is None
    add_capture(store, cid, [EvidenceIn("selfie", "image/jpeg", b"\xff\xd8new")])
    assert get_case(store, cid, "vic").status == "queued"
    assert len(get_case(store, cid, "vic").evidence) == 4
    claim_next(store, "bob")
    assert escalate(store, cid, "bob", "possible forgery").status == "escalated"
    assert claim_next(store, "alice") is None  # reviewers do not see escalated cases
    taken = claim_next(store, "carol")
    assert taken is not None and taken.id == cid
    assert decide(store, cid, "carol", "REJECT", "forged laminate").case.status == "decided"


def test_concurrent_claims(store: ReviewStore) -> None:
    """20 reviewers drain 200 cases at once: each case is claimed and decided exactly once."""
    n_cases, n_reviewers = 200, 20
    ids = {new_case(store, evidence=False, priority=i % 3) for i in range(n_cases)}
    names = [f"r{i:02d}" for i in range(n_reviewers)]
    for name in names:
        rt.add_user(store, name, "reviewer")
    barrier = threading.Barrier(n_reviewers)
    claimed: dict[str, list[str]] = {n: [] for n in names}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            barrier.wait()
            while (case := claim_next(store, name)) is not None:
                claimed[name].append(case.id)
                decide(store, case.id, name, "ACCEPT", "ok")
        except BaseException as e:  # surfaced by the assert below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    every = [c for cs in claimed.values() for c in cs]
    assert len(every) == n_cases and set(every) == ids
    assert sum(1 for cs in claimed.values() if cs) > 1  # the work was actually shared
    assert all(c.status == "decided" for c in list_cases(store, "vic", limit=1000))
    assert actions(store).count("claim") == n_cases
    assert actions(store).count("decide") == n_cases
    assert verify_audit(store).ok


def test_killed_mid_decision_leaves_case_claimed_then_expired(
    store: ReviewStore, db_url: str, tmp_path: Path, clock: rt.FakeClock
) -> None:
    cid = new_case(store)
    claim(store, cid, "alice", lease=timedelta(minutes=10))
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=rt.child_decide, args=(db_url, str(tmp_path / "data"), cid, "alice", child))
    proc.start()
    try:
        assert parent.poll(60), "child never reached the decision transaction"
        assert parent.recv() == "in-transaction"
        # the child's UPDATE is in flight but not visible
        assert get_case(store, cid, "vic").status == "claimed"
    finally:
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
    assert proc.exitcode == -signal.SIGKILL
    view = get_case(store, cid, "vic")
    assert (view.status, view.claimed_by, view.final_decision, view.decided_at) == ("claimed", "alice", None, None)
    assert actions(store, cid) == ["file", "claim"]
    clock.advance(timedelta(minutes=11))
    assert get_case(store, cid, "vic").lease_expired
    taken = None
    for _ in range(50):  # PostgreSQL frees the dead backend's row lock within moments
        taken = claim_next(store, "bob")
        if taken is not None:
            break
        time.sleep(0.1)
    assert taken is not None and taken.id == cid
    assert decide(store, cid, "bob", "REJECT", "checked").case.final_decision == "REJECT"
    assert actions(store, cid) == ["file", "claim", "claim_expired", "decide"]
    assert verify_audit(store).ok
    with store.sessions() as s:
        assert s.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == len(actions(store))
        s.execute(text("SELECT 1"))
