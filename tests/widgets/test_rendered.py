"""Rendered blocks kept per record version (connector/widgets/rendered.py): a page whose
blocks come from the cache reads exactly as one rendered anew, for another agent's link (its
own token), a changed record, a later moment; a block that transforms the token in a way the
cache does not know is never kept; the cache is bounded, can be off, and forgets on demand."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from connector.app import Services
from connector.identifiers import Identifiers
from connector.models import CustomerProfile, Note
from connector.widgets.base import BlockSpec, RenderContext
from connector.widgets.page import BLOCKS, render_block, render_blocks
from connector.widgets.record import layout_of, render_context
from connector.widgets.rendered import RenderedBlocks
from tests.conftest import MANIFEST, Backoffice, service_env
from tests.helpdesk.scouts import in_process
from tests.widgets.test_snapshots import context, record

# Tokens as the sealed links make them (URL-safe base64, with padding), and a plain one.
TOKENS = ("gAAAAABn-Xy_z0123==", "gAAAAABn-Other_9876=", "tok")
EVERY_BLOCK = [BlockSpec(name) for name in sorted(BLOCKS)]


def with_token(ctx: RenderContext, token: str) -> RenderContext:
    """The context of a page opened through a link with this token (as the sidebar makes it)."""
    quoted = token.replace("=", "%3D")
    return replace(ctx, token=token,
                   detail_url=f"/helpdesk/embed/details/{{source}}/{{detail}}?t={quoted}&key=",
                   timeline_url=f"/helpdesk/embed/timeline?t={quoted}&lang={ctx.locale}",
                   search_url=f"/helpdesk/embed/sidebar?t={quoted}&find=1")


def page(profile: CustomerProfile, ctx: RenderContext, kept: RenderedBlocks | None) -> list[str]:
    return [str(html) for html in render_blocks(profile, EVERY_BLOCK, replace(ctx, rendered=kept))]


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_a_kept_page_reads_exactly_as_one_rendered_anew_for_every_link(locale: str) -> None:
    kept = RenderedBlocks()
    profile = record()
    base = context(locale)  # the manifest's objects (flag rules, details) are the same
    for token in TOKENS:  # the first renders and keeps, the others are served kept
        ctx = with_token(base, token)
        assert page(profile, ctx, kept) == page(profile, ctx, None)
    assert kept.hits >= len(EVERY_BLOCK) and kept.size_bytes > 0
    served = page(profile, with_token(base, TOKENS[0]), kept)
    assert any(TOKENS[0] in html for html in served)  # the token was put back where it goes
    assert not any(token in html for html in served for token in TOKENS[1:])


def test_a_changed_record_is_rendered_anew() -> None:
    kept = RenderedBlocks()
    ctx = with_token(context("fr"), TOKENS[0])
    before = record()
    page(before, ctx, kept)
    after = record()
    after.notes = [Note(text="Préfère être appelée le matin", author="Julie"), *after.notes]
    after.identity.home_store = "Lyon Bellecour"
    shown = page(after, ctx, kept)
    assert shown == page(after, ctx, None)
    assert any("Lyon Bellecour" in html for html in shown)
    assert any("appelée le matin" in html for html in shown)


def test_ages_and_judgments_over_time_follow_the_clock() -> None:
    kept = RenderedBlocks()
    ctx = with_token(context("fr"), TOKENS[0])
    profile = record()
    page(profile, ctx, kept)
    for later in (dt.timedelta(seconds=30), dt.timedelta(minutes=7), dt.timedelta(days=3)):
        moved = replace(ctx, now=ctx.now + later)
        assert page(profile, moved, kept) == page(profile, moved, None)
    unaged = record()  # no source says how old its data is: only the clock moves the page
    unaged.sources = {}
    days = [page(unaged, replace(ctx, now=ctx.now + dt.timedelta(days=n)), kept)
            for n in (0, 400)]
    assert days[0] != days[1]
    assert days[1] == page(unaged, replace(ctx, now=ctx.now + dt.timedelta(days=400)), None)


def test_a_block_that_transforms_the_token_otherwise_is_never_kept() -> None:
    kept = RenderedBlocks()

    class Encoded:
        """A block showing the token in a form the cache does not stand in for."""

        key = "encoded"

        def render(self, _profile: CustomerProfile, _spec: BlockSpec,
                   ctx: RenderContext) -> str:
            return f"<a href='/x?c={base64.b64encode(ctx.token.encode()).decode()}'>x</a>"

    profile = record()
    base = context("fr")
    keeper = kept.page(profile, base)
    assert keeper is not None
    for token in TOKENS:
        ctx = with_token(base, token)
        shown = render_block(Encoded(), profile, BlockSpec("encoded"), ctx, keeper)  # type: ignore[arg-type]
        assert shown == Encoded().render(profile, BlockSpec("encoded"), ctx)
    assert kept.hits == 0 and kept.size_bytes == 0


def test_bounded_by_bytes_off_at_zero_and_forgotten_on_demand() -> None:
    ctx = with_token(context("fr"), TOKENS[0])
    small = RenderedBlocks(max_bytes=20_000)
    page(record(), ctx, small)
    assert 0 < small.size_bytes <= 20_000
    small.clear()
    assert small.size_bytes == 0
    off = RenderedBlocks(max_bytes=0)
    assert page(record(), ctx, off) == page(record(), ctx, None)
    assert off.page(record(), ctx) is None and off.size_bytes == 0


@pytest.fixture(scope="module")
def demo(demo_data: Path, backoffice: Backoffice,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("rendered")
    running = in_process(MANIFEST, service_env(demo_data, backoffice.url, var), var)
    yield running
    running.close()


def test_the_demo_s_records_kept_read_as_rendered_anew(demo: Services, demo_data: Path) -> None:
    emails = [c["email"] for c in json.loads((demo_data / "erp.json").read_text())["customers"]]
    layout = layout_of(demo.manifest)
    kept = RenderedBlocks()
    checked = 0
    for email in emails[:12]:
        profile = demo.assembler.lookup(Identifiers(emails=(email,))).profile
        if profile is None:
            continue
        base = render_context(demo.manifest, demo.details.offers, "fr")
        for token in TOKENS:
            ctx = with_token(base, token)
            fresh = [str(h) for h in render_blocks(profile, layout, ctx)]
            assert [str(h) for h in render_blocks(
                profile, layout, replace(ctx, rendered=kept))] == fresh
        checked += 1
    assert checked >= 10 and kept.hits > kept.misses


def test_through_the_app_another_agent_s_link_is_served_kept(demo: Services) -> None:
    from connector.web import create_app

    client = create_app(demo.settings, demo).test_client()
    pages = []
    kept, demo.pages.max_bytes = demo.pages.max_bytes, 0  # each page made (its blocks kept)
    try:
        for _ in range(2):  # two links for one person: two tokens (sealed with their own IV)
            token = demo.embed.token(email="pauline.deneve@easiware.fr", agent="julie")
            response = client.get(demo.embed.url("", token))
            assert response.status_code == 200
            pages.append(response.get_data(as_text=True).replace(token, "TOKEN"))
    finally:
        demo.pages.max_bytes = kept
    assert pages[0].count("TOKEN") > 2  # in the forms and links of several blocks
    nonce = re.compile(r'nonce(=|-)"?[A-Za-z0-9_-]+')
    assert nonce.sub("", pages[0]) == nonce.sub("", pages[1])
    metrics = client.get("/metrics").get_data(as_text=True)
    hits = re.search(r'^connector_rendered_blocks_total\{result="hit"\} (\S+)$', metrics, re.M)
    assert hits is not None and float(hits.group(1)) >= 10
