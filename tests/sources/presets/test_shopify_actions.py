"""The Shopify presets' `cancel_order` action: off unless `cancel_orders: true`, offered on
online orders still unfulfilled, keyed by the order's Shopify id (`source_id`), and sent as
Shopify documents it: the GraphQL Admin API's orderCancel mutation (checked against its
argument types by a real schema), or the REST Admin API's POST /orders/{id}/cancel.json."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema
from pytest_httpserver import HTTPServer

from connector.customer.actions import check, offers, text_of
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.models import CustomerProfile, Identity, Order
from connector.sources import build_source
from connector.sources.base import BuildContext, Source, SourceError
from connector.sources.preset import presets
from tests.sources.graphql_server import GraphQLServer, resolving, serving
from tests.sources.presets.test_shopify_rest import TOKEN, expect_orders, fixture
from tests.sources.shopify_graphql import API, TOKEN_HEADER, shopify_server

TODAY = dt.date(2025, 3, 3)
CHANGE = "5f0c2a4e-cancel"
CUSTOMER = "7320145678"

# orderCancel as the GraphQL Admin API 2025-01 declares it (mutations/orderCancel)
CANCEL_SDL = """
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }
enum OrderCancelUserErrorCode { INVALID NOT_FOUND NO_REFUND_PERMISSION }
type Job { id: ID! done: Boolean! }
type OrderCancelUserError { code: OrderCancelUserErrorCode field: [String!] message: String! }
type OrderCancelPayload { job: Job orderCancelUserErrors: [OrderCancelUserError!]! }
type QueryRoot { ping: String }
type Mutation {
  orderCancel(orderId: ID!, reason: OrderCancelReason!, refund: Boolean!, restock: Boolean!,
              notifyCustomer: Boolean, staffNote: String): OrderCancelPayload
}
schema { query: QueryRoot mutation: Mutation }
"""


def shop(preset: str, url: str, tmp_path: Path, extra: str = "") -> Source:
    """The preset's own example entry, pointed at the test server."""
    entry = presets()[preset].example + f"  api_url: {url}\n" + extra
    (tmp_path / "manifest.yaml").write_text("version: 1\nsources:\n" + textwrap.indent(entry, "  "))
    manifest = load_manifest(tmp_path / "manifest.yaml", env={"SHOPIFY_ACCESS_TOKEN": "shpat_fake"})
    return build_source("shop", manifest.sources["shop"], BuildContext(tmp_path))


def record(*orders: Order) -> CustomerProfile:
    """A record the Shopify source knows, holding these orders."""
    return CustomerProfile(customer_id="cus_1", identity=Identity(external_ids={"shop": CUSTOMER}),
                           orders=list(orders))


ORDERS = (
    Order(number="#1050", status="processing", date=dt.date(2025, 3, 1), source="shop",
          source_id="5801234567050"),
    Order(number="#1042", status="shipped", date=dt.date(2025, 2, 24), source="shop",
          source_id="5801234567042"),
    Order(number="#1031", status="delivered", date=dt.date(2025, 1, 17), source="shop",
          source_id="5801234567031"),
    Order(number="#1001", status="cancelled", date=dt.date(2024, 11, 29), source="shop",
          source_id="5801234567001"),
    Order(number="#1060", status="processing", date=dt.date(2025, 3, 2), source="shop"),  # no id
    Order(number="#1070", status="processing", date=dt.date(2025, 3, 2), source="erp",
          source_id="99"),  # another source's
)


@pytest.mark.parametrize("preset", ["shopify", "shopify_rest"])
def test_cancel_is_off_by_default_then_offered_on_unfulfilled_orders_only(
        preset: str, tmp_path: Path) -> None:
    off = shop(preset, "http://127.0.0.1:9", tmp_path)
    spec = off.config.actions["cancel_order"]  # type: ignore[attr-defined]
    assert (spec.applies_to, spec.key, spec.roles) == ("orders", "source_id", None)
    assert offers(record(*ORDERS), {"shop": off.config}, TODAY) == []

    on = shop(preset, "http://127.0.0.1:9", tmp_path, "  cancel_orders: true\n")
    offered = offers(record(*ORDERS), {"shop": on.config}, TODAY)
    assert [(o.name, o.key) for o in offered] == [("cancel_order", "5801234567050")]
    customer_unknown = CustomerProfile(customer_id="cus_2", orders=list(ORDERS))
    assert offers(customer_unknown, {"shop": on.config}, TODAY) == []


