"""``proofing serve``: the HTTP service (applicant page, reviewer console, API) under uvicorn.

With the defaults it needs nothing else: SQLite and the evidence keys in the data dir,
sessions processed in a thread of the same process. ``--workers N`` starts N processes
that share the database (and a Prometheus multiprocess directory, so ``/metrics`` sums
them); put PostgreSQL behind them for real load.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import typer

from proofing.cli.app import app, fail


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, help="API processes (share the database)."),
    forwarded_allow_ips: str | None = typer.Option(
        None, "--forwarded-allow-ips",
        help="Proxies whose X-Forwarded-For/-Proto are trusted (client address for rate limits, https)."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning, error."),
) -> None:
    """Serve the applicant page (/), the reviewer console (/console) and the API (/docs)."""
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - a dependency of the project
        raise fail("uvicorn is not installed (pip install proofing)") from None
    from proofing.review import EvidenceKeyError, open_store
    from proofing.settings import get_settings
    from service.logging import configure, event, uvicorn_log_config

    configure(log_level)
    settings = get_settings()
    try:  # migrate once here, before several workers race to do it
        open_store(settings=settings).close()
    except (EvidenceKeyError, ValueError, OSError) as e:
        raise fail(str(e)) from None
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="proofing-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    event("serve", host=host, port=port, workers=workers)
    try:
        _run(uvicorn, host, port, workers, forwarded_allow_ips, log_level, uvicorn_log_config())
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _run(uvicorn: Any, host: str, port: int, workers: int, forwarded: str | None, log_level: str,
         log_config: dict[str, Any]) -> None:
    uvicorn.run(
        "service.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config,
        log_level=log_level,
        access_log=False,
        proxy_headers=forwarded is not None,
        forwarded_allow_ips=forwarded,
        server_header=False,
    )
