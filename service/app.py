"""The FastAPI application: applicant API, reviewer console API, pages and operations.

:func:`create_app` is a factory so tests (and several processes) each build an isolated
app over a store of their choosing. The app is thin: it authenticates, bounds uploads and
maps errors; sessions, the queue and evidence are calls into ``proofing.intake``,
``proofing.review`` and ``proofing.evidence``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select

from proofing.review.store import ReviewStore, open_store
from proofing.settings import Settings, get_settings
from service import errors
from service.metrics import Metrics, MetricsAndAccessLog
from service.security import DEFAULT_RATES, BodyLimit, SecurityHeaders, Signer, load_secret
from service.uploads import Limits

SERVICE_DIR = Path(__file__).resolve().parent
STATIC_DIR = SERVICE_DIR / "static"
TEMPLATES_DIR = SERVICE_DIR / "templates"

DESCRIPTION = """Remote identity proofing: applicant sessions (bearer token per session),
the reviewer console API (cookie login + `X-CSRF-Token` on unsafe methods), signed
evidence records and operations endpoints. Errors are `{"error": CODE, "detail": text}`."""


def _session_counter(store: ReviewStore) -> Iterable[tuple[str, str, int]]:
    from proofing.intake.models import ApplicantSession

    with store.sessions() as s:
        rows = s.execute(
            select(ApplicantSession.status, ApplicantSession.decision, func.count()).group_by(
                ApplicantSession.status, ApplicantSession.decision
            )
        ).all()
    return [(status, decision or "none", int(n)) for status, decision, n in rows]


def create_app(settings: Settings | None = None, store: ReviewStore | None = None) -> FastAPI:
    """Build the app. ``store`` defaults to ``open_store(settings=settings)``; a store
    opened here is closed when the app shuts down, a store passed in stays the caller's."""
    settings = settings or get_settings()
    owns_store = store is None
    store = store if store is not None else open_store(settings=settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        executor = getattr(app.state, "executor", None)
        shutdown = getattr(executor, "shutdown", None)
        if callable(shutdown):
            shutdown()
        if owns_store:
            store.close()

    app = FastAPI(
        title="proofing",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        swagger_ui_parameters={"defaultModelsExpandDepth": 0},
    )
    limits = Limits.from_settings(settings)
    app.state.settings = settings
    app.state.store = store
    app.state.limits = limits
    app.state.signer = Signer(load_secret(settings))
    app.state.rate_limits = dict(DEFAULT_RATES)
    app.state.executor = None  # made on first submit (see routes.applicant.executor)
    metrics = Metrics(lambda: _session_counter(store))
    app.state.metrics = metrics

    errors.install(app)

    from service.routes import admin, applicant, auth, ops, pages, review

    for module in (applicant, auth, review, admin, ops, pages):
        app.include_router(module.router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Outermost last: the body limit sees the request first, then metrics/logging, then headers.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(MetricsAndAccessLog, metrics=metrics)
    app.add_middleware(
        BodyLimit,
        frames=limits.frames_body,
        one_frame=limits.frame_body,
        chip=limits.chip_body,
    )
    return app


def app_from_env() -> Any:
    """Factory for ``uvicorn --factory service.app:app_from_env`` (one app per worker)."""
    from service.logging import configure

    configure()
    return create_app()
