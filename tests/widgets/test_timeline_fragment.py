"""The timeline block in a fragment (no page to open: the first entries, how many of how many,
no filter, no "older"), and the part the record's script appends in place."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

from connector.models import Campaign, CustomerProfile
from connector.widgets.base import BlockSpec
from connector.widgets.page import render_sidebar_fragment, render_sidebar_page
from connector.widgets.timeline import render_entries

from .test_sidebar import CTX_EN, CTX_FR, XSS

TIMELINE_URL = "/helpdesk/embed/timeline?t=tok&lang=fr"
LAYOUT = [BlockSpec("timeline")]


def campaigns(count: int) -> CustomerProfile:
    """A customer with `count` campaigns, one a week, the newest first in the timeline."""
    return CustomerProfile(customer_id="cust-1", campaigns=[
        Campaign(name=f"Campagne {n}", subject=f"Objet {n}", channel="email",
                 date=date(2024, 1, 1) + timedelta(days=7 * n)) for n in range(count)])


def timeline(html: str) -> str:
    """The timeline block of a fragment or a page."""
    found = re.search(r'<section class="block block--timeline".*?</section>', html, re.S)
    assert found is not None, html
    return found[0]


def test_a_fragment_shows_the_first_ten_and_the_count_without_filters_or_older() -> None:
    block = timeline(render_sidebar_fragment(campaigns(25), LAYOUT, CTX_FR))
    assert block.count('<li class="timeline__entry ') == 10
    assert "Objet 24" in block and "Objet 15" in block and "Objet 14" not in block
    assert "timeline__filters" not in block and "timeline__filter" not in block
    assert 'class="more"' not in block and "Plus anciens" not in block and "<a " not in block
    assert '<p class="timeline__shown">10 sur 25</p>' in block
    english = timeline(render_sidebar_fragment(campaigns(25), LAYOUT, CTX_EN))
    assert '<p class="timeline__shown">10 of 25</p>' in english


def test_a_fragment_holding_every_entry_says_no_count() -> None:
    block = timeline(render_sidebar_fragment(campaigns(4), LAYOUT, CTX_FR))
    assert block.count('<li class="timeline__entry ') == 4
    assert "timeline__shown" not in block and "timeline__filters" not in block


def test_the_full_record_keeps_its_filters_and_older_link() -> None:
    ctx = replace(CTX_FR, timeline_url=TIMELINE_URL, token="tok")
    block = timeline(render_sidebar_page(campaigns(25), LAYOUT, ctx))
    assert 'class="timeline__filters"' in block and "timeline__shown" not in block
    # one GET form for the filters (the token once), a button per kind, the chosen one said
    assert '<form method="get" action="/helpdesk/embed/timeline">' in block
    assert '<input type="hidden" name="t" value="tok">' in block and "kind=" not in block
    assert ('<button type="submit" class="timeline__filter" name="kind" value="campaign">'
            'Campagnes') in block
    assert '<span class="timeline__filter timeline__filter--chosen" aria-current="true">Tout' \
        in block
    assert re.search(r'<p class="more"><a href="/helpdesk/embed/timeline\?t=tok&amp;lang=fr'
                     r'&amp;before=[^"]+">Plus anciens</a></p>', block)


def test_the_part_is_the_entries_and_the_next_link_only_escaped() -> None:
    profile = campaigns(25)
    profile.campaigns[5].subject = XSS
    ctx = replace(CTX_FR, timeline_url=TIMELINE_URL)
    first = render_entries(profile, ctx)
    assert first.lstrip().startswith('<li class="timeline__entry timeline__entry--campaign">')
    assert "<section" not in first and "<ol" not in first and "timeline__filters" not in first
    cursor = re.search(r'<p class="more"><a href="[^"]*&amp;before=([^"]+)">', first)
    assert cursor is not None and first.count("<li ") == 10
    second = render_entries(profile, ctx, before=cursor[1])
    assert second.count("<li ") == 10 and "Objet 14" in second and "Objet 4" not in second
    assert XSS not in second and "&lt;img src=x onerror=alert(1)&gt;" in second
    third = render_entries(profile, ctx, before=re.findall(r"before=([^\"]+)", second)[0])
    assert third.count("<li ") == 5 and 'class="more"' not in third  # the end: no link


def test_the_part_keeps_the_filter_in_its_next_link() -> None:
    ctx = replace(CTX_FR, timeline_url=TIMELINE_URL)
    part = render_entries(campaigns(25), ctx, kind="campaign")
    assert re.search(r'href="/helpdesk/embed/timeline\?t=tok&amp;lang=fr&amp;kind=campaign'
                     r'&amp;before=', part)
    assert render_entries(CustomerProfile(customer_id="x"), ctx) == ""
