"""The demo data are the day's: generated for the day the demo runs (CONNECTOR_DEMO_TODAY pins
it), the same bytes for the same day, regenerated when the day changes; the white paper's
customer keeps her published history whatever the day; and what each ticket says about an
order, the customer's record shows."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from demo import generate as gen
from tests.conftest import DEMO_TODAY

# the suite's pinned day, a leap-year end of February, a day after New Year
DAYS = (date.fromisoformat(DEMO_TODAY), date(2032, 2, 29), date(2027, 1, 3))


@pytest.fixture(scope="module", params=DAYS, ids=str)
def generated(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[date, Path]:
    """The demo data generated for each of those days."""
    day: date = request.param
    return day, gen.generate(tmp_path_factory.mktemp("demo") / "out", today=day)


@pytest.fixture(scope="module")
def other_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data of a day far from all of those."""
    return gen.generate(tmp_path_factory.mktemp("demo") / "out", today=date(2041, 7, 14))


def read(out: Path, name: str) -> Any:
    return json.loads((out / name).read_text(encoding="utf-8"))


def contacts(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "contacts.jsonl").read_text().splitlines()]


def pos_days(out: Path) -> list[date]:
    with (out / "pos.csv").open(encoding="utf-8", newline="") as handle:
        return [datetime.strptime(r["date"], "%d/%m/%Y").date()
                for r in csv.DictReader(handle, delimiter=";")]


def day_of(stamp: str) -> date:
    return date.fromisoformat(stamp[:10])


def test_the_marker_names_the_day_and_the_tickets_are_that_day_s(
        generated: tuple[date, Path]) -> None:
    day, out = generated
    assert f"day={day.isoformat()}" in (out / gen.MARKER).read_text(encoding="utf-8")
    stamps = [t["created_at"] for t in read(out, "tickets.json")]
    assert len(stamps) == 8 and all(day_of(s) == day for s in stamps)
    assert stamps == sorted(set(stamps))  # one after the other, in the queue's order
    moments = [datetime.strptime(s, "%Y-%m-%dT%H:%M:00Z") for s in stamps]
    assert moments[-1] - moments[0] <= timedelta(hours=6)  # a morning's queue


def test_the_generated_customers_history_is_recent_and_never_after_the_day(
        generated: tuple[date, Path]) -> None:
    day, out = generated
    erp = read(out, "erp.json")
    orders = [date.fromisoformat(o["date"]) for o in erp["orders"]
              if o["customer_id"] != gen.SAMPLE_ID]
    feedback = read(out, "feedback.json")
    mine = [r for r in feedback["reviews"] if r["email"] != gen.SAMPLE_EMAIL]
    answers = [s for s in feedback["surveys"] if s["email"] != gen.SAMPLE_EMAIL]
    asked = [c for c in contacts(out) if c["email"] != gen.SAMPLE_EMAIL]
    assert max(orders) <= day and day - max(orders) <= timedelta(days=3)
    # most orders are recent, as in a live shop: a good share of them in the last month
    assert sum(day - o <= timedelta(days=30) for o in orders) >= len(orders) // 20
    for stamps in ([r["published_at"] for r in mine], [s["answered_at"] for s in answers],
                   [c["at"] for c in asked]):
        latest = max(day_of(s) for s in stamps)
        assert latest < day and day - latest <= timedelta(days=30)
    assert max(pos_days(out)) <= day and day - max(pos_days(out)) <= timedelta(days=30)
    created = [date.fromisoformat(c["created_at"]) for c in erp["customers"]]
    assert all(c <= day - timedelta(days=60) for c in created[1:])
    agenda = [a for c in erp["customers"][1:] for a in c["agenda"]]
    assert {a["status"] for a in agenda} == {"done", "planned"}
    assert all((day_of(a["at"]) < day) == (a["status"] == "done") for a in agenda)
    with sqlite3.connect(out / "loyalty.sqlite") as db:
        joined = [date.fromisoformat(j) for (j,) in db.execute("SELECT joined FROM members")]
    assert max(joined) <= day


def test_the_white_paper_s_customer_keeps_her_published_history(
        generated: tuple[date, Path], other_day: Path) -> None:
    _, out = generated

    def hers(root: Path) -> dict[str, Any]:
        erp, feedback = read(root, "erp.json"), read(root, "feedback.json")
        with sqlite3.connect(root / "loyalty.sqlite") as db:
            member = db.execute("SELECT * FROM members WHERE email = ?",
                                (gen.SAMPLE_EMAIL,)).fetchall()
        return {
            "customer": next(c for c in erp["customers"] if c["id"] == gen.SAMPLE_ID),
            "orders": [o for o in erp["orders"] if o["customer_id"] == gen.SAMPLE_ID],
            "reviews": [r for r in feedback["reviews"] if r["email"] == gen.SAMPLE_EMAIL],
            "surveys": [s for s in feedback["surveys"] if s["email"] == gen.SAMPLE_EMAIL],
            "contacts": [c for c in contacts(root) if c["email"] == gen.SAMPLE_EMAIL],
            "member": member,
        }

    record = hers(out)
    assert record == hers(other_day)
    assert sorted(o["date"] for o in record["orders"]) == ["2016-11-25", "2017-06-10",
                                                           "2017-08-05"]
    assert max(c["at"] for c in record["contacts"]) == "2019-02-23T16:54:00Z"
    assert len(record["contacts"]) == 23


def test_the_same_day_gives_the_same_bytes(tmp_path: Path) -> None:
    day = date(2032, 2, 29)
    first = gen.generate(tmp_path / "a", customers=40, today=day)
    again = gen.generate(tmp_path / "b", customers=40, today=day)
    for name in ("erp.json", "pos.csv", "feedback.json", "contacts.jsonl", "tickets.json",
                 gen.MARKER):
        assert (first / name).read_bytes() == (again / name).read_bytes(), name


