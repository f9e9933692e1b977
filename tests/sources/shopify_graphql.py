"""A subset of Shopify's GraphQL Admin API (2025-01) as a real schema: customers searched with
Shopify's search syntax, a customer's orders as a cursor-paged connection, fulfillments with
their tracking, and the THROTTLED answer of its leaky bucket. Data: tests/fixtures/shopify/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from graphql import GraphQLSchema, build_schema

from tests.sources.graphql_server import GraphQLServer, connection, resolving

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
API = "/admin/api/2025-01/graphql.json"
TOKEN_HEADER = "X-Shopify-Access-Token"

SDL = """
scalar DateTime
scalar Decimal
scalar UnsignedInt64

enum OrderSortKeys { PROCESSED_AT CREATED_AT ID }
enum CurrencyCode { EUR USD GBP }
enum OrderDisplayFinancialStatus {
  AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED }
enum OrderDisplayFulfillmentStatus {
  FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT REQUEST_DECLINED
  RESTOCKED SCHEDULED UNFULFILLED }
enum FulfillmentDisplayStatus {
  ATTEMPTED_DELIVERY CANCELED CONFIRMED DELIVERED FAILURE FULFILLED IN_TRANSIT LABEL_PRINTED
  LABEL_PURCHASED MARKED_AS_FULFILLED OUT_FOR_DELIVERY PICKED_UP READY_FOR_PICKUP SUBMITTED }

type QueryRoot {
  customers(first: Int, after: String, query: String): CustomerConnection!
  customer(id: ID!): Customer
  orders(first: Int, after: String, query: String): OrderConnection!
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }

type MailingAddress {
  address1: String address2: String city: String zip: String countryCodeV2: String phone: String
}

type Customer {
  id: ID!
  legacyResourceId: UnsignedInt64!
  firstName: String
  lastName: String
  email: String
  phone: String
  createdAt: DateTime!
  tags: [String!]!
  numberOfOrders: UnsignedInt64!
  amountSpent: MoneyV2!
  defaultAddress: MailingAddress
  orders(first: Int, after: String, sortKey: OrderSortKeys, reverse: Boolean): OrderConnection!
}

type CustomerConnection { nodes: [Customer!]! pageInfo: PageInfo! }

type Location { id: ID! name: String! }

type FulfillmentTrackingInfo { company: String number: String url: String }

type Fulfillment {
  createdAt: DateTime!
  displayStatus: FulfillmentDisplayStatus
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
}

type Order {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  createdAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  sourceName: String
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  totalPriceSet: MoneyBag!
  retailLocation: Location
  fulfillments(first: Int): [Fulfillment!]!
}

type OrderConnection { nodes: [Order!]! pageInfo: PageInfo! }

schema { query: QueryRoot }
"""

# Shopify's answer when the app's cost bucket is empty (HTTP 200, no data)
THROTTLED = {
    "errors": [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
    "extensions": {"cost": {"requestedQueryCost": 752, "actualQueryCost": None,
                            "throttleStatus": {"maximumAvailable": 1000.0,
                                               "currentlyAvailable": 652, "restoreRate": 50.0}}},
}

SEARCH_TERM = re.compile(r'^(\w+):(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))$')


def shop_data() -> dict[str, Any]:
    """The shop's customers, each with their orders (newest first)."""
    return json.loads((FIXTURES / "shop.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _term(query: str | None) -> tuple[str, str] | None:
    """The field and value of a one-term Shopify search (`email:"a@b.fr"`), unescaped."""
    match = SEARCH_TERM.match((query or "").strip())
    if match is None:
        return None
    value = re.sub(r"\\(.)", r"\1", match[2]) if match[2] is not None else match[3]
    return match[1], value


def shopify_schema(data: dict[str, Any]) -> GraphQLSchema:
    """The schema, resolved over `data` (see shop_data)."""
    schema = build_schema(SDL)
    customers: list[dict[str, Any]] = data["customers"]
    orders = [order for customer in customers for order in customer["orders"]]

    def search_customers(_root: Any, _info: Any, first: int = 50, after: str | None = None,
                         query: str | None = None) -> dict[str, Any]:
        term = _term(query)
        found = [c for c in customers if term and str(c.get(term[0])) == term[1]]
        return connection(found, first, after)

    def customer(_root: Any, _info: Any, id: str) -> dict[str, Any] | None:
        return next((c for c in customers if c["id"] == id), None)

    def search_orders(_root: Any, _info: Any, first: int = 50, after: str | None = None,
                      query: str | None = None) -> dict[str, Any]:
        term = _term(query)
        found = [o for o in orders if term and str(o.get(term[0])) == term[1]]
        return connection(found, first, after)

    def customer_orders(root: dict[str, Any], _info: Any, first: int = 50,
                        after: str | None = None, sortKey: str | None = None,
                        reverse: bool = False) -> dict[str, Any]:
        listed = sorted(root["orders"], key=lambda o: o["processedAt"], reverse=reverse)
        return connection(listed, first, after)

    def first_n(name: str) -> Any:
        def resolve(root: dict[str, Any], _info: Any, first: int = 250) -> list[Any]:
            return list(root.get(name) or [])[:first]
        return resolve

    return resolving(schema, {
        "QueryRoot.customers": search_customers, "QueryRoot.customer": customer,
        "QueryRoot.orders": search_orders, "Customer.orders": customer_orders,
        "Order.fulfillments": first_n("fulfillments"),
        "Fulfillment.trackingInfo": first_n("trackingInfo")})


def shopify_server(token: str = "shpat_fake") -> GraphQLServer:
    """The shop's Admin API, wanting the access token in its header."""
    return GraphQLServer(shopify_schema(shop_data()), API, TOKEN_HEADER, token)
