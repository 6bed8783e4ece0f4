"""Where submitted sessions run: a thread in this process (the embedded default) or a
Celery worker when ``PROOFING_BROKER_URL`` is set. Both call the same
:func:`~proofing.intake.process.process_session`, which decides exactly once."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from proofing.intake.errors import SessionBusy
from proofing.review.store import ReviewStore
from proofing.settings import Settings, get_settings

log = logging.getLogger(__name__)


class Executor(Protocol):
    def submit(self, session_id: str) -> None: ...


class InProcessExecutor:
    """One background thread: sessions run one after another, off the request path.
    ONNX Runtime and tesseract already use the cores; more threads would only contend."""

    def __init__(self, store: ReviewStore, settings: Settings | None = None, ctx: Any = None) -> None:
        self.store, self.settings, self.ctx = store, settings or get_settings(), ctx
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="proofing-session")
        self._futures: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()

    def submit(self, session_id: str) -> None:
        with self._lock:
            self._futures[session_id] = self._pool.submit(self._run, session_id)

    def _run(self, session_id: str) -> None:
        from proofing.intake.process import process_session

        try:
            process_session(self.store, session_id, self.ctx, settings=self.settings)
        except SessionBusy:
            log.info("session %s is already running elsewhere", session_id)
        except Exception:
            log.exception("session %s: processing failed", session_id)
        finally:
            with self._lock:
                self._futures.pop(session_id, None)

    def wait(self, timeout: float | None = None) -> None:
        """Block until every submitted session has run (tests, shutdown)."""
        with self._lock:
            futures = list(self._futures.values())
        for f in futures:
            f.result(timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


def get_executor(settings: Settings, store: ReviewStore, ctx: Any = None) -> Executor:
    """Celery when a broker is configured, else a thread in this process."""
    if settings.broker_url:
        from proofing.worker.client import CeleryExecutor

        return CeleryExecutor(settings)
    return InProcessExecutor(store, settings, ctx)
