"""The API side of the workers: hand a submitted session to the queue.

Tasks are sent by name, so the API process never imports the pipeline or its models.
"""

from __future__ import annotations

from typing import Any

from proofing.settings import Settings, get_settings
from proofing.worker.config import PROCESS_TASK, make_celery


class CeleryExecutor:
    """:class:`proofing.intake.Executor` over Celery. ``queue`` and ``lease_s`` default to
    the worker configuration (tests and benchmarks use their own queue / short leases)."""

    def __init__(self, settings: Settings | None = None, *, queue: str | None = None,
                 lease_s: float | None = None, app: Any = None) -> None:
        self.settings = settings or get_settings()
        self.app = app if app is not None else make_celery(self.settings)
        self.queue = queue or self.app.conf.task_default_queue
        self.lease_s = lease_s

    def submit(self, session_id: str) -> None:
        kwargs = {"lease_s": self.lease_s} if self.lease_s else {}
        self.app.send_task(PROCESS_TASK, args=(session_id,), kwargs=kwargs, queue=self.queue,
                           retry=True)

    def shutdown(self) -> None:
        self.app.close()
