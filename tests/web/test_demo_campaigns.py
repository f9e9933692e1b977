"""The demo's campaigns: its feedback platform serves the campaigns each customer received, the
manifest maps them, and Pauline's record shows hers (API, timeline, tabs, campaigns block); the
timeline's `part=entries` answer the record's script appends."""

from __future__ import annotations

import re
from decimal import Decimal

import requests

from connector.helpdesk.embed import EmbedLinks
from demo.generate import SAMPLE_EMAIL
from tests.conftest import API_TOKEN, Backoffice, Service

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
LINKS = EmbedLinks(b"test-secret-key", 600, "FR")
SUBJECTS = ["Soldes : jusqu'à -50 % sur le linge de maison",
            "Black Friday : -30 % sur tout le salon",
            "Pauline, 2 bons d'achat vous attendent à Paris Rivoli"]


def test_the_back_office_serves_the_campaigns_a_customer_received(
        backoffice: Backoffice) -> None:
    answer = requests.get(f"{backoffice.url}/feedback/api/campaigns", timeout=10,
                          params={"email": SAMPLE_EMAIL.upper()})
    assert answer.status_code == 200
    hers = answer.json()["campaigns"]
    assert [(c["sent_at"], c["channel"], c["subject"]) for c in hers] == [
        ("2019-01-09", "email", SUBJECTS[0]), ("2018-11-23", "email", SUBJECTS[1]),
        ("2018-03-15", "SMS", SUBJECTS[2])]
    assert all(set(c) == {"name", "sent_at", "channel", "subject"} for c in hers)
    assert requests.get(f"{backoffice.url}/feedback/api/campaigns",
                        timeout=10).status_code == 400
    nobody = requests.get(f"{backoffice.url}/feedback/api/campaigns", timeout=10,
                          params={"email": "nobody@example.fr"})
    assert nobody.json() == {"campaigns": []}


def test_paulines_record_shows_her_campaigns_and_keeps_her_figures(service: Service) -> None:
    found = requests.get(f"{service.url}/api/v1/customers/lookup", headers=AUTH, timeout=10,
                         params={"email": SAMPLE_EMAIL})
    assert found.status_code == 200, found.text
    record = found.json()
    assert sorted((c["date"], c["subject"]) for c in record["campaigns"]) == [
        ("2018-03-15", SUBJECTS[2]), ("2018-11-23", SUBJECTS[1]), ("2019-01-09", SUBJECTS[0])]
    assert {c["name"] for c in record["campaigns"]} == {
        "Carte Or : vos avantages", "Black Friday 2018", "Soldes d'hiver 2019"}
    assert Decimal(record["kpis"]["total_spend"]) == Decimal("1464.00")
    assert record["kpis"]["orders_count"] == 3
    timeline = requests.get(f"{service.url}/api/v1/customers/{record['customer_id']}/timeline",
                            headers=AUTH, timeout=10, params={"kind": "campaign"})
    assert timeline.status_code == 200
    assert [e["title"] for e in timeline.json()["entries"]] == SUBJECTS
    page = requests.get(LINKS.url(service.url, LINKS.token(email=SAMPLE_EMAIL), "fr"),
                        timeout=10).text.replace("\u202f", " ").replace("\xa0", " ")
    tab = re.search(r'<a class="tab tab--campaigns".*?</a>', page, re.S)
    assert tab is not None and '<span class="tab__count">3</span>' in tab[0]
    assert "kind=campaign" in tab[0]
    block = re.search(r'<section class="block block--campaigns".*?</section>', page, re.S)
    assert block is not None and "Black Friday 2018" in block[0]


def test_the_timeline_answers_its_entries_alone_for_the_script(service: Service) -> None:
    token = LINKS.token(email=SAMPLE_EMAIL)
    base = f"{service.url}/helpdesk/embed/timeline"
    part = requests.get(base, timeout=10, params={"t": token, "lang": "fr", "kind": "campaign",
                                                  "part": "entries"})
    assert part.status_code == 200 and part.headers["Content-Type"].startswith("text/html")
    assert part.text.lstrip().startswith('<li class="timeline__entry timeline__entry--campaign"')
    assert part.text.count("<li ") == 3 and "<section" not in part.text
    assert "Black Friday : -30 % sur tout le salon" in part.text
    assert 'class="more"' not in part.text  # three campaigns: one page
    everything = requests.get(base, timeout=10, params={"t": token, "lang": "en",
                                                        "part": "entries"})
    more = re.search(r'<p class="more"><a href="([^"]+)">Older entries</a></p>', everything.text)
    assert more is not None and "part=" not in more[1]  # the page's link, for no script too
    expired = requests.get(base, timeout=10, params={"t": "forged", "part": "entries"})
    assert expired.status_code == 401
