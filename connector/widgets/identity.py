"""The identity block: civility and name, birth date, how to reach the customer, where they live,
and, quietly, what they consented to."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from connector import i18n
from connector.models import CONSENT_KINDS, ConsentValue, CustomerProfile, Identity
from connector.widgets.base import (
    ActionLink,
    BlockSpec,
    FieldDescription,
    Item,
    RenderContext,
    date_text,
    describe,
    render_template,
)

# Civilities as sources spell them -> catalog key; unknown ones are shown as written.
CIVILITIES: dict[str, str] = {
    "madame": "civility.mrs",
    "mme": "civility.mrs",
    "mrs": "civility.mrs",
    "monsieur": "civility.mr",
    "m": "civility.mr",
    "mr": "civility.mr",
    "mademoiselle": "civility.miss",
    "mlle": "civility.miss",
    "miss": "civility.miss",
    "ms": "civility.ms",
}

# Phone number types shown on the "Mobile" line; every other number goes on the "Phone" line.
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE})


def civility(identity: Identity, locale: str) -> str | None:
    """Return the civility abbreviated in `locale` ("MADAME" -> "Mme" / "Mrs")."""
    raw = (identity.civility or "").strip()
    key = CIVILITIES.get(raw.lower().rstrip("."))
    return i18n.text(key, locale) if key else (raw or None)


def full_name(identity: Identity) -> str | None:
    """Return the full name, or first and last name joined."""
    if identity.full_name and identity.full_name.strip():
        return identity.full_name.strip()
    parts = [part.strip() for part in (identity.first_name, identity.last_name) if part]
    return " ".join(part for part in parts if part) or None


def display_name(profile: CustomerProfile, locale: str) -> str | None:
    """Return civility and full name, as shown at the top of the record."""
    name = full_name(profile.identity)
    if name is None:
        return None
    title = civility(profile.identity, locale)
    return f"{title} {name}" if title else name


def phone_item(raw: str) -> tuple[bool, Item]:
    """Return whether a phone is a mobile, and the item showing it ("+33 6 53 88 88 90", tel:)."""
    try:
        number = phonenumbers.parse(raw, None)
    except NumberParseException:
        return False, Item(raw)
    shown = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    is_mobile = phonenumbers.number_type(number) in MOBILE_TYPES
    return is_mobile, Item(shown, href=f"tel:{e164}")


def phones(profile: CustomerProfile, mobile: bool) -> list[Item]:
    """Return the customer's mobile numbers (mobile=True) or their other numbers."""
    items = [phone_item(raw) for raw in profile.identity.phones if raw.strip()]
    return [item for is_mobile, item in items if is_mobile == mobile]


def primary_email(profile: CustomerProfile, ctx: RenderContext) -> Item | None:
    """Return the first email as a mailto: link."""
    emails = [email.strip() for email in profile.identity.emails if email.strip()]
    if not emails:
        return None
    return Item(emails[0], href=f"mailto:{quote(emails[0], safe='@.+-_')}")


def address(profile: CustomerProfile, ctx: RenderContext) -> list[Item]:
    """Return the postal address, one item per line (street, postcode and city, country)."""
    place = profile.identity.address
    town = " ".join(part.strip() for part in (place.postcode, place.city) if part)
    country = i18n.territory_name(place.country, ctx.locale) if place.country else None
    return [Item(line) for line in (place.line1, town, country) if line and line.strip()]


MATCH_KINDS = ("email", "phone", "card", "handle")


def matched(profile: CustomerProfile, ctx: RenderContext) -> list[Item]:
    """Which of the ticket's identifiers named this customer, and which sources vouch for it:
    an agent can spot a wrong link at a glance."""
    items = []
    for match in profile.matched:
        kind = i18n.text(f"match.{match.kind}", ctx.locale) if match.kind in MATCH_KINDS \
            else ctx.source_labels.get(match.kind, match.kind)
        names = [ctx.source_labels.get(s, s) for s in match.sources]
        vouched = ", ".join(names) if names else i18n.text("match.unconfirmed", ctx.locale)
        items.append(Item(f"{kind} · {vouched}", title=match.value))
    return items


