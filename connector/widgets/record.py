"""The record as helpdesks embed it, without Flask: the layout the manifest asks for, the
render context its brand implies, and the HTML fragment adapters return (Help Scout's
`{"html": …}`, FreeScout's sidebar)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

from connector.customer.details import DetailOffer
from connector.customer.profile import ProfileAssembler
from connector.customer.rules import RecordSettings
from connector.helpdesk.base import SidebarContext
from connector.helpdesk.embed import EmbedLinks
from connector.i18n import LOCALES, label_text, text
from connector.widgets.base import BlockSpec, RenderContext
from connector.widgets.hosted import line_breaks, styled_fragment
from connector.widgets.layout import Sidebar
from connector.widgets.page import render_sidebar_fragment
from connector.widgets.rendered import RenderedBlocks


class SidebarSettings(RecordSettings, Protocol):
    """What the record is shown by: the record's settings and the sidebar's layout (the
    manifest satisfies it; widgets never import the manifest, which sits above them)."""

    @property
    def sidebar(self) -> Sidebar: ...


def layout_of(manifest: SidebarSettings, helpdesk: str | None = None) -> list[BlockSpec]:
    """The sidebar's blocks, in the manifest's order (the helpdesk's own, if it has one)."""
    return [BlockSpec.of(b) for b in manifest.sidebar.blocks_for(helpdesk)]


def render_context(manifest: SidebarSettings, offers: Mapping[str, tuple[DetailOffer, ...]],
                   locale: str, **request_parts: Any) -> RenderContext:
    """How to render in this brand and language; the request adds its links and nonce."""
    return RenderContext(
        locale=locale,
        currency=manifest.brand.currency,
        now=dt.datetime.now(dt.UTC),
        brand=manifest.brand.name,
        timezone=manifest.brand.timezone,
        source_labels={n: label_text(c.label, locale)
                       for n, c in manifest.sources.items() if c.label},
        source_sections={n: frozenset(c.sections) for n, c in manifest.sources.items()},
        details=offers,
        repeat_window_days=manifest.kpis.repeat_window_days,
        flag_rules=manifest.flags,
        value_labels=manifest.sidebar.values,
        folded=frozenset(manifest.sidebar.folded),
        **request_parts,
    )


class Fragments:
    """The record of a helpdesk's context as an HTML fragment, with a sealed link to the
    full page (details, notes, choice among namesakes). The fragment may be read by more than
    agents (FreeScout's module serves it without a login): its link lives `link_ttl_s`."""

    def __init__(self, manifest: SidebarSettings, assembler: ProfileAssembler,
                 offers: Mapping[str, tuple[DetailOffer, ...]], links: EmbedLinks,
                 public_url: str, link_ttl_s: int | None = None,
                 rendered: RenderedBlocks | None = None) -> None:
        self.manifest = manifest
        self.rendered = rendered
        self.assembler = assembler
        self.offers = offers
        self.links = links
        self.public_url = public_url
        self.link_ttl_s = link_ttl_s

    def __call__(self, context: SidebarContext) -> str:
        """The fragment for this context; with its title and scoped style when the host
        keeps them (`context.styled`: FreeScout)."""
        html = line_breaks(self._record(context))
        if not context.styled:
            return html
        return styled_fragment(html, context.title or self.manifest.brand.name)

    def _record(self, context: SidebarContext) -> str:
        locale = context.locale if context.locale in LOCALES else self.manifest.brand.locale
        ctx = render_context(self.manifest, self.offers, locale, rendered=self.rendered)
        ids = context.identifiers
        token = self.links.seal(context, lifetime_s=self.link_ttl_s)
        open_url = self.links.url(self.public_url, token, locale)
        if not ids and not context.customer_id:
            return render_sidebar_fragment(None, [], ctx, text("fragment.no_identifier", locale),
                                           open_url)
        ticket = (context.helpdesk, context.ticket_id) if context.ticket_id else None
        found = self.assembler.lookup(ids, locale=locale, customer_id=context.customer_id,
                                      ticket=ticket)  # not its own past complaint
        if found.undecided:  # several people, and the store that tells them apart is down
            return render_sidebar_fragment(None, [], ctx,
                                           text("message.identity_unchecked", locale))
        if found.candidates:
            return render_sidebar_fragment(None, [], ctx, text("fragment.ambiguous", locale),
                                           open_url)
        if found.profile is None and found.unanswered:  # unknown where asked: maybe known there
            names = ", ".join(self.manifest.sources[n].label_in(locale) or n
                              for n in found.unanswered)
            return render_sidebar_fragment(None, [], ctx,
                                           text("message.sources_down", locale, names=names))
        if found.profile is None:
            return render_sidebar_fragment(None, [], ctx, text("message.not_found", locale))
        return render_sidebar_fragment(found.profile, layout_of(self.manifest, context.helpdesk),
                                       ctx,
                                       open_url=open_url)
