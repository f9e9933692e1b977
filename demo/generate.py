"""Deterministic demo data: an ERP, a store POS, a loyalty DB, reviews, surveys, campaigns and
contacts.

The data are relative to the day they are generated for, today unless CONNECTOR_DEMO_TODAY
(YYYY-MM-DD) pins it: the tickets are that day's, the generated customers' recent orders,
reviews and contacts are recent. The white paper's customer (Pauline Denève) keeps her
published history as it is: only the tickets of the day are new for her. The same day, size
and seed give the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import sqlite3
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
from faker import Faker
from phonenumbers import PhoneNumberType

GENERATOR_VERSION = "7"
# pins the day the demo data are generated for (YYYY-MM-DD); today when unset
TODAY_VAR = "CONNECTOR_DEMO_TODAY"
SAMPLE_ID = "C100997"
SAMPLE_EMAIL = "pauline.deneve@easiware.fr"
SAMPLE_MOBILE_E164 = "+33653888890"
SAMPLE_CARD = "29000123456"
HOUSEHOLD_IDS = ("C101011", "C101012")
MARKER = "manifest.done"
MIN_CUSTOMERS = 30
STORES = (
    "Paris Rivoli", "Lyon Part-Dieu", "Lille Centre", "Bordeaux Sainte-Catherine",
    "Nantes Atlantis", "Marseille Terrasses du Port",
)
EMAIL_DOMAINS = ("example.fr", "example.com", "example.net", "example.org")
SEGMENTS = ("VIP", "Premium", "Standard", "Professionnel")
SITES = ("Trustpilot", "Google", "Avis Vérifiés")
CONTACT_CHANNELS = ("email", "phone", "chat", "facebook", "instagram", "store")
REASONS = (
    "Suivi de livraison", "Retour produit", "Réclamation", "Question produit",
    "Modification de commande", "Programme fidélité", "Suivi de remboursement", "Facturation",
)
Record = dict[str, Any]
COMPLAINT = "Réclamation"
# How a complaint was answered and solved; drawn apart from the other data, which stays as it was.
RESOLUTIONS = (
    "Avoir de 10 €", "Remboursement", "Remplacement du produit", "Livraison offerte",
    "Explications données", "Geste commercial : 15 %",
)

_SAMPLE_CUSTOMER: Record = {
    "id": SAMPLE_ID, "civility": "MADAME", "first_name": "Pauline", "last_name": "Denève",
    "birth_date": None, "email": SAMPLE_EMAIL, "mobile": "+33 (0)653888890",
    "phone": "+32 (0)186953033", "created_at": "2014-03-12", "segment": "VIP", "tags": ["vip"],
    "address": {"street": "1 AVENUE SPINOZA", "zip": "77184", "city": "EMERAINVILLE",
                "country": "FR"},
}
_SAMPLE_ORDERS = (
    ("997890", "web", "return", "2017-08-05", "AU908764", "45.95"),
    ("120145", "web", "done", "2017-06-10", "34543-A", "989.00"),
    ("118502", "phone", "done", "2016-11-25", "6A12345678901", "429.05"),
)
_SAMPLE_MEMBER = (SAMPLE_CARD, SAMPLE_EMAIL, SAMPLE_MOBILE_E164, 1240, "Or", 2, "Paris Rivoli",
                  "2014-03-12")
_SAMPLE_SURVEYS = (
    ("csat", 8, "2018-06-01T10:00:00Z", "Conseillère aimable, réponse un peu longue."),
    ("csat", 9, "2019-01-10T09:30:00Z", None),
    ("nps", 9, "2019-01-10T09:31:00Z", "Je recommande, malgré le retour compliqué de 2017."),
)
# Pauline's two complaints, oldest first: (status, first reply after, solved after, resolution).
# The 2017 one, about the refund of order 997890, waited over a weekend for its first answer.
_SAMPLE_HANDLING = (
    ("resolved", timedelta(minutes=6), timedelta(days=4), "Remplacement du produit"),
    ("resolved", timedelta(hours=39, minutes=21), timedelta(days=4, hours=2), "Avoir de 10 €"),
)
_SAMPLE_REVIEW: Record = {
    "email": SAMPLE_EMAIL, "site": "Trustpilot", "stars": 2,
    "published_at": "2017-08-07T19:12:00Z", "title": "Retour compliqué",
    "text": "J'ai dû renvoyer ma commande 997890 : une semaine pour obtenir l'étiquette de "
    "retour, trois relances au service client et toujours aucun remboursement. Très déçue, "
    "je suis pourtant cliente depuis des années.",
    "url": "https://fr.trustpilot.com/reviews/59889f2a0000ff000abc9978",
}
_REVIEW_TEXTS = {
    "negative": (
        ("Très déçu", "Ma {ref} est arrivée avec dix jours de retard, sans aucune explication."),
        ("Colis abîmé", "Le carton de ma {ref} était éventré, j'attends toujours une solution."),
        ("Service client injoignable", "Trois appels et deux e-mails au sujet de ma {ref}, "
         "aucune réponse. Inadmissible."),
        ("Remboursement en attente", "Retour de ma {ref} reçu par l'entrepôt il y a trois "
         "semaines, toujours pas remboursé."),
        ("À éviter", "Produit non conforme à la description et retour payant. Je ne "
         "commanderai plus."),
    ),
    "neutral": (
        ("Correct sans plus", "Produit conforme, mais la livraison de ma {ref} a pris du temps."),
        ("Peut mieux faire", "Bon produit, emballage un peu léger pour le prix."),
    ),
    "positive": (
        ("Très satisfaite", "Ma {ref} est arrivée en 48 h, parfaitement emballée. Merci !"),
        ("Parfait", "Rien à redire : qualité au rendez-vous et conseils utiles en magasin."),
        ("Service client au top", "Échange réglé en un appel, conseillère très aimable."),
        ("Je recommande", "Troisième commande, toujours aussi satisfait."),
    ),
}
_SURVEY_COMMENTS = {
    "negative": ("Toujours pas de réponse à ma réclamation.", "Trop d'attente au téléphone."),
    "neutral": ("Réponse correcte mais un peu lente.", "Il a fallu relancer une fois."),
    "positive": ("Conseiller très efficace, merci.", "Problème réglé dès le premier contact."),
}


def format_phone(national: str, style: int) -> str:
    """Write a 10-digit French national number in one of the formats a real ERP holds."""
    pairs = " ".join(national[i:i + 2] for i in range(0, 10, 2))
    rest = national[1:]
    styles = (
        f"+33 (0){pairs[1:]}",
        pairs,
        pairs.replace(" ", "."),
        f"+33{rest}",
        f"0033 {pairs[1:]}",
    )
    return styles[style % len(styles)]


def ascii_slug(text: str) -> str:
    """Lowercase ASCII form of a name, accents stripped, for e-mail addresses and handles."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def _stamp(moment: datetime) -> str:
    """An ISO UTC datetime as the demo files write it."""
    return moment.strftime("%Y-%m-%dT%H:%M:00Z")


