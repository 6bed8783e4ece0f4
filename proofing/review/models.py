"""Tables of the case store. The alembic migrations under ``migrations/`` create the same
schema; ``tests/test_review_store.py`` checks that the two never drift apart."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the case store; use UTC-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    """A back-office account; ``role`` decides what it may do (see :mod:`.roles`)."""

    __tablename__ = "review_users"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: argon2id hash for console login; None: the account can only act from the terminal.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Case(Base):
    """One proofing session that needs (or needed) a human. Personal data lives only in
    the encrypted evidence blobs, never in these columns."""

    __tablename__ = "review_cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(128), index=True)
    machine_decision: Mapped[str] = mapped_column(String(16))
    risk_score: Mapped[float] = mapped_column(Float)
    policy_hash: Mapped[str] = mapped_column(String(128))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sla_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    # The lease: who holds the case, until when, and where it goes back when it expires.
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    return_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A first reviewer's override of the machine's REJECT, waiting for a second reviewer.
    pending_decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pending_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    pending_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The final human decision.
    final_decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    final_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    confirmed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_review_cases_queue", "status", "priority", "sla_deadline"),)


class Reason(Base):
    """A machine reason code with its short explanation; kept after every purge."""

    __tablename__ = "review_reasons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("review_cases.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    explanation: Mapped[str] = mapped_column(Text)


class Evidence(Base):
    """Metadata of one encrypted blob; the bytes live in the blob storage under
    ``storage_key``. ``sha256`` is of the plaintext and outlives the purge."""

    __tablename__ = "review_evidence"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("review_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    purge_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class AuditEntry(Base):
    """One action. ``payload`` is the canonical JSON that ``hash`` covers (with
    ``prev_hash``); the other columns repeat it for queries and are checked against it."""

    __tablename__ = "review_audit"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """A single row: the last sequence number and hash. Locking it serialises appends, so
    two writers never chain onto the same predecessor; it also reveals a cut-off tail."""

    __tablename__ = "review_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


def as_dict(case: Case) -> dict[str, Any]:
    """The case's columns as JSON-ready values (datetimes in ISO 8601)."""
    out: dict[str, Any] = {}
    for col in Case.__table__.columns:
        value = getattr(case, col.key)
        out[col.key] = value.isoformat() if isinstance(value, datetime) else value
    return out

