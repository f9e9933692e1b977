"""The HTTP contract, against `connector serve` running as its own process."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from tests.conftest import API_TOKEN, Service, start_service, stop

LOOKUP = "/api/v1/customers/lookup"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def test_healthz(service: Service) -> None:
    response = requests.get(f"{service.url}/healthz", timeout=5)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_lookup_needs_the_bearer_token(service: Service) -> None:
    url = f"{service.url}{LOOKUP}?email=pauline.deneve@easiware.fr"
    assert requests.get(url, timeout=5).status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Denève" not in wrong.text


def test_lookup_returns_the_canonical_customer(service: Service) -> None:
    response = requests.get(f"{service.url}{LOOKUP}", params={"phone": "06 53 88 88 90"},
                            headers=AUTH, timeout=10)
    assert response.status_code == 200
    customer = response.json()
    assert Decimal(customer["kpis"]["total_spend"]) == Decimal("1464.00")
    assert Decimal(customer["kpis"]["average_basket"]) == Decimal("488.00")
    assert customer["kpis"]["orders_count"] == 3
    assert customer["customer_id"].startswith("cus_")
    assert set(customer) >= {"identity", "status", "kpis", "flags", "sentiment", "contacts",
                             "orders", "store_purchases", "loyalty", "reviews", "campaigns",
                             "notes", "sources"}


def test_an_unknown_language_falls_back_to_the_brand_s(service: Service) -> None:
    response = requests.get(f"{service.url}{LOOKUP}", headers=AUTH, timeout=10, params={
        "email": "pauline.deneve@easiware.fr", "lang": "de"})
    assert response.status_code == 200
    assert "VIP" in [f["label"] for f in response.json()["flags"]]


def test_unknown_is_404_and_bad_input_400(service: Service) -> None:
    unknown = requests.get(f"{service.url}{LOOKUP}", params={"email": "nobody@example.org"},
                           headers=AUTH, timeout=10)
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"
    bad = requests.get(f"{service.url}{LOOKUP}", params={"phone": "12"}, headers=AUTH, timeout=5)
    assert bad.status_code == 400
    assert "phone" in bad.json()["error"]
    empty = requests.get(f"{service.url}{LOOKUP}", headers=AUTH, timeout=5)
    assert empty.status_code == 400


def test_metrics_count_sources_and_requests(service: Service) -> None:
    requests.get(f"{service.url}{LOOKUP}", params={"email": "pauline.deneve@easiware.fr"},
                 headers=AUTH, timeout=10)
    text = requests.get(f"{service.url}/metrics", timeout=5).text
    assert 'connector_source_results_total{source="erp",status="ok"}' in text
    assert 'connector_request_seconds_count{endpoint="/api/v1/customers/lookup"' in text


def test_lookup_by_a_sources_own_id_or_a_handle(service: Service) -> None:
    by_email = requests.get(f"{service.url}{LOOKUP}", headers=AUTH, timeout=10,
                            params={"email": "pauline.deneve@easiware.fr"}).json()
    erp_id = by_email["identity"]["external_ids"]["erp"]
    by_id = requests.get(f"{service.url}{LOOKUP}", headers=AUTH, timeout=10,
                         params={"external": f"erp:{erp_id}"})
    assert by_id.status_code == 200 and by_id.json()["customer_id"] == by_email["customer_id"]
    for wrong in ("erp", "nosuch:1", "erp:"):
        refused = requests.get(f"{service.url}{LOOKUP}", headers=AUTH, timeout=10,
                               params={"external": wrong})
        assert refused.status_code == 400, wrong
    unknown = requests.get(f"{service.url}{LOOKUP}", headers=AUTH, timeout=10,
                           params={"handle": "instagram:@Nobody_Here"})
    assert unknown.status_code == 404


@pytest.mark.parametrize("body", ["[1, 2]", '"pauline"', "42", "null"])
def test_a_json_body_that_is_not_an_object_is_a_400(service: Service, body: str) -> None:
    for path in ("/api/v1/customers/forget", "/api/v1/cache/invalidate"):
        answer = requests.post(f"{service.url}{path}", data=body, headers={
            **AUTH, "Content-Type": "application/json"}, timeout=10)
        assert answer.status_code == 400, (path, body, answer.status_code)


def test_a_note_id_past_the_column_is_a_404(service: Service) -> None:
    answer = requests.delete(f"{service.url}/api/v1/customers/cus_x/notes/99999999999999999999",
                             headers=AUTH, timeout=10)
    assert answer.status_code == 404


def test_the_demo_helpdesk_is_served_only_when_asked_for(env: dict[str, str]) -> None:
    running = start_service({k: v for k, v in env.items() if k != "CONNECTOR_DEMO"})
    try:
        assert requests.get(f"{running.url}/demo", timeout=10).status_code == 404
        assert requests.get(f"{running.url}/healthz", timeout=10).status_code == 200
    finally:
        stop(running.process)


def test_metrics_behind_their_own_token_when_one_is_set(env: dict[str, str]) -> None:
    running = start_service({**env, "CONNECTOR_METRICS_TOKEN": "metrics-secret"})
    try:
        url = f"{running.url}/metrics"
        assert requests.get(url, timeout=10).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert requests.get(url, headers=wrong, timeout=10).status_code == 401
        right = requests.get(url, headers={"Authorization": "Bearer metrics-secret"}, timeout=10)
        assert right.status_code == 200 and "connector_request_seconds" in right.text
    finally:
        stop(running.process)
