"""The complaints block: each complaint, how it was handled, and the first-reply target."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from connector.customer.rules import FlagRules
from connector.models import ContactEvent, Contacts, CustomerProfile
from connector.widgets.base import BlockSpec, RenderContext
from connector.widgets.complaints import format_delay
from connector.widgets.page import BLOCKS

from .test_sidebar import CTX_EN, CTX_FR, NOW, XSS, plain


def complaint(hours_ago: float, **fields: object) -> ContactEvent:
    """A complaint made `hours_ago` hours before the test's now."""
    values: dict[str, object] = {"channel": "email", "reason": "Réclamation", "source": "history"}
    values.update(fields)
    return ContactEvent(date=NOW - timedelta(hours=hours_ago), **values)  # type: ignore[arg-type]


def handled(hours_ago: float, reply_after_h: float, **fields: object) -> ContactEvent:
    """A resolved complaint whose first reply came `reply_after_h` hours after it."""
    made = NOW - timedelta(hours=hours_ago)
    values: dict[str, object] = {"status": "resolved", "resolution": "Avoir de 10 €",
                                 "first_reply_at": made + timedelta(hours=reply_after_h),
                                 "resolved_at": made + timedelta(days=3)}
    values.update(fields)
    return complaint(hours_ago, **values)


def profile_with(*complaints: ContactEvent) -> CustomerProfile:
    """A customer with these complaints among their contacts."""
    return CustomerProfile(customer_id="x", contacts=Contacts(count=len(complaints),
                                                              complaints=list(complaints)))


def render(profile: CustomerProfile, ctx: RenderContext = CTX_FR,
           spec: BlockSpec | None = None) -> str | None:
    """The block's HTML, spaces normalised (None when it has nothing to show)."""
    html = BLOCKS["complaints"].render(profile, spec or BlockSpec("complaints"), ctx)
    return plain(html) if html is not None else None


def test_no_complaint_no_block() -> None:
    assert render(CustomerProfile(customer_id="x")) is None


def test_a_handled_complaint_shows_day_channel_reason_resolution_and_reply() -> None:
    html = render(profile_with(handled(24 * 30, 3)))
    assert html is not None
    assert "Réclamations" in html and "31/01/2024" in html and "Email" in html
    assert "Réclamation" in html and "Avoir de 10 €" in html
    assert "Résolue le 03/02/2024" in html and 'tone--good' in html
    assert "1re réponse en 3 h" in html and "Objectif : première réponse sous 24 h" in html
    assert "complaint--closed" in html


def test_in_english() -> None:
    html = render(profile_with(handled(24 * 30, 30), complaint(2, status="open")), CTX_EN)
    assert html is not None
    assert "Complaints" in html and "31 Jan 2024" in html and "Resolved on 3 Feb 2024" in html
    assert "First reply in 30 h, over 24 h" in html and "Target: first reply within 24 h" in html
    assert "Open" in html and "Awaiting first reply" in html


def test_a_late_first_reply_is_marked_against_the_manifest_s_target() -> None:
    late = profile_with(handled(24 * 30, 30))
    html = render(late)
    assert html is not None
    assert "1re réponse en 30 h, au-delà de 24 h" in html and "tone--bad" in html
    relaxed = replace(CTX_FR, flag_rules=FlagRules(complaint_reply_hours=48))
    html = render(late, relaxed)
    assert html is not None
    assert "1re réponse en 30 h" in html and "au-delà" not in html
    assert "sous 48 h" in html


def test_an_open_complaint_without_reply_says_how_long_it_waited() -> None:
    html = render(profile_with(complaint(30, status="open"), complaint(3, status="pending")))
    assert html is not None
    assert "Ouverte" in html and "En attente" in html and "Sans réponse après 24 h" in html
    assert "En attente de 1re réponse" in html
    assert html.index("01/03/2024") < html.index("29/02/2024")  # newest first
    assert html.count("complaint--open") == 2


def test_a_resolution_date_alone_closes_a_complaint_and_unknown_handling_is_left_out() -> None:
    html = render(profile_with(complaint(100, resolved_at=NOW), complaint(200)))
    assert html is not None
    assert "Résolue le 01/03/2024" in html
    assert html.count("complaint__handling") == 1  # nothing known about the second one


def test_only_the_sources_the_layout_allows_and_at_most_five() -> None:
    many = [complaint(24 * day) for day in range(1, 8)]
    many.append(complaint(1, source="crm", reason="Plainte CRM"))
    html = render(profile_with(*many), spec=BlockSpec("complaints", frozenset({"history"})))
    assert html is not None
    assert "Plainte CRM" not in html and html.count('class="complaint ') == 5
    assert "+ 2 autres réclamations" in html


def test_source_text_is_escaped() -> None:
    html = render(profile_with(handled(50, 1, reason=XSS, resolution=XSS, status=XSS)))
    assert html is not None and "<img" not in html and "&lt;img" in html


def test_delays_read_naturally() -> None:
    assert [format_delay(s, "fr") for s in (30, 35 * 60, 3 * 3600, 47 * 3600, 5 * 86400)] == [
        "1 min", "35 min", "3 h", "47 h", "5 j"]
    assert format_delay(5 * 86400, "en") == "5 d"


def test_naive_moments_are_read_as_utc() -> None:
    naive = ContactEvent(date=datetime(2024, 2, 1, 9), reason="Réclamation",
                         first_reply_at=datetime(2024, 2, 1, 10, tzinfo=UTC))
    html = render(profile_with(naive))
    assert html is not None and "1re réponse en 1 h" in html


def test_a_requests_status_is_named_by_the_manifest_else_the_catalog_else_as_written() -> None:
    names = {"contacts.status": {"en_cours": {"fr": "En cours", "en": "In progress"},
                                 "pending": {"fr": "Attend le client", "en": "Awaiting customer"}}}
    profile = profile_with(complaint(5, status="en_cours"), complaint(6, status="pending"),
                           complaint(7, status="open"), complaint(8, status="escaladée"))
    english = render(profile, replace(CTX_EN, value_labels=names))
    french = render(profile, replace(CTX_FR, value_labels=names))
    assert english is not None and french is not None
    assert ">In progress<" in english and ">En cours<" in french  # sidebar.values
    assert ">Awaiting customer<" in english  # the manifest's name wins over the catalog's
    assert ">Open<" in english  # a code the catalog knows
    assert ">escaladée<" in english  # neither: as written
    assert ">en_cours<" not in english
