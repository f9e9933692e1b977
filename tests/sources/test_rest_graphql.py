"""`protocol: graphql` against a real GraphQL server: the query sent verbatim, placeholders as
JSON variables, cursor paging, and `errors` in a 200 answer classified up to what the sidebar
shows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from connector.customer.links import LinkStore
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolver
from connector.identifiers import Identifiers
from connector.manifest import ManifestError, load_manifest
from connector.manifest.document import Manifest
from connector.models import SourceState
from connector.sources import build_source
from connector.sources.base import (
    BuildContext,
    Source,
    SourceError,
    SourceMisconfigured,
    SourceRefused,
    SourceUnavailable,
)
from connector.sources.cache import MemoryCache, SingleFlight
from connector.sources.rest_graphql import classified
from tests.sources.eshop_graphql import eshop_server
from tests.sources.graphql_server import GraphQLServer, cursor, serving

PAULINE = Identifiers(emails=("pauline.deneve@easiware.fr",))
CUSTOMER = """\
query Customer($email: String!) {
  customer(email: $email) {id lastName points}
}
"""
ORDERS = """\
query Orders($id: ID!, $first: Int, $after: String) {
  orders(customer: $id, first: $first, after: $after) {
    pageInfo {hasNextPage endCursor}
    nodes {number state total placedOn}
  }
}
"""


def entry(url: str, max_pages: int = 5, customer_query: str = CUSTOMER) -> dict[str, object]:
    return {
        "type": "rest", "protocol": "graphql", "base_url": url, "headers": {"X-Api-Key": "k3y"},
        "ttl_s": 0, "revalidate_s": 0,
        "requests": [
            {"name": "customer", "path": "/graphql", "query": customer_query,
             "variables": {"email": "{email}"}, "items": "data.customer"},
            {"name": "orders", "path": "/graphql", "query": ORDERS,
             "variables": {"id": "{customer.id}", "first": "{`2`}"},
             "items": "data.orders.nodes",
             "paginate": {"type": "graphql_cursor", "page_info": "data.orders.pageInfo",
                          "variable": "after", "max_pages": max_pages}},
        ],
        "id": "customer.id",
        "sections": {"identity": {"path": "customer", "fields": {"last_name": "lastName"}},
                     "orders": {"items": "orders", "fields": {"number": "number"}}},
    }


def manifest_of(tmp_path: Path, source: dict[str, object]) -> Manifest:
    (tmp_path / "manifest.yaml").write_text(
        yaml.safe_dump({"version": 1, "sources": {"shop": source}}, allow_unicode=True))
    return load_manifest(tmp_path / "manifest.yaml", env={})


def built(tmp_path: Path, source: dict[str, object]) -> Source:
    manifest = manifest_of(tmp_path, source)
    return build_source("shop", manifest.sources["shop"], BuildContext(tmp_path))


@pytest.fixture
def server() -> Iterator[GraphQLServer]:
    with serving(eshop_server()) as running:
        yield running


def test_cursor_paging_reads_every_page_once(server: GraphQLServer, tmp_path: Path) -> None:
    result = built(tmp_path, entry(server.url)).fetch(PAULINE)
    numbers = [o.number for o in result.sections["orders"]]
    assert numbers == [f"99789{n}" for n in range(6)]  # 3 pages of 2, none twice
    pages = [r["variables"] for r in server.received[1:]]
    assert pages == [{"id": "K-12", "first": 2},  # a lone placeholder keeps its JSON type
                     {"id": "K-12", "first": 2, "after": cursor(1)},
                     {"id": "K-12", "first": 2, "after": cursor(3)}]


def test_max_pages_bounds_the_paging(server: GraphQLServer, tmp_path: Path) -> None:
    result = built(tmp_path, entry(server.url, max_pages=2)).fetch(PAULINE)
    assert [o.number for o in result.sections["orders"]] == [f"99789{n}" for n in range(4)]
    assert len(server.received) == 3


def test_the_query_is_sent_verbatim(server: GraphQLServer, tmp_path: Path) -> None:
    # `{id lastName points}` would be a placeholder in a path, a param or a body
    built(tmp_path, entry(server.url)).fetch(PAULINE)
    assert [r["query"] for r in server.received[:2]] == [CUSTOMER, ORDERS]


def test_a_value_with_quotes_is_a_json_value(server: GraphQLServer, tmp_path: Path) -> None:
    result = built(tmp_path, entry(server.url)).fetch(
        Identifiers(emails=('"jean dupont"@example.fr',)))
    assert server.received[0]["variables"] == {"email": '"jean dupont"@example.fr'}
    assert result.found and result.external_id == "K-13"


def test_partial_data_is_used_and_the_errors_logged(server: GraphQLServer, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="connector.sources.rest_graphql"):
        result = built(tmp_path, entry(server.url)).fetch(
            Identifiers(emails=('"jean dupont"@example.fr',)))
    assert result.sections["identity"].last_name == "Dupont"  # `points` failed, not the rest
    assert "source shop: GraphQL answer with 1 error(s) (no code): partial data used" in \
        caplog.messages


def test_errors_without_data_fail_the_source(server: GraphQLServer, tmp_path: Path) -> None:
    source = built(tmp_path, entry(server.url, customer_query=CUSTOMER.replace("points", "pts")))
    with pytest.raises(SourceMisconfigured) as failed:
        source.fetch(PAULINE)
    assert failed.value.public == "GraphQL error: Cannot query field 'pts' on type 'Customer'."


def assembler(manifest: Manifest, source: Source) -> ProfileAssembler:
    return ProfileAssembler(manifest, {"shop": source}, SingleFlight(MemoryCache()),
                            ThreadPoolExecutor(2), Resolver(LinkStore("sqlite://"),
                                                            manifest.identity))


def test_the_sidebar_says_the_source_failed(server: GraphQLServer, tmp_path: Path) -> None:
    manifest = manifest_of(tmp_path, entry(server.url, customer_query="query { nope }"))
    source = build_source("shop", manifest.sources["shop"], BuildContext(tmp_path))
    status = assembler(manifest, source).lookup(PAULINE).sources["shop"]
    assert (status.status, status.error) == (
        SourceState.ERROR, "GraphQL error: Cannot query field 'nope' on type 'Query'.")


def test_throttled_is_transient_and_the_stale_copy_shows(server: GraphQLServer,
                                                         tmp_path: Path) -> None:
    manifest = manifest_of(tmp_path, entry(server.url))
    source = build_source("shop", manifest.sources["shop"], BuildContext(tmp_path))
    lookups = assembler(manifest, source)
    assert lookups.lookup(PAULINE).sources["shop"].status is SourceState.OK
    server.refuse_answer = {"errors": [{"message": "Throttled",
                                        "extensions": {"code": "THROTTLED"}}]}
    with pytest.raises(SourceUnavailable):
        source.fetch(PAULINE)
    status = lookups.lookup(PAULINE).sources["shop"]
    assert (status.status, status.error) == (SourceState.STALE, "GraphQL error: Throttled")


def test_check_refuses_what_graphql_does_not_use(tmp_path: Path) -> None:
    source = entry("http://127.0.0.1:9")
    requests = source["requests"]
    assert isinstance(requests, list)
    del requests[0]["query"]
    requests[0]["body"] = {"email": "{email}"}
    del requests[1]["paginate"]["page_info"]
    with pytest.raises(ManifestError) as refused:
        manifest_of(tmp_path, source)
    assert refused.value.errors == [
        "sources.shop.requests[0].query: required with protocol graphql",
        "sources.shop.requests[0].body: not used with protocol graphql (give query and "
        "variables)",
        "sources.shop.requests[1].paginate.page_info: required with graphql_cursor (where the "
        "connection's pageInfo is, e.g. data.customer.orders.pageInfo)",
    ]


def test_check_refuses_graphql_settings_on_another_protocol(tmp_path: Path) -> None:
    source = {**entry("http://127.0.0.1:9"), "protocol": "json"}
    with pytest.raises(ManifestError) as refused:
        manifest_of(tmp_path, source)
    assert refused.value.errors == [
        "sources.shop.requests[0].query: only with protocol graphql",
        "sources.shop.requests[1].query: only with protocol graphql",
        "sources.shop.requests[1].paginate.type: graphql_cursor only with protocol graphql",
    ]


def test_the_manifest_check_passes_a_query_full_of_braces(tmp_path: Path) -> None:
    source = entry("http://127.0.0.1:9",
                   customer_query="query($email: String!) { customer(email: $email) {email} }")
    manifest_of(tmp_path, source)  # `{email}` in a query is GraphQL, not a placeholder


@pytest.mark.parametrize(("code", "kind"), [
    ("THROTTLED", SourceUnavailable), ("INTERNAL_SERVER_ERROR", SourceUnavailable),
    ("ACCESS_DENIED", SourceRefused), ("BAD_USER_INPUT", SourceMisconfigured),
    (None, SourceMisconfigured)])
def test_errors_are_classified_by_code(code: str | None, kind: type[SourceError]) -> None:
    error: dict[str, object] = {"message": "Variable $q: bad value for jane.doe@example.com"}
    if code is not None:
        error["extensions"] = {"code": code}
    failure = classified([error])
    assert type(failure) is kind
    assert failure.public == "GraphQL error: Variable $q: bad value for …@…"  # no customer data