def _handling(at: str, status: str, reply: timedelta | None, solved: timedelta | None,
              resolution: str | None) -> Record:
    """How a complaint made at `at` was handled, as the helpdesk export gives it."""
    start = datetime.strptime(at, "%Y-%m-%dT%H:%M:00Z")
    return {"status": status, "resolution": resolution,
            "first_reply_at": _stamp(start + reply) if reply is not None else None,
            "resolved_at": _stamp(start + solved) if solved is not None else None}


def _band(stars: int, low: int, high: int) -> str:
    """Classify a score as negative (<= low), positive (>= high) or neutral."""
    return "negative" if stars <= low else "positive" if stars >= high else "neutral"


@dataclass
class _Person:
    """One customer with the identifiers the other systems key on."""

    customer: Record
    mobile: str
    landline: str | None
    card: str | None = None
    orders: list[Record] = field(default_factory=list)

    @property
    def email(self) -> str:
        """The customer's unique e-mail address."""
        return str(self.customer["email"])

    @property
    def e164(self) -> str:
        """The mobile number in E.164 form."""
        return "+33" + self.mobile[1:]


@dataclass
class _Dataset:
    """Every record the generator writes, in file order."""

    customers: list[Record] = field(default_factory=list)
    orders: list[Record] = field(default_factory=list)
    pos: list[list[str]] = field(default_factory=list)
    members: list[tuple[Any, ...]] = field(default_factory=list)
    reviews: list[Record] = field(default_factory=list)
    surveys: list[Record] = field(default_factory=list)
    contacts: list[Record] = field(default_factory=list)
    tickets: list[Record] = field(default_factory=list)
    campaigns: list[Record] = field(default_factory=list)


def _day(rng: random.Random, start: date, end: date) -> date:
    """A day drawn uniformly between start and end, both included."""
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _moment(rng: random.Random, start: date, end: date) -> str:
    """An ISO UTC datetime during business hours on a day between start and end."""
    day = _day(rng, start, end)
    stamp = datetime(day.year, day.month, day.day, rng.randint(7, 20), rng.randint(0, 59))
    return stamp.strftime("%Y-%m-%dT%H:%M:00Z")


