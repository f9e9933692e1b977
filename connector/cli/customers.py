"""`connector lookup`, `link`, `unlink`, `forget` and `unsuppress`: one customer, by an
identifier."""

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
    link_store,
    manifest_and_identifiers,
    manifest_or_report,
)
from connector.identifiers import InvalidIdentifier
from connector.models import SourceState
from connector.settings import Settings


def add_customer_commands(commands: Any) -> list[argparse.ArgumentParser]:
    """Add lookup, link, unlink, forget and unsuppress to the `connector` parser; their parsers."""
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

    forget = commands.add_parser("forget", help="erase what connector keeps on a customer, "
                                                 "and queue the removal of our tags and fields "
                                                 "in the helpdesks")
    identifier_options(forget)
    forget.add_argument("--actor", default=os.environ.get("USER", "admin"))
    forget.add_argument("--suppress", action="store_true",
                        help="do not learn this person again until `connector unsuppress`")
    forget.set_defaults(run=forget_customer)

    unsuppress = commands.add_parser("unsuppress", help="lift an identifier off the "
                                                        "suppression list (audited)")
    identifier_options(unsuppress)
    unsuppress.add_argument("--actor", default=os.environ.get("USER", "admin"))
    unsuppress.set_defaults(run=unsuppress_identifier)
    return [lookup, link, unlink, forget, unsuppress]


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
    if found.suppressed:
        print("this customer was erased at their request and is suppressed: nothing is looked "
              "up nor kept (lift it: connector unsuppress)", file=sys.stderr)
        return EXIT_NOT_FOUND
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
    given = manifest_and_identifiers(args, settings, "unlink")
    if isinstance(given, int):
        return given
    _, ids = given
    store = link_store(settings)
    removed = [pair for pair in ids.pairs()
               if store.unlink(args.customer, pair[0], pair[1], actor=args.actor)]
    if not removed:
        print(f"connector unlink: {args.customer} has no such link", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"unlinked {len(removed)} identifier(s) from {args.customer}; refused from now on")
    return 0


def forget_customer(args: argparse.Namespace, settings: Settings) -> int:
    """Erase what is kept on the people the identifiers name, queue the removal of our tags and
    fields in each helpdesk that holds them, and name the sources that still know them."""
    from connector.app import build_services
    from connector.events.erasure import forget, summary, written_to

    given = manifest_and_identifiers(args, settings, "forget")
    if isinstance(given, int):
        return given
    manifest, ids = given
    services = build_services(settings, manifest)
    try:
        done = forget(ids, services.assembler, services.writebacks,
                      written_to(manifest.helpdesks.adapters), manifest.sources, args.actor,
                      suppress=args.suppress)
        services.pages.clear()  # the pages shared between processes (Redis), if any
    finally:
        services.close()
    if not done.customers and not done.suppressed:
        print("connector forget: nothing is kept on this customer", file=sys.stderr)
        return EXIT_NOT_FOUND
    print("\n".join(summary(done)))
    if settings.cache_url is None:  # this command's own memory: not a running service's
        print("note: the source cache is each process's own memory (CONNECTOR_CACHE_URL is not "
              "set), so a running `connector serve` still holds its copies of this person's "
              "answers until they expire (ttl_s; the copy kept for outages, stale_ttl_s): "
              "erase through its API (POST /api/v1/customers/forget) to drop them at once, or "
              "restart it")
    return 0


def unsuppress_identifier(args: argparse.Namespace, settings: Settings) -> int:
    """Lift an identifier off the suppression list (audited): it may be learnt again."""
    given = manifest_and_identifiers(args, settings, "unsuppress")
    if isinstance(given, int):
        return given
    _, ids = given
    store = link_store(settings)
    if not store.unsuppress(ids.pairs(), actor=args.actor):
        print("connector unsuppress: this identifier is not suppressed", file=sys.stderr)
        return EXIT_NOT_FOUND
    print("lifted: this person may be learnt again at their next lookup")
    return 0