@pytest.mark.parametrize("preset", ["shopify", "shopify_rest"])
def test_the_admin_may_keep_cancelling_for_some_roles(preset: str, tmp_path: Path) -> None:
    source = shop(preset, "http://127.0.0.1:9", tmp_path,
                  "  cancel_orders: true\n  cancel_order_roles: [supervisor]\n")
    assert source.config.actions["cancel_order"].roles == ["supervisor"]  # type: ignore[attr-defined]
    sources = {"shop": source.config}
    assert offers(record(*ORDERS), sources, TODAY, "agent", checked=True) == []
    assert [o.key for o in offers(record(*ORDERS), sources, TODAY, "Supervisor", checked=True)
            ] == ["5801234567050"]


@pytest.fixture
def cancels() -> Iterator[tuple[GraphQLServer, list[dict[str, Any]]]]:
    """A GraphQL Admin API taking orderCancel; the arguments of each call it executed."""
    calls: list[dict[str, Any]] = []

    def order_cancel(_root: Any, _info: Any, **arguments: Any) -> dict[str, Any]:
        calls.append(arguments)
        return {"job": {"id": "gid://shopify/Job/0f9e1c2b", "done": False},
                "orderCancelUserErrors": []}

    schema = resolving(build_schema(CANCEL_SDL), {"Mutation.orderCancel": order_cancel})
    with serving(GraphQLServer(schema, API, TOKEN_HEADER, "shpat_fake")) as server:
        yield server, calls


def test_graphql_cancel_is_the_documented_order_cancel_mutation(
        cancels: tuple[GraphQLServer, list[dict[str, Any]]], tmp_path: Path) -> None:
    server, calls = cancels
    source = shop("shopify", server.url, tmp_path, "  cancel_orders: true\n")
    asked = check(record(*ORDERS), {"shop": source.config}, "shop", "cancel_order",
                  "5801234567050", {"reason": "CUSTOMER"}, TODAY)
    answer = source.act("cancel_order",  # type: ignore[attr-defined]
                        {**asked.values(), "change": CHANGE})

    assert calls == [{"orderId": "gid://shopify/Order/5801234567050", "reason": "CUSTOMER",
                      "refund": True, "restock": True, "notifyCustomer": True,
                      "staffNote": f"connector {CHANGE}"}]
    (sent,) = server.received
    assert sent["query"].startswith("mutation OrderCancel(")
    assert sent["variables"] == {"orderId": "gid://shopify/Order/5801234567050",
                                 "reason": "CUSTOMER", "staffNote": f"connector {CHANGE}"}
    assert answer["data"]["orderCancel"]["job"]["id"] == "gid://shopify/Job/0f9e1c2b"


def test_a_graphql_cancel_shopify_refuses_in_its_answer_fails_in_its_words(
        tmp_path: Path) -> None:
    def refusing(_root: Any, _info: Any, **_arguments: Any) -> dict[str, Any]:
        return {"job": None, "orderCancelUserErrors": [
            {"code": "INVALID", "field": ["orderId"],
             "message": "Cannot cancel an order with a return open"}]}

    schema = resolving(build_schema(CANCEL_SDL), {"Mutation.orderCancel": refusing})
    with serving(GraphQLServer(schema, API, TOKEN_HEADER, "shpat_fake")) as server:
        source = shop("shopify", server.url, tmp_path, "  cancel_orders: true\n")
        asked = check(record(*ORDERS), {"shop": source.config}, "shop", "cancel_order",
                      "5801234567050", {"reason": "CUSTOMER"}, TODAY)
        with pytest.raises(SourceError) as refused:
            source.act("cancel_order",  # type: ignore[attr-defined]
                       {**asked.values(), "change": CHANGE})
    assert refused.value.public == "shop said no: Cannot cancel an order with a return open"


def test_rest_cancel_posts_the_reason_and_the_customer_email(httpserver: HTTPServer,
                                                             tmp_path: Path) -> None:
    httpserver.expect_ordered_request(
        "/admin/api/2025-01/orders/5801234567050/cancel.json", method="POST",
        json={"reason": "customer", "email": True},
        headers={**TOKEN, "Idempotency-Key": CHANGE},
    ).respond_with_json({"order": {"id": 5801234567050, "cancel_reason": "customer"}})
    url = httpserver.url_for("/").rstrip("/")
    source = shop("shopify_rest", url, tmp_path, "  cancel_orders: true\n")
    asked = check(record(*ORDERS), {"shop": source.config}, "shop", "cancel_order",
                  "5801234567050", {"reason": "customer"}, TODAY)
    answer = source.act("cancel_order",  # type: ignore[attr-defined]
                        {**asked.values(), "change": CHANGE})
    httpserver.check_assertions()
    assert answer == {"order": {"id": 5801234567050, "cancel_reason": "customer"}}


