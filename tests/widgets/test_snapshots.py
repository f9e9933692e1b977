"""What the agent sees, block by block: the HTML of every registered block, in French and in
English, for one fixed record at one fixed moment, compared with the snapshot kept under
`tests/widgets/snapshots/<block>.<locale>.html` (a block with nothing to show is an empty file).

A block added to the registry (`connector.widgets.page.BLOCKS`) is covered without touching this
file: its snapshot is missing, and the test says so. After an intended change of a block's
HTML, review the diff the failure shows, then rewrite the snapshots and commit them:

    UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/widgets/test_snapshots.py

The same run deletes the snapshots of blocks no longer registered.
"""

from __future__ import annotations

import difflib
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from connector.customer.details import DetailOffer
from connector.customer.rules import FlagRules
from connector.models import (
    Address,
    Appointment,
    Campaign,
    Consent,
    ConsentEntry,
    ContactEvent,
    Contacts,
    CustomerProfile,
    Document,
    Flag,
    Identity,
    Kpis,
    LastContact,
    Loyalty,
    Match,
    Note,
    NpsAnswer,
    Order,
    Review,
    Sentiment,
    SourceState,
    SourceStatus,
    Status,
    SurveyAnswer,
    TrendPoint,
)
from connector.widgets.base import BlockSpec, RenderContext
from connector.widgets.page import BLOCKS, render_block

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
LOCALES = ("fr", "en")
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SOURCES = {
    "erp": frozenset({"identity", "status", "orders"}),
    "pos": frozenset({"store_purchases"}),
    "feedback": frozenset({"reviews", "surveys"}),
    "loyalty": frozenset({"loyalty", "identity"}),
    "history": frozenset({"contacts"}),
    "crm": frozenset({"campaigns", "notes"}),
}
LABELS = {  # per language, as the manifest's {fr, en} labels give them
    "fr": {"erp": "ERP", "pos": "Caisses magasins", "feedback": "Avis & enquêtes",
           "loyalty": "Fidélité", "history": "Historique des contacts", "crm": "CRM"},
    "en": {"erp": "ERP", "pos": "Store tills", "feedback": "Reviews & surveys",
           "loyalty": "Loyalty", "history": "Contact history", "crm": "CRM"},
}
DETAILS = {
    "orders": (DetailOffer("erp", "tracking", {"fr": "Suivi du colis", "en": "Parcel tracking"},
                           "number"),),
    "loyalty": (DetailOffer("loyalty", "balance", {"fr": "Solde de points",
                                                   "en": "Points balance"}, "card"),),
}


def context(locale: str) -> RenderContext:
    """The fixed render context: every link, form and source the page can have."""
    return RenderContext(
        locale=locale, currency="EUR", now=NOW, brand="Maison Exemple",
        other_locale_url=f"?lang={'en' if locale == 'fr' else 'fr'}",
        source_labels=LABELS[locale], source_sections=SOURCES, details=DETAILS,
        detail_url="/helpdesk/embed/details/{source}/{detail}?t=tok&key=", nonce="n0nce",
        notes_url="/helpdesk/embed/notes", token="tok", flag_rules=FlagRules(),
        timeline_url=f"/helpdesk/embed/timeline?t=tok&lang={locale}",
    )


