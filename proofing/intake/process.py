"""Deciding a submitted session exactly once, wherever it runs.

A run takes a lease on the session (who, until when) in one transaction, runs the pipeline
outside any transaction, then, in a second transaction that re-checks the lease, files the
case and records the decision together. A worker that dies mid-run leaves a lease that
expires; the next run starts over. A run whose lease was taken over finds its token gone
and throws its result away, so two runs can never both decide.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from proofing.intake.errors import SessionBusy
from proofing.intake.models import ApplicantSession
from proofing.intake.sessions import (
    DECIDED,
    PROCESSING,
    SUBMITTED,
    SessionInfo,
    get_session,
    lock_row,
    purge_uploads,
    read_uploads,
    session_info,
    upload_counts,
)
from proofing.review.cases import (
    DEFAULT_SLA,
    EvidenceIn,
    ReasonIn,
    drop_blobs,
    insert_case,
    store_blobs,
)
from proofing.review.errors import InvalidState
from proofing.review.store import ReviewStore
from proofing.settings import Settings, get_settings

log = logging.getLogger(__name__)
DEFAULT_LEASE = timedelta(minutes=5)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@lru_cache(maxsize=4)
def _trust_store(paths: tuple[str, ...]) -> Any:
    from proofing.nfc.trust import load_trust_store

    return load_trust_store([Path(p) for p in paths]) if paths else None


def default_context(settings: Settings | None = None) -> Any:
    """The verifier's side for server sessions: the configured CSCA trust and policy."""
    from proofing.pipeline import PipelineContext

    settings = settings or get_settings()
    return PipelineContext(trust=_trust_store(tuple(str(p) for p in settings.trust_paths)))


def process_session(store: ReviewStore, session_id: str, ctx: Any = None, *, settings: Settings | None = None,
                    worker: str | None = None, lease: timedelta = DEFAULT_LEASE) -> SessionInfo:
    """Run the pipeline on a submitted session and record its decision; a decided session
    is returned as it is. SessionBusy while another live run holds the lease."""
    run_token = _take_lease(store, session_id, worker or worker_name(), lease)
    if run_token is None:
        return get_session(store, session_id)
    try:
        result = _run(store, session_id, ctx if ctx is not None else default_context(settings))
        return _record(store, session_id, run_token, result)
    except BaseException:
        _drop_lease(store, session_id, run_token)
        raise


def _take_lease(store: ReviewStore, session_id: str, worker: str, lease: timedelta) -> str | None:
    now = store.clock()
    with store.transaction() as s:
        row = lock_row(s, session_id)
        if row.status == DECIDED:
            return None
        if row.status == PROCESSING and row.run_expires_at is not None and row.run_expires_at > now:
            raise SessionBusy(f"session is being processed by {row.run_by} until {row.run_expires_at.isoformat()}")
        if row.status not in (SUBMITTED, PROCESSING):
            raise InvalidState(f"the session is {row.status}, not submitted")
        if row.status == PROCESSING:
            log.warning("session %s: lease of %s expired; running it again", session_id, row.run_by)
        token = str(uuid.uuid4())
        row.status, row.run_token, row.run_by = PROCESSING, token, worker
        row.run_expires_at, row.attempts = now + lease, (row.attempts or 0) + 1
        return token


def _drop_lease(store: ReviewStore, session_id: str, token: str) -> None:
    """A run that failed hands the session back so a retry can start at once."""
    try:
        with store.transaction() as s:
            row = lock_row(s, session_id)
            if row.run_token == token and row.status == PROCESSING:
                row.status, row.run_token, row.run_expires_at = SUBMITTED, None, None
    except Exception:  # the lease will expire on its own
        log.exception("session %s: could not release the processing lease", session_id)


def _run(store: ReviewStore, session_id: str, ctx: Any) -> Any:
    from proofing.nfc.dump import ChipDump
    from proofing.pipeline import SessionEvidence, run_session

    info = get_session(store, session_id)
    docs: list[bytes] = []
    selfies: list[bytes] = []
    files: dict[str, bytes] = {}
    aa_signature = None
    for up, data in read_uploads(store, session_id):
        if up.kind == "document":
            docs.append(data)
        elif up.kind == "selfie":
            selfies.append(data)
        elif up.kind == "chip":
            files[up.name] = data
        elif up.kind == "aa_signature":
            aa_signature = data
    dump = None
    if files:
        dump = ChipDump(files=files, aa_challenge=info.challenge if aa_signature else None,
                        aa_signature=aa_signature)
    evidence = SessionEvidence(document_frames=docs, selfie_frames=selfies, chip_dump=dump,
                               challenge=info.challenge, session_id=session_id)
    return run_session(evidence, ctx)


