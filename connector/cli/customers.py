"""`connector lookup`, `link`, `unlink` and `forget`: one customer, by an identifier."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from connector.cli.common import (
    EXIT_AMBIGUOUS,
    EXIT_INVALID,
    EXIT_NOT_FOUND,
    EXIT_PARTIAL,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    identifier_options,
    identifiers,
    manifest_and_identifiers,
    manifest_or_report,
)
from connector.identifiers import InvalidIdentifier
from connector.models import SourceState
from connector.settings import Settings


def add_customer_commands(commands: Any) -> list[argparse.ArgumentParser]:
    """Add lookup, link, unlink and forget to the `connector` parser; their parsers."""
    lookup = commands.add_parser("lookup", help="print the canonical customer as JSON")
    identifier_options(lookup, required=False)
    lookup.add_argument("--customer", help="a customer id (to choose among several)")
    lookup.add_argument("--lang", choices=["fr", "en"])
    lookup.set_defaults(run=lookup_customer)

    link = commands.add_parser("link", help="print a signed sidebar URL for a customer")
    identifier_options(link, every_kind=False)
    link.add_argument("--lang", choices=["fr", "en"])
    link.set_defaults(run=sidebar_link)

    unlink = commands.add_parser("unlink", help="remove a wrong link between an identifier and "
                                                "a customer, and refuse it from now on (audited)")
    unlink.add_argument("--customer", required=True, help="the customer id (see lookup)")
    identifier_options(unlink)
    unlink.add_argument("--actor", default=os.environ.get("USER", "admin"),
                        help="who does it, for the audit trail")
    unlink.set_defaults(run=unlink_identifier)

    forget = commands.add_parser("forget", help="erase what connector keeps on a customer")
    identifier_options(forget)
    forget.add_argument("--actor", default=os.environ.get("USER", "admin"))
    forget.set_defaults(run=forget_customer)
    return [lookup, link, unlink, forget]


def lookup_customer(args: argparse.Namespace, settings: Settings) -> int:
    """Print the customer as JSON (exit 3 when not found, 5 when not found but a source did not
    answer, 6 when found but a source did not answer, 4 with the candidates to choose, or when
    the database is down and several people may fit: `identity_checked` false)."""
    from connector.app import build_services

    manifest = manifest_or_report(settings)
    if manifest is None:
        return EXIT_INVALID
    ids = identifiers(args, manifest, "lookup", allow_none=bool(args.customer))
    if ids is None:
        return EXIT_USAGE
    services = build_services(settings, manifest)
    try:
        found = services.assembler.lookup(ids, locale=args.lang, customer_id=args.customer)
    finally:
        services.close()
    for name, status in found.sources.items():
        if status.error:
            print(f"source {name}: {status.status.value}: {status.error}", file=sys.stderr)
    if found.undecided:  # several people may fit, and only the link store tells them apart
        print("identity cannot be checked: the database is unavailable and several customers "
              "may match; try again when it is back", file=sys.stderr)
        json.dump({"candidates": [], "identity_checked": False}, sys.stdout, indent=2)
        print()
        return EXIT_AMBIGUOUS
    if found.candidates:
        print(f"{len(found.candidates)} customers match: choose one with --customer",
              file=sys.stderr)
        json.dump({"candidates": [c.model_dump(mode="json") for c in found.candidates]},
                  sys.stdout, ensure_ascii=False, indent=2)
        print()
        return EXIT_AMBIGUOUS
    if found.profile is None and found.unanswered:
        print("no customer found among the sources that answered; did not answer: "
              + ", ".join(found.unanswered), file=sys.stderr)
        return EXIT_UNAVAILABLE
    if found.profile is None:
        print("no customer found", file=sys.stderr)
        return EXIT_NOT_FOUND
    if not found.identity_checked:
        print("identity not checked: the database is unavailable, this record is what the "
              "sources say alone", file=sys.stderr)
    json.dump(found.profile.model_dump(mode="json"), sys.stdout, ensure_ascii=False, indent=2)
    print()
    missing = [name for name, status in found.sources.items() if status.status not in (
        SourceState.OK, SourceState.NOT_FOUND, SourceState.STALE)]
    if missing:  # a nameless record while the main source is down must not pass for whole
        print(f"partial record: {', '.join(missing)} did not answer and had no copy kept; "
              "what they know is missing", file=sys.stderr)
        return EXIT_PARTIAL
    return 0


def sidebar_link(args: argparse.Namespace, settings: Settings) -> int:
    """Print a short-lived signed sidebar URL for the customer."""
    from connector.helpdesk.embed import EmbedLinks

    manifest = manifest_or_report(settings)
    if manifest is None:
        return EXIT_INVALID
    links = EmbedLinks(settings.signing_key(), manifest.helpdesks.embed.link_ttl_s,
                       manifest.brand.default_region)
    try:
        token = links.token(email=args.email, phone=args.phone, card=args.card)
    except InvalidIdentifier as exc:
        print(f"connector link: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(links.url(settings.public_url, token, args.lang))
    return 0


def unlink_identifier(args: argparse.Namespace, settings: Settings) -> int:
    """Remove a wrong link and refuse it from now on (audited)."""
    from connector.customer.links import LinkStore

    given = manifest_and_identifiers(args, settings, "unlink")
    if isinstance(given, int):
        return given
    _, ids = given
    store = LinkStore(settings.database())
    removed = [pair for pair in ids.pairs()
               if store.unlink(args.customer, pair[0], pair[1], actor=args.actor)]
    if not removed:
        print(f"connector unlink: {args.customer} has no such link", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"unlinked {len(removed)} identifier(s) from {args.customer}; refused from now on")
    return 0


def forget_customer(args: argparse.Namespace, settings: Settings) -> int:
    """Erase what is kept on the people the identifiers name."""
    from connector.customer.links import LinkStore
    from connector.customer.resolver import Resolver

    given = manifest_and_identifiers(args, settings, "forget")
    if isinstance(given, int):
        return given
    manifest, ids = given
    store = LinkStore(settings.database())
    people = Resolver(store, manifest.identity).people_named(ids)
    if not people:
        print("connector forget: nothing is kept on this customer", file=sys.stderr)
        return EXIT_NOT_FOUND
    links = sum(store.forget(person, actor=args.actor) for person in people)
    print(f"erased {len(people)} customer record(s) and {links} link(s); a running service "
          "drops its cached answers within their TTL (or: POST /api/v1/customers/forget)")
    return 0
