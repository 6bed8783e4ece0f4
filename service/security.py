"""Who may call what: applicant bearer tokens, console cookies with CSRF, roles, rate
limits, body-size limits and security headers.

Applicant tokens are checked by ``proofing.intake.authenticate`` (scoped to one session).
Console users log in with an argon2-hashed password (``proofing.review.accounts``) and get
a signed, HttpOnly, SameSite=Strict cookie; every unsafe console request must also carry
the session's CSRF token in ``X-CSRF-Token`` (double submit: the same value is readable by
the page from a non-HttpOnly cookie, and it is bound to the signed session, so a forged
cookie does not help). The user's role is re-read from the store on every request, so a
changed or removed account takes effect at once. Rate limits are counted in the database
(``proofing.intake.ratelimit``) so they hold across several API processes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proofing.review.models import User
from proofing.review.roles import OPERATE, ROLES, VIEW, WORK
from proofing.review.store import ReviewStore
from proofing.settings import Settings
from service.errors import ApiError

SESSION_COOKIE = "proofing_console"
CSRF_COOKIE = "proofing_csrf"
CSRF_HEADER = "X-CSRF-Token"
CONSOLE_TTL_S = 8 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(auto_error=False, description="The applicant token of one session.")
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="Console login cookie.")


# -- the secret ----------------------------------------------------------------------------


def load_secret(settings: Settings) -> bytes:
    """``PROOFING_SECRET_KEY``, else a key generated once into the data dir (0600). Created
    with O_EXCL so several processes starting together agree on one key."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it right now
            data = path.read_bytes().strip()
            if data:
                return data
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty; delete it or set PROOFING_SECRET_KEY") from None
    value = secrets.token_urlsafe(48).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(value)
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 signed, expiring tokens for the console cookie, and the CSRF token
    derived from the cookie's session id (stdlib HMAC; nothing stored server-side)."""

    def __init__(self, secret: bytes) -> None:
        self._cookie_key = hmac.new(secret, b"proofing console cookie", hashlib.sha256).digest()
        self._csrf_key = hmac.new(secret, b"proofing console csrf", hashlib.sha256).digest()
        self._client_key = hmac.new(secret, b"proofing client key", hashlib.sha256).digest()

    def dumps(self, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        sig = _b64(hmac.new(self._cookie_key, body.encode(), hashlib.sha256).digest())
        return f"{body}.{sig}"

    def loads(self, token: str) -> dict[str, Any] | None:
        """The payload when the signature holds and it has not expired; None otherwise."""
        if len(token) > 4096 or token.count(".") != 1:
            return None
        body, sig = token.split(".")
        expected = _b64(hmac.new(self._cookie_key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(sig, expected):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int) or payload["exp"] < time.time():
            return None
        return payload

    def csrf_for(self, sid: str) -> str:
        return _b64(hmac.new(self._csrf_key, sid.encode(), hashlib.sha256).digest())

    def pseudonym(self, value: str) -> str:
        """A keyed hash of a client address or user name, for rate-limit keys: the counters
        table never holds an IP address."""
        return _b64(hmac.new(self._client_key, value.encode(), hashlib.sha256).digest()[:12])


# -- console users -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    role: str
    sid: str

    def can(self, permission: str) -> bool:
        return permission in ROLES.get(self.role, frozenset())


def app_store(request: Request) -> ReviewStore:
    store: ReviewStore = request.app.state.store
    return store


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def signer(request: Request) -> Signer:
    s: Signer = request.app.state.signer
    return s


def issue_console_cookie(request: Request, name: str) -> tuple[str, str]:
    """A new signed cookie value for ``name`` and its CSRF token."""
    sid = secrets.token_urlsafe(18)
    sg = signer(request)
    return sg.dumps({"u": name, "sid": sid, "exp": int(time.time()) + CONSOLE_TTL_S}), sg.csrf_for(sid)


def _same_origin(request: Request) -> bool:
    """A browser's Origin (when sent) must be this host: a second line behind SameSite."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def console_user(request: Request, cookie: Annotated[str | None, Depends(cookie_scheme)]) -> ConsoleUser:
    """The logged-in console user; 401 without a valid cookie, 403 when an unsafe method
    lacks the CSRF token or comes from another origin."""
    payload = signer(request).loads(cookie) if cookie else None
    if payload is None or not isinstance(payload.get("u"), str) or not isinstance(payload.get("sid"), str):
        raise ApiError(401, "unauthorized", "log in to the console first")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), signer(request).csrf_for(payload["sid"]).encode()):
            raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
        if not _same_origin(request):
            raise ApiError(403, "csrf", "cross-origin request refused")
    with app_store(request).sessions() as s:
        user = s.get(User, payload["u"])
        role = user.role if user is not None else None
    if role is None:
        raise ApiError(401, "unauthorized", "this account no longer exists")
    return ConsoleUser(payload["u"], role, payload["sid"])


def require(permission: str) -> Callable[..., ConsoleUser]:
    """Dependency: the console user, if their role grants ``permission`` (else 403)."""

    def dep(user: Annotated[ConsoleUser, Depends(console_user)]) -> ConsoleUser:
        if not user.can(permission):
            raise ApiError(403, "forbidden", f"the {user.role} role may not do this")
        return user

    return dep


# -- applicants ----------------------------------------------------------------------------

SESSION_ID = r"^[A-Za-z0-9-]{1,64}$"
_SESSION_ID = re.compile(SESSION_ID)
SessionId = Annotated[str, Path(pattern=SESSION_ID, max_length=64)]


def applicant(
    request: Request,
    session_id: SessionId,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Any:
    """The applicant's session (``proofing.intake.SessionInfo``) when the bearer token is
    that session's: 401 without a token, 403 with another session's, 404 unknown, 410 expired."""
    from proofing.intake import authenticate

    if credentials is None or not credentials.credentials:
        raise ApiError(401, "unauthorized", "send the session's applicant token as a Bearer token",
                       {"WWW-Authenticate": "Bearer"})
    if not _SESSION_ID.match(session_id):
        raise ApiError(404, "not_found", "no such session")
    return authenticate(app_store(request), session_id, credentials.credentials)


def applicant_limited(scope: str) -> Callable[..., Any]:
    """Dependency: :func:`applicant`, then one request counted against ``scope`` for that
    session (after authentication, so a stranger cannot spend an applicant's budget)."""

    def dep(request: Request, info: Annotated[Any, Depends(applicant)]) -> Any:
        check_rate(request, scope, info.id)
        return info

    return dep


#: Route parameter types: the dependency runs, its result is the argument.
Console = Annotated[ConsoleUser, Depends(console_user)]
Viewer = Annotated[ConsoleUser, Depends(require(VIEW))]
Worker = Annotated[ConsoleUser, Depends(require(WORK))]
Operator = Annotated[ConsoleUser, Depends(require(OPERATE))]
Applicant = Annotated[Any, Depends(applicant)]
Uploader = Annotated[Any, Depends(applicant_limited("upload"))]
Previewer = Annotated[Any, Depends(applicant_limited("preview"))]


# -- rate limits ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    limit: int
    window_s: int


#: Requests per window, per scope (a limit of 0 turns the scope off). Tests and deployments may replace entries on
#: ``app.state.rate_limits``.
DEFAULT_RATES: dict[str, Rate] = {
    "session_create": Rate(30, 600),  # per client address
    "login_client": Rate(20, 300),  # per client address
    "login_user": Rate(10, 900),  # per user name
    "upload": Rate(60, 60),  # per session: uploads and submit
    "preview": Rate(240, 60),  # per session: live feedback frames
}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_rate(request: Request, scope: str, subject: str) -> None:
    """Count one request of ``scope`` for ``subject``; 429 with Retry-After past the limit."""
    from proofing.intake.ratelimit import hit

    rates: dict[str, Rate] = request.app.state.rate_limits
    rate = rates.get(scope)
    if rate is None or rate.limit <= 0:
        return
    key = f"{scope}:{signer(request).pseudonym(subject)}"
    if not hit(app_store(request), key, rate.limit, rate.window_s):
        raise ApiError(429, "rate_limited", "too many requests; try again later",
                       {"Retry-After": str(rate.window_s)})


def rate_limited(scope: str) -> Callable[[Request], None]:
    """Dependency counting a request against ``scope`` for the client address."""

    def dep(request: Request) -> None:
        check_rate(request, scope, client_address(request))

    return dep


# -- middleware ----------------------------------------------------------------------------


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Swagger UI (/docs) loads its script and styles from a CDN and inlines its start-up.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """Adds the security headers to every response (pure ASGI: streaming bodies untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CSP if path.startswith("/docs") else CSP
        https = scope.get("scheme") == "https"

        async def add(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                extra = {
                    b"content-security-policy": csp.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"no-referrer",
                    b"permissions-policy": b"camera=(self), microphone=(), geolocation=(), usb=(), payment=()",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"cross-origin-resource-policy": b"same-origin",
                }
                if https:
                    extra[b"strict-transport-security"] = b"max-age=63072000; includeSubDomains"
                if not path.startswith("/static/"):
                    extra[b"cache-control"] = b"no-store"
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra.items() if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, add)


class BodyTooLarge(HTTPException):
    """Raised from inside the body stream; an HTTPException so that FastAPI's body parsing
    passes it on instead of answering 400."""

    code = "UPLOAD_TOO_LARGE"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


_FRAMES = re.compile(r"^/v1/sessions/[^/]+/(document|selfie)$")
_PREVIEW = re.compile(r"^/v1/sessions/[^/]+/(document|selfie)/preview$")
_CHIP = re.compile(r"^/v1/sessions/[^/]+/chip$")
SMALL_BODY = 64 * 1024


class BodyLimit:
    """Refuses request bodies over the route's limit with 413: at once from Content-Length,
    else as soon as the streamed body passes it (multipart parsing never sees the excess)."""

    def __init__(self, app: ASGIApp, frames: int, one_frame: int, chip: int) -> None:
        self.app, self.frames, self.one_frame, self.chip = app, frames, one_frame, chip

    def limit_for(self, path: str) -> int:
        if _FRAMES.match(path):
            return self.frames
        if _PREVIEW.match(path):
            return self.one_frame
        if _CHIP.match(path):
            return self.chip
        return SMALL_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await _refuse(send, limit)
                    return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"error": "UPLOAD_TOO_LARGE", "detail": f"the request body exceeds {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})


__all__ = [
    "Applicant", "Console", "Operator", "Previewer", "Uploader", "Viewer", "Worker",
    "CSRF_COOKIE", "CSRF_HEADER", "DEFAULT_RATES", "SESSION_COOKIE", "BodyLimit", "ConsoleUser",
    "Rate", "SecurityHeaders", "Signer", "applicant", "check_rate", "console_user",
    "SessionId", "applicant_limited", "issue_console_cookie", "load_secret", "rate_limited",
    "require",
]
