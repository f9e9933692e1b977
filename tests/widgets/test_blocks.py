"""Each block alone: what it shows, what it leaves out, how it filters by source."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from connector.models import (
    Contacts,
    CustomerProfile,
    Flag,
    Identity,
    LastContact,
    Order,
    SourceState,
    SourceStatus,
    Status,
)
from connector.widgets.base import BlockSpec, RenderContext
from connector.widgets.page import BLOCKS

from .test_sidebar import CTX_EN, CTX_FR, NOW, pauline, plain


def render(
    key: str, profile: CustomerProfile, spec: BlockSpec | None = None, ctx: RenderContext = CTX_FR
) -> str:
    """Render one block, failing the test when it has nothing to show."""
    html = BLOCKS[key].render(profile, spec or BlockSpec(key), ctx)
    assert html is not None
    return plain(html)


def order(number: str, day: date, **fields: Any) -> Order:
    """An online order with just enough fields."""
    return Order(number=number, date=day, total=Decimal("10"), **fields)


def test_identity_leaves_out_empty_fields() -> None:
    html = render("identity", pauline())
    assert "Date de naissance" not in html and "Client depuis" not in html
    assert "Mobile" in html and "Téléphone" in html and "—" not in html
    only_email = CustomerProfile(customer_id="x", identity=Identity(emails=["a@b.fr"]))
    html = render("identity", only_email)
    assert "a@b.fr" in html and "Nom complet" not in html and "Adresse" not in html


def test_identity_formats_dates_names_and_odd_phones() -> None:
    person = Identity(
        civility="Dr",
        full_name="Jean Dupont",
        birth_date=date(1980, 1, 31),
        customer_since=date(2015, 3, 2),
        phones=["not a phone"],
        home_store="Paris Opéra",
    )
    html = render("identity", CustomerProfile(customer_id="x", identity=person), ctx=CTX_EN)
    assert "Dr Jean Dupont" in html and "31 Jan 1980" in html and "2 Mar 2015" in html
    assert "not a phone" in html and "tel:" not in html and "Paris Opéra" in html


def test_nothing_to_show_gives_none() -> None:
    empty = CustomerProfile(customer_id="x")
    for key, block in BLOCKS.items():
        assert block.render(empty, BlockSpec(key), CTX_FR) is None, key


def test_badges_highlight_vip_and_show_the_record_s_flags_in_order() -> None:
    flags = [Flag(key=f"f{i}", label=f"Flag {i}", icon="⚠", reason=f"reason {i}") for i in range(5)]
    flags[0] = Flag(
        key="negative_review", label="Avis négatif", icon="☹", reason="1/5", since=date(2024, 2, 1)
    )
    profile = CustomerProfile(
        customer_id="x",
        status=Status(segment="VIP", lifecycle="dormant", abc_class="A", tags=["Abonné"]),
        flags=flags,
    )
    html = render("badges", profile)
    assert 'class="tone tone--vip"' in html and "★" in html
    assert "Inactif" in html and "Classe A" in html and "Abonné" in html
    # the reason under the badge, since when in its tooltip
    assert 'title="Avis négatif (depuis le 01/02/2024)"' in html
    assert '<span class="flag__why">1/5</span>' in html
    assert html.index("Avis négatif") < html.index("Flag 1") < html.index("Flag 2")
    # the record holds the first `flags.max_shown` (5 here): the block shows them all (it cut
    # at a hard-coded 3, whatever the manifest said)
    assert html.index("Flag 2") < html.index("Flag 3") < html.index("Flag 4")


def test_badges_show_vip_once_and_unknown_values_as_written() -> None:
    profile = CustomerProfile(
        customer_id="x",
        status=Status(segment="VIP", lifecycle="hibernating"),
        flags=[Flag(key="vip", label="VIP", icon="★", reason="VIP")],
    )
    html = render("badges", profile)
    assert html.count(">VIP<") == 1 and "hibernating" in html


def test_kpis_show_the_five_tiles_and_the_last_request() -> None:
    profile = pauline().model_copy(
        update={
            "contacts": Contacts(
                count=2,
                last=LastContact(
                    date=datetime(2019, 2, 23, 16, 54, tzinfo=UTC), channel="email", reason="SAV"
                ),
            )
        }
    )
    html = render("kpis", profile)
    for value in ("1 464,00 €", "488,00 €", "05/08/2017", ">3<", "8,5", "Satisfaction moy. /10",
                  ">Achats<", 'title="Commandes en ligne et achats en magasin, hors annulations"'):
        assert value in html
    assert "23/02/2019 17:54 · Email" in html  # shown in the agents' zone (Europe/Paris)


def test_kpis_prefer_the_kpi_currency() -> None:
    profile = pauline()
    profile.kpis.currency = "CHF"
    assert "1 464,00 CHF" in render("kpis", profile)


def test_orders_are_newest_first_with_store_purchases_and_a_back_office_link() -> None:
    profile = pauline()
    profile.store_purchases = [
        Order(number="T-9", date=date(2017, 7, 1), total=Decimal("20"), store="Paris Opéra")
    ]
    html = render("orders", profile)
    assert html.index("997890") < html.index("T-9") < html.index("120145")
    assert "Paris Opéra" in html and 'title="Magasin">Mag<' in html
    assert 'href="https://bo.example.com/orders/997890" target="_blank"' in html
    assert 'rel="noopener noreferrer"' in html
    assert "tone--warn" in html and "tone--good" in html


def test_orders_show_unknown_statuses_as_written_and_translate_known_ones() -> None:
    rows = [
        order("1", date(2020, 1, 1), status="lost_in_space"),
        order("2", date(2020, 1, 2), status="Shipped", channel="app", currency="USD"),
    ]
    html = render("orders", CustomerProfile(customer_id="x", orders=rows), ctx=CTX_EN)
    assert "lost_in_space" in html and "Shipped" in html and "tone--info" in html
    assert "US$10.00" in html and 'title="App">App<' in html


def test_orders_keep_ten_rows_and_count_the_rest() -> None:
    start = date(2020, 1, 1)
    rows = [order(f"N{i:02d}", start + timedelta(days=i)) for i in range(12)]
    html = render("orders", CustomerProfile(customer_id="x", orders=rows))
    assert "N11" in html and "N02" in html and "N01" not in html and "N00" not in html
    assert "+ 2 autres commandes" in html


def test_orders_follow_the_spec_sources() -> None:
    profile = pauline()
    profile.store_purchases = [
        Order(number="T-9", date=date(2017, 7, 1), store="Opéra", source="pos")
    ]
    html = render("orders", profile, BlockSpec("orders", frozenset({"pos"})))
    assert "T-9" in html and "997890" not in html
    assert BLOCKS["orders"].render(profile, BlockSpec("orders", frozenset({"web"})), CTX_FR) is None


def test_freshness_says_status_age_and_error_per_source() -> None:
    profile = CustomerProfile(
        customer_id="x",
        sources={
            "erp": SourceStatus(status=SourceState.OK, fetched_at=NOW - timedelta(hours=2)),
            "pos": SourceStatus(status=SourceState.NOT_FOUND, age_s=5),
            "loyalty": SourceStatus(status=SourceState.STALE, age_s=4 * 86400),
            "reviews": SourceStatus(status=SourceState.CIRCUIT_OPEN, error="x" * 200),
        },
    )
    html = render("freshness", profile, ctx=CTX_EN)
    assert "up to date" in html and "2 h ago" in html
    assert "no record" in html and "just now" in html and "dot--none" in html
    assert "stale copy" in html and "4 d ago" in html and "dot--stale" in html
    assert "paused after errors" in html and "x" * 79 + "…" in html and "x" * 80 not in html
    spec = BlockSpec("freshness", frozenset({"pos"}))
    assert "erp" not in render("freshness", profile, spec)
    labelled = replace(CTX_FR, source_labels={"pos": "Caisses magasins"})
    assert "Caisses magasins" in render("freshness", profile, spec, labelled)
