"""Tables of the applicant side: sessions, their uploads, and rate-limit counters.

They share the review store's metadata (one database, one migration chain). Personal data
never sits in a column: uploads and the full session result are encrypted blobs; the
columns hold ids, statuses, hashes, timings and the decision's reason codes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from proofing.review.models import Base, UTCDateTime


class ApplicantSession(Base):
    __tablename__ = "intake_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: sha256 of the applicant token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64))
    #: The server's fresh nonce the chip must sign (Active Authentication), hex.
    challenge: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Processing lease: who runs the session and until when; a dead worker's lease expires.
    run_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    run_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    run_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    risk_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    policy_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: JSON list of {code, applicant, reviewer}: reason codes and their texts, no personal data.
    reasons: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: JSON: per stage status, scores, timings and models (no personal data).
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    case_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Upload(Base):
    """One uploaded item; the bytes are an encrypted blob under ``storage_key``."""

    __tablename__ = "intake_uploads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("intake_sessions.id"), index=True)
    #: document | selfie | chip | aa_signature
    kind: Mapped[str] = mapped_column(String(16))
    #: Chip file name (DG1, EF.SOD, ...) or the frame's position.
    name: Mapped[str] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RateCounter(Base):
    """Fixed-window request counters, shared by every API process through the database."""

    __tablename__ = "intake_rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
