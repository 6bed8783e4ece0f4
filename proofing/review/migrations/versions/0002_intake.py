"""Applicant sessions, uploads, rate counters; reviewer password hashes.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    def ts(name: str, nullable: bool = False) -> sa.Column[object]:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)

    with op.batch_alter_table("review_users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(255), nullable=True))
    op.create_table(
        "intake_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("challenge", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        ts("created_at"),
        ts("expires_at"),
        ts("submitted_at", True),
        sa.Column("run_token", sa.String(36), nullable=True),
        sa.Column("run_by", sa.String(128), nullable=True),
        ts("run_expires_at", True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        ts("decided_at", True),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("risk_score", sa.Float(), nullable=True),
        sa.Column("policy_hash", sa.String(128), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("case_id", sa.String(36), nullable=True),
        ts("erased_at", True),
    )
    op.create_table(
        "intake_uploads",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("intake_sessions.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(255), nullable=False),
        ts("created_at"),
        ts("purged_at", True),
    )
    op.create_table(
        "intake_rate_counters",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("window", sa.Integer(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("intake_rate_counters")
    op.drop_table("intake_uploads")
    op.drop_table("intake_sessions")
    with op.batch_alter_table("review_users") as batch:
        batch.drop_column("password_hash")
