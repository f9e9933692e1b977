"""On-demand detail buttons: which details an item offers, and where the page's script asks them.

The page's one inline script (templates/page.html) reads the buttons' data- attributes; a block
only describes the buttons. Only items the detail endpoint would accept get a button: the same
rule as `connector.customer.details.DetailService.belongs` (the item's `source`, when it has
one, must be the detail's source).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from connector import i18n
from connector.customer.details import DetailAnswer, DetailOffer
from connector.sources.base import DetailField
from connector.widgets.base import RenderContext, coded_text

ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


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
            label = i18n.label_text(offer.label, ctx.locale)
            buttons.append(DetailButton(label, detail_url(offer, template), key, panel))
    return tuple(buttons)


def shown_fields(answer: DetailAnswer, locale: str, currency: str,
                 timezone: str) -> dict[str, str | None]:
    """A detail's lines as the agent reads them: each field's label in the page's language,
    its value written by its format (dates in the agent's locale and the brand's zone,
    numbers with the locale's separators, money with its currency), a coded value (a tier, a
    status: the field's `values`) by its name in that language."""
    shown: dict[str, str | None] = {}
    for name, value in answer.fields.items():
        spec = answer.spec.fields.get(name)
        label = i18n.label_text(spec.label, locale) if spec and spec.label else name
        if spec is not None and spec.values and isinstance(value, (str, int)):
            shown[label] = coded_text(spec.values, str(value), locale,
                                      answer.names.get(spec.values, {}))
        else:
            shown[label] = written(value, spec, locale, currency, ZoneInfo(timezone))
    return shown


def read_at(answer: DetailAnswer, timezone: str) -> str:
    """When the detail was read, as "14:05" in the brand's time zone (not the browser's)."""
    return answer.fetched_at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def written(value: Any, spec: DetailField | None, locale: str, currency: str,
            tz: ZoneInfo) -> str | None:
    """One detail value written by its field's format (`auto` guesses numbers and ISO dates)."""
    if value is None or value == "":
        return None
    kind = spec.format if spec is not None else "auto"
    if isinstance(value, (bool, list, dict)) or kind == "text":
        return str(value)
    try:
        if kind in ("money", "number") or (kind == "auto" and isinstance(value, (int, float))):
            number = Decimal(str(value))
            return (i18n.format_money(number, currency, locale) if kind == "money"
                    else i18n.format_number(number, locale))
        moment = str(value).strip()
        if kind == "date" or (kind == "auto" and ISO_DAY.match(moment)):
            return i18n.format_date(dt.date.fromisoformat(moment[:10]), locale)
        if kind == "datetime" or (kind == "auto" and ISO_MOMENT.match(moment)):
            read = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
            read = read if read.tzinfo else read.replace(tzinfo=tz)  # the brand's own time
            return i18n.format_datetime(read, locale, tz=tz)
    except (InvalidOperation, ValueError):
        pass  # not what its format says: shown as read rather than hidden
    return str(value)
