"""The Trustpilot preset against the documented private reviews payloads: client-credentials
token with HTTP basic, reviews filtered by the invited email, paged by page number."""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.sources import build_source
from connector.sources.base import BuildContext, Source
from connector.sources.preset import presets

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "trustpilot"
TOKEN_PATH = "/v1/oauth/oauth-business-users-for-applications/accesstoken"
REVIEWS = "/v1/private/business-units/507f191e810c19729de860ea/reviews"
BEARER = {"Authorization": "Bearer AccessTokenFake0123456789"}
BASIC = "Basic " + base64.b64encode(b"kQ7cUq1zRfExampleKey:s3cret").decode()
CAMILLE = Identifiers(emails=("camille.durand@example.com",))


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def build(httpserver: HTTPServer, tmp_path: Path, extra: str = "") -> Source:
    server = httpserver.url_for("/").rstrip("/")
    entry = presets()["trustpilot"].example + f"  api_url: {server}\n" + extra
    (tmp_path / "manifest.yaml").write_text("version: 1\nsources:\n" + textwrap.indent(entry, "  "))
    manifest = load_manifest(tmp_path / "manifest.yaml", env={"TRUSTPILOT_API_SECRET": "s3cret"})
    return build_source("reviews", manifest.sources["reviews"], BuildContext(tmp_path))


@pytest.fixture
def trustpilot(httpserver: HTTPServer, tmp_path: Path) -> Source:
    return build(httpserver, tmp_path)


def token_endpoint(forms: list[dict[str, list[str]]]) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        forms.append(parse_qs(request.get_data(as_text=True)))
        return Response(json.dumps(fixture("token.json")), content_type="application/json")

    return handler


def query(page: int) -> dict[str, str]:
    return {"referralEmail": "camille.durand@example.com", "orderBy": "createdat.desc",
            "page": str(page), "perPage": "20"}


def test_reviews_left_with_the_customers_email(httpserver: HTTPServer,
                                               trustpilot: Source) -> None:
    forms: list[dict[str, list[str]]] = []
    httpserver.expect_ordered_request(TOKEN_PATH, method="POST", headers={
        "Authorization": BASIC}).respond_with_handler(token_endpoint(forms))
    first = fixture("private_reviews_page1.json")
    filler = first["reviews"][1]  # a full page (perPage=20) makes the preset ask for the next
    first["reviews"] += [{**filler, "id": f"64a9b8c7d6e5f401234567{i:02d}"} for i in range(18)]
    httpserver.expect_ordered_request(REVIEWS, query_string=query(1), headers=BEARER
                                      ).respond_with_json(first)
    httpserver.expect_ordered_request(REVIEWS, query_string=query(2), headers=BEARER
                                      ).respond_with_json(fixture("private_reviews_page2.json"))

    result = trustpilot.fetch(CAMILLE)
    httpserver.check_assertions()

    assert forms == [{"grant_type": ["client_credentials"]}]  # key and secret only in basic
    assert result.found
    reviews = result.sections["reviews"]
    assert len(reviews) == 21
    latest, older, last = reviews[0], reviews[1], reviews[-1]
    assert (latest.site, latest.rating, latest.max_rating, str(latest.date), latest.title) == (
        "Trustpilot", Decimal(2), Decimal(5), "2025-02-27", "Livraison en retard")
    assert latest.excerpt.startswith("Commande arrivée avec dix jours de retard")
    assert latest.url == "https://www.trustpilot.com/reviews/65f0a1b2c3d4e5f601234567"
    assert (older.rating, older.title) == (Decimal(5), "Parfait")
    assert (last.rating, str(last.date)) == (Decimal(4), "2024-06-18")  # from page 2
    assert result.dropped_values == 0


def test_no_review_with_that_email_is_not_found(httpserver: HTTPServer,
                                                trustpilot: Source) -> None:
    httpserver.expect_ordered_request(TOKEN_PATH, method="POST").respond_with_json(
        fixture("token.json"))
    httpserver.expect_ordered_request(REVIEWS, query_string=query(1), headers=BEARER
                                      ).respond_with_json(fixture("private_reviews_empty.json"))
    assert not trustpilot.fetch(CAMILLE).found
    httpserver.check_assertions()


def test_never_lists_the_whole_business_unit_without_an_email(httpserver: HTTPServer,
                                                              tmp_path: Path) -> None:
    by_phone_too = build(httpserver, tmp_path, "  lookup_by: [email, phone]\n")
    assert not by_phone_too.fetch(Identifiers(phones=("+33612345678",))).found
    assert httpserver.log == []  # no token asked either: nothing was going to be sent
