"""The sidebar as a whole: the block registry, the full page, the embeddable fragment, messages."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from markupsafe import Markup

from connector import i18n
from connector.models import CustomerProfile, Note
from connector.widgets.badges import BadgesBlock
from connector.widgets.base import (
    Block,
    BlockSpec,
    KeptPage,
    MoveAbove,
    RenderContext,
    render_template,
    scripts,
    stylesheet,
)
from connector.widgets.campaigns import CampaignsBlock
from connector.widgets.card import CardBlock
from connector.widgets.complaints import ComplaintsBlock
from connector.widgets.contacts import ContactsBlock
from connector.widgets.freshness import FreshnessBlock, block_age, block_sections
from connector.widgets.identity import IdentityBlock, display_name
from connector.widgets.kpis import KpisBlock
from connector.widgets.loyalty import LoyaltyBlock
from connector.widgets.notes import NotesBlock, edit_values
from connector.widgets.orders import OrdersBlock
from connector.widgets.reviews import ReviewsBlock
from connector.widgets.sentiment import SentimentBlock
from connector.widgets.summary import SummaryBlock
from connector.widgets.tabs import TabsBlock
from connector.widgets.timeline import TimelineBlock

logger = logging.getLogger(__name__)

# The registry the manifest's sidebar layout refers to: one line per block.
BLOCKS: dict[str, Block] = {
    block.key: block
    for block in (
        SummaryBlock(),
        IdentityBlock(),
        BadgesBlock(),
        KpisBlock(),
        SentimentBlock(),
        ContactsBlock(),
        TabsBlock(),
        ReviewsBlock(),
        OrdersBlock(),
        LoyaltyBlock(),
        NotesBlock(),
        CampaignsBlock(),
        ComplaintsBlock(),
        TimelineBlock(),
        FreshnessBlock(),
    )
}
CARD = CardBlock()  # every custom card of the manifest (BlockSpec.card), not a named block


def block_for(spec: BlockSpec) -> Block:
    """The block that renders a layout entry: a custom card, or one of the registry."""
    return CARD if spec.card is not None else BLOCKS[spec.block]


def anchors(layout: Sequence[BlockSpec]) -> list[str]:
    """The HTML id of each entry: `block-orders`, `card-preferences`, `card-1` for a card with
    no key; a repeated one gets `-2`, `-3`… (in-page links go to the first)."""
    ids: list[str] = []
    for spec in layout:
        if spec.card is None:
            base = f"block-{spec.block}"
        else:
            base = f"card-{spec.card.key}" if spec.card.key else "card"
        number = 1
        anchor = base if base != "card" else "card-1"
        while anchor in ids:
            number += 1
            anchor = f"{base}-{number}"
        ids.append(anchor)
    return ids


def moves(block: Block) -> tuple[MoveAbove, ...]:
    """Return the placement wishes a block declares (most declare none)."""
    return tuple(getattr(block, "moves_above", ()))


def wish_holds(wish: MoveAbove, profile: CustomerProfile, spec: BlockSpec,
               ctx: RenderContext) -> bool:
    """Evaluate a placement wish; one that fails keeps the manifest's order."""
    try:
        return wish.when(profile, spec, ctx)
    except Exception:
        logger.exception("placement of block %r failed for customer %s", spec.block,
                         profile.customer_id)
        return False


def arrange(
    profile: CustomerProfile, layout: Sequence[BlockSpec], ctx: RenderContext
) -> list[BlockSpec]:
    """Return the layout in the manifest's order, except that a block whose wish holds moves
    just above the block it names when that one comes first (a fresh negative review goes
    above the orders). Each wish is looked at once, in layout order."""
    arranged = list(layout)
    for spec in layout:
        for wish in moves(block_for(spec)):
            here = next(i for i, shown in enumerate(arranged) if shown is spec)
            there = next((i for i, shown in enumerate(arranged) if shown.block == wish.other), None)
            if there is not None and there < here and wish_holds(wish, profile, spec, ctx):
                arranged.insert(there, arranged.pop(here))
    return arranged


def render_block(
    block: Block, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext,
    kept: KeptPage | None = None, anchor: str | None = None, fold: bool | None = None,
) -> Markup | None:
    """Render one block, the age of its sources' data in its header (`kept`: the page's
    rendered blocks kept by record version; `anchor` and `fold`: its place on the page, if not
    the context's); a block that fails is replaced by a quiet notice, never a broken page."""
    try:
        age = block_age(block_sections(block, spec), profile, spec, ctx)
        ctx = replace(ctx, block_age=age, anchor=ctx.anchor if anchor is None else anchor,
                      fold=ctx.fold if fold is None else fold)
        if kept is None:
            html = block.render(profile, spec, ctx)
        else:
            html = kept.render(lambda c: block.render(profile, spec, c), spec, ctx)
    except Exception:
        logger.exception("sidebar block %r failed for customer %s", block.key, profile.customer_id)
        return Markup(render_template("block_error.html", ctx, block=block.key))
    # A block's HTML comes from our own autoescaping templates.
    return Markup(html) if html is not None else None


