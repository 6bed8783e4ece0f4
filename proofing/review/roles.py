"""Reviewer roles and what each may do. Checked in the store, so every front end (CLI,
HTTP console) gets the same rules."""

from __future__ import annotations

from sqlalchemy.orm import Session

from proofing.review.errors import PermissionDenied
from proofing.review.models import User

VIEW = "view"  # list cases and their metadata
WORK = "work"  # claim, decide, request a capture, escalate, read evidence
SENIOR = "senior"  # also work escalated cases
OPERATE = "operate"  # purge, erase, rotate keys

ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({VIEW}),
    "reviewer": frozenset({VIEW, WORK}),
    "senior_reviewer": frozenset({VIEW, WORK, SENIOR}),
    "admin": frozenset({VIEW, WORK, SENIOR, OPERATE}),
}


def require(session: Session, name: str, permission: str) -> User:
    """The user ``name`` if their role grants ``permission``; PermissionDenied otherwise."""
    user = session.get(User, name)
    if user is None:
        raise PermissionDenied(f"unknown user {name!r}")
    if permission not in ROLES.get(user.role, frozenset()):
        raise PermissionDenied(f"{name!r} ({user.role}) may not {permission}")
    return user


def can(role: str, permission: str) -> bool:
    return permission in ROLES.get(role, frozenset())
