"""Every refusal becomes ``{"error": CODE, "detail": text}`` with the right status.

The store and the intake layer raise typed errors (:mod:`proofing.review.errors`,
:mod:`proofing.intake.errors`); this module is the one
place that turns them into HTTP, so every route answers the same way. Validation errors
never echo the input back (it may be a password or a name), and unexpected errors answer
a request id instead of the exception text.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from proofing.intake.errors import SessionBusy, SessionExpired, UploadRejected
from proofing.review.errors import (
    FourEyesError,
    InvalidState,
    LeaseError,
    NotFound,
    PermissionDenied,
    ReviewError,
)
from service.logging import event

# Most specific first: FourEyesError and LeaseError are ReviewErrors too.
REVIEW_STATUS: list[tuple[type[ReviewError], int, str]] = [
    (NotFound, 404, "not_found"),
    (PermissionDenied, 403, "forbidden"),
    (FourEyesError, 409, "four_eyes"),
    (LeaseError, 409, "not_claimed"),
    (InvalidState, 409, "invalid_state"),
]

STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 410: "expired",
    413: "too_large", 415: "unsupported_media_type", 422: "invalid_request",
    429: "rate_limited", 503: "unavailable",
}


class ApiError(Exception):
    """A refusal decided in the service itself (auth, CSRF, limits)."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def body(code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": detail}


def error_response(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(code, detail), status_code=status, headers=headers)


def map_review_error(exc: ReviewError) -> tuple[int, str]:
    """Status and code for a store or intake error (most specific class first)."""
    if isinstance(exc, SessionExpired):
        return 410, "expired"
    if isinstance(exc, SessionBusy):
        return 409, "busy"
    if isinstance(exc, UploadRejected):
        return int(exc.status), str(exc.code)
    for cls, status, code in REVIEW_STATUS:
        if isinstance(exc, cls):
            return status, code
    return 409, "refused"


def _ids(request: Request) -> dict[str, Any]:
    from service.metrics import safe_ids

    return safe_ids(request.scope)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(ReviewError)
    async def _review(request: Request, exc: ReviewError) -> JSONResponse:
        status, code = map_review_error(exc)
        event("refused", status=status, code=code, **_ids(request))
        return error_response(status, code, str(exc) or HTTPStatus(status).phrase)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Location and message only: pydantic's "input" may be a password or a name.
        parts = []
        for err in exc.errors()[:10]:
            loc = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        return error_response(422, "invalid_request", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or STATUS_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return error_response(exc.status_code, code, detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = request.scope.get("state", {}).get("request_id", "-")
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb else "-"
        # The type and the place, never the message (it may quote personal data).
        event("unhandled", logging.ERROR, exc_type=type(exc).__name__, where=where, request_id=rid, **_ids(request))
        return error_response(500, "internal", f"internal error (request {rid})")
