"""Indexes for what `forget` and `purge` look for: an admin's refusals by person
(`identity_blocks.customer_id`: read at every link learnt, deleted at an erasure) and the audit
log by date (`audit_log.at`: the purge's cut-off). Without them each is a full scan, which a
large store feels.

Revision ID: 0003_indexes
Revises: 0002_suppressed
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_indexes"
down_revision = "0002_suppressed"
branch_labels = None
depends_on = None

INDEXES = (("ix_identity_blocks_customer_id", "identity_blocks", "customer_id"),
           ("ix_audit_log_at", "audit_log", "at"))


def upgrade() -> None:
    """Create each index unless the table has it already (a database made before versioned
    migrations from a newer schema)."""
    inspector = sa.inspect(op.get_bind())
    for name, table, column in INDEXES:
        if name not in {index["name"] for index in inspector.get_indexes(table)}:
            op.create_index(name, table, [column])


def downgrade() -> None:
    """Drop the two indexes."""
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
