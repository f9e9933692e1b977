"""Custom cards: fields an admin lists in the manifest, read by path from the customer JSON.

Each field's JMESPath is evaluated over `CustomerProfile.model_dump(mode="json")` (amounts
and dates are strings there) and written in the page's language by its format. A value that
does not read as its format is shown as written; a field without a value is left out, and a
card none of whose fields has a value is not shown.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from jmespath.exceptions import JMESPathError

from connector import i18n
from connector.i18n import label_text
from connector.models import CustomerProfile
from connector.sources.mapping import search
from connector.widgets.base import (
    CARD_BLOCK,
    BlockSpec,
    Item,
    RenderContext,
    Row,
    render_template,
)
from connector.widgets.layout import Card, CardField

logger = logging.getLogger(__name__)

ROW_KEY = "custom"  # the class of every card line (`field--custom`)
Formatter = Callable[[Any, RenderContext], str | None]


def text_value(value: Any, ctx: RenderContext) -> str | None:
    """Write any JSON value as text: yes/no for booleans, `key: value` for mappings."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, bool):
        return boolean_value(value, ctx)
    if isinstance(value, list):
        return ", ".join(t for item in value if (t := text_value(item, ctx))) or None
    if isinstance(value, dict):
        return ", ".join(f"{k}: {t}" for k, v in value.items() if (t := text_value(v, ctx))) or None
    return str(value).strip() or None


def decimal_of(value: Any) -> Decimal | None:
    """Read a JSON number or a numeric string ("45.95"), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def number_value(value: Any, ctx: RenderContext) -> str | None:
    """A number with the locale's separators: fr "1 240", en "1,240"."""
    number = decimal_of(value)
    return i18n.format_number(number, ctx.locale) if number is not None else None


def money_value(value: Any, ctx: RenderContext) -> str | None:
    """An amount in the brand's currency: fr "45,95 €", en "€45.95"."""
    number = decimal_of(value)
    return i18n.format_money(number, ctx.currency, ctx.locale) if number is not None else None


def moment_of(value: Any) -> dt.date | dt.datetime | None:
    """Read an ISO 8601 day or moment, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def in_agents_zone(moment: dt.datetime, ctx: RenderContext) -> dt.datetime:
    """A moment on the agents' clock (a moment without zone is taken as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(ZoneInfo(ctx.timezone))


def date_value(value: Any, ctx: RenderContext) -> str | None:
    """A day: fr "05/08/2017", en "5 Aug 2017" (a moment gives its day on the agents' clock)."""
    moment = moment_of(value)
    if isinstance(moment, dt.datetime):
        moment = in_agents_zone(moment, ctx).date()
    return i18n.format_date(moment, ctx.locale) if moment is not None else None


def datetime_value(value: Any, ctx: RenderContext) -> str | None:
    """A moment on the agents' clock: fr "23/02/2019 17:54" (a day alone is written as a day)."""
    moment = moment_of(value)
    if isinstance(moment, dt.datetime):
        return i18n.format_datetime(in_agents_zone(moment, ctx), ctx.locale)
    return i18n.format_date(moment, ctx.locale) if moment is not None else None


def boolean_value(value: Any, ctx: RenderContext) -> str | None:
    """Yes or no in the page's language (true/false, 1/0 and their texts are understood)."""
    truth = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    flag = value if isinstance(value, bool) else truth.get(str(value).strip().lower())
    if flag is None:
        return None
    return i18n.text("card.yes" if flag else "card.no", ctx.locale)


# Format name (the manifest's `format`) -> how one value is written.
FORMATTERS: dict[str, Formatter] = {
    "text": text_value,
    "number": number_value,
    "money": money_value,
    "date": date_value,
    "datetime": datetime_value,
    "boolean": boolean_value,
    "list": text_value,
}


def formatted(value: Any, form: str, ctx: RenderContext) -> str | None:
    """One value in its format; one that does not read as the format is shown as written."""
    if value is None or value == "":
        return None
    return FORMATTERS[form](value, ctx) or text_value(value, ctx)


def field_items(value: Any, form: str, ctx: RenderContext) -> tuple[Item, ...]:
    """The lines of one field: a list is one line per item with `list`, else one line."""
    if isinstance(value, list) and form == "list":
        return tuple(Item(t) for item in value if (t := formatted(item, "text", ctx)))
    if isinstance(value, list) and form != "text":
        joined = ", ".join(t for item in value if (t := formatted(item, form, ctx)))
        return (Item(joined),) if joined else ()
    shown = formatted(value, form, ctx)
    return (Item(shown),) if shown else ()


def read(field: CardField, document: dict[str, Any], profile: CustomerProfile) -> Any:
    """The field's value in the customer JSON; a path that fails on this customer gives None."""
    try:
        return search(field.path, document)
    except JMESPathError:
        logger.warning("card path %r failed for customer %s", field.path, profile.customer_id)
        return None


def card_rows(card: Card, profile: CustomerProfile, ctx: RenderContext) -> list[Row]:
    """The card's lines that have a value, in the manifest's order."""
    document = profile.model_dump(mode="json")
    rows = []
    for field in card.fields:
        items = field_items(read(field, document, profile), field.format, ctx)
        if items:
            rows.append(Row(ROW_KEY, label_text(field.label, ctx.locale), items))
    return rows


class CardBlock:
    """A card the manifest declares: its title, then one line per field that has a value."""

    key = CARD_BLOCK

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the card, or None when none of its fields has a value."""
        if spec.card is None:
            return None
        rows = card_rows(spec.card, profile, ctx)
        if not rows:
            return None
        return render_template("card.html", ctx, block=self.key,
                               title=label_text(spec.card.title, ctx.locale), rows=rows)
