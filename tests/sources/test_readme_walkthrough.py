"""The README's "map your own REST source" walkthrough works as written."""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal
from pathlib import Path

from pytest_httpserver import HTTPServer

from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.sources import build_source
from connector.sources.base import BuildContext
from connector.sources.probe import probe, trace

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough_entry() -> str:
    section = README.read_text(encoding="utf-8").split("### Map your own REST source")[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return textwrap.dedent(block.group(1))


def test_walkthrough(httpserver: HTTPServer, tmp_path: Path) -> None:
    entry = walkthrough_entry().replace("https://shop.example.com", httpserver.url_for("")[:-1])
    (tmp_path / "manifest.yaml").write_text(
        "version: 1\nsources:\n" + textwrap.indent(entry, "  "), encoding="utf-8")
    manifest = load_manifest(tmp_path / "manifest.yaml", env={"SHOP_KEY": "k3y"})
    httpserver.expect_request(
        "/api/v2/clients", query_string={"mail": "pauline.deneve@easiware.fr"},
        headers={"X-Api-Key": "k3y"},
    ).respond_with_json({"data": [{"ref": "K-12", "nom": "Denève", "commandes": [
        {"no": "997890", "etat": "R", "ttc": "45,95", "le": "05/08/2017"}]}]})
    source = build_source("shop", manifest.sources["shop"], BuildContext(tmp_path))
    ids = Identifiers(emails=("pauline.deneve@easiware.fr",))
    result = source.fetch(ids)
    assert result.external_id == "K-12"
    (order,) = result.sections["orders"]
    assert (order.number, order.status, order.total, str(order.date)) == (
        "997890", "returned", Decimal("45.95"), "2017-08-05")
    lines = trace(source.find(ids), manifest.sources["shop"])  # type: ignore[attr-defined]
    assert any(line.endswith("= 'R' → 'returned'") for line in lines)


def test_the_probe_names_values_the_map_does_not(httpserver: HTTPServer, tmp_path: Path) -> None:
    """A status the map does not name (`l` for `L`) is shown as the source wrote it: the probe
    says so for every item, not only for the first it traces."""
    entry = walkthrough_entry().replace("https://shop.example.com", httpserver.url_for("")[:-1])
    (tmp_path / "manifest.yaml").write_text(
        "version: 1\nsources:\n" + textwrap.indent(entry, "  "), encoding="utf-8")
    manifest = load_manifest(tmp_path / "manifest.yaml", env={"SHOP_KEY": "k3y"})
    httpserver.expect_request("/api/v2/clients").respond_with_json({"data": [{
        "ref": "K-12", "nom": "Denève", "commandes": [
            {"no": "1", "etat": "R", "ttc": "45,95", "le": "05/08/2017"},
            {"no": "2", "etat": "l", "ttc": "12,00", "le": "06/08/2017"},
            {"no": "3", "etat": "L", "ttc": "12,00", "le": "07/08/2017"},
            {"no": "4", "ttc": "12,00", "le": "07/08/2017"}]}]})
    said: list[str] = []
    failed = probe({"shop": manifest.sources["shop"]}, BuildContext(tmp_path),
                   Identifiers(emails=("pauline.deneve@easiware.fr",)), said.append)
    assert failed == 0  # said, not failed: a store may keep statuses of its own
    assert [line for line in said if "unmapped" in line] == [
        "  unmapped orders[1].status: 'l' is not in its map ('L', 'E', 'R', 'A'): "
        "shown as written"]