class _Builder:
    """Draws the generated customers and everything attached to them, in a fixed order."""

    def __init__(self, seed: int, today: date) -> None:
        self.today = today
        self.rng = random.Random(seed)
        self.fake = Faker("fr_FR")
        self.fake.seed_instance(seed)
        self.phones: set[str] = {"0653888890"}
        self.emails: set[str] = {SAMPLE_EMAIL}
        self.numbers: set[str] = {number for number, *_ in _SAMPLE_ORDERS}
        self.cards: set[str] = {SAMPLE_CARD}
        self.tickets: set[str] = set()
        self.data = _Dataset()
        self.handling_rng = random.Random(f"{seed}-handling")

    def unique(self, used: set[str], draw: Callable[[], str]) -> str:
        """Call draw until it yields a value not in used, then reserve it."""
        while (value := draw()) in used:
            pass
        used.add(value)
        return value

    def number(self, prefixes: str, kind: int) -> str:
        """A fresh valid French number of the given type, as 10 national digits."""
        while True:
            national = f"0{self.rng.choice(prefixes)}{self.rng.randrange(10**8):08d}"
            parsed = phonenumbers.parse(national, "FR")
            if (national not in self.phones and phonenumbers.is_valid_number(parsed)
                    and phonenumbers.number_type(parsed) == kind):
                self.phones.add(national)
                return national

    def email(self, first: str, last: str) -> str:
        """A unique lowercase ASCII address in one of the usual first/last name shapes."""
        f, n, rng = ascii_slug(first), ascii_slug(last), self.rng
        while True:
            local = rng.choice((f"{f}.{n}", f"{f[0]}{n}", f"{f}-{n}", f"{n}.{f}",
                                f"{f}.{n}{rng.randint(1, 99)}", f"{f}{n}{rng.randint(60, 99)}"))
            address = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
            if address not in self.emails:
                self.emails.add(address)
                return address

    def person(self, index: int, household: _Person | None) -> _Person:
        """One ERP customer; a household member shares the partner's name, address and line."""
        rng, fake = self.rng, self.fake
        female = rng.random() < 0.55
        first = fake.first_name_female() if female else fake.first_name_male()
        last = household.customer["last_name"] if household else fake.last_name()
        mobile = self.number("67", PhoneNumberType.MOBILE)
        landline = household.landline if household else (
            self.number("12345", PhoneNumberType.FIXED_LINE)
            if rng.random() < 0.35 or index == 10 else None)
        address = dict(household.customer["address"]) if household else {
            "street": fake.street_address().upper(), "zip": fake.postcode(),
            "city": fake.city().upper(), "country": "FR"}
        segment = rng.choices(SEGMENTS, weights=(5, 15, 72, 8))[0]
        birth = _day(rng, date(1946, 1, 1), date(2006, 12, 31)) if rng.random() < 0.85 else None
        tags = {"vip"} if segment == "VIP" else {"b2b"} if segment == "Professionnel" else set()
        tags |= {t for t in ("newsletter", "litige", "ambassadeur") if rng.random() < 0.15}
        customer = {
            "id": f"C{101001 + index}", "civility": "MADAME" if female else "MONSIEUR",
            "first_name": first, "last_name": last, "email": self.email(first, last),
            "birth_date": birth.isoformat() if birth else None,
            "mobile": format_phone(mobile, rng.randrange(5)),
            "phone": format_phone(landline, rng.randrange(5)) if landline else None,
            "address": address, "segment": segment, "tags": sorted(tags),
            "created_at": _day(rng, date(2012, 1, 1), self.today - timedelta(60)).isoformat(),
        }
        return _Person(customer, mobile, landline)

    def order(self, person: _Person, day: date) -> Record:
        """One ERP order; recent ones are still in progress, older ones mostly delivered."""
        rng, age = self.rng, (self.today - day).days
        if age < 4:
            state = rng.choice(("draft", "sent"))
        elif age < 15:
            state = rng.choices(("sent", "done", "cancel"), weights=(5, 4, 1))[0]
        else:
            state = rng.choices(("done", "return", "cancel"), weights=(85, 9, 6))[0]
        euros = rng.randint(20, 599)
        if person.customer["segment"] == "VIP" and rng.random() < 0.25:
            euros = rng.randint(600, 2400)
        cents = rng.choice((0, 0, 50, 90, 95, 99))
        tracking = rng.choice((f"6A{rng.randrange(10**11):011d}", f"XS{rng.randrange(10**9):09d}FR",
                               f"{rng.randrange(10**5):05d}-{rng.choice('ABCD')}"))
        return {
            "customer_id": person.customer["id"], "date": day.isoformat(), "state": state,
            "number": self.unique(self.numbers, lambda: str(rng.randint(100000, 999999))),
            "channel": rng.choices(("web", "app", "phone"), weights=(60, 30, 10))[0],
            "tracking": None if state in ("draft", "cancel") else tracking,
            "amount_total": f"{euros}.{cents:02d}", "currency": "EUR",
        }

    def orders(self, person: _Person) -> None:
        """Zero to eight orders between the customer's creation and the reference date."""
        span = (self.today - date.fromisoformat(person.customer["created_at"])).days
        count = self.rng.choices(range(9), weights=(12, 18, 16, 14, 12, 10, 8, 6, 4))[0]
        # squared draw: most orders are recent, as in a live shop
        days = sorted(self.today - timedelta(int(span * self.rng.random() ** 2))
                      for _ in range(count))
        person.orders = [self.order(person, day) for day in days]
        self.data.orders.extend(person.orders)

    def membership(self, person: _Person) -> None:
        """About 70 % of customers hold a loyalty card."""
        rng = self.rng
        if rng.random() >= 0.7:
            return
        person.card = self.unique(self.cards, lambda: f"2900{rng.randrange(10**7):07d}")
        points = rng.choice((rng.randint(0, 999), rng.randint(0, 2999), rng.randint(0, 6000)))
        tier = "Bronze" if points < 1000 else "Argent" if points < 3000 else "Or"
        joined = _day(rng, date.fromisoformat(person.customer["created_at"]), self.today)
        self.data.members.append((person.card, person.email, person.e164, points, tier,
                                  rng.randint(0, 8), rng.choice(STORES), joined.isoformat()))

    def store_purchases(self, person: _Person) -> None:
        """About 60 % of customers bought 1 to 5 times in a shop, seen by card, phone or email."""
        rng = self.rng
        if rng.random() >= 0.6:
            return
        created = date.fromisoformat(person.customer["created_at"])
        for _ in range(rng.randint(1, 5)):
            day = _day(rng, created, self.today)
            ticket = self.unique(self.tickets, lambda: f"{rng.randrange(10**8):08d}")
            total = f"{rng.randint(5, 299)},{rng.choice((0, 50, 90, 99)):02d}"
            email = person.email if rng.random() < 0.6 else ""
            phone = format_phone(person.mobile, rng.randrange(5)) if rng.random() < 0.6 else ""
            card = person.card if person.card and rng.random() < 0.85 else ""
            phone = phone or ("" if email or card else format_phone(person.mobile, 1))
            self.data.pos.append([ticket, day.strftime("%d/%m/%Y"), rng.choice(STORES), total,
                                  email, phone, card or ""])

    def review(self, person: _Person, start: date, stars: int) -> Record:
        """One public review; its wording follows the stars and may cite the customer's last
        order received before it (returned, for a text about a return)."""
        rng = self.rng
        title, text = rng.choice(_REVIEW_TEXTS[_band(stars, 2, 4)])
        site = rng.choice(SITES)
        key = f"{rng.randrange(16**24):024x}"
        url = {"Trustpilot": f"https://fr.trustpilot.com/reviews/{key}",
               "Google": f"https://maps.google.com/?cid={int(key[:15], 16)}",
               "Avis Vérifiés": f"https://www.avis-verifies.com/avis-clients/demo/review/{key}"}
        published = _moment(rng, start, self.today - timedelta(1))
        states = ("return",) if "Retour de ma" in text else ("done", "return")
        received = [o for o in person.orders
                    if o["state"] in states and o["date"] < published[:10]]
        ref = f"commande {received[-1]['number']}" if received else "commande"
        return {"email": person.email, "site": site, "stars": stars, "title": title,
                "published_at": published, "text": text.format(ref=ref), "url": url[site]}

    def feedback(self, person: _Person, recent_negative: bool) -> None:
        """Reviews for ~30 % of customers, survey answers for about half of them."""
        rng = self.rng
        created = date.fromisoformat(person.customer["created_at"])
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 3)):
                stars = rng.choices(range(1, 6), weights=(10, 10, 15, 30, 35))[0]
                self.data.reviews.append(self.review(person, created, stars))
        if recent_negative:
            start = self.today - timedelta(29)
            self.data.reviews.append(self.review(person, start, rng.randint(1, 2)))
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 4)):
                kind = rng.choice(("csat", "nps", "ces"))
                score = rng.randint(1, 5) if kind == "ces" else rng.choice(range(11))
                band = _band(score, 2, 4) if kind == "ces" else _band(score, 5, 8)
                comment = rng.choice(_SURVEY_COMMENTS[band]) if rng.random() < 0.3 else None
                self.data.surveys.append({
                    "email": person.email, "type": kind, "score": score, "comment": comment,
                    "answered_at": _moment(rng, created, self.today - timedelta(1))})

    def contacts(self, person: _Person) -> None:
        """Zero to ten past helpdesk contacts; complaints say how they were handled."""
        rng = self.rng
        created = date.fromisoformat(person.customer["created_at"])
        for _ in range(rng.randint(0, 10)):
            channel = rng.choices(CONTACT_CHANNELS, weights=(35, 30, 15, 8, 5, 7))[0]
            phone = person.e164 if channel in ("phone", "store") else None
            at = _moment(rng, created, self.today - timedelta(1))
            contact: Record = {"at": at, "channel": channel, "reason": rng.choice(REASONS),
                               "email": person.email, "phone": phone}
            if contact["reason"] == COMPLAINT:
                contact.update(self.handled(at))
            self.data.contacts.append(contact)

    def handled(self, at: str) -> Record:
        """A complaint's handling: mostly answered within a day and solved; recent ones may
        still be open, a few waited too long for their first reply."""
        rng = self.handling_rng
        reply = timedelta(minutes=rng.choice((rng.randint(5, 600), rng.randint(5, 1400),
                                              rng.randint(1500, 4000))))
        solved = reply + timedelta(days=rng.randint(0, 9), hours=rng.randint(1, 20))
        made = datetime.strptime(at, "%Y-%m-%dT%H:%M:00Z")
        reference = datetime(self.today.year, self.today.month, self.today.day)
        if made + solved > reference:
            answered = made + reply <= reference
            return _handling(at, "open", reply if answered else None, None, None)
        return _handling(at, "resolved", reply, solved, rng.choice(RESOLUTIONS))


