"""Data protection jobs: retention purge, erasure on request, key rotation.

Purging deletes the encrypted bytes and marks the evidence row purged; the case, its
decision, reasons and the sha256 of every blob stay, so the outcome can still be explained
and a later copy of an image can be matched against what was seen. Rows are marked in a
committed transaction first and files deleted after; a file left behind by a crash is
deleted by the next run (it belongs to a row already marked purged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from proofing.review import audit
from proofing.review.cases import BIOMETRIC_KINDS, DECIDED, WITHDRAWN, state
from proofing.review.models import Case, Evidence
from proofing.review.roles import OPERATE, require
from proofing.review.store import ReviewStore

DEFAULT_RETENTION_DAYS = 30
#: Actor prefix of an erasure the applicant asked for through their own session token.
APPLICANT_ACTOR = "applicant:"


@dataclass
class PurgeReport:
    cases: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    files_deleted: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "proofing.review-purge/1",
            "cases": self.cases,
            "evidence": self.evidence,
            "files_deleted": self.files_deleted,
        }


def purge_retention(
    store: ReviewStore, *, days: int = DEFAULT_RETENTION_DAYS, actor: str = "system", dry_run: bool = False
) -> PurgeReport:
    """Purge biometric evidence (document images, selfies, chip files) of cases decided more
    than ``days`` ago. Undecided cases are never touched, whatever their age."""
    if days < 0:
        raise ValueError("days must be >= 0")
    now = store.clock()
    cutoff = now - timedelta(days=days)
    report = PurgeReport()
    with store.transaction() as s:
        if actor != "system":
            require(s, actor, OPERATE)
        rows = s.execute(
            select(Evidence, Case)
            .join(Case, Case.id == Evidence.case_id)
            .where(
                Case.status == DECIDED,
                Case.decided_at < cutoff,
                Evidence.purged_at.is_(None),
                Evidence.kind.in_(sorted(BIOMETRIC_KINDS)),
            )
            .order_by(Case.id, Evidence.id)
            # rows being erased or re-keyed right now are skipped: no lock waits, no deadlock
            .with_for_update(of=Evidence, skip_locked=True)
        ).all()
        by_case: dict[str, list[Evidence]] = {}
        for ev, case in rows:
            by_case.setdefault(case.id, []).append(ev)
        report.cases = list(by_case)
        report.evidence = [ev.id for ev, _ in rows]
        if dry_run:
            s.rollback()
            return report
        for ev, _ in rows:
            ev.purged_at, ev.purge_reason = now, "retention"
        for case_id, evs in by_case.items():
            audit.append(
                s, at=now, actor=actor, action="purge_retention", case_id=case_id,
                details={"days": days, "evidence": [{"id": e.id, "kind": e.kind, "sha256": e.sha256} for e in evs]},
            )
    report.files_deleted = sweep(store)
    return report


def erase_session(store: ReviewStore, session_id: str, *, actor: str, reason: str) -> PurgeReport:
    """Erase everything personal of one session on the applicant's request: every evidence
    blob of every case (any kind). Undecided cases become ``withdrawn``. The decision,
    machine reason codes and hashes stay (they identify nobody without the blobs)."""
    if not reason.strip():
        raise ValueError("erasure needs a reason (e.g. the request reference)")
    now = store.clock()
    report = PurgeReport()
    with store.transaction() as s:
        if not actor.startswith(APPLICANT_ACTOR):  # the applicant's own withdrawal needs no role
            require(s, actor, OPERATE)
        # Lock order everywhere: cases, then evidence, then the audit head (appends last).
        cases = s.execute(
            select(Case).where(Case.session_id == session_id).order_by(Case.id).with_for_update()
        ).scalars().all()
        changes = []
        for case in cases:
            evs = s.execute(
                select(Evidence)
                .where(Evidence.case_id == case.id, Evidence.purged_at.is_(None))
                .order_by(Evidence.id)
                .with_for_update()
            ).scalars().all()
            before = state(case)
            if case.status != DECIDED:
                case.status = WITHDRAWN
                case.claimed_by = case.lease_expires_at = case.return_status = None
            case.erased_at = now
            for ev in evs:
                ev.purged_at, ev.purge_reason = now, "erasure"
            changes.append((case, before, evs))
            report.cases.append(case.id)
            report.evidence.extend(e.id for e in evs)
        for case, before, evs in changes:
            audit.append(
                s, at=now, actor=actor, action="erase", case_id=case.id, before=before, after=state(case),
                details={"reason": reason.strip(), "evidence": [{"id": e.id, "kind": e.kind, "sha256": e.sha256} for e in evs]},
            )
    report.files_deleted = sweep(store)
    return report


def sweep(store: ReviewStore) -> int:
    """Delete the stored bytes of every purged evidence row still present (idempotent)."""
    with store.sessions() as s:
        keys = s.execute(select(Evidence.storage_key).where(Evidence.purged_at.is_not(None))).scalars().all()
    return sum(1 for key in keys if store.storage.delete(key))


def rotate_keys(store: ReviewStore, *, actor: str = "system", batch: int = 200) -> int:
    """Re-encrypt every live blob not under the current key; returns how many. Old keys
    can be removed from PROOFING_EVIDENCE_KEYS once this reports 0 left."""
    current = store.keyring.current_id
    done = 0
    while True:
        with store.transaction() as s:
            if actor != "system":
                require(s, actor, OPERATE)
            evs = s.execute(
                select(Evidence)
                .where(Evidence.purged_at.is_(None), Evidence.key_id != current)
                .order_by(Evidence.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).scalars().all()
            if not evs:
                return done
            for ev in evs:
                plain = store.keyring.decrypt(store.storage.get(ev.storage_key), ev.case_id, ev.kind)
                store.storage.put(ev.storage_key, store.keyring.encrypt(plain, ev.case_id, ev.kind))
                old, ev.key_id = ev.key_id, current
                audit.append(
                    s, at=store.clock(), actor=actor, action="rotate_key", case_id=ev.case_id,
                    details={"evidence": ev.id, "from": old, "to": current},
                )
            done += len(evs)


__all__ = ["DEFAULT_RETENTION_DAYS", "PurgeReport", "erase_session", "purge_retention", "rotate_keys", "sweep"]
