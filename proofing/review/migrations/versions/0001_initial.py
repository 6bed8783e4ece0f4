"""Initial review schema: users, cases, reasons, evidence metadata, audit chain.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    def ts(name: str, nullable: bool = False) -> sa.Column[object]:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)

    op.create_table(
        "review_users",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        ts("created_at"),
    )
    op.create_table(
        "review_cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("machine_decision", sa.String(16), nullable=False),
        sa.Column("risk_score", sa.Float(), nullable=False),
        sa.Column("policy_hash", sa.String(128), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        ts("created_at"),
        ts("sla_deadline"),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        ts("lease_expires_at", True),
        sa.Column("return_status", sa.String(32), nullable=True),
        sa.Column("pending_decision", sa.String(16), nullable=True),
        sa.Column("pending_by", sa.String(128), nullable=True),
        sa.Column("pending_reason", sa.Text(), nullable=True),
        sa.Column("final_decision", sa.String(16), nullable=True),
        sa.Column("final_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("confirmed_by", sa.String(128), nullable=True),
        ts("decided_at", True),
        ts("erased_at", True),
    )
    op.create_index("ix_review_cases_session_id", "review_cases", ["session_id"])
    op.create_index("ix_review_cases_queue", "review_cases", ["status", "priority", "sla_deadline"])
    op.create_table(
        "review_reasons",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("review_cases.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
    )
    op.create_index("ix_review_reasons_case_id", "review_reasons", ["case_id"])
    op.create_table(
        "review_evidence",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("review_cases.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(255), nullable=False),
        ts("created_at"),
        ts("purged_at", True),
        sa.Column("purge_reason", sa.String(32), nullable=True),
    )
    op.create_index("ix_review_evidence_case_id", "review_evidence", ["case_id"])
    op.create_table(
        "review_audit",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_review_audit_case_id", "review_audit", ["case_id"])
    head = op.create_table(
        "review_audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    for table in (
        "review_audit_head",
        "review_audit",
        "review_evidence",
        "review_reasons",
        "review_cases",
        "review_users",
    ):
        op.drop_table(table)
