"""Append-only, hash-chained audit log of every action on a case.

Each entry's ``payload`` is a canonical JSON document (sorted keys, no spaces) holding its
sequence number, time, actor, action, case and before/after state; its ``hash`` is
sha256(prev_hash + "\\n" + payload). Editing an entry breaks its own hash, deleting one
breaks the next entry's ``prev_hash`` and leaves a gap in ``seq``, reordering breaks both.
The single head row holds the last seq and hash, so a cut-off tail shows too. Anyone able
to rewrite the whole table *and* the head can forge a consistent chain: publish or export
the head hash (``proofing audit verify --json``) to anchor it outside the database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from proofing.review.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    case_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry inside the caller's transaction (it commits or rolls back with the
    action it records). The head row is locked first, which serialises concurrent appends."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()
    seq = head.seq + 1
    stamp = at.isoformat()
    payload = canonical(
        {
            "seq": seq,
            "at": stamp,
            "actor": actor,
            "action": action,
            "case_id": case_id,
            "before": before,
            "after": after,
            "details": details or {},
        }
    )
    digest = chain_hash(head.hash, payload)
    entry = AuditEntry(
        seq=seq,
        at=stamp,
        actor=actor,
        action=action,
        case_id=case_id,
        payload=payload,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(entry)
    head.seq, head.hash = seq, digest
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    #: Entries that verified (the chain up to the first bad one).
    entries: int
    head_hash: str
    #: Sequence number (position in the chain) of the first entry that does not verify.
    first_bad: int | None = None
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "proofing.audit-verify/1",
            "ok": self.ok,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "first_bad": self.first_bad,
            "problem": self.problem,
        }


def _problem(e: AuditEntry, expected_seq: int, prev_hash: str) -> str | None:
    """What is wrong with entry ``e`` at this point of the chain, or None."""
    if e.seq != expected_seq:
        return f"expected entry {expected_seq}, found {e.seq}: entries missing or renumbered"
    if e.prev_hash != prev_hash:
        return "prev_hash does not match the previous entry (deleted or reordered)"
    if chain_hash(e.prev_hash, e.payload) != e.hash:
        return "hash does not match the payload (entry edited)"
    try:
        body = json.loads(e.payload)
    except ValueError:
        return "payload is not JSON"
    if not isinstance(body, dict) or canonical(body) != e.payload:
        return "payload is not a canonical JSON object"
    columns = {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "case_id": e.case_id}
    for key, value in columns.items():
        if body.get(key) != value:
            return f"column {key} differs from the hashed payload (entry edited)"
    return None


def verify(session: Session) -> VerifyResult:
    """Walk the chain from the start; report the first entry that does not verify."""
    prev_hash, count = GENESIS, 0
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
        problem = _problem(e, count + 1, prev_hash)
        if problem is not None:
            return VerifyResult(False, count, prev_hash, e.seq, problem)
        prev_hash, count = e.hash, count + 1
    head = session.get(AuditHead, 1)
    if head is None:
        return VerifyResult(False, count, prev_hash, None, "audit head row is missing")
    if head.seq != count or head.hash != prev_hash:
        return VerifyResult(
            False, count, prev_hash, count + 1,
            f"head says {head.seq} entries ending {head.hash[:12]}, chain has {count} ending "
            f"{prev_hash[:12]} (entries removed from the end, or head edited)",
        )
    return VerifyResult(True, count, prev_hash)
