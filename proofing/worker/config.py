"""The Celery configuration, built from :class:`~proofing.settings.Settings`.

Delivery is at-least-once and the session lease makes the outcome exactly-once:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a task is acknowledged only after it
  ran; a worker that dies mid-session leaves the message to be delivered again.
* ``task_acks_on_failure_or_timeout`` stays True: a session whose pipeline raises (after its
  retries) must not loop forever; the maintenance task re-queues sessions left behind.
* ``worker_prefetch_multiplier = 1``: a session takes seconds, so a worker holds only the
  one it runs; the others stay in the queue for idle workers.
* Redis has no connection-bound delivery: an unacknowledged message comes back only after
  ``visibility_timeout``. It must exceed one session's run (plus a retry's countdown),
  else a running session is handed out twice (harmless: the lease answers SessionBusy).
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from proofing.settings import Settings, get_settings

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "proofing"
PROCESS_TASK = "proofing.process"
MAINTENANCE_TASK = "proofing.maintenance"
#: The processing lease a task takes unless told otherwise (seconds); see process_session.
DEFAULT_LEASE_S = 300.0
#: Redis redelivery of an unacknowledged task (seconds): twice the lease, at least a minute.
MIN_VISIBILITY_S = 60
#: Hard limit of one task; the soft limit before it lets process_session drop its lease.
TASK_TIME_LIMIT_S = 600


def is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "redis+socket://"))


def visibility_for(lease_s: float) -> int:
    return max(MIN_VISIBILITY_S, int(2 * lease_s))


def make_celery(settings: Settings | None = None, *, lease_s: float | None = None,
                visibility_s: int | None = None, include: tuple[str, ...] = ()) -> Celery:
    """A Celery app for the settings' broker (Redis by default, RabbitMQ by ``amqp://``)."""
    settings = settings or get_settings()
    broker = settings.broker_url or DEFAULT_BROKER
    app = Celery("proofing", broker=broker, include=list(include))
    configure(app, broker, lease_s=lease_s, visibility_s=visibility_s)
    return app


def configure(app: Celery, broker: str, *, lease_s: float | None = None,
              visibility_s: int | None = None) -> None:
    """(Re)apply the delivery settings; ``proofing worker`` calls it with its options."""
    lease = float(lease_s or DEFAULT_LEASE_S)
    conf: dict[str, Any] = {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": DEFAULT_QUEUE,
        "task_ignore_result": True,  # the database holds the outcome; no result backend
        "result_backend": None,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_time_limit": TASK_TIME_LIMIT_S,
        "task_soft_time_limit": TASK_TIME_LIMIT_S - 30,
        # With late acks a lost broker connection means redelivery: stop the running copies.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        # Children warm their models in worker_process_init; give them time to do it.
        "worker_proc_alive_timeout": 120.0,
        "task_publish_retry_policy": {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5,
                                      "interval_max": 2.0},
        "proofing_lease_s": lease,
    }
    if is_redis(broker):
        vis = visibility_s or visibility_for(lease)
        conf["broker_transport_options"] = {
            "visibility_timeout": vis,
            # Look for abandoned messages about every visibility/4 s, not every 100 s.
            "unacked_restore_interval": max(1, vis // 4),
            "unacked_restore_throttle": 1,
        }
    app.conf.update(conf)
