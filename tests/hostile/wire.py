"""Requests sent byte for byte (the test client would otherwise make a form of an empty body),
and the properties every answer keeps."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient


def merged(random: dict[str, str], fixed: dict[str, str]) -> dict[str, str]:
    """Random headers under fixed ones (a name fixed replaces the random one, whatever its
    case)."""
    taken = {name.lower() for name in fixed}
    return {**{k: v for k, v in random.items() if k.lower() not in taken}, **fixed}


def send(client: FlaskClient, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None, content_type: str | None = None,
         query: dict[str, str] | None = None) -> Any:
    """One request carrying exactly `body`, with these headers (`content_type` over theirs)."""
    fixed = {"Content-Type": content_type} if content_type is not None else {}
    return client.open(path, method=method, input_stream=io.BytesIO(body),
                       content_length=len(body), headers=merged(headers or {}, fixed),
                       query_string=query)


def traceback_free(data: bytes) -> bool:
    """Whether an answer shows nothing of our insides."""
    return b"Traceback (most recent call last)" not in data and b'File "/' not in data


# the smallest body cap a route may have (CONNECTOR_MAX_BODY_BYTES' minimum): a body past it
# may be refused with a 413 before anything reads it
SMALLEST_CAP = 64 * 1024


def sane(answer: Any, allowed_5xx: tuple[int, ...] = ()) -> None:
    """Never a server error (but those `allowed_5xx`), never our insides shown."""
    data = answer.get_data()
    assert answer.status_code < 500 or answer.status_code in allowed_5xx, (
        answer.status_code, data[:300])
    assert traceback_free(data), data[:300]


def too_large(answer: Any, body: bytes) -> bool:
    """Whether this is the 413 a body this large may get."""
    return answer.status_code == 413 and len(body) > SMALLEST_CAP