def _sample(data: _Dataset) -> None:
    """Add Pauline Denève, the founding white paper's customer, exactly as published."""
    data.customers.append(json.loads(json.dumps(_SAMPLE_CUSTOMER)))
    for number, channel, state, day, tracking, total in _SAMPLE_ORDERS:
        data.orders.append({"customer_id": SAMPLE_ID, "number": number, "channel": channel,
                            "state": state, "date": day, "tracking": tracking,
                            "amount_total": total, "currency": "EUR"})
    data.members.append(_SAMPLE_MEMBER)
    data.reviews.append(dict(_SAMPLE_REVIEW))
    for kind, score, at, comment in _SAMPLE_SURVEYS:
        data.surveys.append({"email": SAMPLE_EMAIL, "type": kind, "score": score,
                             "answered_at": at, "comment": comment})
    rng = random.Random(SAMPLE_ID)
    channels = ["email", "phone", "chat", "facebook"] * 5 + ["email", "phone"]
    rng.shuffle(channels)
    for channel in channels:
        data.contacts.append({
            "at": _moment(rng, date(2014, 3, 12), date(2019, 2, 20)), "channel": channel,
            "reason": rng.choice(REASONS), "email": SAMPLE_EMAIL,
            "phone": SAMPLE_MOBILE_E164 if channel == "phone" else None})
    complaints = sorted((c for c in data.contacts if c["email"] == SAMPLE_EMAIL
                         and c["reason"] == COMPLAINT), key=lambda c: c["at"])
    for contact, handling in zip(complaints, _SAMPLE_HANDLING, strict=True):
        contact.update(_handling(contact["at"], *handling))
    # 17:54 in Paris: the white paper's "Dernière demande 23/02/19 17:54".
    data.contacts.append({"at": "2019-02-23T16:54:00Z", "channel": "phone",
                          "reason": "Suivi de remboursement", "email": SAMPLE_EMAIL,
                          "phone": SAMPLE_MOBILE_E164})


