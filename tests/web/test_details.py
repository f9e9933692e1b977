"""On-demand details and cache invalidation, against `connector serve` and the demo back office."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from connector.helpdesk.embed import EmbedLinks
from tests.conftest import API_TOKEN, Service

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
LINKS = EmbedLinks(b"test-secret-key", 600, "FR")


def test_order_tracking_through_the_api(service: Service) -> None:
    answer = requests.get(f"{service.url}/api/v1/details/erp/tracking", params={"key": "997890"},
                          headers=AUTH, timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["label"] == "Suivi du colis"
    assert body["fields"] == {"carrier": "Colissimo", "status": "Retour reçu",
                              "updated": "2017-08-14", "tracking": "AU908764"}  # as read
    shown = requests.get(f"{service.url}/api/v1/details/erp/tracking", headers=AUTH,
                         params={"key": "997890", "lang": "en"}, timeout=10).json()
    assert shown["label"] == "Parcel tracking"
    # the parcel's status is a coded value (`values: orders.status`): named in English
    assert shown["fields"] == {"Carrier": "Colissimo", "Status": "Return received",
                               "Updated": "14 Aug 2017", "Tracking number": "AU908764"}
    assert len(shown["read_at"]) == 5  # "14:05", in the brand's time zone
    assert requests.get(f"{service.url}/api/v1/details/erp/tracking", params={"key": "997890"},
                        timeout=5).status_code == 401


def test_unknown_detail_or_key(service: Service) -> None:
    base = f"{service.url}/api/v1/details"
    assert requests.get(f"{base}/erp/nope", params={"key": "1"}, headers=AUTH,
                        timeout=5).status_code == 404
    missing = requests.get(f"{base}/erp/tracking", params={"key": "000000"}, headers=AUTH,
                           timeout=5)
    assert (missing.status_code, missing.json()["fields"]) == (200, {})


def test_sidebar_details_only_for_the_customer_of_the_link(service: Service,
                                                           demo_data: Path) -> None:
    token = LINKS.token(email="pauline.deneve@easiware.fr")
    url = f"{service.url}/helpdesk/embed/details"
    mine = requests.get(f"{url}/loyalty/balance", params={"t": token, "key": "29000123456"},
                        timeout=10)
    assert mine.status_code == 200
    assert mine.json()["fields"] == {"Points": "1\u202f240", "Palier": "Or"}  # as shown in fr
    english = requests.get(f"{url}/loyalty/balance", timeout=10,
                           params={"t": token, "key": "29000123456", "lang": "en"})
    assert english.json()["fields"] == {"Points": "1,240", "Tier": "Gold"}  # sidebar.values
    orders = json.loads((demo_data / "erp.json").read_text())["orders"]
    someone_elses = next(o["number"] for o in orders if o["customer_id"] != "C100997")
    theirs = requests.get(f"{url}/erp/tracking", params={"t": token, "key": someone_elses},
                          timeout=10)
    assert theirs.status_code == 404
    forged = requests.get(f"{url}/erp/tracking", params={"t": "x", "key": "997890"}, timeout=5)
    assert forged.status_code == 401


def test_invalidate_drops_every_cached_answer_about_the_customer(service: Service) -> None:
    lookup = f"{service.url}/api/v1/customers/lookup"
    requests.get(lookup, params={"phone": "06 53 88 88 90"}, headers=AUTH, timeout=10)
    dropped = requests.post(f"{service.url}/api/v1/cache/invalidate", headers=AUTH, timeout=5,
                            json={"email": "PAULINE.DENEVE@easiware.fr", "source": "erp"})
    assert dropped.status_code == 200
    assert dropped.json()["dropped"] >= 1  # the phone lookup's ERP answer carried her email
    again = requests.post(f"{service.url}/api/v1/cache/invalidate", headers=AUTH, timeout=5,
                          json={"email": "pauline.deneve@easiware.fr", "source": "erp"})
    assert again.json()["dropped"] == 0
    bad = requests.post(f"{service.url}/api/v1/cache/invalidate", headers=AUTH, timeout=5,
                        json={"source": "nope", "email": "a@b.fr"})
    assert bad.status_code == 400
