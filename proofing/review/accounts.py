"""Console passwords: argon2id hashes on the user row, checked in constant time.

An account without a password can act from the terminal (``proofing review``) but cannot
log in to the console. A wrong name and a wrong password give the same error, so the login
form does not reveal which accounts exist.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from proofing.review import audit
from proofing.review.errors import NotFound, PermissionDenied
from proofing.review.models import User
from proofing.review.store import ReviewStore

MIN_PASSWORD = 12
_hasher = PasswordHasher()
# Verified against when the user does not exist, so both paths cost one argon2 run.
_DUMMY = _hasher.hash("not-a-real-password-0000")


def set_password(store: ReviewStore, name: str, password: str, *, actor: str = "operator") -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    hashed = _hasher.hash(password)
    with store.transaction() as s:
        user = s.get(User, name)
        if user is None:
            raise NotFound(f"unknown user {name!r}")
        user.password_hash = hashed
        audit.append(s, at=store.clock(), actor=actor, action="password_set", case_id=None,
                     after={"name": name})


def verify_password(store: ReviewStore, name: str, password: str) -> str:
    """The user's role when the password is right; PermissionDenied otherwise."""
    with store.sessions() as s:
        user = s.get(User, name)
        stored = user.password_hash if user is not None else None
        role = user.role if user is not None else ""
    try:
        _hasher.verify(stored or _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise PermissionDenied("wrong user name or password") from None
    if stored is None:
        raise PermissionDenied("wrong user name or password")
    if _hasher.check_needs_rehash(stored):
        set_password(store, name, password, actor=name)
    return role
