"""The `connector` command: check a manifest, serve, look a customer up, make a sidebar link,
run the scheduled jobs."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from connector.cli.jobs import add_jobs_commands
from connector.identifiers import Identifiers, InvalidIdentifier, identifiers_from
from connector.manifest import Manifest, ManifestError, load_manifest
from connector.settings import Settings

EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_AMBIGUOUS = 4


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code says how it went."""
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings()
    if getattr(args, "manifest", None):
        settings = settings.model_copy(update={"manifest": Path(args.manifest)})
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.run(args, settings))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="connector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="validate the manifest, listing every error")
    check.add_argument("--probe", action="store_true",
                       help="also ask every source about one customer and show what it maps")
    _identifier_options(check, required=False)
    check.set_defaults(run=_check)

    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=_serve)

    lookup = commands.add_parser("lookup", help="print the canonical customer as JSON")
    _identifier_options(lookup, required=False)
    lookup.add_argument("--customer", help="a customer id (to choose among several)")
    lookup.add_argument("--lang", choices=["fr", "en"])
    lookup.set_defaults(run=_lookup)

    link = commands.add_parser("link", help="print a signed sidebar URL for a customer")
    _identifier_options(link)
    link.add_argument("--lang", choices=["fr", "en"])
    link.set_defaults(run=_link)

    unlink = commands.add_parser("unlink", help="remove a wrong link between an identifier and "
                                                "a customer, and refuse it from now on (audited)")
    unlink.add_argument("--customer", required=True, help="the customer id (see lookup)")
    _identifier_options(unlink)
    unlink.add_argument("--actor", default=os.environ.get("USER", "admin"),
                        help="who does it, for the audit trail")
    unlink.set_defaults(run=_unlink)

    forget = commands.add_parser("forget", help="erase what connector keeps on a customer")
    _identifier_options(forget)
    forget.add_argument("--actor", default=os.environ.get("USER", "admin"))
    forget.set_defaults(run=_forget)

    chatwoot = commands.add_parser("chatwoot-url", help="print the dashboard app URL to paste "
                                                        "into Chatwoot")
    chatwoot.add_argument("--lang", choices=["fr", "en"])
    chatwoot.set_defaults(run=_chatwoot_url)

    zendesk_app = commands.add_parser("zendesk-app", help="write the Zendesk app package (zip) "
                                                          "for this manifest")
    zendesk_app.add_argument("--out", required=True, help="the folder to write the zip in")
    zendesk_app.set_defaults(run=_zendesk_app)

    freshdesk_app = commands.add_parser("freshdesk-app", help="write the Freshdesk app (FDK, "
                                                              "platform 3.0) folder")
    freshdesk_app.add_argument("--out", required=True, help="the folder to write the app in")
    freshdesk_app.add_argument("--url", help="the connector's public https URL (default: "
                                             "$CONNECTOR_PUBLIC_URL)")
    freshdesk_app.set_defaults(run=_freshdesk_app)

    jobs = add_jobs_commands(commands)

    for command in (check, serve, lookup, link, unlink, forget, chatwoot, zendesk_app, *jobs):
        command.add_argument("--manifest", help="manifest file (default: $CONNECTOR_MANIFEST "
                                                "or ./manifest.yaml)")
    return parser


def _identifier_options(command: argparse.ArgumentParser, required: bool = True) -> None:
    group = command.add_mutually_exclusive_group(required=required)
    group.add_argument("--email")
    group.add_argument("--phone")
    group.add_argument("--card")


def _manifest_or_report(settings: Settings) -> Manifest | None:
    try:
        return load_manifest(settings.manifest)
    except ManifestError as exc:
        for line in exc.errors:
            print(line)
        return None


def _check(args: argparse.Namespace, settings: Settings) -> int:
    manifest = _manifest_or_report(settings)
    if manifest is None:
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

    ids = _identifiers(args, manifest, "check --probe")
    if ids is None:
        return EXIT_USAGE
    return EXIT_INVALID if probe(manifest.sources, manifest.source_context(), ids, print) else 0


def _identifiers(args: argparse.Namespace, manifest: Manifest, command: str,
                 allow_none: bool = False) -> Identifiers | None:
    """The identifiers given on the command line; None (and why, on stderr) when unusable."""
    try:
        ids = identifiers_from(manifest.brand.default_region, email=args.email,
                               phone=args.phone, card=args.card)
    except InvalidIdentifier as exc:
        print(f"connector {command}: {exc}", file=sys.stderr)
        return None
    if not ids and not allow_none:
        print(f"connector {command}: give --email, --phone or --card", file=sys.stderr)
        return None
    return ids