def render_blocks(
    profile: CustomerProfile, layout: Sequence[BlockSpec], ctx: RenderContext
) -> list[Markup]:
    """Render the layout's blocks in order, leaving out those with nothing to show."""
    arranged = arrange(profile, layout, ctx)  # KeyError on an unknown key
    ids = anchors(arranged)
    first: dict[str, str] = {}
    for spec, anchor in zip(arranged, ids, strict=True):
        first.setdefault(spec.block, anchor)
    ctx = replace(ctx, anchors=first)
    kept = ctx.rendered.page(profile, ctx) if ctx.rendered is not None else None
    rendered = [render_block(block_for(spec), profile, spec, ctx, kept, anchor=anchor,
                             fold=folded(spec, ctx))
                for spec, anchor in zip(arranged, ids, strict=True)]
    return [html for html in rendered if html is not None]


def folded(spec: BlockSpec, ctx: RenderContext) -> bool:
    """Whether the manifest folds this block (a card by its key) until an agent opens it."""
    name = spec.card.key if spec.card is not None else spec.block
    return name is not None and name in ctx.folded


def render_sidebar_fragment(
    profile: CustomerProfile | None, layout: Sequence[BlockSpec], ctx: RenderContext,
    message: str | None = None, open_url: str | None = None,
) -> str:
    """Return the blocks only, without page or stylesheet, for helpdesks that embed HTML
    (with a message instead when there is no record, and a link to the full page).

    A fragment carries no script and no form, so it offers nothing that could not work.
    """
    ctx = replace(ctx, detail_url=None, notes_url=None, timeline_url=None, search_url=None,
                  changes_url=None)
    blocks = render_blocks(profile, layout, ctx) if profile is not None else []
    return render_template("fragment.html", ctx, blocks=blocks, message=message,
                           open_url=open_url, unchecked=_unchecked(profile))


def render_page(template: str, ctx: RenderContext, **values: object) -> str:
    """A complete page in the sidebar's style (inline stylesheet, brand, language switch)."""
    return render_template(template, ctx, css=stylesheet(), brand=ctx.brand,
                           switch_url=ctx.other_locale_url, **values)


def render_sidebar_page(
    profile: CustomerProfile, layout: Sequence[BlockSpec], ctx: RenderContext
) -> str:
    """Return the complete sidebar page: header with the customer's name, then the blocks."""
    name = display_name(profile, ctx.locale) or i18n.text("page.unnamed", ctx.locale)
    return render_page("page.html", ctx, heading=name, unchecked=_unchecked(profile),
                       blocks=render_blocks(profile, layout, ctx),
                       details_script=ctx.detail_url is not None, nonce=ctx.nonce,
                       scripts=scripts(), changes_url=ctx.changes_url, token=ctx.token)


def _unchecked(profile: CustomerProfile | None) -> bool:
    """Whether the record is the sources' word alone (the link store was down): said under
    the customer's name, or atop a fragment."""
    return profile is not None and not profile.identity_checked


def render_timeline_page(profile: CustomerProfile, ctx: RenderContext, back: str,
                         kind: str | None = None, before: str | None = None) -> str:
    """A page of the customer's timeline (where its filters and "older" link lead)."""
    name = display_name(profile, ctx.locale) or i18n.text("page.unnamed", ctx.locale)
    html = TimelineBlock().render_page(profile, BlockSpec("timeline"), ctx, kind, before)
    return render_page("timeline_page.html", ctx, heading=name, back=back,
                       block_html=Markup(html or ""))


def render_note_edit_page(note: Note, ctx: RenderContext, back: str) -> str:
    """A landmark's own page (`back`: the record): its text and author to change, and its
    removal behind a confirmation; the record links here instead of carrying every form."""
    return render_page("note_edit.html", ctx, heading=i18n.text("notes.edit_title", ctx.locale),
                       back=back, **edit_values(note, ctx))


def render_action_page(form: Mapping[str, object], ctx: RenderContext) -> str:
    """The page running one action (`form`: heading, confirm, inputs, source, source_label,
    action_name, key, action_url, token, once: its single-use token, back, error)."""
    return render_page("action.html", ctx, **form)


def render_correction_page(form: Mapping[str, object], ctx: RenderContext) -> str:
    """The page correcting one field (`form`: field, held, replaces, value, source, action,
    token, once: its single-use token, back, error, input_type)."""
    title = i18n.text(f"correction.edit.{form['field']}", ctx.locale)
    return render_page("correction.html", ctx, heading=title, **form)


def render_message_page(
    title: str, message: str, ctx: RenderContext, *, detail: str | None = None
) -> str:
    """Return a complete page in the sidebar's style: no customer found, link expired, errors."""
    return render_page("message.html", ctx, heading=title, message=message, detail=detail)


def render_candidates_page(title: str, message: str, candidates: list[dict[str, str | None]],
                           ctx: RenderContext) -> str:
    """A page listing the people an identifier may name (`name`, `hint`, `url` each)."""
    return render_page("candidates.html", ctx, heading=title, message=message,
                       candidates=candidates)


def render_search_page(form: dict[str, str], candidates: list[dict[str, str | None]],
                       message: str | None, ctx: RenderContext) -> str:
    """The search form (`form`: action, token, query, heading, label, placeholder, button) and
    its results, each a link to that person's record."""
    return render_page("search.html", ctx, message=message, candidates=candidates, **form)
