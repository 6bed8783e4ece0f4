"""The worker's tasks: decide one session, and the periodic housekeeping.

Everything heavy is per process and made once: the store (engine + pool), the pipeline
context (trust store) and the ONNX / tesseract / mediapipe models, which
``worker_process_init`` warms by running one throw-away session before the child takes
work, so the first applicant does not pay for loading them.
"""

from __future__ import annotations

import logging
import os
import random
import time
from datetime import timedelta
from typing import Any

from celery import Task
from celery.signals import worker_process_init
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from proofing.intake.errors import SessionBusy
from proofing.review.errors import InvalidState, NotFound
from proofing.settings import Settings, get_settings
from proofing.worker.app import app
from proofing.worker.config import DEFAULT_LEASE_S, MAINTENANCE_TASK, PROCESS_TASK

log = logging.getLogger(__name__)
#: Retries while another run holds the lease: enough, with the capped backoff, to outlast it.
MAX_RETRIES = 25
MAX_COUNTDOWN_S = 60.0
#: Runs of one session (leases taken) before the workers stop trying: a session that kills
#: its worker every time (a crash in native code, a time limit) must not loop for ever.
MAX_ATTEMPTS = 5

_state: dict[str, Any] = {}


def _settings() -> Settings:
    if "settings" not in _state:
        _state["settings"] = get_settings()
    settings: Settings = _state["settings"]
    return settings


def worker_store() -> Any:
    """This process's store, opened once (and again after a fork: engines do not survive one)."""
    if _state.get("pid") != os.getpid() or "store" not in _state:
        from proofing.review.store import open_store

        _state.clear()
        _state["pid"] = os.getpid()
        _state["store"] = open_store(settings=_settings())
    return _state["store"]


def worker_context() -> Any:
    if "ctx" not in _state or _state.get("pid") != os.getpid():
        from proofing.intake.process import default_context

        worker_store()
        _state["ctx"] = default_context(_settings())
    return _state["ctx"]


def warm() -> float:
    """Load every model of the pipeline into this process by running one synthetic session
    (no chip, no store); returns the seconds it took. Failures are logged, not fatal: a
    missing model is a reason code on the first real session as well."""
    t0 = time.perf_counter()
    try:
        import cv2

        from proofing.pipeline import SessionEvidence, run_session
        from proofing.pipeline.samples import make_samples

        worker_context()
        s = make_samples(n_selfie=2)
        enc = [cv2.imencode(".jpg", img)[1].tobytes() for img in (s.page, *s.selfie)]
        run_session(SessionEvidence(document_frames=enc[:1], selfie_frames=enc[1:], session_id="warm-up"),
                    worker_context())
    except Exception:
        log.exception("warm-up failed; models load on the first session instead")
    took = time.perf_counter() - t0
    log.info("worker process %d warm in %.1f s", os.getpid(), took)
    return took


@worker_process_init.connect
def _on_process_init(**_: Any) -> None:
    _state.clear()  # anything inherited from the parent belongs to the parent
    warm()


def busy_countdown(retries: int, lease_s: float) -> float:
    """Exponential backoff with jitter, never beyond the lease (the holder's lease ends by
    then, or it has decided) nor a minute."""
    base = min(2.0 ** retries, lease_s, MAX_COUNTDOWN_S)
    return base * random.uniform(0.8, 1.2)


@app.task(bind=True, name=PROCESS_TASK, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def process(self: Task, session_id: str, lease_s: float | None = None) -> dict[str, Any]:
    """Decide one submitted session (idempotent: a decided session is returned as it is)."""
    from proofing.intake.process import process_session, worker_name

    lease = float(lease_s or self.app.conf.get("proofing_lease_s") or DEFAULT_LEASE_S)
    if attempts(worker_store(), session_id) >= MAX_ATTEMPTS:
        log.error("session %s: %d runs did not decide it; giving up (needs an operator)", session_id, MAX_ATTEMPTS)
        return {"session_id": session_id, "status": "gave_up"}
    try:
        info = process_session(worker_store(), session_id, worker_context(), settings=_settings(),
                               worker=worker_name(), lease=timedelta(seconds=lease))
    except SessionBusy as exc:
        raise self.retry(exc=exc, countdown=busy_countdown(self.request.retries, lease)) from None
    except (NotFound, InvalidState) as exc:  # erased, expired, unknown: nothing to decide
        log.warning("session %s not processed: %s", session_id, exc)
        return {"session_id": session_id, "status": "skipped", "detail": str(exc)}
    except OperationalError as exc:  # the database went away; the lease was handed back
        raise self.retry(exc=exc, countdown=busy_countdown(self.request.retries, lease)) from None
    return {"session_id": session_id, "status": info.status, "decision": info.decision}


@app.task(bind=True, name=MAINTENANCE_TASK, acks_late=True)
def maintenance(self: Task, retention_days: int | None = None, stranded_after_s: float = 900.0) -> dict[str, Any]:
    """Housekeeping that is safe to run anywhere, any number of times, even concurrently:
    close expired sessions, purge evidence past retention, and re-queue sessions whose
    message was lost (submitted long ago, or a processing lease long expired)."""
    from proofing.intake.sessions import expire_sessions
    from proofing.review.retention import DEFAULT_RETENTION_DAYS, purge_retention

    store = worker_store()
    expired = expire_sessions(store)
    purged = purge_retention(store, days=DEFAULT_RETENTION_DAYS if retention_days is None else retention_days)
    requeued = stranded_sessions(store, stranded_after_s)
    queue = (self.request.delivery_info or {}).get("routing_key") or self.app.conf.task_default_queue
    for sid in requeued:  # to the queue this site's workers consume
        process.apply_async((sid,), queue=queue)
    return {"expired": len(expired), "purged_evidence": len(purged.evidence), "requeued": len(requeued)}


def attempts(store: Any, session_id: str) -> int:
    from proofing.intake.models import ApplicantSession
    from proofing.intake.sessions import DECIDED

    with store.sessions() as s:
        row = s.get(ApplicantSession, session_id) if len(session_id) == 36 else None
        return 0 if row is None or row.status == DECIDED else int(row.attempts or 0)


def stranded_sessions(store: Any, older_than_s: float) -> list[str]:
    """Sessions submitted more than ``older_than_s`` ago that nobody is deciding now (and
    that have not used up their attempts)."""
    from proofing.intake.models import ApplicantSession
    from proofing.intake.sessions import PROCESSING, SUBMITTED

    now = store.clock()
    cutoff = now - timedelta(seconds=older_than_s)
    with store.sessions() as s:
        rows = s.execute(select(ApplicantSession.id).where(
            (((ApplicantSession.status == SUBMITTED) & (ApplicantSession.submitted_at < cutoff))
             | ((ApplicantSession.status == PROCESSING) & (ApplicantSession.run_expires_at < now)))
            & (ApplicantSession.attempts < MAX_ATTEMPTS)))
        return [r[0] for r in rows]