def _record(store: ReviewStore, session_id: str, token: str, result: Any) -> SessionInfo:
    decision = result.decision
    if decision is None:
        raise RuntimeError("the pipeline returned no decision")
    now = store.clock()
    case_id = str(uuid.uuid4())
    blobs = store_blobs(store, case_id, case_evidence(result), now)
    try:
        with store.transaction() as s:
            row = lock_row(s, session_id)
            if row.status == DECIDED or row.run_token != token:
                log.warning("session %s: another run decided it first; this run's result is dropped", session_id)
                drop_blobs(store, blobs)
                return session_info(store, row, upload_counts(s, session_id), s)
            insert_case(
                s, case_id=case_id, session_id=session_id, machine_decision=decision.decision,
                reasons=[ReasonIn(r.code, r.reviewer) for r in decision.reasons],
                risk_score=decision.risk_score, policy_hash=decision.policy_hash,
                priority=round(100 * decision.risk_score), blobs=blobs, sla=DEFAULT_SLA,
                queued=decision.decision == "REVIEW", actor="pipeline", now=now,
            )
            _set_decided(row, result, case_id, now)
    except BaseException:
        drop_blobs(store, blobs)
        raise
    purge_uploads(store, session_id)  # the case keeps its own encrypted copy under retention
    return get_session(store, session_id)


def _set_decided(row: ApplicantSession, result: Any, case_id: str, now: Any) -> None:
    d = result.decision
    row.status, row.decided_at, row.case_id = DECIDED, now, case_id
    row.decision, row.risk_score, row.policy_hash = d.decision, d.risk_score, d.policy_hash
    row.reasons = json.dumps([{"code": r.code, "applicant": r.applicant, "reviewer": r.reviewer}
                              for r in d.reasons])
    row.summary = json.dumps(summary(result), sort_keys=True)
    row.run_token, row.run_expires_at = None, None


def summary(result: Any) -> dict[str, Any]:
    """The session without personal data: per stage status, codes, scores, timings, models."""
    stages = {}
    for name, st in result.stages.items():
        d = st.to_dict()
        d.pop("details", None)
        stages[name] = d
    return {"stages": stages, "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
            "models": result.models}


def case_evidence(result: Any) -> list[EvidenceIn]:
    """What the reviewer sees: the frames, both portraits, the chip files, the full record."""
    import cv2

    from proofing.pipeline.portrait import crop_page_portrait
    from proofing.pipeline.run import load_frames
    from proofing.pipeline.stages import chip_portrait

    def png(img: np.ndarray | None) -> bytes | None:
        if img is None:
            return None
        ok, buf = cv2.imencode(".png", img)
        return buf.tobytes() if ok else None

    ev = result.evidence
    out: list[EvidenceIn] = []
    for kind, frames in (("document_image", ev.document_frames), ("selfie", ev.selfie_frames)):
        for src in frames:
            # Uploaded bytes as they came; a local run may hand over paths or decoded arrays.
            data = src if isinstance(src, bytes) else Path(src).read_bytes() if isinstance(src, str | Path) else png(src)
            if data:
                out.append(EvidenceIn(kind, _sniff(data), data))

    chip = result.stages.get("chip")
    if chip is not None and chip.value is not None:
        dump, chip_result = chip.value
        for name, data in sorted(dump.files.items()):
            out.append(EvidenceIn("chip_file", f"application/x-emrtd; name={name}", data))
        try:
            portrait = png(chip_portrait(chip_result))
        except Exception:  # an undecodable portrait is already a reason code of the chip stage
            portrait = None
        if portrait:
            out.append(EvidenceIn("chip_portrait", "image/png", portrait))
    try:
        docs, _ = load_frames(list(ev.document_frames[:1]))
        page = png(crop_page_portrait(docs)) if docs else None
    except Exception:
        page = None
    if page:
        out.append(EvidenceIn("page_portrait", "image/png", page))
    record = json.dumps(result.to_dict(), default=str, sort_keys=True).encode()
    out.append(EvidenceIn("session_record", "application/json", record))
    return out


def _sniff(data: bytes) -> str:
    from proofing.intake.uploads import sniff

    return sniff(data) or "application/octet-stream"
