"""On-demand detail buttons: which details an item offers, and where the page's script asks them.

The page's one inline script (templates/page.html) reads the buttons' data- attributes; a block
only describes the buttons. Only items the detail endpoint would accept get a button: the same
rule as `connector.customer.details.DetailService.belongs` (the item's `source`, when it has
one, must be the detail's source).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from connector.customer.details import DetailOffer
from connector.widgets.base import RenderContext


@dataclass(frozen=True)
class DetailButton:
    """A button opening one detail of one item, and the panel its answer is shown in."""

    label: str
    url: str  # the detail's URL, the item's key still to be appended (URL-encoded)
    key: str  # the item's value of the offer's key field
    panel_id: str


def offered(offer: DetailOffer, item: object) -> str | None:
    """Return the item's key for `offer`, or None when the detail cannot be asked for it."""
    value = getattr(item, offer.key, None)
    if value is None or not str(value).strip():
        return None
    if getattr(item, "source", offer.source) != offer.source:
        return None
    return str(value)


def detail_url(offer: DetailOffer, template: str) -> str:
    """Return the URL of an offer's detail from the context's template, waiting for its key."""
    return template.format(source=quote(offer.source, safe=""), detail=quote(offer.detail, safe=""))


def detail_buttons(
    section: str, item: object, item_id: str, ctx: RenderContext
) -> tuple[DetailButton, ...]:
    """Return the buttons of one item of `section`; none when details cannot be asked."""
    template = ctx.detail_url
    if template is None:
        return ()
    buttons = []
    for index, offer in enumerate(ctx.details.get(section, ())):
        key = offered(offer, item)
        if key is not None:
            panel = f"detail-{item_id}-{index}"
            buttons.append(DetailButton(offer.label, detail_url(offer, template), key, panel))
    return tuple(buttons)
