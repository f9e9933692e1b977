"""`connector identity audit [--fix]`: people holding two values of a unique kind, and their
repair."""

from __future__ import annotations

import argparse
import os
from typing import Any

from connector.cli.common import EXIT_INVALID, link_store, manifest_or_report
from connector.settings import Settings

EXIT_CONFLICTS = 1


def add_identity_commands(commands: Any) -> list[argparse.ArgumentParser]:
    """Add `identity audit` to the `connector` parser; its parsers."""
    identity = commands.add_parser("identity", help="the link store: audit and repair")
    actions = identity.add_subparsers(dest="action", required=True)
    audit = actions.add_parser("audit", help="list people holding two values of a unique kind "
                                             "(two ERP ids, two cards) and names kept in an "
                                             "older search form; --fix repairs both")
    audit.add_argument("--fix", action="store_true",
                       help="split each extra value off to a person of its own (audited)")
    audit.add_argument("--actor", default=os.environ.get("USER", "admin"),
                       help="who does it, for the audit trail")
    audit.set_defaults(run=audit_identities)
    return [audit]


def audit_identities(args: argparse.Namespace, settings: Settings) -> int:
    """Print each conflict (values as fingerprints); exit 1 when some remain unrepaired."""
    from connector.customer.audit import conflicts_in, rekey_names, split, stale_name_keys
    manifest = manifest_or_report(settings)
    if manifest is None:
        return EXIT_INVALID
    store = link_store(settings)
    found = conflicts_in(store, manifest.identity)
    for conflict in found:
        print(conflict.describe(store.fingerprint))
        if args.fix:
            made = split(store, conflict, args.actor)
            print(f"  split off to {', '.join(made)}; the rest is checked with the sources "
                  "at the next lookup")
    print(f"{len(found)} conflicting customer record(s)"
          + (" repaired" if args.fix and found else ""))
    stale = stale_name_keys(store)
    if stale and args.fix:
        print(f"{rekey_names(store, stale)} name(s) re-keyed for search")
    elif stale:
        print(f"{len(stale)} name(s) kept in an older search form: --fix re-keys them")
    return EXIT_CONFLICTS if found and not args.fix else 0
