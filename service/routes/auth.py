"""Console login and logout: argon2 password check, signed cookie, CSRF token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from proofing.review.accounts import verify_password
from service.logging import event
from service.security import (
    CONSOLE_TTL_S,
    CSRF_COOKIE,
    SESSION_COOKIE,
    Console,
    check_rate,
    client_address,
    issue_console_cookie,
)
from service.security import app_store as store_of

router = APIRouter(prefix="/v1/auth", tags=["console auth"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class LoginAnswer(BaseModel):
    username: str
    role: str
    csrf_token: str


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.post("/login", response_model=LoginAnswer, responses={
    403: {"description": "wrong user name or password"}, 429: {"description": "too many attempts"}})
def login(body: Login, request: Request, response: Response) -> LoginAnswer:
    """Check the password and set the session cookie (HttpOnly, SameSite=Strict) and the
    CSRF cookie (readable by the page, sent back in ``X-CSRF-Token``)."""
    check_rate(request, "login_client", client_address(request))
    check_rate(request, "login_user", body.username)
    role = verify_password(store_of(request), body.username, body.password)
    cookie, csrf = issue_console_cookie(request, body.username)
    secure = _secure(request)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=CONSOLE_TTL_S, httponly=True,
                        samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=CONSOLE_TTL_S, httponly=False,
                        samesite="strict", secure=secure, path="/")
    event("login", actor=body.username, role=role)
    return LoginAnswer(username=body.username, role=role, csrf_token=csrf)


@router.post("/logout", status_code=204, response_class=Response)
def logout(request: Request, user: Console) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict", secure=_secure(request))
    event("logout", actor=user.name)
    return response


@router.get("/me", response_model=LoginAnswer, summary="The logged-in console user and the CSRF token")
def me(request: Request, user: Console) -> LoginAnswer:
    return LoginAnswer(username=user.name, role=user.role, csrf_token=request.app.state.signer.csrf_for(user.sid))