# The day's tickets come in from 08:00 UTC, one every 37 minutes (the eighth at 12:19).
TICKETS_FROM = (8, 0)
TICKETS_EVERY = timedelta(minutes=37)
TICKET_COUNT = 8


def _ticket_times(day: date, now: datetime | None) -> list[datetime]:
    """When the day's tickets came in (naive UTC). With a clock (today, not pinned) and
    generated before the usual hours are over, they are spread over the hours before now
    instead: no ticket is in the future."""
    start = datetime(day.year, day.month, day.day, *TICKETS_FROM)
    step, gaps = TICKETS_EVERY, TICKET_COUNT - 1
    if now is not None:
        latest = now.astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0) \
            - timedelta(minutes=5)
        if latest < start + gaps * step:
            midnight = datetime(day.year, day.month, day.day)
            last = max(latest, midnight + timedelta(minutes=gaps))
            step = min(step, timedelta(minutes=(last - midnight) // timedelta(minutes=1) // gaps))
            start = last - gaps * step
    return [start + n * step for n in range(TICKET_COUNT)]


def _ticket(number: int, at: datetime, channel: str, subject: str, body: str,
            requester: Record) -> Record:
    """One open demo ticket, received at `at` (UTC)."""
    return {"id": number, "channel": channel, "subject": subject, "body": body,
            "created_at": at.strftime("%Y-%m-%dT%H:%M:00Z"), "requester": requester}


def _name(person: _Person) -> str:
    """Display name of a generated customer."""
    return f"{person.customer['first_name']} {person.customer['last_name']}"


def _age(order: Record, today: date) -> int:
    """How many days ago an order was placed."""
    return (today - date.fromisoformat(order["date"])).days


def _last_shipped(person: _Person, today: date) -> Record | None:
    """The last order the customer placed before the last 4 days, when it is at most 20 days
    old and was shipped (delivered or not): the one that can be stuck in transit."""
    placed = [o for o in person.orders if _age(o, today) >= 4]
    if placed and _age(placed[-1], today) <= 20 and placed[-1]["state"] in ("done", "sent"):
        return placed[-1]
    return None


class _Complaints:
    """Makes the records of the tickets' customers agree with what the tickets say; drawn apart
    from the other data, which stays as it was."""

    def __init__(self, builder: _Builder, seed: int) -> None:
        self.builder = builder
        self.today = builder.today
        self.rng = random.Random(f"{seed}:tickets")

    def tracking(self) -> str:
        """A fresh Colissimo-style tracking number."""
        return f"6A{self.rng.randrange(10**11):011d}"

    def shipped(self, order: Record) -> Record:
        """The order, shipped: in transit with its tracking number, not delivered."""
        order["state"] = "sent"
        order["tracking"] = order["tracking"] or self.tracking()
        return order

    def stuck(self, person: _Person) -> Record:
        """The customer's order stuck in transit: the last one they placed before the last
        few days when that was 4 to 20 days ago, else a new one shipped a week or so ago; and
        their recent bad review (the one their chat refers to) written about it, a little after
        it was shipped."""
        last = _last_shipped(person, self.today)
        if last is not None:
            order = self.shipped(last)
        else:
            rng, day = self.rng, self.today - timedelta(days=self.rng.randint(6, 10))
            order = {
                "customer_id": person.customer["id"], "date": day.isoformat(), "state": "sent",
                "number": self.builder.unique(self.builder.numbers,
                                              lambda: str(rng.randint(100000, 999999))),
                "channel": "web", "tracking": self.tracking(),
                "amount_total": f"{rng.randint(40, 480)}.{rng.choice((0, 50, 90)):02d}",
                "currency": "EUR"}
            person.orders.append(order)
            person.orders.sort(key=lambda o: str(o["date"]))
            self.builder.data.orders.append(order)
        number = order["number"]
        reviews = [r for r in self.builder.data.reviews if r["email"] == person.email]
        for review in reviews:  # no older review says the stuck parcel arrived
            review["text"] = review["text"].replace(f"commande {number}", "commande")
        since = (self.today - timedelta(29)).isoformat()
        recent = [r for r in reviews if r["stars"] <= 2 and r["published_at"] >= since]
        if recent:
            review = max(recent, key=lambda r: str(r["published_at"]))
            shipped = date.fromisoformat(order["date"])
            review.update(
                title="Commande bloquée",
                text=f"Ma commande {number} est bloquée en transit depuis des jours et "
                "personne ne répond à mes messages. Inadmissible.",
                published_at=_moment(self.rng, shipped + timedelta(2),
                                     self.today - timedelta(1)))
        return order

    def awaited(self, people: list[_Person]) -> tuple[_Person, Record]:
        """A customer whose last order was shipped a few days ago and has not arrived."""
        def sent(person: _Person, days: int) -> bool:
            last = person.orders[-1]
            return last["state"] == "sent" and _age(last, self.today) >= days

        person = next((p for p in people if sent(p, 3)),
                      next((p for p in people if sent(p, 0)), people[0]))
        return person, self.shipped(person.orders[-1])


def _tickets(builder: _Builder, people: list[_Person], unhappy: list[_Person],
             times: list[datetime], seed: int) -> list[Record]:
    """The eight sample tickets of the demo helpdesk, one per identification case; what a
    ticket says about an order, that customer's record shows."""
    rng, fake = builder.rng, builder.fake
    complaints = _Complaints(builder, seed)
    # the chat: one of the customers who left a bad review lately, their order stuck
    chatting = next((p for p in unhappy if _last_shipped(p, builder.today)), unhappy[0])
    others = [p for p in people[12:] if p is not chatting and p.orders]
    points = {member[0]: member[3] for member in builder.data.members}
    fan = next((p for p in others if p.card and points[p.card] >= 100),
               next((p for p in others if p.card), others[0]))
    others.remove(fan)
    stranger = builder.number("67", PhoneNumberType.MOBILE)
    handle = f"{ascii_slug(_name(fan)).replace('-', '.')}.{rng.randint(10, 99)}"
    insta = f"@{ascii_slug(fake.first_name_female())}_deco{rng.randint(10, 99)}"
    household = people[10]
    stuck = complaints.stuck(chatting)["number"]
    waiting, sent = complaints.awaited([p for p in others if p is not chatting])
    at = iter(times)
    return [
        _ticket(1001, next(at), "email", "Remboursement de ma commande 997890",
                "Bonjour, je vous relance encore au sujet du remboursement de ma commande "
                "997890. Pouvez-vous me dire où il en est ? Pauline Denève",
                {"name": "Pauline Denève", "email": SAMPLE_EMAIL}),
        _ticket(1002, next(at), "phone", "Appel entrant",
                "Appel de la cliente au sujet d'un remboursement.",
                {"name": "Pauline Denève", "phone": "06 53 88 88 90"}),
        _ticket(1003, next(at), "chat", "Toujours pas de réponse",
                f"Bonjour, j'ai laissé un avis car personne ne me répond. Ma commande {stuck} "
                "est bloquée depuis des jours, que se passe-t-il ?",
                {"name": _name(chatting), "email": chatting.email}),
        _ticket(1004, next(at), "facebook", "Message privé Facebook",
                "Bonjour ! Est-ce que mes points fidélité sont utilisables en magasin ?",
                {"name": _name(fan), "handle": handle, "email": fan.email}),
        _ticket(1005, next(at), "phone", "Appel entrant",
                "Appel d'un numéro inconnu : question produit.",
                {"name": "Appelant inconnu", "phone": format_phone(stranger, 1)}),
        _ticket(1006, next(at), "instagram", "Message Instagram",
                "Coucou, le vase en grès de votre dernière publication est-il encore en stock ?",
                {"name": insta.lstrip("@"), "handle": insta}),
        _ticket(1007, next(at), "email", f"Où en est ma commande {sent['number']} ?",
                f"Bonjour, ma commande {sent['number']} est indiquée expédiée mais je n'ai "
                "rien reçu. Merci de vérifier.", {"name": _name(waiting), "email": waiting.email}),
        _ticket(1008, next(at), "phone", "Appel entrant", "Appel depuis le fixe du foyer : "
                "changement d'adresse de livraison.",
                {"name": "Appel entrant", "phone": format_phone(household.landline or "", 1)}),
    ]


def _build(customers: int = 300, seed: int = 20170805, today: date | None = None,
           now: datetime | None = None) -> _Dataset:
    """Draw the whole demo dataset in memory, for `today` (default: the reference day):
    Pauline first, then the generated customers, then the day's tickets (before `now`, when
    given)."""
    if customers < MIN_CUSTOMERS:
        raise ValueError(f"customers must be at least {MIN_CUSTOMERS}")
    day = today or reference_date()
    builder = _Builder(seed, day)
    data = builder.data
    _sample(data)
    people: list[_Person] = []
    unhappy = builder.rng.sample(range(12, customers - 1), 4)
    for index in range(customers - 1):
        person = builder.person(index, people[10] if index == 11 else None)
        people.append(person)
        data.customers.append(person.customer)
        builder.orders(person)
        builder.membership(person)
        builder.store_purchases(person)
        builder.feedback(person, index in unhappy)
        builder.contacts(person)
    data.pos.sort(key=lambda row: (row[1][6:] + row[1][3:5] + row[1][:2], row[0]))
    data.contacts.sort(key=lambda contact: (contact["at"], contact["email"]))
    data.tickets = _tickets(builder, people, [people[i] for i in unhappy],
                            _ticket_times(day, now), seed)
    _agenda_and_documents(data, seed, day)
    _campaigns(data, seed, day)
    _consents(data, seed, day)
    return data


# Pauline's next appointment and the kinds of appointment others book (the ERP's agenda)
_SAMPLE_APPOINTMENT: Record = {"at": "2019-03-02T14:30:00Z", "title": "Essayage canapé",
                               "place": "Paris Rivoli", "status": "planned"}
APPOINTMENTS = ("Essayage", "Livraison et montage", "Conseil déco", "Reprise d'un article")


def _agenda_and_documents(data: _Dataset, seed: int, today: date) -> None:
    """An invoice for every web order, and an appointment for about one customer in five
    (from 14 months before `today` to 4 months after: done before it, planned after); drawn
    apart from the other data, which stays as it was."""
    rng = random.Random(f"{seed}:agenda")
    invoices: dict[str, list[Record]] = {}
    for order in data.orders:
        if order["channel"] == "web":
            invoices.setdefault(order["customer_id"], []).append({
                "date": order["date"], "title": f"Facture {order['number']}",
                "kind": "invoice", "order": order["number"]})
    for customer in data.customers:
        customer["documents"] = sorted(invoices.get(customer["id"], []),
                                       key=lambda d: d["date"], reverse=True)
        if customer["id"] == SAMPLE_ID:
            customer["agenda"] = [dict(_SAMPLE_APPOINTMENT)]
        elif rng.random() < 0.2:
            day = _day(rng, today - timedelta(418), today + timedelta(127))
            customer["agenda"] = [{
                "at": f"{day.isoformat()}T{rng.choice((9, 10, 14, 16)):02d}:00:00Z",
                "title": rng.choice(APPOINTMENTS), "place": rng.choice(STORES),
                "status": "done" if day < today else "planned"}]
        else:
            customer["agenda"] = []


# The campaigns Pauline received, as the emailing tool logged them (name, day, channel, subject)
_SAMPLE_CAMPAIGNS = (
    ("Carte Or : vos avantages", "2018-03-15", "SMS",
     "Pauline, 2 bons d'achat vous attendent à Paris Rivoli"),
    ("Black Friday 2018", "2018-11-23", "email", "Black Friday : -30 % sur tout le salon"),
    ("Soldes d'hiver 2019", "2019-01-09", "email",
     "Soldes : jusqu'à -50 % sur le linge de maison"),
)
# The brand's campaigns, one every four weeks (name, channel, subject)
CAMPAIGNS = (
    ("Nouvelle collection", "email", "La nouvelle collection est arrivée"),
    ("Vente privée", "email", "Vente privée : -20 % pour nos clients fidèles"),
    ("Relance fidélité", "SMS", "Vos points fidélité expirent bientôt"),
    ("Idées déco", "email", "5 idées pour changer de salon sans tout changer"),
    ("Livraison offerte", "email", "Ce week-end, la livraison est offerte dès 50 €"),
    ("Newsletter", "email", "Les nouveautés du mois en magasin"),
)


def _campaigns(data: _Dataset, seed: int, today: date) -> None:
    """The campaigns each customer received: Pauline's three, and for the others the brand's
    campaigns of the last year sent after they became customers (most to the newsletter's
    subscribers, a few to the others); drawn apart from the other data, which stays as it
    was."""
    rng = random.Random(f"{seed}:campaigns")
    sent = [(today - timedelta(days=9 + 28 * n), *CAMPAIGNS[n % len(CAMPAIGNS)])
            for n in range(13)]
    for customer in data.customers:
        email = customer["email"]
        if customer["id"] == SAMPLE_ID:
            data.campaigns += [{"email": email, "name": name, "sent_at": day, "channel": channel,
                                "subject": subject}
                               for name, day, channel, subject in _SAMPLE_CAMPAIGNS]
            continue
        share = 0.8 if "newsletter" in customer["tags"] else 0.15
        for day, name, channel, subject in sent:
            if day.isoformat() > customer["created_at"] and rng.random() < share:
                data.campaigns.append({"email": email, "name": f"{name} {day:%m/%Y}",
                                       "sent_at": day.isoformat(), "channel": channel,
                                       "subject": subject})
    data.campaigns.sort(key=lambda c: (c["sent_at"], c["email"]))


# What Pauline agreed to when her account was opened, in the ERP's words (she received an SMS
# campaign and emails); whether her reviews may be republished, the ERP does not know.
_SAMPLE_CONSENTS: Record = {"newsletter": "opt_in", "newsletter_at": "2014-03-12",
                            "sms": "opt_in", "sms_at": "2014-03-12"}
# the ERP's consents: (its key, the share of customers it knows about, the share saying yes)
CONSENTS = (("newsletter", 0.7, 0.6), ("sms", 0.5, 0.4), ("reviews", 0.3, 0.7))


def _consents(data: _Dataset, seed: int, today: date) -> None:
    """What each customer agreed to, as the ERP keeps it (`opt_in`/`opt_out` and the day it
    was said, after they became customers); the newsletter's subscribers opted in to it.
    Drawn apart from the other data, which stays as it was."""
    rng = random.Random(f"{seed}:consents")
    for customer in data.customers:
        if customer["id"] == SAMPLE_ID:
            customer["consents"] = dict(_SAMPLE_CONSENTS)
            continue
        said: Record = {}
        start = date.fromisoformat(customer["created_at"])
        for key, known, yes in CONSENTS:
            subscriber = key == "newsletter" and "newsletter" in customer["tags"]
            if subscriber or rng.random() < known:
                said[key] = "opt_in" if subscriber or rng.random() < yes else "opt_out"
                said[f"{key}_at"] = _day(rng, start, today).isoformat()
        customer["consents"] = said


def _write_json(path: Path, payload: Any) -> None:
    """Write JSON the same way every time: sorted keys, UTF-8, trailing newline."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=2)
    path.write_text(text + "\n", encoding="utf-8")


def _write_loyalty(path: Path, members: list[tuple[Any, ...]]) -> None:
    """Rebuild the loyalty SQLite database from scratch."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE members(card TEXT PRIMARY KEY, email TEXT, phone_e164 TEXT, "
                   "points INTEGER, tier TEXT, vouchers_used INTEGER, home_store TEXT, "
                   "joined TEXT)")
        db.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?, ?, ?)", members)
    db.close()


