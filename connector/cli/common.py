"""What every `connector` command shares: exit codes, the identifier options, and the one way
a command reports a broken manifest."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from connector.customer.identity import external_identifier
from connector.identifiers import Identifiers, InvalidIdentifier, identifiers_from
from connector.manifest import Manifest, ManifestError, load_manifest
from connector.settings import Settings

if TYPE_CHECKING:
    from connector.customer.links import LinkStore

EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_AMBIGUOUS = 4
EXIT_UNAVAILABLE = 5  # nobody found, but a source did not answer: not a "not found"
EXIT_PARTIAL = 6  # a record, but a source did not answer (nor had an old copy): it lacks them


def identifier_options(command: argparse.ArgumentParser, required: bool = True,
                       every_kind: bool = True) -> None:
    """Add `--email`, `--phone`, `--card` (and `--handle`, `--external SOURCE:ID`): one."""
    group = command.add_mutually_exclusive_group(required=required)
    group.add_argument("--email")
    group.add_argument("--phone")
    group.add_argument("--card")
    if every_kind:
        group.add_argument("--handle", help="a social handle, e.g. instagram:claire_deco67")
        group.add_argument("--external", metavar="SOURCE:ID",
                           help="a source's own id, e.g. erp:C100997")


def link_store(settings: Settings) -> LinkStore:
    """The link store as the service opens it: its suppression list and audit fingerprints
    keyed with the service's secret (an unkeyed store would miss what `forget --suppress`
    listed). Imported here, not at the top: a command that needs no store starts faster."""
    from connector.customer.links import LinkStore

    return LinkStore(settings.database(), digest_key=settings.signing_key())


def manifest_or_report(settings: Settings) -> Manifest | None:
    """The manifest; None after printing every error with its path."""
    try:
        return load_manifest(settings.manifest)
    except ManifestError as exc:
        for line in exc.errors:
            print(line)
        return None


def identifiers(args: argparse.Namespace, manifest: Manifest, command: str,
                allow_none: bool = False) -> Identifiers | None:
    """The identifiers given on the command line; None (and why, on stderr) when unusable."""
    try:
        ids = identifiers_from(manifest.brand.default_region, email=args.email,
                               phone=args.phone, card=args.card,
                               handle=getattr(args, "handle", None))
        if getattr(args, "external", None):
            own = external_identifier(args.external, manifest.sources)
            ids = ids.merged(Identifiers(externals=(own,)))
    except (InvalidIdentifier, ValueError) as exc:
        print(f"connector {command}: {exc}", file=sys.stderr)
        return None
    if not ids and not allow_none:
        print(f"connector {command}: give --email, --phone, --card, --handle or --external",
              file=sys.stderr)
        return None
    return ids


def manifest_and_identifiers(args: argparse.Namespace, settings: Settings,
                             command: str) -> tuple[Manifest, Identifiers] | int:
    """The manifest and the identifiers given, or the exit code saying why not."""
    manifest = manifest_or_report(settings)
    if manifest is None:
        return EXIT_INVALID
    ids = identifiers(args, manifest, command)
    return EXIT_USAGE if ids is None else (manifest, ids)
