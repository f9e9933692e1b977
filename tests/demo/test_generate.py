"""Tests for the deterministic demo data generator."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from statistics import mean
from typing import Any

import phonenumbers
import pytest

from demo import generate as gen
from tests.conftest import DEMO_TODAY

FILES = ("erp.json", "pos.csv", "loyalty.sqlite", "feedback.json", "contacts.jsonl",
         "tickets.json", "manifest.done")
PAULINE_E164 = "+33653888890"
TODAY = date.fromisoformat(DEMO_TODAY)  # the day the suite pins (CONNECTOR_DEMO_TODAY)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated demo directory with the default size and seed, for the pinned day."""
    return gen.generate(tmp_path_factory.mktemp("demo") / "out")


def _json(demo_dir: Path, name: str) -> Any:
    return json.loads((demo_dir / name).read_text(encoding="utf-8"))


def _e164(raw: str) -> str:
    parsed = phonenumbers.parse(raw, "FR")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def test_two_runs_write_identical_bytes(demo_dir: Path, tmp_path: Path) -> None:
    again = gen.generate(tmp_path / "again")
    for name in FILES:
        assert (again / name).read_bytes() == (demo_dir / name).read_bytes(), name


def test_ensure_regenerates_only_when_marker_is_stale(demo_dir: Path, tmp_path: Path) -> None:
    out = gen.generate(tmp_path / "d", customers=40)
    (out / "erp.json").write_text("{}", encoding="utf-8")
    gen.ensure(out, customers=40)
    assert (out / "erp.json").read_text(encoding="utf-8") == "{}"
    (out / gen.MARKER).write_text("demo-generator 0\n", encoding="utf-8")
    gen.ensure(out, customers=40)
    assert len(_json(out, "erp.json")["customers"]) == 40


def test_pauline_customer_and_orders(demo_dir: Path) -> None:
    erp = _json(demo_dir, "erp.json")
    pauline = next(c for c in erp["customers"] if c["id"] == gen.SAMPLE_ID)
    assert pauline.pop("agenda") == [{"at": "2019-03-02T14:30:00Z", "title": "Essayage canapé",
                                      "place": "Paris Rivoli", "status": "planned"}]
    assert [d["title"] for d in pauline.pop("documents")] == ["Facture 997890",
                                                                "Facture 120145"]
    assert pauline.pop("consents") == {"newsletter": "opt_in", "newsletter_at": "2014-03-12",
                                       "sms": "opt_in", "sms_at": "2014-03-12"}
    assert pauline == {
        "id": "C100997", "civility": "MADAME", "first_name": "Pauline", "last_name": "Denève",
        "birth_date": None, "email": "pauline.deneve@easiware.fr", "mobile": "+33 (0)653888890",
        "phone": "+32 (0)186953033", "created_at": "2014-03-12", "segment": "VIP",
        "tags": ["vip"], "address": {"street": "1 AVENUE SPINOZA", "zip": "77184",
                                     "city": "EMERAINVILLE", "country": "FR"},
    }
    orders = {o["number"]: o for o in erp["orders"] if o["customer_id"] == gen.SAMPLE_ID}
    assert set(orders) == {"997890", "120145", "118502"}
    assert orders["997890"] == {
        "customer_id": "C100997", "number": "997890", "channel": "web", "state": "return",
        "date": "2017-08-05", "tracking": "AU908764", "amount_total": "45.95",
        "currency": "EUR"}
    assert (orders["120145"]["tracking"], orders["118502"]["channel"]) == ("34543-A", "phone")
    assert sum(Decimal(o["amount_total"]) for o in orders.values()) == Decimal("1464.00")


def test_pauline_elsewhere(demo_dir: Path) -> None:
    with (demo_dir / "pos.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert not [r for r in rows if r["email"] == gen.SAMPLE_EMAIL
                or r["loyalty_card"] == gen.SAMPLE_CARD
                or (r["phone"] and _e164(r["phone"]) == PAULINE_E164)]
    with sqlite3.connect(demo_dir / "loyalty.sqlite") as db:
        member = db.execute("SELECT * FROM members WHERE email = ?", (gen.SAMPLE_EMAIL,))
        assert member.fetchall() == [("29000123456", gen.SAMPLE_EMAIL, PAULINE_E164, 1240, "Or",
                                      2, "Paris Rivoli", "2014-03-12")]
    feedback = _json(demo_dir, "feedback.json")
    csat = [s["score"] for s in feedback["surveys"]
            if s["email"] == gen.SAMPLE_EMAIL and s["type"] == "csat"]
    assert mean(csat) == 8.5
    reviews = [r for r in feedback["reviews"] if r["email"] == gen.SAMPLE_EMAIL]
    assert [(r["site"], r["stars"], r["published_at"], r["title"]) for r in reviews] == [
        ("Trustpilot", 2, "2017-08-07T19:12:00Z", "Retour compliqué")]
    assert "997890" in reviews[0]["text"]


