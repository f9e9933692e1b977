"""The manifest is checked at the door: every error, each with its path, exactly as printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.manifest import ManifestError, load_manifest
from connector.sources import SOURCE_TYPES
from connector.sources.preset import presets
from tests.conftest import MANIFEST, connector

BROKEN = """\
version: 2
brand: {locale: de, currency: euro}
sources:
  erp:
    type: rest
    base_url: ftp://erp.example.com
    timeout: 3
    auth: {type: bearer}
    requests:
      - name: customer
        path: /customers
    sections:
      ordrs: {items: x, fields: {number: n}}
      orders:
        path: o
        fields: {totl: amount, number: "n["}
  pos: {type: ftp}
  Bad-Name: {type: files}
  loyalty:
    type: sql
    url: ${MISSING_DB_URL}
    queries: {member: "DELETE FROM members"}
    sections: {loyalty: {fields: {card: card}}}
sidebar:
  blocks: [identity, map, {block: orders, sources: [erp, crm]}]
"""

EXPECTED = [
    "sources.loyalty.url: environment variable MISSING_DB_URL is not set",
    "version: input should be 1",
    "brand.locale: input should be 'fr' or 'en'",
    "brand.currency: must be a three-letter ISO 4217 code, e.g. EUR",
    "sources.erp.base_url: must be an http:// or https:// URL",
    "sources.erp.auth.token: required",
    "sources.erp.timeout: unknown key",
    "sources.erp.sections.ordrs: unknown section (one of: identity, status, kpis, loyalty, "
    "consent, orders, store_purchases, reviews, campaigns, surveys, contacts, notes, agenda, "
    "documents)",
    "sources.erp.sections.orders.path: orders is a list: use items",
    "sources.erp.sections.orders.fields.totl: unknown field of orders (one of: channel, number, "
    "status, date, tracking, total, currency, back_office_url, store, source_id)",
    "sources.erp.sections.orders.fields.number: invalid JMESPath expression 'n[' "
    "(Invalid jmespath expression: Incomplete expression:)",
    "sources.pos.type: unknown type 'ftp' (one of: "
    f"{', '.join([*SOURCE_TYPES, *presets()])})",
    "sources.Bad-Name: source names are lower case letters, digits and _ (max 40)",
    "sources.loyalty.queries: query 'member' must be a single SELECT (sources are read-only)",
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_error_is_listed_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest(write(tmp_path, BROKEN), env={})
    errors = caught.value.errors
    assert errors[: len(EXPECTED)] == EXPECTED
    assert errors[len(EXPECTED)].startswith("sidebar.blocks[1]: unknown block 'map' (one of: ")
    assert errors[len(EXPECTED) + 1:] == [
        "sidebar.blocks[2].sources[1]: unknown source 'crm' (declared: erp, pos, Bad-Name, loyalty)"
    ]


def test_check_prints_every_error_and_exits_1(tmp_path: Path) -> None:
    result = connector("check", "--manifest", str(write(tmp_path, BROKEN)), env={"PATH": ""})
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[: len(EXPECTED)] == EXPECTED
    assert len(lines) == len(EXPECTED) + 2


def test_default_manifest_is_valid(demo_data: Path) -> None:
    # its files sources read the generated demo data (`check` refuses a missing export)
    result = connector("check", "--manifest", str(MANIFEST),
                       env={"PATH": "", "CONNECTOR_DEMO_DIR": str(demo_data)})
    assert result.returncode == 0, result.stdout + result.stderr
    first, *secrets = result.stdout.strip().splitlines()
    assert first == (
        f"{MANIFEST}: valid — 5 sources: erp (rest), pos (files), feedback (rest), "
        "loyalty (sql), history (files); 15 sidebar blocks; helpdesks: embed, zendesk, "
        "chatwoot, helpscout, freescout, freshdesk, django_helpdesk"
    )
    # every adapter is on, its secrets from the environment: the admin is told which are unset
    assert secrets[0] == ("  helpdesks.zendesk: secrets not set: ZENDESK_APP_PUBLIC_KEY "
                          "(app_public_key), ZENDESK_WEBHOOK_SECRET (webhook_secret), "
                          "ZENDESK_API_TOKEN (api_token)")
    assert [line.split(":")[0].strip() for line in secrets] == [
        "helpdesks.zendesk", "helpdesks.chatwoot", "helpdesks.helpscout", "helpdesks.freescout",
        "helpdesks.freshdesk", "helpdesks.django_helpdesk"]


def test_check_stops_naming_a_secret_once_it_is_set(demo_data: Path) -> None:
    result = connector("check", "--manifest", str(MANIFEST),
                       env={"PATH": "", "ZENDESK_WEBHOOK_SECRET": "s", "ZENDESK_API_TOKEN": "t",
                            "CONNECTOR_DEMO_DIR": str(demo_data)})
    assert "  helpdesks.zendesk: secrets not set: ZENDESK_APP_PUBLIC_KEY (app_public_key)" \
        in result.stdout.splitlines()


def test_environment_variables_fill_secrets_and_defaults(tmp_path: Path) -> None:
    text = """\
version: 1
sources:
  erp:
    type: rest
    base_url: ${ERP_URL:-https://erp.example.com}
    auth: {type: bearer, token: "${ERP_TOKEN}"}
    requests: [{name: c, path: /c, params: {email: "{email}"}}]
    sections: {identity: {path: c, fields: {last_name: name}}}
"""
    manifest = load_manifest(write(tmp_path, text), env={"ERP_TOKEN": "s3cret"})
    erp = manifest.sources["erp"]
    assert erp.base_url == "https://erp.example.com"  # type: ignore[attr-defined]
    assert erp.auth.token.get_secret_value() == "s3cret"  # type: ignore[attr-defined]
    assert "s3cret" not in repr(manifest)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nsources:\n  a: [1\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    assert caught.value.errors == [
        f"{path}: line 4, column 1: invalid YAML (expected ',' or ']', but got '<stream end>')"
    ]


def test_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest(tmp_path / "nope.yaml", env={})
    missing = tmp_path / "nope.yaml"
    assert caught.value.errors == [f"{missing}: cannot be read (No such file or directory)"]


def test_errors_inside_an_invalid_source_are_listed_too(tmp_path: Path) -> None:
    text = """\
version: 1
sources:
  reviews:
    type: files
    path: r.csv
    match: {email: mail, fax: f}
    sections:
      reviews: {path: rows, fields: {rating: stars}}
      identity: {items: rows, fields: {address.town: city}}
"""
    with pytest.raises(ManifestError) as caught:
        load_manifest(write(tmp_path, text), env={})
    assert caught.value.errors == [
        "sources.reviews.match.fax: input should be 'email', 'phone', 'card', 'handle' or "
        "'external'",
        "sources.reviews.sections.reviews.path: reviews is a list: use items",
        "sources.reviews.sections.identity.items: identity is not a list: use path",
        "sources.reviews.sections.identity.fields.address.town: unknown field of identity (one "
        "of: civility, first_name, last_name, full_name, birth_date, emails, phones, "
        "address.line1, address.postcode, address.city, address.country, home_store, "
        "customer_since, external_ids)",
    ]
