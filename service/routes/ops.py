"""Operations: liveness and readiness probes, Prometheus metrics, the evidence key set."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from service.security import app_settings, app_store

router = APIRouter(tags=["operations"])

#: Model checks hash files; a probe every few seconds reuses the last answer this long.
MODELS_CACHE_S = 60.0


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _models(request: Request) -> dict[str, str]:
    cached = getattr(request.app.state, "models_status", None)
    if cached is not None and time.monotonic() - cached[0] < MODELS_CACHE_S:
        return dict(cached[1])
    from proofing.runtime.registry import Registry

    rows = Registry.load(settings=app_settings(request)).status()
    status = {row["name"]: row["status"] for row in rows}
    request.app.state.models_status = (time.monotonic(), status)
    return status


@router.get("/readyz", summary="The store answers and every model the configured pipeline uses resolves",
            responses={503: {"description": "not ready; the body says which check failed"}})
def readyz(request: Request) -> Response:
    checks: dict[str, Any] = {}
    ready = True
    try:
        with app_store(request).engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["store"] = "ok"
    except Exception as exc:  # any failure to reach the database means not ready
        checks["store"] = f"unreachable ({type(exc).__name__})"
        ready = False
    try:
        from proofing.pipeline.models import required_models

        models = _models(request)
        checks["models"] = models
        needed = required_models(app_settings(request))
        ready = ready and all(models.get(name) == "ok" for name in needed)
    except Exception as exc:  # a broken manifest is also "not ready"
        checks["models"] = f"unavailable ({type(exc).__name__})"
        ready = False
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/.well-known/jwks.json", summary="The public key set that verifies evidence records")
def jwks(request: Request) -> JSONResponse:
    from proofing.evidence import jwks as key_set

    return JSONResponse(key_set(app_settings(request)), headers={"Cache-Control": "public, max-age=300"})