def test_the_day_is_pinned_by_the_environment(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv(gen.TODAY_VAR, "2032-02-29")
    out = gen.generate(tmp_path / "pinned", customers=40)
    assert all(t["created_at"].startswith("2032-02-29T") for t in read(out, "tickets.json"))
    monkeypatch.setenv(gen.TODAY_VAR, "le 1er novembre")
    with pytest.raises(ValueError, match="CONNECTOR_DEMO_TODAY"):
        gen.generate(tmp_path / "unreadable", customers=40)


def test_unpinned_the_data_are_today_s_and_no_ticket_is_in_the_future(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(gen.TODAY_VAR, raising=False)
    out = gen.generate(tmp_path / "today", customers=40)
    today, now = date.today(), datetime.now(UTC).replace(tzinfo=None)
    assert f"day={today.isoformat()}" in (out / gen.MARKER).read_text(encoding="utf-8")
    stamps = [datetime.strptime(t["created_at"], "%Y-%m-%dT%H:%M:00Z")
              for t in read(out, "tickets.json")]
    midnight = datetime(today.year, today.month, today.day)
    assert all(s.date() == today for s in stamps)
    assert all(s <= max(now, midnight + timedelta(minutes=7)) for s in stamps)


def test_ensure_regenerates_when_the_day_changes_only(tmp_path: Path) -> None:
    out = gen.ensure(tmp_path / "d", customers=40, today=date(2032, 2, 28))
    (out / "erp.json").write_text("{}", encoding="utf-8")
    gen.ensure(out, customers=40, today=date(2032, 2, 28))
    assert (out / "erp.json").read_text(encoding="utf-8") == "{}"  # the same day: kept
    gen.ensure(out, customers=40, today=date(2032, 2, 29))
    assert len(read(out, "erp.json")["customers"]) == 40
    assert all(t["created_at"].startswith("2032-02-29T") for t in read(out, "tickets.json"))


ORDER = re.compile(r"commande (\d{6})")


def test_each_ticket_s_order_agrees_with_its_complaint(generated: tuple[date, Path]) -> None:
    day, out = generated
    erp, feedback = read(out, "erp.json"), read(out, "feedback.json")
    tickets = {t["id"]: t for t in read(out, "tickets.json")}
    by_email = {c["email"]: c for c in erp["customers"]}
    orders = {o["number"]: o for o in erp["orders"]}

    def orders_of(ticket: dict[str, Any]) -> list[dict[str, Any]]:
        who = by_email[ticket["requester"]["email"]]["id"]
        return sorted((o for o in erp["orders"] if o["customer_id"] == who),
                      key=lambda o: (o["date"], o["number"]))

    def cited(ticket: dict[str, Any]) -> dict[str, Any]:
        numbers = set(ORDER.findall(ticket["subject"] + " " + ticket["body"]))
        assert len(numbers) == 1, ticket
        order = orders[numbers.pop()]
        assert order in orders_of(ticket)  # the requester's own order
        return order

    # Pauline's refund, by email and by phone: her returned order, refund not made yet
    assert cited(tickets[1001])["state"] == "return"
    assert [o["number"] for o in erp["orders"] if o["customer_id"] == gen.SAMPLE_ID
            and o["state"] == "return"] == ["997890"]
    # the chat: an order shipped days ago, in transit since (tracked, not delivered), the last
    # one they placed before the last few days
    stuck = cited(tickets[1003])
    assert stuck["state"] == "sent" and stuck["tracking"]
    assert 4 <= (day - date.fromisoformat(stuck["date"])).days <= 20
    later = [o for o in orders_of(tickets[1003]) if o["date"] > stuck["date"]]
    assert all(day - date.fromisoformat(o["date"]) < timedelta(days=4) for o in later)
    # ... and the bad review she left lately says so, written after it was shipped
    email = tickets[1003]["requester"]["email"]
    reviews = [r for r in feedback["reviews"] if r["email"] == email]
    recent = [r for r in reviews if r["stars"] <= 2
              and day_of(r["published_at"]) >= day - timedelta(days=30)]
    assert any(stuck["number"] in r["text"] and "bloquée" in r["text"]
               and stuck["date"] < r["published_at"][:10] < day.isoformat() for r in recent)
    # the e-mail: "shown as shipped, nothing received": shipped, tracked, not delivered
    awaited = cited(tickets[1007])
    assert awaited["state"] == "sent" and awaited["tracking"]
    assert awaited["date"] <= day.isoformat() and orders_of(tickets[1007])[-1] == awaited
    # Facebook: a question about their loyalty points: they have a card, with points
    with sqlite3.connect(out / "loyalty.sqlite") as db:
        points = db.execute("SELECT points FROM members WHERE email = ?",
                            (tickets[1004]["requester"]["email"],)).fetchall()
    assert points and points[0][0] >= 100


def test_a_review_cites_only_an_order_received_before_it(generated: tuple[date, Path]) -> None:
    _, out = generated
    erp, feedback = read(out, "erp.json"), read(out, "feedback.json")
    orders = {o["number"]: o for o in erp["orders"]}
    owner = {c["email"]: c["id"] for c in erp["customers"]}
    cited = 0
    for review in feedback["reviews"]:
        for number in ORDER.findall(review["text"]):
            order = orders[number]
            assert order["customer_id"] == owner[review["email"]]
            assert order["date"] < review["published_at"][:10]
            if "bloquée" in review["text"]:
                assert order["state"] == "sent"
            elif "Retour de ma" in review["text"] or "renvoyer" in review["text"]:
                assert order["state"] == "return"
            else:
                assert order["state"] in ("done", "return"), review
            cited += 1
    assert cited >= 20
