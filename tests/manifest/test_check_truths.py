"""`connector check` refuses what would otherwise go silent, each with its path and a hint:
unknown statuses, undeclared requests, a missing file, a date format that is not one, and the
YAML boolean trap named as such."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.cli.main import main
from connector.manifest import ManifestError, load_manifest

BASE = """\
version: 1
sources:
  shop:
    type: rest
    base_url: http://127.0.0.1:9/api
    requests:
      - {name: customer, path: /customers, params: {email: "{email}"}}
      - {name: orders, path: "/customers/{custmer.id}/orders", when: "customer.id"}
    found: customr.id
    sections:
      orders:
        items: orders
        fields:
          number: n
          status: {path: s, map: {"Livré": delivered, "Expédié": shiped, "Annulé": cancelled}}
  pos:
    type: files
    path: exports/pos.csv
    delimiter: ";"
    date_formats: ["dd/mm/yyyy", "%d/%m/%Y %H:%M"]
    match: {email: mail}
    sections:
      store_purchases:
        items: rows
        fields: {number: ticket, channel: No, status: {path: s, map: {"1": yes}}}
"""


def errors(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "manifest.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError) as refused:
        load_manifest(tmp_path / "manifest.yaml", env={})
    return refused.value.errors


def test_every_silent_case_is_refused_with_its_path_and_a_hint(tmp_path: Path) -> None:
    assert sorted(errors(tmp_path, BASE)) == sorted([
        "sources.shop.sections.orders.fields.status.map.Expédié: 'shiped' is not a known "
        "status (one of: canceled, cancelled, delivered, processing, quotation, returned, "
        "shipped)",
        "sources.shop.requests[1].path: 'custmer' is not a request declared before it "
        "(requests: customer; or auth, card, email, external, handle, phone, secret)",
        "sources.shop.found: 'customr' is not a request declared before it (requests: "
        "customer, orders; or auth, card, email, external, handle, phone, secret)",
        "sources.pos.date_formats[0]: 'dd/mm/yyyy' has no % directive: write e.g. %d/%m/%Y "
        "(31/01/2024) or %d.%m.%Y %H:%M",
        "sources.pos.sections.store_purchases.fields.channel: input should be a valid "
        "dictionary or instance of FieldMap — the YAML boolean trap: an unquoted yes, no, on, "
        "off, true or false is read as false; quote it ('No', \"off\")",
        "sources.pos.sections.store_purchases.fields.status.map.1: input should be a valid "
        "string — the YAML boolean trap: an unquoted yes, no, on, off, true or false is read "
        "as true; quote it ('No', \"off\")",
    ])


def test_check_refuses_a_missing_export(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    text = (BASE.replace("custmer", "customer").replace("customr", "customer")
            .replace("shiped", "shipped").replace('"dd/mm/yyyy", ', "")
            .replace("channel: No", "channel: 'No'").replace("{\"1\": yes}", "{\"1\": delivered}"))
    (tmp_path / "manifest.yaml").write_text(text, encoding="utf-8")
    code = main(["check", "--manifest", str(tmp_path / "manifest.yaml")])
    assert code == 1
    assert capsys.readouterr().out.splitlines() == [
        f"sources.pos.path: no file at {tmp_path / 'exports/pos.csv'} (a relative path is "
        "read from the manifest's folder; the export must be there before the service "
        "starts)"]
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports/pos.csv").write_text("mail;ticket;s\n", encoding="utf-8")
    assert main(["check", "--manifest", str(tmp_path / "manifest.yaml")]) == 0
