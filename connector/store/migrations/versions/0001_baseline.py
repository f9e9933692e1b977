"""The baseline: every table of the last release before versioned migrations.

Revision ID: 0001
Revises:
Create Date: 2026-12-06

The tables are `store.baseline`'s, frozen (not `store.schema`'s, which moves on with later
revisions), so a fresh database and an earlier release's database stamped here are the same.
"""

from __future__ import annotations

from alembic import op

from connector.store import baseline

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every baseline table (with its indexes and constraints)."""
    baseline.metadata.create_all(op.get_bind(), checkfirst=False)


def downgrade() -> None:
    """Drop every baseline table: everything connector kept."""
    baseline.metadata.drop_all(op.get_bind(), checkfirst=False)
