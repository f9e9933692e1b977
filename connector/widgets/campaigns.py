"""The campaigns block: the marketing campaigns the customer received lately, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from connector import i18n
from connector.models import Campaign, CustomerProfile
from connector.widgets.base import (
    BlockSpec,
    Item,
    PartDescription,
    RenderContext,
    date_text,
    describe_parts,
    render_template,
    translated,
)

MAX_CAMPAIGNS = 5
# a subject (an SMS's whole text, at times) is clipped to about two lines of the 320 px column
MAX_SUBJECT_CHARS = 90


def clipped(text: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """The text on one line, cut at a word before `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-–—") + "…"


def _subject_item(subject: str) -> Item:
    """The subject, clipped, the whole of it as the tooltip when clipped."""
    whole = " ".join(subject.split())
    shown = clipped(whole)
    return Item(shown, title="" if shown == whole else whole)


def name(campaign: Campaign, ctx: RenderContext) -> Item | None:
    """Return the campaign's name, else its subject."""
    value = (campaign.name or "").strip()
    if value:
        return Item(value)
    subject = (campaign.subject or "").strip()
    return _subject_item(subject) if subject else None


def subject(campaign: Campaign, ctx: RenderContext) -> Item | None:
    """Return what the customer read (the email's subject, the SMS's text), shown under the
    name; None when it is the name already."""
    value = (campaign.subject or "").strip()
    named = (campaign.name or "").strip()
    if not value or not named or value.casefold() == named.casefold():
        return None
    return _subject_item(value)


def day(campaign: Campaign, ctx: RenderContext) -> Item | None:
    """Return the day the campaign was sent."""
    shown = date_text(campaign.date, ctx)
    return Item(shown) if shown else None


def channel(campaign: Campaign, ctx: RenderContext) -> Item | None:
    """Return the channel it was sent through, as a chip (translated when known)."""
    shown = translated("channel", campaign.channel, ctx.locale)
    return Item(shown, tone="channel") if shown else None


CAMPAIGN_PARTS: tuple[PartDescription[Campaign], ...] = (
    PartDescription("name", name),
    PartDescription("date", day),
    PartDescription("channel", channel),
)


@dataclass(frozen=True)
class CampaignLine:
    """One campaign as shown: its parts on a line, its subject quietly under the name."""

    parts: tuple[tuple[str, Item], ...]
    subject: Item | None


class CampaignsBlock:
    """The latest campaigns received: name, date and channel, the subject under the name, at
    most five."""

    key = "campaigns"
    parts = CAMPAIGN_PARTS
    max_campaigns = MAX_CAMPAIGNS

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the latest campaigns, or None when the customer received none."""
        campaigns = sorted(
            profile.campaigns, key=lambda campaign: campaign.date or date.min, reverse=True
        )
        lines = [CampaignLine(parts, subject(c, ctx)) for c in campaigns[: self.max_campaigns]
                 if (parts := describe_parts(self.parts, c, ctx))]
        if not lines:
            return None
        hidden = len(campaigns) - min(len(campaigns), self.max_campaigns)
        more = i18n.plural_text("campaigns.more", hidden, ctx.locale) if hidden > 0 else None
        return render_template("campaigns.html", ctx, block=self.key, lines=lines, more=more)
