"""A real GraphQL server for the tests: graphql-core executes a schema behind a werkzeug app
on 127.0.0.1, over HTTP, recording what it was sent."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema, graphql_sync
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class GraphQLServer:
    """One schema served at `path`; `refuse_answer`, when set, is sent instead of executing
    (a throttled answer, an outage); `token` is the header value every call must carry."""

    schema: GraphQLSchema
    path: str
    header: str = ""
    token: str = ""
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    refuse_answer: dict[str, Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """The WSGI app: POST `path` with a JSON `{query, variables}` body, as GraphQL over
        HTTP says."""
        request = Request(environ)
        if request.path != self.path:
            return Response("not found", 404)(environ, start_response)
        if request.method != "POST":
            return Response("POST only", 405)(environ, start_response)
        if self.header and request.headers.get(self.header) != self.token:
            body = {"errors": "[API] Invalid API key or access token (unrecognized login or "
                              "wrong password)"}
            return Response(json.dumps(body), 401, content_type="application/json")(
                environ, start_response)
        payload = request.get_json(force=True)
        self.received.append(payload)
        answer = self.refuse_answer if self.refuse_answer is not None else self._execute(payload)
        return Response(json.dumps(answer), 200, content_type="application/json")(
            environ, start_response)

    def _execute(self, payload: dict[str, Any]) -> dict[str, Any]:
        result = graphql_sync(self.schema, payload["query"],
                              variable_values=payload.get("variables"))
        answer: dict[str, Any] = {"data": result.data} if result.data is not None else {}
        if result.errors:
            answer["errors"] = [error.formatted for error in result.errors]
        return answer


@contextmanager
def serving(server: GraphQLServer) -> Iterator[GraphQLServer]:
    """The server listening on a free port of 127.0.0.1 until the block ends."""
    http = make_server("127.0.0.1", 0, server, threaded=True)
    server.url = f"http://127.0.0.1:{http.server_port}"
    thread = threading.Thread(target=http.serve_forever, name="graphql-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        http.shutdown()
        thread.join(5)


def cursor(position: int) -> str:
    """An opaque cursor, as GraphQL servers make them."""
    return base64.b64encode(f"position:{position}".encode()).decode()


def connection(items: list[Any], first: int, after: str | None) -> dict[str, Any]:
    """One page of a Relay connection: `nodes` and `pageInfo { hasNextPage endCursor }`."""
    start = int(base64.b64decode(after).decode().split(":")[1]) + 1 if after else 0
    page = items[start:start + first]
    end = start + len(page) - 1
    return {"nodes": page, "pageInfo": {
        "hasNextPage": start + first < len(items), "hasPreviousPage": start > 0,
        "startCursor": cursor(start) if page else None,
        "endCursor": cursor(end) if page else None}}


def resolving(schema: GraphQLSchema, resolvers: dict[str, Any]) -> GraphQLSchema:
    """The schema with these resolvers, by `Type.field` (other fields read dict keys)."""
    for name, resolve in resolvers.items():
        type_name, field_name = name.split(".")
        kind = schema.type_map[type_name]
        assert isinstance(kind, GraphQLObjectType)
        kind.fields[field_name].resolve = resolve
    return schema