def _lookup(args: argparse.Namespace, settings: Settings) -> int:
    from connector.app import build_services

    manifest = _manifest_or_report(settings)
    if manifest is None:
        return EXIT_INVALID
    ids = _identifiers(args, manifest, "lookup", allow_none=bool(args.customer))
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
    if found.candidates:
        print(f"{len(found.candidates)} customers match: choose one with --customer",
              file=sys.stderr)
        json.dump({"candidates": [c.model_dump(mode="json") for c in found.candidates]},
                  sys.stdout, ensure_ascii=False, indent=2)
        print()
        return EXIT_AMBIGUOUS
    if found.profile is None:
        print("no customer found", file=sys.stderr)
        return EXIT_NOT_FOUND
    json.dump(found.profile.model_dump(mode="json"), sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def _link(args: argparse.Namespace, settings: Settings) -> int:
    from connector.helpdesk.embed import EmbedLinks

    manifest = _manifest_or_report(settings)
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


def _manifest_and_identifiers(args: argparse.Namespace, settings: Settings,
                           command: str) -> tuple[Manifest, Identifiers] | int:
    """The manifest and the identifiers given, or the exit code saying why not."""
    manifest = _manifest_or_report(settings)
    if manifest is None:
        return EXIT_INVALID
    ids = _identifiers(args, manifest, command)
    return EXIT_USAGE if ids is None else (manifest, ids)


def _unlink(args: argparse.Namespace, settings: Settings) -> int:
    from connector.customer.links import LinkStore

    given = _manifest_and_identifiers(args, settings, "unlink")
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


def _forget(args: argparse.Namespace, settings: Settings) -> int:
    from connector.customer.links import LinkStore
    from connector.customer.resolver import Resolver

    given = _manifest_and_identifiers(args, settings, "forget")
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


def _chatwoot_url(args: argparse.Namespace, settings: Settings) -> int:
    from connector.helpdesk.chatwoot.adapter import Config, dashboard_url

    manifest = _manifest_or_report(settings)
    if manifest is None:
        return EXIT_INVALID
    config = manifest.helpdesks.adapters.get("chatwoot")
    if not isinstance(config, Config):
        print("connector chatwoot-url: helpdesks.chatwoot is not enabled in the manifest",
              file=sys.stderr)
        return EXIT_INVALID
    print(dashboard_url(settings.public_url, settings.signing_key(), config, args.lang))
    return 0


def _zendesk_app(args: argparse.Namespace, settings: Settings) -> int:
    from importlib.metadata import PackageNotFoundError, version

    from connector.helpdesk.zendesk.adapter import Config
    from connector.helpdesk.zendesk.app import AppPackageError, build_package

    manifest = _manifest_or_report(settings)
    if manifest is None:
        return EXIT_INVALID
    config = manifest.helpdesks.adapters.get("zendesk")
    if not isinstance(config, Config):
        print("connector zendesk-app: helpdesks.zendesk is not enabled in the manifest: "
              "building with its defaults", file=sys.stderr)
        config = Config()
    try:
        release = version("connector")
    except PackageNotFoundError:
        release = "1.0.0"
    try:
        path = build_package(manifest.brand, config, settings.public_url, Path(args.out),
                             release)
    except AppPackageError as exc:
        for line in exc.errors:
            print(line)
        return EXIT_INVALID
    except OSError as exc:
        print(f"connector zendesk-app: cannot write in {args.out}: {exc.strerror}",
              file=sys.stderr)
        return EXIT_USAGE
    print(path)
    return 0


def _freshdesk_app(args: argparse.Namespace, settings: Settings) -> int:
    from connector.helpdesk.freshdesk.app import PackageError, build_package
    from connector.widgets.base import STYLESHEET

    out = Path(args.out)
    try:
        build_package(out, args.url or settings.public_url, stylesheet=STYLESHEET)
    except PackageError as exc:
        for line in exc.errors:
            print(line)
        return EXIT_INVALID
    except OSError as exc:
        print(f"connector freshdesk-app: cannot write in {out}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{out}: valid Freshdesk app (platform 3.0); next: `fdk validate` and `fdk pack` "
          "in that folder, then upload dist/*.zip as a custom app")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from connector.cli.serve import run_server

    updates: dict[str, Any] = {k: v for k, v in (("host", args.host), ("port", args.port)) if v}
    settings = settings.model_copy(update=updates)
    if _manifest_or_report(settings) is None:
        return EXIT_INVALID
    return run_server(settings)


if __name__ == "__main__":
    sys.exit(main())
