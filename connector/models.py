"""The canonical customer: what every source is mapped into and every surface shows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Canonical(BaseModel):
    """Base of the canonical models: unknown keys are refused, values are coerced laxly."""

    model_config = ConfigDict(extra="forbid")


class Address(Canonical):
    """A postal address."""

    line1: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None


# the canonical fields an agent may correct from the record, where a source declares how it
# takes them (`writes:`): one value replaced by another, normalised first (E.164, email), or
# a structured one (the address) given part by part
CORRECTABLE = ("identity.emails", "identity.phones", "identity.address")


class Identity(Canonical):
    """Who the customer is."""

    civility: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    birth_date: dt.date | None = None
    emails: list[str] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list)
    address: Address = Field(default_factory=Address)
    home_store: str | None = None
    customer_since: dt.date | None = None
    external_ids: dict[str, str] = Field(default_factory=dict)


class RfmScores(Canonical):
    """Recency, frequency and monetary scores, 1–5 each against the base, and their sum."""

    r: int
    f: int
    m: int
    score: int


class Status(Canonical):
    """What the customer represents for the brand."""

    segment: str | None = None
    # prospect, new, active, dormant, lost: computed from purchases (docs/segments.md)
    lifecycle: str | None = None
    abc_class: str | None = None  # A, B, C (or P) by the `segments` job, unless a source says
    # the class was set by an admin (`jobs.segments.abc_override`: a tag or a list), not computed
    abc_overridden: bool = False
    rfm: RfmScores | None = None  # by the `segments` job
    classes_at: dt.datetime | None = None  # when the `segments` job computed the two above
    tags: list[str] = Field(default_factory=list)
    # computed from the record (docs/segments.md); a source's true stands
    ambassador: bool = False  # positive ratings, frequent contacts or constructive feedback
    win_back: bool = False  # dormant but valuable


class Kpis(Canonical):
    """Activity figures, computed from purchases unless a source gives them."""

    total_spend: Decimal | None = None
    average_basket: Decimal | None = None
    last_order_date: dt.date | None = None
    orders_count: int | None = None
    satisfaction: Decimal | None = Field(default=None, ge=0, le=10)
    currency: str | None = None
    lifetime_value: Decimal | None = None  # computed: docs/segments.md


class Flag(Canonical):
    """An alert shown at the top of the record."""

    key: str
    label: str
    icon: str
    reason: str
    since: dt.date | None = None
    tone: str | None = None  # bad, warn (alerts), good, vip, info: as its rule says


class NpsAnswer(Canonical):
    """The customer's last answer to the recommendation question."""

    score: int = Field(ge=0, le=10)
    category: Literal["detractor", "passive", "promoter"]
    date: dt.date | None = None


class TrendPoint(Canonical):
    """One satisfaction score in time."""

    date: dt.date | None = None
    score: Decimal


class Sentiment(Canonical):
    """How the customer feels right now."""

    last_satisfaction: Decimal | None = None
    trend: list[TrendPoint] = Field(default_factory=list)
    nps: NpsAnswer | None = None
    ces: Decimal | None = None


class ContactEvent(Canonical):
    """A past contact (input section; summarised into contacts), and, for a complaint, how it
    was handled: its status (open, resolved…), first reply, resolution and when it was solved."""

    date: dt.datetime | None = None
    channel: str | None = None
    reason: str | None = None
    status: str | None = None
    first_reply_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    resolution: str | None = None
    source: str | None = None


class LastContact(Canonical):
    """The most recent contact."""

    date: dt.datetime | None = None
    channel: str | None = None
    reason: str | None = None


class Contacts(Canonical):
    """Summary of past contacts across channels."""

    count: int = 0
    by_channel: dict[str, int] = Field(default_factory=dict)
    last: LastContact | None = None
    repeat_rate: Decimal | None = None
    complaints: list[ContactEvent] = Field(default_factory=list)  # newest first


class Order(Canonical):
    """An online order or a store purchase."""

    channel: str | None = None
    number: str | None = None
    status: str | None = None
    date: dt.date | None = None
    tracking: str | None = None
    total: Decimal | None = None
    currency: str | None = None
    back_office_url: str | None = None
    store: str | None = None
    source: str | None = None
    # the other sources that hold the same sale (`kpis.dedupe`): it counts once, here
    also_in: list[str] = Field(default_factory=list)
    # the order's id at its source (Shopify's order id, not its "#1001" name), for the
    # requests of actions (`key: source_id`); never shown
    source_id: str | None = None


class Loyalty(Canonical):
    """Loyalty programme membership."""

    card: str | None = None
    points: int | None = None
    tier: str | None = None
    vouchers_used: int | None = None
    # the tier before the last change the loyalty feed told, and the day it changed
    # (`refresh_loyalty`; the `tier_changed` flag reads them)
    previous_tier: str | None = None
    tier_changed_at: dt.date | None = None
    # the loyalty account's id at its source (Square's account id, not the card), for the
    # requests of actions; never shown
    account_id: str | None = None


class Review(Canonical):
    """A review the customer left on a review site."""

    site: str | None = None
    rating: Decimal | None = None
    max_rating: Decimal | None = Decimal(5)
    date: dt.date | None = None
    title: str | None = None
    excerpt: str | None = None
    url: str | None = None
    source: str | None = None


class Campaign(Canonical):
    """A marketing campaign the customer received."""

    name: str | None = None
    date: dt.date | None = None
    channel: str | None = None
    subject: str | None = None  # what the customer read: the email's subject, the SMS's text


class Appointment(Canonical):
    """An appointment in the customer's agenda (a fitting, a delivery slot, a call back)."""

    date: dt.datetime | None = None
    title: str | None = None
    place: str | None = None
    status: str | None = None
    source: str | None = None