def record() -> CustomerProfile:
    """Pauline Denève with every section filled, her sources in every state but one."""
    return CustomerProfile(
        customer_id="cust-1",
        matched=[Match(kind="email", value="pauline.deneve@easiware.fr", sources=["erp"])],
        identity=Identity(
            civility="MADAME", first_name="Pauline", last_name="Denève",
            full_name="Pauline Denève", birth_date=date(1980, 5, 17),
            emails=["pauline.deneve@easiware.fr"], phones=["+33653888890", "+32186953033"],
            address=Address(line1="1 AVENUE SPINOZA", postcode="77184", city="EMERAINVILLE",
                            country="FR"),
            home_store="Paris Rivoli", customer_since=date(2014, 3, 12)),
        status=Status(segment="VIP", lifecycle="active", abc_class="A", tags=["vip"]),
        kpis=Kpis(total_spend=Decimal("1464.00"), average_basket=Decimal("488.00"),
                  last_order_date=date(2017, 8, 5), orders_count=3,
                  satisfaction=Decimal("8.5"), currency="EUR"),
        flags=[Flag(key="negative_review", label="Avis négatif récent", icon="⚠",
                    reason="2/5 · Trustpilot", since=date(2024, 2, 10)),
               Flag(key="past_complaint", label="A déjà réclamé", icon="✉",
                    reason="2 × Réclamation")],
        sentiment=Sentiment(
            last_satisfaction=Decimal(9),
            trend=[TrendPoint(date=date(2023, 6, 1), score=Decimal(8)),
                   TrendPoint(date=date(2024, 1, 10), score=Decimal(9))],
            nps=NpsAnswer(score=9, category="promoter", date=date(2024, 1, 10)),
            ces=Decimal(2)),
        contacts=Contacts(
            count=23, by_channel={"email": 9, "phone": 8, "chat": 4, "facebook": 2},
            last=LastContact(date=datetime(2024, 2, 23, 16, 54, tzinfo=UTC), channel="phone",
                             reason="Suivi de remboursement"),
            repeat_rate=Decimal("0.13"),
            complaints=[
                ContactEvent(date=datetime(2024, 2, 28, 9, 30, tzinfo=UTC), channel="chat",
                             reason="Réclamation livraison", status="open", source="history"),
                ContactEvent(date=datetime(2023, 10, 1, 17, 51, tzinfo=UTC), channel="email",
                             reason="Réclamation", status="resolved",
                             first_reply_at=datetime(2023, 10, 3, 9, 12, tzinfo=UTC),
                             resolved_at=datetime(2023, 10, 5, 19, 51, tzinfo=UTC),
                             resolution="Avoir de 10 €", source="history"),
            ]),
        orders=[
            Order(channel="web", number="997890", status="returned", date=date(2017, 8, 5),
                  tracking="AU908764", total=Decimal("45.95"), currency="EUR",
                  back_office_url="https://bo.example.com/orders/997890", source="erp"),
            Order(channel="phone", number="118502", status="delivered", date=date(2016, 11, 25),
                  tracking="6A12345678901", total=Decimal("429.05"), currency="EUR",
                  source="erp"),
        ],
        store_purchases=[Order(number="00012345", date=date(2017, 6, 10), store="Paris Rivoli",
                               total=Decimal("989.00"), currency="EUR", source="pos")],
        loyalty=Loyalty(card="29000123456", points=1240, tier="Or", vouchers_used=2),
        consent=Consent(
            email_marketing=ConsentEntry(value="given", date=date(2023, 4, 2), source="erp"),
            sms=ConsentEntry(value="refused", source="crm")),
        reviews=[Review(site="Trustpilot", rating=Decimal(2), max_rating=Decimal(5),
                        date=NOW.date() - timedelta(days=20), title="Retour compliqué",
                        excerpt="Trois relances pour être remboursée.",
                        url="https://fr.trustpilot.com/reviews/5f1e", source="feedback")],
        campaigns=[Campaign(name="Soldes d'hiver", date=date(2024, 1, 10), channel="email",
                            subject="-30 % sur la literie")],
        requests=[
            ContactEvent(date=datetime(2024, 2, 28, 9, 30, tzinfo=UTC), channel="chat",
                         reason="Réclamation livraison", status="open", source="history"),
            ContactEvent(date=datetime(2024, 2, 23, 16, 54, tzinfo=UTC), channel="phone",
                         reason="Suivi de remboursement", status="resolved", source="history"),
            ContactEvent(channel="email", reason="Demande de catalogue", source="history"),
        ],
        surveys=[SurveyAnswer(kind="nps", score=Decimal(9), date=date(2024, 1, 10),
                              comment="Livreur très aimable")],
        agenda=[Appointment(date=datetime(2024, 3, 4, 14, 0, tzinfo=UTC),
                            title="Essayage canapé", place="Paris Rivoli", status="planned",
                            source="crm")],
        documents=[Document(date=date(2017, 8, 5), title="Facture 997890", kind="invoice",
                            url="https://bo.example.com/invoices/997890.pdf", source="erp")],
        notes=[Note(id=7, text="Son fils adore la mousse au chocolat", author="Margaux",
                    date=datetime(2024, 2, 20, 10, 0, tzinfo=UTC))],
        sources={
            "erp": SourceStatus(status=SourceState.OK, age_s=180),
            "pos": SourceStatus(status=SourceState.STALE, age_s=7200,
                                error="server error (503)"),
            "feedback": SourceStatus(status=SourceState.OK, age_s=40),
            "loyalty": SourceStatus(status=SourceState.TIMEOUT, error="no answer within 2 s"),
            "history": SourceStatus(status=SourceState.OK, age_s=900),
            "crm": SourceStatus(status=SourceState.NOT_FOUND),
        },
    )


def rendered(block: str, locale: str) -> str:
    """One block's HTML as the page renders it (with its age line); "" when it shows nothing."""
    html = render_block(BLOCKS[block], record(), BlockSpec(block), context(locale))
    return f"{html}\n" if html is not None else ""


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_block_matches_its_snapshot(block: str, locale: str) -> None:
    path = SNAPSHOTS / f"{block}.{locale}.html"
    html = rendered(block, locale)
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(html, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no snapshot for block {block!r} ({locale}): run "
                    "UPDATE_SNAPSHOTS=1 pytest tests/widgets/test_snapshots.py and review it")
    kept = path.read_text(encoding="utf-8")
    if html != kept:
        diff = difflib.unified_diff(kept.splitlines(), html.splitlines(), f"{path.name} (kept)",
                                    f"{path.name} (rendered)", lineterm="")
        pytest.fail(f"block {block!r} ({locale}) differs from its snapshot:\n"
                    + "\n".join(diff), pytrace=False)


def test_every_snapshot_belongs_to_a_registered_block() -> None:
    expected = {f"{block}.{locale}.html" for block in BLOCKS for locale in LOCALES}
    orphans = sorted(p.name for p in SNAPSHOTS.glob("*.html") if p.name not in expected)
    if UPDATE:
        for name in orphans:
            (SNAPSHOTS / name).unlink()
        return
    assert orphans == [], "snapshots of unregistered blocks (UPDATE_SNAPSHOTS=1 removes them)"


def test_the_record_fills_nearly_every_block() -> None:
    empty = [block for block in BLOCKS if not rendered(block, "fr")]
    assert empty == [], "the snapshot record should exercise every block"
