"""The admin page: sources' health behind the admin token."""

from __future__ import annotations

import requests

from tests.conftest import ADMIN_TOKEN, API_TOKEN, Service


def test_admin_needs_the_token(service: Service) -> None:
    page = requests.get(f"{service.url}/admin/", timeout=5)
    assert page.status_code == 401
    assert page.headers["WWW-Authenticate"].startswith("Basic")
    wrong = requests.get(f"{service.url}/admin/", auth=("admin", "nope"), timeout=5)
    assert wrong.status_code == 401


def test_admin_shows_each_source_health(service: Service) -> None:
    requests.get(f"{service.url}/api/v1/customers/lookup", timeout=10,
                 params={"email": "pauline.deneve@easiware.fr"},
                 headers={"Authorization": f"Bearer {API_TOKEN}"})
    health = requests.get(f"{service.url}/admin/health.json", auth=("admin", ADMIN_TOKEN),
                          timeout=5).json()["sources"]
    by_name = {s["name"]: s for s in health}
    assert set(by_name) == {"erp", "pos", "feedback", "loyalty", "history"}
    erp = by_name["erp"]
    assert erp["circuit"] == "closed" and erp["lookups"] >= 1 and erp["last_success"]
    page = requests.get(f"{service.url}/admin/", auth=("admin", ADMIN_TOKEN), timeout=5)
    assert page.status_code == 200
    assert "Store tills" in page.text and "closed" in page.text  # the English labels
    assert "Caisses magasins" not in page.text and "times in Europe/Paris" in page.text