def test_rest_cancel_refused_by_shopify_fails(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_ordered_request(
        "/admin/api/2025-01/orders/5801234567050/cancel.json", method="POST",
    ).respond_with_json({"error": "Cannot cancel an order that has fulfillments"}, status=422)
    url = httpserver.url_for("/").rstrip("/")
    source = shop("shopify_rest", url, tmp_path, "  cancel_orders: true\n")
    with pytest.raises(SourceError):
        source.act("cancel_order", {"key": "5801234567050",  # type: ignore[attr-defined]
                                    "external": CUSTOMER, "change": CHANGE,
                                    "inputs": {"reason": "customer"}})
    httpserver.check_assertions()


def test_graphql_orders_carry_their_shopify_id(tmp_path: Path) -> None:
    with serving(shopify_server()) as server:
        result = shop("shopify", server.url, tmp_path).fetch(
            Identifiers(emails=("camille.durand@example.com",)))
    assert [(o.number, o.source_id) for o in result.sections["orders"]] == [
        ("#1050", "5801234567050"), ("#1042", "5801234567042"), ("#1031", "5801234567031"),
        ("#1002", "5801234567002"), ("#1001", "5801234567001")]
    assert [o.source_id for o in result.sections["store_purchases"]] == ["5801234567040"]


def test_rest_orders_carry_their_shopify_id(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_ordered_request(
        "/admin/api/2025-01/customers/search.json",
        query_string={"query": "email:camille.durand@example.com"}, headers=TOKEN,
    ).respond_with_json(fixture("customers_search.json"))
    expect_orders(httpserver)
    source = shop("shopify_rest", httpserver.url_for("/").rstrip("/"), tmp_path)
    result = source.fetch(Identifiers(emails=("camille.durand@example.com",)))
    httpserver.check_assertions()
    assert [(o.number, o.source_id) for o in result.sections["orders"]] == [
        ("#1042", "5801234567042"), ("#1031", "5801234567031"), ("#1002", "5801234567002"),
        ("#1001", "5801234567001")]
    assert [o.source_id for o in result.sections["store_purchases"]] == ["5801234567040"]


@pytest.mark.parametrize(("preset", "reason", "fr", "en"), [
    ("shopify", "INVENTORY",
     "Commande Shopify #1050 : annulation demandée, avec remboursement et remise en stock "
     "(Article indisponible).",
     "Shopify order #1050: cancellation asked, with refund and restock (Out of stock)."),
    ("shopify_rest", "inventory",
     "Commande Shopify #1050 annulée, sans remboursement : Article indisponible.",
     "Shopify order #1050 cancelled, not refunded: Out of stock."),
])
def test_the_agent_confirms_and_the_ticket_is_noted_in_both_languages(
        preset: str, reason: str, fr: str, en: str, tmp_path: Path) -> None:
    source = shop(preset, "http://127.0.0.1:9", tmp_path, "  cancel_orders: true\n")
    spec = source.config.actions["cancel_order"]  # type: ignore[attr-defined]
    asked = check(record(*ORDERS), {"shop": source.config}, "shop", "cancel_order",
                  "5801234567050", {"reason": reason}, TODAY)
    assert (asked.kept(spec, "fr")["note"], asked.kept(spec, "en")["note"]) == (fr, en)
    assert (asked.key, asked.shown) == ("5801234567050", "#1050")  # the id sent, the number shown
    assert text_of(spec.confirm, "fr", asked.key, {}, spec, asked.number).startswith(
        "Annuler la commande #1050 dans Shopify ?")
    assert text_of(spec.confirm, "en", asked.key, {}, spec, asked.number).startswith(
        "Cancel order #1050 in Shopify?")


# refundCreate and what it reads first, as the GraphQL Admin API 2026-01 declares them
# (mutations/refundCreate, input-objects/RefundInput and OrderTransactionInput, Order.transactions)
REFUND_SDL = """
directive @idempotent(key: String!) on FIELD
enum OrderTransactionKind { AUTHORIZATION CAPTURE CHANGE EMV_AUTHORIZATION REFUND SALE
                            SUGGESTED_REFUND VOID }
enum OrderTransactionStatus { AWAITING_RESPONSE ERROR FAILURE PENDING SUCCESS UNKNOWN }
scalar Money
type OrderTransaction { id: ID! kind: OrderTransactionKind! status: OrderTransactionStatus!
                        gateway: String }
type Order { id: ID! transactions(first: Int): [OrderTransaction!]! }
type Refund { id: ID! }
type UserError { field: [String!] message: String! }
type RefundCreatePayload { refund: Refund userErrors: [UserError!]! }
input OrderTransactionInput { amount: Money! gateway: String! kind: OrderTransactionKind!
                              orderId: ID! parentId: ID }
input RefundInput { orderId: ID! note: String notify: Boolean
                    transactions: [OrderTransactionInput!] }
type QueryRoot { order(id: ID!): Order }
type Mutation { refundCreate(input: RefundInput!): RefundCreatePayload }
schema { query: QueryRoot mutation: Mutation }
"""
API_2026 = "/admin/api/2026-01/graphql.json"


def test_a_refund_is_offered_only_when_turned_on_with_a_version_that_keeps_it_once(
        tmp_path: Path) -> None:
    older = shop("shopify", "http://127.0.0.1:9", tmp_path, "  refunds: true\n")
    assert "refund" not in [o.name for o in offers(record(*ORDERS), {"shop": older.config},
                                                   TODAY)]
    newer = shop("shopify", "http://127.0.0.1:9", tmp_path,
                 "  refunds: true\n  api_version: '2026-01'\n")
    offered = [(o.name, o.number) for o in offers(record(*ORDERS), {"shop": newer.config}, TODAY)
               if o.name == "refund"]
    assert offered == [("refund", "#1050"), ("refund", "#1042"), ("refund", "#1031")]


@pytest.mark.parametrize(("transactions", "refunded"), [
    ([{"id": "gid://shopify/OrderTransaction/1", "kind": "AUTHORIZATION", "status": "SUCCESS",
       "gateway": "shopify_payments"},
      {"id": "gid://shopify/OrderTransaction/2", "kind": "CAPTURE", "status": "FAILURE",
       "gateway": "shopify_payments"},
      {"id": "gid://shopify/OrderTransaction/3", "kind": "CAPTURE", "status": "SUCCESS",
       "gateway": "shopify_payments"}], True),
    ([{"id": "gid://shopify/OrderTransaction/1", "kind": "AUTHORIZATION", "status": "SUCCESS",
       "gateway": "manual"}], False),  # nothing paid: nothing refunded, nothing sent
])
def test_a_refund_goes_back_to_the_captured_payment_once(
        transactions: list[dict[str, str]], refunded: bool, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def refund_create(_root: Any, _info: Any, **arguments: Any) -> dict[str, Any]:
        calls.append(arguments)
        return {"refund": {"id": "gid://shopify/Refund/77"}, "userErrors": []}

    schema = resolving(build_schema(REFUND_SDL), {
        "QueryRoot.order": lambda _r, _i, **a: {"id": a["id"], "transactions": transactions},
        "Mutation.refundCreate": refund_create})
    with serving(GraphQLServer(schema, API_2026, TOKEN_HEADER, "shpat_fake")) as server:
        source = shop("shopify", server.url, tmp_path,
                      "  refunds: true\n  api_version: '2026-01'\n")
        asked = check(record(*ORDERS), {"shop": source.config}, "shop", "refund",
                      "5801234567042", {"amount": "12,5", "reason": "Colis abîmé"}, TODAY)
        act = lambda: source.act("refund", {**asked.values(), "change": CHANGE})  # type: ignore[attr-defined]  # noqa: E731
        if not refunded:
            with pytest.raises(SourceError):
                act()
            assert calls == [] and len(server.received) == 1  # the read only
            return
        act()
    assert calls == [{"input": {
        "orderId": "gid://shopify/Order/5801234567042", "note": "Colis abîmé", "notify": True,
        "transactions": [{"orderId": "gid://shopify/Order/5801234567042",
                          "parentId": "gid://shopify/OrderTransaction/3",
                          "gateway": "shopify_payments", "amount": "12.50",
                          "kind": "REFUND"}]}}]
    read, sent = server.received
    assert read["variables"] == {"id": "gid://shopify/Order/5801234567042"}
    assert "@idempotent(key: $key)" in sent["query"] and sent["variables"]["key"] == CHANGE
