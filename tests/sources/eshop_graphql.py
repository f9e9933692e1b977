"""The GraphQL API of docs/sources/graphql.md's walkthrough, as a real schema: a customer by
email, their orders as a cursor-paged connection, and a loyalty balance whose service fails
for one customer (partial data with an error)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_schema

from tests.sources.graphql_server import GraphQLServer, connection, resolving

SDL = """
type Query {
  customer(email: String!): Customer
  orders(customer: ID!, first: Int = 20, after: String): OrderConnection!
}
type Customer { id: ID! lastName: String email: String points: Int }
type PageInfo { hasNextPage: Boolean! endCursor: String }
type Order { number: String! state: String! total: String! placedOn: String! }
type OrderConnection { nodes: [Order!]! pageInfo: PageInfo! }
"""

CUSTOMERS: list[dict[str, Any]] = [
    {"id": "K-12", "lastName": "Denève", "email": "pauline.deneve@easiware.fr", "points": 120},
    {"id": "K-13", "lastName": "Dupont", "email": '"jean dupont"@example.fr', "points": None},
]
ORDERS: dict[str, list[dict[str, str]]] = {
    "K-12": [{"number": f"99789{n}", "state": "R" if n == 0 else "L", "total": f"4{n},95",
              "placedOn": f"0{n + 1}/08/2017"} for n in range(6)],
    "K-13": [],
}


def eshop_schema() -> GraphQLSchema:
    """The schema, resolved over CUSTOMERS and ORDERS."""
    schema = build_schema(SDL)

    def customer(_root: Any, _info: Any, email: str) -> dict[str, Any] | None:
        return next((c for c in CUSTOMERS if c["email"] == email), None)

    def orders(_root: Any, _info: Any, customer: str, first: int = 20,
               after: str | None = None) -> dict[str, Any]:
        return connection(ORDERS.get(customer, []), first, after)

    def points(root: dict[str, Any], _info: Any) -> int:
        if root["points"] is None:
            raise GraphQLError("loyalty service unavailable")
        return int(root["points"])

    return resolving(schema, {"Query.customer": customer, "Query.orders": orders,
                              "Customer.points": points})


def eshop_server() -> GraphQLServer:
    """The e-shop's API at /graphql, wanting its key in `X-Api-Key`."""
    return GraphQLServer(eshop_schema(), "/graphql", "X-Api-Key", "k3y")
