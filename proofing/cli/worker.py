"""``proofing worker``: a Celery worker deciding submitted sessions (prefork: one model set
per child process, warmed before it takes work)."""

from __future__ import annotations

import os

import typer

from proofing.cli.app import app


@app.command("worker")
def worker(
    concurrency: int = typer.Option(1, "--concurrency", "-c", min=1,
                                    help="Child processes (each runs one session at a time)."),
    queues: str = typer.Option("proofing", "--queues", "-Q", help="Comma-separated queues to consume."),
    lease_s: float = typer.Option(300.0, "--lease-s", min=1.0,
                                  help="Processing lease: how long a dead worker blocks its session."),
    visibility_timeout: int = typer.Option(
        0, "--visibility-timeout", min=0,
        help="Redis: seconds before an unacknowledged task is delivered again (0: 2x lease, >= 60)."),
    beat: bool = typer.Option(False, "--beat", help="Also schedule the maintenance task (run one per site)."),
    maintenance_every_s: float = typer.Option(300.0, "--maintenance-every", min=10.0,
                                              help="With --beat: seconds between maintenance runs."),
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="debug, info, warning, error."),
    name: str | None = typer.Option(None, "--name", "-n", help="Node name (default proofing-<pid>@<host>)."),
) -> None:
    """Consume sessions from the broker in PROOFING_BROKER_URL (default Redis on localhost)."""
    from proofing.settings import get_settings
    from proofing.worker.app import app as celery_app
    from proofing.worker.config import DEFAULT_BROKER, MAINTENANCE_TASK, configure

    settings = get_settings()
    configure(celery_app, settings.broker_url or DEFAULT_BROKER, lease_s=lease_s,
              visibility_s=visibility_timeout or None)
    argv = ["worker", f"--concurrency={concurrency}", f"--queues={queues}", f"--loglevel={loglevel}",
            "--pool=prefork", "--without-gossip", "--without-mingle",
            f"--hostname={name or f'proofing-{os.getpid()}@%h'}"]
    if beat:
        celery_app.conf.beat_schedule = {
            "maintenance": {"task": MAINTENANCE_TASK, "schedule": maintenance_every_s,
                            "options": {"queue": queues.split(",")[0]}}}
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={settings.data_dir / 'celerybeat-schedule'}"]
    celery_app.worker_main(argv)
