"""The worker's Celery app: ``celery -A proofing.worker.app worker`` (or ``proofing worker``).

Configured from the environment's settings at import; the tasks live in
:mod:`proofing.worker.tasks`, loaded by the worker (``include``).
"""

from __future__ import annotations

from proofing.worker.config import make_celery

app = make_celery(include=("proofing.worker.tasks",))
celery = app

__all__ = ["app", "celery"]
