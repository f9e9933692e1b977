"""The computed segments in the API's JSON and on the sidebar, against `connector serve` on the
demo (docs/segments.md). The white paper's customer last ordered in August 2017: lost, and with
1 464 € spent, one to win back, whatever day the suite runs."""

from __future__ import annotations

import requests

from tests.conftest import API_TOKEN, Service

LOOKUP = "/api/v1/customers/lookup"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def test_the_lookup_api_carries_the_segments(service: Service) -> None:
    response = requests.get(f"{service.url}{LOOKUP}",
                            params={"email": "pauline.deneve@easiware.fr"}, headers=AUTH,
                            timeout=10)
    assert response.status_code == 200
    customer = response.json()
    assert customer["status"]["lifecycle"] == "lost"
    assert (customer["status"]["win_back"], customer["status"]["ambassador"]) == (True, False)
    assert customer["kpis"]["lifetime_value"] == "439.20"  # 1 464.00 × the default 30 % margin