IDENTITY_FIELDS: tuple[FieldDescription, ...] = (
    FieldDescription("name", "identity.name", lambda p, c: display_name(p, c.locale)),
    FieldDescription(
        "birth_date", "identity.birth_date", lambda p, c: date_text(p.identity.birth_date, c)
    ),
    FieldDescription("email", "identity.email", primary_email),
    FieldDescription("mobile", "identity.mobile", lambda p, c: phones(p, mobile=True)),
    FieldDescription("phone", "identity.phone", lambda p, c: phones(p, mobile=False)),
    FieldDescription("address", "identity.address", address),
    FieldDescription(
        "customer_since",
        "identity.customer_since",
        lambda p, c: date_text(p.identity.customer_since, c),
    ),
    FieldDescription("home_store", "identity.home_store", lambda p, c: p.identity.home_store),
    FieldDescription("matched", "identity.matched", matched),
)


class IdentityBlock:
    """Who the customer is: one labelled line per known field, empty fields left out."""

    key = "identity"
    fields = IDENTITY_FIELDS

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the identity lines, or None when nothing about the person is known."""
        rows = describe(self.fields, profile, ctx)
        if not rows:
            return None
        return render_template("identity.html", ctx, block=self.key, rows=rows,
                               consent=consents(profile, ctx), edits=edits(ctx),
                               changes=changes(ctx))


# a consent's value -> its pictogram (its words, for screen readers and the tooltip)
CONSENT_MARKS = {ConsentValue.GIVEN: "✓", ConsentValue.REFUSED: "✗", ConsentValue.UNKNOWN: "?"}


@dataclass(frozen=True)
class ConsentMark:
    """One consent on the record's quiet line: its kind, pictogram, and what was said, when and
    by which source (the tooltip)."""

    kind: str
    mark: str
    said: str


def consents(profile: CustomerProfile, ctx: RenderContext) -> list[ConsentMark]:
    """Each consent, when a source said at least one (none: no line, the brand's sources do
    not keep them)."""
    entries = [(kind, getattr(profile.consent, kind)) for kind in CONSENT_KINDS]
    if not any(entry.known for _, entry in entries):
        return []
    marks = []
    for kind, entry in entries:
        if entry.known:
            value = i18n.text(f"consent.value.{entry.value}", ctx.locale)
            source = ctx.source_labels.get(entry.source or "", entry.source or "")
            said = (i18n.text("consent.said", ctx.locale, value=value, source=source,
                              date=i18n.format_date(entry.date, ctx.locale))
                    if entry.date is not None else
                    i18n.text("consent.said_undated", ctx.locale, value=value, source=source))
        else:
            said = i18n.text("consent.unsaid", ctx.locale)
        marks.append(ConsentMark(i18n.text(f"consent.kind.{kind}", ctx.locale),
                                 CONSENT_MARKS[entry.value], said))
    return marks


# correctable field -> the catalog key of its edit link
EDITS = {"identity.emails": "correction.edit.identity.emails",
         "identity.phones": "correction.edit.identity.phones",
         "identity.address": "correction.edit.identity.address"}


def edits(ctx: RenderContext) -> list[Item]:
    """A link per field some source takes corrections of, and per action on the customer
    or their loyalty account, where the page can run them."""
    if ctx.changes_url is None:
        return []
    found = [Item(i18n.text(EDITS[field], ctx.locale), do=f"correction:{field}")
             for field in EDITS if field in ctx.correctable]
    return found + [action_item(link) for link in ctx.actions
                    if link.section in ("customer", "loyalty")]


def action_item(link: ActionLink) -> Item:
    """An action the record offers, as a button of the record's changes form."""
    return Item(link.label, do=f"action:{link.source}:{link.name}:{link.key or ''}")


def changes(ctx: RenderContext) -> list[Item]:
    """The customer's recent corrections and actions: what, where, and where it stands (a
    failed one says why, in the tooltip)."""
    shown = []
    for change in ctx.changes:
        state = i18n.text(f"correction.state.{change.state}", ctx.locale)
        source = ctx.source_labels.get(change.source, change.source)
        tone = {"confirmed": "good", "done": "good", "failed": "bad",
                "unconfirmed": "warn"}.get(change.state, "info")
        line = "correction.line" if change.kind == "correction" else "action.line"
        shown.append(Item(i18n.text(line, ctx.locale, what=change.what, source=source,
                                    state=state), tone=tone, title=change.outcome or ""))
    return shown
