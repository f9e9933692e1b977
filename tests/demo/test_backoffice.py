"""Tests for the demo back office (ERP + review feed) over the generated data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from demo.backoffice import create_backoffice, to_e164
from demo.generate import HOUSEHOLD_IDS, SAMPLE_EMAIL, SAMPLE_ID, generate

AUTH = {"Authorization": "Bearer demo-erp-token"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated demo directory (Pauline plus generated customers)."""
    return generate(tmp_path_factory.mktemp("backoffice") / "data", customers=60)


@pytest.fixture()
def client(data_dir: Path) -> FlaskClient:
    """A test client on a back office without simulated latency."""
    return create_backoffice(data_dir, latency_ms=(0, 0), slow_seconds=0.2).test_client()


def _ids(client: FlaskClient, **query: str) -> list[str]:
    response = client.get("/erp/api/customers", query_string=query, headers=AUTH)
    assert response.status_code == 200
    return [c["id"] for c in response.get_json()["customers"]]


def test_erp_requires_the_bearer_token(client: FlaskClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = client.get("/erp/api/customers", query_string={"email": SAMPLE_EMAIL},
                              headers=headers)
        assert (response.status_code, response.get_json()) == (401, {"error": "unauthorized"})


@pytest.mark.parametrize("query", [
    {"email": SAMPLE_EMAIL.upper()},
    {"phone": "06 53 88 88 90"},
    {"phone": "+33 (0)653888890"},
    {"phone": "0033653888890", "email": SAMPLE_EMAIL},
])
def test_pauline_is_found_by_email_or_any_phone_format(client: FlaskClient,
                                                        query: dict[str, str]) -> None:
    assert _ids(client, **query) == [SAMPLE_ID]


def test_lookup_misses_and_missing_criteria(client: FlaskClient) -> None:
    assert _ids(client, email="nobody@example.fr") == []
    assert _ids(client, phone="pas un numéro") == []
    assert _ids(client, email=SAMPLE_EMAIL, phone="06 00 00 00 00") == []
    response = client.get("/erp/api/customers", headers=AUTH)
    assert response.status_code == 400 and "error" in response.get_json()


def test_household_landline_matches_both_members(client: FlaskClient, data_dir: Path) -> None:
    customers = json.loads((data_dir / "erp.json").read_text(encoding="utf-8"))["customers"]
    landline = next(c["phone"] for c in customers if c["id"] == HOUSEHOLD_IDS[0])
    assert _ids(client, phone=landline) == list(HOUSEHOLD_IDS)


def test_orders_newest_first_and_unknown_customer(client: FlaskClient) -> None:
    response = client.get(f"/erp/api/customers/{SAMPLE_ID}/orders", headers=AUTH)
    orders = response.get_json()["orders"]
    assert [o["number"] for o in orders] == ["997890", "120145", "118502"]
    assert client.get("/erp/api/customers/C000000/orders", headers=AUTH).status_code == 404


def test_order_page_needs_no_token(client: FlaskClient) -> None:
    response = client.get("/erp/orders/997890")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert all(text in page for text in ("997890", "return", "2017-08-05", "45.95"))
    assert client.get("/erp/orders/000000").status_code == 404


def test_feedback_feed(client: FlaskClient) -> None:
    reviews = client.get("/feedback/api/reviews", query_string={"email": SAMPLE_EMAIL.upper()})
    assert [(r["site"], r["stars"]) for r in reviews.get_json()["reviews"]] == [("Trustpilot", 2)]
    answers = client.get("/feedback/api/surveys", query_string={"email": SAMPLE_EMAIL})
    items = answers.get_json()["answers"]
    assert [a["answered_at"] for a in items] == sorted((a["answered_at"] for a in items),
                                                       reverse=True)
    assert len(items) == 3 and all("email" not in a for a in items)
    empty = client.get("/feedback/api/reviews", query_string={"email": "x@example.fr"})
    assert empty.get_json() == {"reviews": []}
    assert client.get("/healthz").get_json() == {"status": "ok"}



def test_the_whole_base_is_listed_page_by_page(client: FlaskClient, data_dir: Path) -> None:
    """What a job over the base reads: every customer once, by relative `next` links."""
    seen: list[str] = []
    url = "/erp/api/customers/all?per_page=40"
    while url:
        page = client.get(url, headers=AUTH).get_json()
        seen += [c["id"] for c in page["customers"]]
        url = f"/erp/api/customers/all{page['next']}" if page["next"] else ""
    everyone = json.loads((data_dir / "erp.json").read_text())["customers"]
    assert sorted(seen) == sorted(c["id"] for c in everyone) and len(set(seen)) == len(seen)
    assert client.get("/erp/api/customers/all").status_code == 401


def test_orders_since_a_date_oldest_first(client: FlaskClient) -> None:
    found = client.get("/erp/api/orders?since=2024-01-01&per_page=500", headers=AUTH).get_json()
    dates = [o["date"] for o in found["orders"]]
    assert dates == sorted(dates) and all(d >= "2024-01-01" for d in dates)
    assert found["total"] >= len(dates) > 0


def test_the_review_feed_moves_on_from_its_cursor(client: FlaskClient) -> None:
    first = client.get("/feedback/api/reviews/changes?limit=10").get_json()
    assert len(first["reviews"]) == 10 and all("email" in r for r in first["reviews"])
    stamps = [r["published_at"] for r in first["reviews"]]
    assert stamps == sorted(stamps)
    cursor = first["cursor"]
    rest = client.get("/feedback/api/reviews/changes", query_string={
        "since": cursor, "limit": 500}).get_json()
    assert not {r["url"] for r in rest["reviews"]} & {r["url"] for r in first["reviews"]}
    end = rest["cursor"]
    assert client.get("/feedback/api/reviews/changes",
                      query_string={"since": end}).get_json() == {"reviews": [], "cursor": end}
    published = client.post("/_admin/reviews", json={
        "email": SAMPLE_EMAIL, "site": "Trustpilot", "stars": 1, "title": "Déçue",
        "text": "Colis perdu.", "url": "https://fr.trustpilot.com/reviews/new1"}).get_json()
    new = client.get("/feedback/api/reviews/changes", query_string={"since": end}).get_json()
    assert [r["url"] for r in new["reviews"]] == [published["url"]]
    mine = client.get("/feedback/api/reviews", query_string={"email": SAMPLE_EMAIL}).get_json()
    assert mine["reviews"][0]["title"] == "Déçue"  # newest first, where the sidebar reads it

def test_fault_injection(client: FlaskClient) -> None:
    assert client.post("/_admin/faults", json={"erp": "down"}).status_code == 200
    down = client.get(f"/erp/api/customers/{SAMPLE_ID}/orders", headers=AUTH)
    assert down.status_code == 503 and "error" in down.get_json()
    assert client.get("/feedback/api/reviews?email=a@b.fr").status_code == 200
    client.post("/_admin/faults", json={"erp": "ok", "feedback": "slow"})
    started = time.monotonic()
    assert client.get("/feedback/api/reviews?email=a@b.fr").status_code == 200
    assert time.monotonic() - started >= 0.2
    assert client.get(f"/erp/api/customers/{SAMPLE_ID}/orders", headers=AUTH).status_code == 200
    assert client.post("/_admin/faults", json={"erp": "broken"}).status_code == 400


def test_latency_is_simulated(data_dir: Path) -> None:
    client = create_backoffice(data_dir, latency_ms=(30, 40)).test_client()
    started = time.monotonic()
    client.get("/feedback/api/reviews?email=a@b.fr")
    assert time.monotonic() - started >= 0.03


def test_to_e164() -> None:
    assert to_e164("06.53.88.88.90") == "+33653888890"
    assert to_e164("+32 (0)186953033") == "+32186953033"
    assert to_e164("") is None and to_e164("abc") is None


def test_real_server_answers_over_http(data_dir: Path) -> None:
    env = {**os.environ, "DEMO_ERP_TOKEN": "secret-token"}
    command = [sys.executable, "-m", "demo.backoffice", "--data", str(data_dir),
               "--host", "127.0.0.1", "--port", "0", "--latency-ms", "1-5"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        assert line.startswith("demo back office on http://127.0.0.1:")
        base = line.split(" on ", 1)[1].strip()
        deadline = time.monotonic() + 10
        while requests.get(f"{base}/healthz", timeout=2).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        response = requests.get(f"{base}/erp/api/customers", timeout=5,
                                params={"phone": "+33 (0)653888890"},
                                headers={"Authorization": "Bearer secret-token"})
        assert [c["id"] for c in response.json()["customers"]] == [SAMPLE_ID]
    finally:
        server.terminate()
        server.wait(timeout=5)


@pytest.mark.parametrize("logged", [False, True])
def test_it_logs_each_request_only_when_asked(data_dir: Path, logged: bool) -> None:
    """`make run`'s terminal shows the connector's own log, not every call it makes to the
    demo's back office; the tests ask for those (`--log-requests`): a failing test shows them."""
    command = [sys.executable, "-m", "demo.backoffice", "--data", str(data_dir),
               "--port", "0", "--latency-ms", "0", *(["--log-requests"] if logged else [])]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        base = line.split(" on ", 1)[1].strip()
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        assert requests.get(f"{base}/no-such-page", timeout=5).status_code == 404
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=5)
    assert ('"GET /healthz HTTP/1.1" 200' in errors) is logged, errors
    assert ("GET /no-such-page HTTP/1.1" in errors) is logged, errors  # coloured: 4xx
