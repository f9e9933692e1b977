"""The `connector` command: check a manifest, serve, look a customer up, make a sidebar link,
run the scheduled jobs, migrate the database's schema."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from connector.cli.apps import add_app_commands
from connector.cli.common import (
    EXIT_INVALID,
    EXIT_USAGE,
    identifier_options,
    identifiers,
    manifest_or_report,
)
from connector.cli.customers import add_customer_commands
from connector.cli.identity import add_identity_commands
from connector.cli.jobs import add_jobs_commands
from connector.cli.migrate import add_migrate_command
from connector.cli.privacy import add_privacy_commands
from connector.cli.serve import add_serve_commands
from connector.manifest.source_checks import check_files
from connector.settings import Settings
from connector.store.migrate import SchemaError


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code says how it went."""
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings()
    if getattr(args, "manifest", None):
        settings = settings.model_copy(update={"manifest": Path(args.manifest)})
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # urllib3 logs every request's URL with its query string (a customer's email, phone…) at
    # DEBUG: never that, whatever the level asked
    logging.getLogger("urllib3").setLevel(max(logging.INFO, logging.root.level))
    missing = settings.missing_extras() if args.command != "check" else []
    if missing:  # before anything starts: not a traceback from deep inside the first use
        for line in missing:
            print(f"connector {args.command}: {line}", file=sys.stderr)
        return EXIT_INVALID
    try:
        return int(args.run(args, settings))
    except SchemaError as exc:  # a schema this code cannot run on: never start on it
        print(f"connector {args.command}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:  # `connector lookup … | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="connector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="validate the manifest, listing every error")
    check.add_argument("--probe", action="store_true",
                       help="also ask every source about one customer and show what it maps")
    identifier_options(check, required=False, every_kind=False)
    check.set_defaults(run=_check)

    servers = add_serve_commands(commands)
    customers = add_customer_commands(commands)
    apps = add_app_commands(commands)
    jobs = add_jobs_commands(commands)
    identity = add_identity_commands(commands)
    privacy = add_privacy_commands(commands)
    add_migrate_command(commands)

    for command in (check, *servers, *customers, *apps, *jobs, *identity, *privacy):
        command.add_argument("--manifest", help="manifest file (default: $CONNECTOR_MANIFEST "
                                                "or ./manifest.yaml)")
    return parser


def _check(args: argparse.Namespace, settings: Settings) -> int:
    manifest = manifest_or_report(settings)
    if manifest is None:
        return EXIT_INVALID
    missing = check_files(manifest.sources, manifest.directory)
    for line in missing:
        print(line)
    if missing:
        return EXIT_INVALID
    kinds = ", ".join(f"{n} ({c.preset or c.type})" for n, c in manifest.sources.items())
    blocks = len(manifest.sidebar.blocks)
    helpdesks = ", ".join(["embed", *manifest.helpdesks.adapters])
    print(f"{settings.manifest}: valid — {len(manifest.sources)} sources: {kinds}; "
          f"{blocks} sidebar blocks; helpdesks: {helpdesks}")
    for kind, names in manifest.unset_secrets().items():  # what answers 401 until set
        print(f"  helpdesks.{kind}: secrets not set: {', '.join(names)}")
    if not args.probe:
        return 0
    from connector.sources.probe import probe

    ids = identifiers(args, manifest, "check --probe")
    if ids is None:
        return EXIT_USAGE
    return EXIT_INVALID if probe(manifest.sources, manifest.source_context(), ids, print) else 0


if __name__ == "__main__":
    sys.exit(main())
