"""`connector chatwoot-url`, `zendesk-app` and `freshdesk-app`: what an admin installs in a
helpdesk."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connector.cli.common import EXIT_INVALID, EXIT_USAGE, manifest_or_report
from connector.settings import Settings


def add_app_commands(commands: Any) -> list[argparse.ArgumentParser]:
    """Add the helpdesk app commands to the `connector` parser; those that read a manifest."""
    chatwoot = commands.add_parser("chatwoot-url", help="print the dashboard app URL to paste "
                                                        "into Chatwoot")
    chatwoot.add_argument("--lang", choices=["fr", "en"])
    chatwoot.set_defaults(run=chatwoot_url)

    zendesk_app = commands.add_parser("zendesk-app", help="write the Zendesk app package (zip) "
                                                          "for this manifest")
    zendesk_app.add_argument("--out", required=True, help="the folder to write the zip in")
    zendesk_app.set_defaults(run=zendesk_package)

    freshdesk_app = commands.add_parser("freshdesk-app", help="write the Freshdesk app (FDK, "
                                                              "platform 3.0) folder")
    freshdesk_app.add_argument("--out", required=True, help="the folder to write the app in")
    freshdesk_app.add_argument("--url", help="the connector's public https URL (default: "
                                             "$CONNECTOR_PUBLIC_URL)")
    freshdesk_app.set_defaults(run=freshdesk_package)
    return [chatwoot, zendesk_app]


def chatwoot_url(args: argparse.Namespace, settings: Settings) -> int:
    """Print the Chatwoot dashboard app URL (it carries our app key)."""
    from connector.helpdesk.chatwoot.adapter import Config, dashboard_url, key_expiry

    manifest = manifest_or_report(settings)
    if manifest is None:
        return EXIT_INVALID
    config = manifest.helpdesks.adapters.get("chatwoot")
    if not isinstance(config, Config):
        print("connector chatwoot-url: helpdesks.chatwoot is not enabled in the manifest",
              file=sys.stderr)
        return EXIT_INVALID
    url = dashboard_url(settings.public_url, settings.signing_key(), config, args.lang)
    print(url)
    key = parse_qs(urlsplit(url).query)["k"][0]
    expires = key_expiry(settings.signing_key(), config, key)
    print(f"valid until {expires.isoformat()}: print and paste a new one before then "
          "(helpdesks.chatwoot.app_key_days)" if expires else
          "valid until revoked (helpdesks.chatwoot.app_key_version)", file=sys.stderr)
    return 0


def zendesk_package(args: argparse.Namespace, settings: Settings) -> int:
    """Write the Zendesk app zip and print its path."""
    from importlib.metadata import PackageNotFoundError, version

    from connector.helpdesk.zendesk.app import AppPackageError, build_package
    from connector.helpdesk.zendesk.config import Config

    manifest = manifest_or_report(settings)
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


def freshdesk_package(args: argparse.Namespace, settings: Settings) -> int:
    """Write the Freshdesk app folder, checked against the documented structure."""
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
