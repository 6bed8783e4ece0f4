"""Celery workers for the heavy stages: the same ``process_session`` the in-process
executor calls, run on other processes or machines when ``PROOFING_BROKER_URL`` is set.

``config`` builds a Celery app from settings (light: the API process imports it to send
tasks); ``app`` is the worker's app (``celery -A proofing.worker.app worker`` or
``proofing worker``); ``tasks`` holds the tasks; ``client`` the executor the API uses.
"""

from proofing.worker.config import (
    DEFAULT_BROKER,
    DEFAULT_QUEUE,
    MAINTENANCE_TASK,
    PROCESS_TASK,
    make_celery,
)

__all__ = ["DEFAULT_BROKER", "DEFAULT_QUEUE", "MAINTENANCE_TASK", "PROCESS_TASK", "make_celery"]
