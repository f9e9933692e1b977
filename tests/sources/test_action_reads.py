"""An action's reads (`before:`) and its `refused_if:`, over real HTTP: the ids a vendor's call
takes that the record does not hold are read first and fill the request; only the request
changes anything; a refusal inside a 2xx answer fails the action in the vendor's words; reads
that would change something are refused when the manifest loads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from connector.customer.actions import check
from connector.manifest import ManifestError, load_manifest
from connector.models import CustomerProfile, Identity, Order
from connector.sources import build_source
from connector.sources.base import BuildContext, Source, SourceError, SourceRefused

TODAY = dt.date(2026, 11, 1)
MANIFEST = """\
version: 1
sources:
  shop:
    type: rest
    base_url: {url}
    requests: [{{name: c, path: /customers, params: {{email: "{{email}}"}}}}]
    sections: {{identity: {{path: c, fields: {{last_name: name}}}}}}
    actions:
      refund:
        label: {{fr: Rembourser, en: Refund}}
        applies_to: orders
        key: source_id
        inputs: {{amount: {{label: Montant, kind: amount, max: 100}}}}
        confirm: "Rembourser la commande {{number}} ?"
        refused_if: "errors[].message"
        before:
{before}
        request:
          name: refund
          method: POST
          path: /orders/{{key}}/refunds
          body:
            parent_id: "{{paid.transactions[?kind == 'sale'] | [0].id}}"
            amount: "{{inputs.amount}}"
"""
READ = """\
          - {name: paid, path: "/orders/{key}/transactions"}
"""


def shop(tmp_path: Path, url: str, before: str = READ) -> Source:
    path = tmp_path / "manifest.yaml"
    path.write_text(MANIFEST.format(url=url, before=before.rstrip("\n")), encoding="utf-8")
    manifest = load_manifest(path, env={})
    return build_source("shop", manifest.sources["shop"], BuildContext(tmp_path))


def values(source: Source) -> dict[str, object]:
    profile = CustomerProfile(customer_id="cus_1", identity=Identity(external_ids={"shop": "c7"}),
                              orders=[Order(number="#1050", source="shop", source_id="5050")])
    asked = check(profile, {"shop": source.config}, "shop", "refund", "5050",
                  {"amount": "12,5"}, TODAY)
    assert asked.shown == "#1050"
    return {**asked.values(), "change": "chg-1"}


def test_the_reads_fill_the_request_and_only_the_request_changes_anything(
        httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_ordered_request("/orders/5050/transactions", method="GET").respond_with_json(
        {"transactions": [{"id": 1, "kind": "authorization"}, {"id": 2, "kind": "sale"}]})
    httpserver.expect_ordered_request(
        "/orders/5050/refunds", method="POST", json={"parent_id": 2, "amount": "12.50"},
        headers={"Idempotency-Key": "chg-1"},
    ).respond_with_json({"refund": {"id": 9}})
    source = shop(tmp_path, httpserver.url_for("").rstrip("/"))
    assert source.act("refund", values(source)) == {"refund": {"id": 9}}  # type: ignore[attr-defined]
    httpserver.check_assertions()
    first = httpserver.log[0][0]
    assert "Idempotency-Key" not in first.headers  # a read: nothing to apply once


def test_nothing_to_refund_is_a_refusal_and_no_change_is_sent(httpserver: HTTPServer,
                                                             tmp_path: Path) -> None:
    httpserver.expect_ordered_request("/orders/5050/transactions").respond_with_json(
        {"transactions": [{"id": 1, "kind": "authorization"}]})
    source = shop(tmp_path, httpserver.url_for("").rstrip("/"))
    with pytest.raises(SourceRefused) as refused:
        source.act("refund", values(source))  # type: ignore[attr-defined]
    assert "no value for" in refused.value.public
    assert [entry[0].path for entry in httpserver.log] == ["/orders/5050/transactions"]


def test_a_refusal_inside_a_2xx_answer_fails_the_action_in_its_words(
        httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_ordered_request("/orders/5050/transactions").respond_with_json(
        {"transactions": [{"id": 2, "kind": "sale"}]})
    httpserver.expect_ordered_request("/orders/5050/refunds", method="POST").respond_with_json(
        {"errors": [{"message": "Amount exceeds the refundable amount"},
                    {"message": "write to pauline.deneve@easiware.fr"}]})
    source = shop(tmp_path, httpserver.url_for("").rstrip("/"))
    with pytest.raises(SourceError) as refused:
        source.act("refund", values(source))  # type: ignore[attr-defined]
    assert refused.value.public.startswith("shop said no: Amount exceeds the refundable amount")
    assert "pauline.deneve" not in refused.value.public  # identifiers scrubbed


@pytest.mark.parametrize(("before", "error"), [
    ('          - {name: paid, method: POST, path: "/orders/{key}/transactions"}\n',
     "'paid': a read (GET, or a GraphQL query), never a change"),
    ('          - {name: key, path: "/orders/{key}/transactions"}\n',
     "'key': name each read once"),
])
def test_a_read_that_could_change_something_is_refused_at_load(
        tmp_path: Path, before: str, error: str) -> None:
    with pytest.raises(ManifestError) as refused:
        shop(tmp_path, "https://shop.example.com", before)
    assert any(e.startswith("sources.shop.actions.refund.before") and error in e
               for e in refused.value.errors), refused.value.errors
