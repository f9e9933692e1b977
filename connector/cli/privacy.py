"""`connector export`: an access request answered with everything connector itself keeps on the
person an identifier names, as JSON (docs/privacy.md); the same document as
`GET /api/v1/customers/<id>/export`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from connector.cli.common import (
    EXIT_AMBIGUOUS,
    EXIT_NOT_FOUND,
    identifier_options,
    link_store,
    manifest_and_identifiers,
)
from connector.settings import Settings


def add_privacy_commands(commands: Any) -> list[argparse.ArgumentParser]:
    """Add `export` to the `connector` parser; its parser."""
    export = commands.add_parser("export", help="print as JSON everything connector keeps on a "
                                                "customer (an access request; audited)")
    identifier_options(export)
    export.add_argument("--customer", help="the customer id, when several people hold the "
                                           "identifier (they are listed)")
    export.add_argument("--actor", default=os.environ.get("USER", "admin"),
                        help="who answers the request, for the audit trail")
    export.set_defaults(run=export_customer)
    return [export]


def export_customer(args: argparse.Namespace, settings: Settings) -> int:
    """Print the person's footprint (exit 3 when nothing is kept on the identifier, 4 when
    several people hold it and `--customer` does not say which)."""
    from connector.customer.export import anything_kept, footprint
    from connector.store.engine import audit_entry

    given = manifest_and_identifiers(args, settings, "export")
    if isinstance(given, int):
        return given
    _, ids = given
    store = link_store(settings)
    pairs = ids.pairs()
    people = sorted({link.customer_id for held in store.owners(pairs).values() for link in held})
    if args.customer:
        if args.customer not in people:
            print(f"connector export: {args.customer} holds no such identifier", file=sys.stderr)
            return EXIT_NOT_FOUND
        people = [args.customer]
    if len(people) > 1:  # a household's shared phone: never one person's data to another
        print(f"connector export: {len(people)} customers hold this identifier; choose one "
              f"with --customer: {', '.join(people)}", file=sys.stderr)
        return EXIT_AMBIGUOUS
    person = people[0] if people else None
    found = footprint(store.engine, person, settings.signing_key(), given=pairs)
    if not anything_kept(found):
        print("connector export: nothing is kept on this identifier", file=sys.stderr)
        return EXIT_NOT_FOUND
    with store.engine.begin() as connection:
        audit_entry(connection, args.actor, "export", person, "access request answered")
    json.dump(found, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0
