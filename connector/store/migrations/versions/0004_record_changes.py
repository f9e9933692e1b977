"""Which records changed (`record_changes`), told by the database's own triggers on every table
a customer's record is read from, so each process knows when a page it keeps is out of date
(`connector.store.versions`).

Revision ID: 0004_record_changes
Revises: 0003_indexes
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from connector.store.versions import VERSIONED, install

revision = "0004_record_changes"
down_revision = "0003_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table and the triggers (those missing: a schema made by `create_all` from
    this code has them already)."""
    install(op.get_bind())


def downgrade() -> None:
    """Drop the triggers, their function and the table (pages are then not kept)."""
    connection = op.get_bind()
    postgres = connection.dialect.name == "postgresql"
    for table in sorted(VERSIONED):
        if postgres:
            for name in ("record_changed", "record_truncated", "record_inserted",
                         "record_updated", "record_deleted"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
        else:
            for verb in ("insert", "update", "delete"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS record_{verb}_{table}"))
    if postgres:
        connection.execute(text("DROP FUNCTION IF EXISTS record_changed()"))
    op.drop_table("record_changes")