class Document(Canonical):
    """A document about the customer: an invoice, a contract, a quotation, a letter."""

    date: dt.date | None = None
    title: str | None = None
    kind: str | None = None
    url: str | None = None
    source: str | None = None


class Note(Canonical):
    """A short landmark an agent wrote about the customer (`id` when kept by connector)."""

    id: int | None = None
    text: str
    author: str | None = None
    date: dt.datetime | None = None


class SurveyAnswer(Canonical):
    """A survey answer (input section; summarised into sentiment and kpis)."""

    kind: Literal["csat", "nps", "ces"] = "csat"
    score: Decimal
    date: dt.date | None = None
    comment: str | None = None


class ConsentValue(StrEnum):
    """What the customer said to one use of their data."""

    GIVEN = "given"
    REFUSED = "refused"
    UNKNOWN = "unknown"


# how sources commonly say yes or no (a source's own words go through its mapping's `map:`)
_CONSENT_WORDS = {"true": ConsentValue.GIVEN, "false": ConsentValue.REFUSED,
                  "yes": ConsentValue.GIVEN, "no": ConsentValue.REFUSED}


class ConsentEntry(Canonical):
    """One consent: given, refused or unknown, the day it was said, and the source saying it
    (filled by connector, never mapped)."""

    value: ConsentValue = ConsentValue.UNKNOWN
    date: dt.date | None = None
    source: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _yes_or_no(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return ConsentValue.GIVEN if value else ConsentValue.REFUSED
        if value is None:
            return ConsentValue.UNKNOWN
        if isinstance(value, str):
            word = value.strip().lower()
            return _CONSENT_WORDS.get(word, word)
        return value

    @property
    def known(self) -> bool:
        """Whether the customer said yes or no."""
        return self.value is not ConsentValue.UNKNOWN


class Consent(Canonical):
    """What the customer agreed to (the documents: consent "for anything published"): email
    marketing, SMS, their reviews published; each with its day and source."""

    email_marketing: ConsentEntry = Field(default_factory=ConsentEntry)
    sms: ConsentEntry = Field(default_factory=ConsentEntry)
    publish_reviews: ConsentEntry = Field(default_factory=ConsentEntry)


CONSENT_KINDS = tuple(Consent.model_fields)


class SourceState(StrEnum):
    """How a source answered for this customer."""

    OK = "ok"
    STALE = "stale"
    ERROR = "error"
    TIMEOUT = "timeout"
    NOT_FOUND = "not_found"
    CIRCUIT_OPEN = "circuit_open"


class SourceStatus(Canonical):
    """Where a part of the record came from and how old it is."""

    status: SourceState
    fetched_at: dt.datetime | None = None
    age_s: float | None = None
    latency_ms: float | None = None
    error: str | None = None


class Match(Canonical):
    """An identifier of the ticket that named this customer, and who vouches for it."""

    kind: str
    value: str
    sources: list[str] = Field(default_factory=list)


class Candidate(Canonical):
    """One of several people an identifier may name; the agent chooses."""

    customer_id: str
    name: str | None = None
    postcode: str | None = None
    # what tells people sharing an identifier apart (a household shares its postcode)
    city: str | None = None
    birth_year: int | None = None
    last_order: dt.date | None = None
    source_ids: dict[str, str] = Field(default_factory=dict)


class CustomerProfile(Canonical):
    """The canonical customer, as `connector lookup` and the lookup API return it."""

    customer_id: str
    matched: list[Match] = Field(default_factory=list)
    identity: Identity = Field(default_factory=Identity)
    status: Status = Field(default_factory=Status)
    kpis: Kpis = Field(default_factory=Kpis)
    flags: list[Flag] = Field(default_factory=list)
    sentiment: Sentiment = Field(default_factory=Sentiment)
    contacts: Contacts = Field(default_factory=Contacts)
    orders: list[Order] = Field(default_factory=list)
    store_purchases: list[Order] = Field(default_factory=list)
    loyalty: Loyalty = Field(default_factory=Loyalty)
    consent: Consent = Field(default_factory=Consent)
    reviews: list[Review] = Field(default_factory=list)
    campaigns: list[Campaign] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    agenda: list[Appointment] = Field(default_factory=list)
    documents: list[Document] = Field(default_factory=list)
    # every request (the `contacts` sections and those recorded from helpdesk events) and
    # every survey answer, newest first: the timeline lists them
    requests: list[ContactEvent] = Field(default_factory=list)
    surveys: list[SurveyAnswer] = Field(default_factory=list)
    sources: dict[str, SourceStatus] = Field(default_factory=dict)
    # False when the link store could not be read: the record is what the sources alone say
    # (one person by their answers), not checked against the people we know; no customer_id
    identity_checked: bool = True
    # what we keep ourselves and could not read then ("notes", "contacts": those recorded
    # from helpdesk events); the rest of the record is whole
    unavailable: list[str] = Field(default_factory=list)


# The sections a source may fill: name -> (model of one value, is it a list).
SECTIONS: dict[str, tuple[type[Canonical], bool]] = {
    "identity": (Identity, False),
    "status": (Status, False),
    "kpis": (Kpis, False),
    "loyalty": (Loyalty, False),
    "consent": (Consent, False),
    "orders": (Order, True),
    "store_purchases": (Order, True),
    "reviews": (Review, True),
    "campaigns": (Campaign, True),
    "surveys": (SurveyAnswer, True),
    "contacts": (ContactEvent, True),
    "notes": (Note, True),
    "agenda": (Appointment, True),
    "documents": (Document, True),
}
