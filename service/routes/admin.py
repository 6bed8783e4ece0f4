"""Administration: console accounts and roles (admins only), the active policy."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from proofing.review import add_user
from proofing.review.accounts import MIN_PASSWORD, set_password
from proofing.review.models import User
from service.logging import event
from service.security import Operator, Viewer, app_store

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=MIN_PASSWORD, max_length=1024)
    role: Literal["viewer", "reviewer", "senior_reviewer", "admin"]


def _users(request: Request) -> list[dict[str, Any]]:
    with app_store(request).sessions() as s:
        rows = s.execute(select(User).order_by(User.name)).scalars().all()
        return [{"username": u.name, "role": u.role, "created_at": u.created_at.isoformat(),
                 "can_log_in": bool(getattr(u, "password_hash", None))} for u in rows]


@router.get("/users", summary="Console accounts and their roles (admins only)")
def list_users(request: Request, user: Operator) -> list[dict[str, Any]]:
    return _users(request)


@router.post("/users", status_code=201, summary="Create an account or change its role and password (admins only)")
def put_user(request: Request, body: NewUser, user: Operator) -> list[dict[str, Any]]:
    store = app_store(request)
    add_user(store, body.username, body.role, actor=user.name)
    set_password(store, body.username, body.password, actor=user.name)
    event("user_set", actor=user.name, role=body.role)
    return _users(request)


@router.get("/policy", summary="The active decision policy: version, hashes, thresholds, rules")
def policy(user: Viewer) -> dict[str, Any]:
    from proofing.policy import load_policy

    p = load_policy()
    return {
        **p.to_dict(),
        "thresholds": dict(vars(p.thresholds)),
        "accept_require": list(p.accept_require),
        "rules": [{"code": r.code, "decision": r.decision, "risk": r.risk, "when": list(r.when),
                   "unless": list(r.unless), "reviewer": r.reviewer, "applicant": r.applicant}
                  for r in p.rules],
    }