def reference_date() -> date:
    """The day the demo data are for: CONNECTOR_DEMO_TODAY (YYYY-MM-DD) when set, else today."""
    raw = os.environ.get(TODAY_VAR, "").strip()
    if not raw:
        return date.today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{TODAY_VAR}={raw!r} is not a day (YYYY-MM-DD)") from None


def _reference_at_import() -> date:
    """The reference day when this module is imported (an unreadable pin is reported by
    generate() and ensure(), not on import)."""
    try:
        return reference_date()
    except ValueError:
        return date.today()


# The reference day as of import, for scripts that read it beside ensure() (bench/bench_flags.py);
# generate() and ensure() read the day when they are called.
REFERENCE_DATE = _reference_at_import()


def _day_and_clock(today: date | None) -> tuple[date, datetime | None]:
    """The day to generate for, and the clock that keeps its tickets in the past: none when the
    day is pinned (given, or by CONNECTOR_DEMO_TODAY), so that the output is the same."""
    if today is not None or os.environ.get(TODAY_VAR, "").strip():
        return today or reference_date(), None
    return date.today(), datetime.now(UTC)


def _marker(customers: int, seed: int, day: date) -> str:
    """Content of the marker that says which data the directory holds, and for which day."""
    return f"demo-generator {GENERATOR_VERSION} customers={customers} seed={seed} day={day}\n"


