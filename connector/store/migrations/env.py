"""Alembic's entry point: migrate the connection `store.migrate` passes in
`config.attributes["connection"]`, inside its transaction (and its lock); from the `alembic`
command line (a scratch alembic.ini, for writing or rolling back a revision), the database of
its `sqlalchemy.url`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from connector.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    engine = create_engine(str(context.config.get_main_option("sqlalchemy.url")))
    with engine.begin() as own:
        _run(own)
    engine.dispose()