def test_pauline_contacts(demo_dir: Path) -> None:
    lines = (demo_dir / "contacts.jsonl").read_text(encoding="utf-8").splitlines()
    contacts = [c for c in map(json.loads, lines) if c["email"] == gen.SAMPLE_EMAIL]
    assert len(contacts) == 23
    last = max(contacts, key=lambda c: c["at"])
    assert last == {"at": "2019-02-23T16:54:00Z", "channel": "phone", "email": gen.SAMPLE_EMAIL,
                    "reason": "Suivi de remboursement", "phone": PAULINE_E164}
    assert {c["channel"] for c in contacts} == {"email", "phone", "chat", "facebook"}
    assert all("2014-03-12" <= c["at"] < "2019-02-24" for c in contacts)


def test_generated_customers(demo_dir: Path) -> None:
    customers = _json(demo_dir, "erp.json")["customers"]
    assert len(customers) >= 250
    emails = [c["email"] for c in customers]
    assert len(set(emails)) == len(emails)
    assert all(e == e.lower() and e.isascii() for e in emails)
    for customer in customers[1:]:
        mobile = phonenumbers.parse(customer["mobile"], "FR")
        assert phonenumbers.is_valid_number(mobile), customer["mobile"]
        assert phonenumbers.number_type(mobile) == phonenumbers.PhoneNumberType.MOBILE
        assert _e164(customer["mobile"]) != PAULINE_E164
    assert 5 <= sum(c["segment"] == "VIP" for c in customers) <= 30
    household = [c for c in customers if c["id"] in gen.HOUSEHOLD_IDS]
    assert len({_e164(c["phone"]) for c in household}) == 1
    shared = _e164(household[0]["phone"])
    assert [c["id"] for c in customers if c["phone"] and _e164(c["phone"]) == shared] == list(
        gen.HOUSEHOLD_IDS)


def test_orders_and_stores(demo_dir: Path) -> None:
    orders = _json(demo_dir, "erp.json")["orders"]
    numbers = [o["number"] for o in orders]
    assert len(set(numbers)) == len(numbers) and all(len(n) == 6 for n in numbers)
    assert {o["state"] for o in orders} == {"done", "sent", "return", "cancel", "draft"}
    assert all(o["date"] <= DEMO_TODAY for o in orders)
    header = (demo_dir / "pos.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "ticket;date;store;total;email;phone;loyalty_card"
    with (demo_dir / "pos.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert {r["store"] for r in rows} == set(gen.STORES)
    assert all("," in r["total"] and (r["email"] or r["phone"] or r["loyalty_card"])
               for r in rows)
    assert any(not r["email"] for r in rows)
    assert all(datetime.strptime(r["date"], "%d/%m/%Y") for r in rows)


def test_tickets_cover_every_identification_case(demo_dir: Path) -> None:
    tickets = {t["id"]: t for t in _json(demo_dir, "tickets.json")}
    customers = _json(demo_dir, "erp.json")["customers"]
    known = {_e164(n) for c in customers for n in (c["mobile"], c["phone"]) if n}
    assert len(tickets) == 8
    assert tickets[1001]["requester"]["email"] == gen.SAMPLE_EMAIL
    assert tickets[1002]["requester"] == {"name": "Pauline Denève", "phone": "06 53 88 88 90"}
    chat = next(t for t in tickets.values() if t["channel"] == "chat")
    recent = (TODAY - timedelta(days=30)).isoformat()
    assert any(r["email"] == chat["requester"]["email"] and r["stars"] <= 2
               and r["published_at"] >= recent
               for r in _json(demo_dir, "feedback.json")["reviews"])
    facebook = next(t for t in tickets.values() if t["channel"] == "facebook")["requester"]
    assert facebook["handle"] and facebook["email"] in {c["email"] for c in customers}
    calls = [t["requester"]["phone"] for t in tickets.values() if t["channel"] == "phone"]
    stranger = [p for p in calls if _e164(p) not in known]
    assert len(stranger) == 1
    assert phonenumbers.is_valid_number(phonenumbers.parse(stranger[0], "FR"))
    instagram = next(t for t in tickets.values() if t["channel"] == "instagram")["requester"]
    assert set(instagram) == {"name", "handle"}
    assert all(t["created_at"].startswith(f"{DEMO_TODAY}T") for t in tickets.values())


def test_dates_never_pass_the_reference_date(demo_dir: Path) -> None:
    feedback = _json(demo_dir, "feedback.json")
    limit = (TODAY + timedelta(days=1)).isoformat()
    stamps = [r["published_at"] for r in feedback["reviews"]]
    stamps += [s["answered_at"] for s in feedback["surveys"]]
    assert all(s.endswith("Z") and s < limit for s in stamps)
    assert all(date.fromisoformat(c["created_at"]) < TODAY
               for c in _json(demo_dir, "erp.json")["customers"])


def test_too_few_customers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        gen.generate(tmp_path, customers=5)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gen.main(["--out", str(tmp_path / "cli"), "--customers", "30"])
    assert capsys.readouterr().out.strip() == str(tmp_path / "cli")
    assert len(_json(tmp_path / "cli", "erp.json")["customers"]) == 30