def generate(out_dir: Path, customers: int = 300, seed: int = 20170805,
             today: date | None = None) -> Path:
    """Write every demo file into out_dir for `today` (default: CONNECTOR_DEMO_TODAY, else
    today), identically for the same arguments and day."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).unlink(missing_ok=True)
    day, now = _day_and_clock(today)
    data = _build(customers, seed, day, now)
    _write_json(out_dir / "erp.json", {"customers": data.customers, "orders": data.orders})
    with (out_dir / "pos.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(["ticket", "date", "store", "total", "email", "phone", "loyalty_card"])
        writer.writerows(data.pos)
    _write_loyalty(out_dir / "loyalty.sqlite", data.members)
    _write_json(out_dir / "feedback.json", {"reviews": data.reviews, "surveys": data.surveys,
                                            "campaigns": data.campaigns})
    lines = [json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n" for c in data.contacts]
    (out_dir / "contacts.jsonl").write_text("".join(lines), encoding="utf-8")
    _write_json(out_dir / "tickets.json", data.tickets)
    (out_dir / MARKER).write_text(_marker(customers, seed, day), encoding="utf-8")
    return out_dir


def ensure(out_dir: Path, customers: int = 300, seed: int = 20170805,
           today: date | None = None) -> Path:
    """Generate the demo data unless out_dir already holds this generator's current output for
    that day (default: CONNECTOR_DEMO_TODAY, else today): one small file read when it does."""
    marker = Path(out_dir) / MARKER
    wanted = _marker(customers, seed, today or reference_date())
    if marker.is_file() and marker.read_text(encoding="utf-8") == wanted:
        return Path(out_dir)
    return generate(out_dir, customers, seed, today)


def main(argv: list[str] | None = None) -> None:
    """Command line: python -m demo.generate --out var/demo [--customers N] [--today DAY]."""
    parser = argparse.ArgumentParser(description="Generate the connector's demo data.")
    parser.add_argument("--out", type=Path, default=Path("var/demo"))
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20170805)
    parser.add_argument("--today", type=date.fromisoformat, default=None,
                        help=f"the day to generate for (YYYY-MM-DD; default: ${TODAY_VAR}, "
                        "else today)")
    args = parser.parse_args(argv)
    print(generate(args.out, args.customers, args.seed, args.today))


if __name__ == "__main__":
    main()
