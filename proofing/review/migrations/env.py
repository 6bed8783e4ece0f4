"""Alembic environment: always run from :func:`proofing.review.store.migrate`, which
passes an open connection (no alembic.ini, no URL here)."""

from __future__ import annotations

from alembic import context

from proofing.review.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="review_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
