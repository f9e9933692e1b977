"""docs/sources/graphql.md's "map your own GraphQL source" walkthrough works as written, against
a real GraphQL server."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.manifest.document import Manifest
from connector.sources import build_source
from connector.sources.base import BuildContext
from connector.sources.probe import probe, trace
from tests.sources.eshop_graphql import eshop_server
from tests.sources.graphql_server import GraphQLServer, serving

DOC = Path(__file__).resolve().parents[2] / "docs" / "sources" / "graphql.md"
PAULINE = Identifiers(emails=("pauline.deneve@easiware.fr",))


def walkthrough_entry() -> str:
    section = DOC.read_text(encoding="utf-8").split("## Map your own GraphQL source")[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return textwrap.dedent(block.group(1))


@pytest.fixture
def server() -> Iterator[GraphQLServer]:
    with serving(eshop_server()) as running:
        yield running


def manifest_for(server: GraphQLServer, tmp_path: Path, entry: str) -> Manifest:
    entry = entry.replace("https://shop.example.com", server.url)
    (tmp_path / "manifest.yaml").write_text(
        "version: 1\nsources:\n" + textwrap.indent(entry, "  "), encoding="utf-8")
    return load_manifest(tmp_path / "manifest.yaml", env={"SHOP_KEY": "k3y"})


def test_walkthrough(server: GraphQLServer, tmp_path: Path) -> None:
    manifest = manifest_for(server, tmp_path, walkthrough_entry())
    source = build_source("shop", manifest.sources["shop"], BuildContext(tmp_path))
    result = source.fetch(PAULINE)
    assert result.external_id == "K-12"
    assert result.sections["loyalty"].points == 120
    orders = result.sections["orders"]
    assert [o.number for o in orders] == [f"99789{n}" for n in range(6)]
    assert (orders[0].status, orders[0].total, str(orders[0].date)) == (
        "returned", Decimal("40.95"), "2017-08-01")
    lines = trace(source.find(PAULINE), manifest.sources["shop"])  # type: ignore[attr-defined]
    assert any(line.endswith("= 'R' → 'returned'") for line in lines)


def test_walkthrough_probe_names_a_graphql_error(server: GraphQLServer, tmp_path: Path) -> None:
    manifest = manifest_for(server, tmp_path,
                            walkthrough_entry().replace("{ id lastName points }",
                                                        "{ id lastNme points }"))
    said: list[str] = []
    failures = probe(manifest.sources, BuildContext(tmp_path), PAULINE, said.append)
    assert failures == 1
    assert said == ["shop (rest): error: GraphQL error: Cannot query field 'lastNme' on type "
                    "'Customer'. Did you mean 'lastName'?"]
