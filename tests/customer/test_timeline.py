"""The timeline: every kind of the record in one list, newest first (undated last), filtered
by kind, paged by a cursor without duplicates or gaps."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connector.customer.timeline import KINDS, InvalidCursor, page_of, timeline_of
from connector.models import (
    Appointment,
    Campaign,
    ContactEvent,
    CustomerProfile,
    Document,
    Order,
    Review,
    SurveyAnswer,
)


def record() -> CustomerProfile:
    """One item of every kind, one undated, two requests at the same moment."""
    return CustomerProfile(
        customer_id="cus_1",
        requests=[
            ContactEvent(date=datetime(2024, 2, 28, 9, 30, tzinfo=UTC), channel="chat",
                         reason="Réclamation livraison", status="open"),
            ContactEvent(date=datetime(2024, 2, 28, 9, 30, tzinfo=UTC), channel="email",
                         reason="Même moment", status="resolved", resolution="Avoir"),
            ContactEvent(channel="phone", reason="Sans date"),
        ],
        orders=[Order(number="997890", date=date(2017, 8, 5), status="returned",
                      total=Decimal("45.95"), back_office_url="https://bo/997890")],
        store_purchases=[Order(number="00012345", date=date(2017, 6, 10), store="Rivoli")],
        reviews=[Review(site="Trustpilot", rating=Decimal(2), date=date(2024, 2, 10),
                        title="Retour compliqué", url="https://tp/5f1e")],
        surveys=[SurveyAnswer(kind="nps", score=Decimal(9), date=date(2024, 1, 10))],
        campaigns=[Campaign(name="Soldes", subject="-30 % sur la literie",
                            date=date(2024, 1, 9), channel="email")],
        agenda=[Appointment(date=datetime(2024, 3, 4, 14, 0, tzinfo=UTC), title="Essayage")],
        documents=[Document(date=date(2017, 8, 6), title="Facture", kind="invoice",
                            url="https://bo/f.pdf")],
    )


def test_every_kind_newest_first_undated_last() -> None:
    entries = timeline_of(record(), "Europe/Paris")
    assert [e.kind for e in entries] == [
        "agenda", "request", "request", "review", "survey", "campaign", "document", "order",
        "store_visit", "request"]
    assert entries[-1].date is None and entries[-1].title == "Sans date"
    assert set(KINDS) == {e.kind for e in entries}
    assert len({e.id for e in entries}) == len(entries)


def test_entries_carry_title_detail_and_link() -> None:
    by_kind = {e.kind: e for e in timeline_of(record())}
    assert by_kind["order"].url == "https://bo/997890" and by_kind["order"].title == "997890"
    assert by_kind["review"].url == "https://tp/5f1e" and by_kind["review"].status == "2/5"
    assert by_kind["campaign"].title == "-30 % sur la literie"
    assert by_kind["campaign"].detail == "Soldes"
    assert by_kind["store_visit"].title == "Rivoli"
    assert by_kind["survey"].status == "9/10"


def test_filter_by_kind() -> None:
    entries = timeline_of(record())
    page = page_of(entries, ["request"], limit=10)
    assert [e.title for e in page.entries][2] == "Sans date"
    assert {e.kind for e in page.entries} == {"request"} and page.total == 3
    both = page_of(entries, ["order", "document"])
    assert [e.kind for e in both.entries] == ["document", "order"] and both.next is None


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 7])
def test_pages_have_no_duplicates_nor_gaps(limit: int) -> None:
    entries = timeline_of(record())
    seen, before = [], None
    while True:
        page = page_of(entries, before=before, limit=limit)
        assert len(page.entries) <= limit
        seen += page.entries
        if page.next is None:
            break
        before = page.next
    assert seen == entries


def test_a_cursor_still_works_when_a_newer_item_arrives() -> None:
    profile = record()
    first = page_of(timeline_of(profile), limit=3)
    profile.requests.insert(0, ContactEvent(date=datetime(2024, 3, 10, tzinfo=UTC),
                                            reason="Nouvelle"))
    rest = page_of(timeline_of(profile), before=first.next, limit=100)
    assert [e.id for e in rest.entries] == [e.id for e in timeline_of(record())[3:]]


def test_before_a_day_and_a_wrong_cursor() -> None:
    entries = timeline_of(record())
    page = page_of(entries, before="2018-01-01", limit=100)
    assert [e.kind for e in page.entries] == ["document", "order", "store_visit", "request"]
    with pytest.raises(InvalidCursor):
        page_of(entries, before="yesterday")
