"""The suppression list: identifiers erased and not to be learnt again (`forget --suppress`).

Revision ID: 0002_suppressed
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_suppressed"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `suppressed_identifiers` (a keyed digest per identifier, never the value), unless
    a database made before versioned migrations from a newer schema has it already."""
    if "suppressed_identifiers" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "suppressed_identifiers",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("suppressed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )


def downgrade() -> None:
    """Drop the suppression list (the identifiers on it may be learnt again)."""
    op.drop_table("suppressed_identifiers")
