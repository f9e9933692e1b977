"""`connector migrate`: bring the database's schema to this release (before a rollout whose
processes run with CONNECTOR_AUTO_MIGRATE off), or, with `--check`, say whether it is."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from connector.cli.common import EXIT_INVALID
from connector.settings import Settings
from connector.store.guard import unavailable


def add_migrate_command(commands: Any) -> argparse.ArgumentParser:
    """Add `migrate` to the `connector` parser."""
    migrate: argparse.ArgumentParser = commands.add_parser(
        "migrate", help="apply the database's pending schema migrations")
    migrate.add_argument("--check", action="store_true",
                         help="apply nothing: exit 1 when migrations are pending")
    migrate.set_defaults(run=migrate_command)
    return migrate


def migrate_command(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the pending migrations (or only check for them); print the revision before and
    after. Exit 1 when pending (`--check`), when the schema is newer than this code, or when
    the database cannot be reached."""
    from connector.app import database_limits
    from connector.store.engine import unmigrated_engine
    from connector.store.migrate import SchemaError, revisions, upgrade

    engine = unmigrated_engine(settings.database(), database_limits(settings))
    try:
        if args.check:
            state = revisions(engine)
            current = state.current or "none"
            print(f"database at rev {current}; this connector at rev {state.head}: "
                  + ("migrations pending (run `connector migrate`)" if state.pending
                     else "up to date"))
            return EXIT_INVALID if state.pending else 0
        before, after = upgrade(engine)
        print(f"migrated: rev {before.current or 'none'} -> rev {after.current}"
              if before.pending else f"up to date: rev {after.current}")
        return 0
    except SchemaError as exc:
        print(f"connector migrate: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except Exception as exc:
        if not unavailable(exc):
            raise
        print(f"connector migrate: the database cannot be reached ({type(exc).__name__})",
              file=sys.stderr)
        return EXIT_INVALID
    finally:
        engine.dispose()
