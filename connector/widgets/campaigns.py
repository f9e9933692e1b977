"""The campaigns block: the marketing campaigns the customer received lately, newest first."""

from __future__ import annotations

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


def name(campaign: Campaign, ctx: RenderContext) -> Item | None:
    """Return the campaign's name."""
    value = (campaign.name or "").strip()
    return Item(value) if value else None


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


class CampaignsBlock:
    """The latest campaigns received: name, date and channel, at most five."""

    key = "campaigns"
    parts = CAMPAIGN_PARTS
    max_campaigns = MAX_CAMPAIGNS

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the latest campaigns, or None when the customer received none."""
        campaigns = sorted(
            profile.campaigns, key=lambda campaign: campaign.date or date.min, reverse=True
        )
        lines = [describe_parts(self.parts, c, ctx) for c in campaigns[: self.max_campaigns]]
        lines = [line for line in lines if line]
        if not lines:
            return None
        hidden = len(campaigns) - min(len(campaigns), self.max_campaigns)
        more = i18n.plural_text("campaigns.more", hidden, ctx.locale) if hidden > 0 else None
        return render_template("campaigns.html", ctx, block=self.key, lines=lines, more=more)
