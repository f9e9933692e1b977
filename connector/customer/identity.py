"""The identity model (docs/identity.md): what a source's answer proves, what keeps two people
apart, what is shared, and how the records one lookup found are grouped into people.

- A **record** is one source's answer about one customer: one person. The identifiers it
  carries are *claims*, with that source as witness.
- **Unique** kinds (a source's own id, a loyalty card) block a merge: two different values of
  one unique kind are two people, whatever else they share.
- **Shared** values never join two records: a kind the manifest declares shared (landlines by
  default: `landline` is every phone that is not a mobile; `phone` makes mobiles shared too),
  and any value that records of different people claim (a household's email, a switchboard),
  which becomes shared by itself, per value.
- Records join when they share a value that is not shared, or the same full name, and their
  unique ids agree. A lookup whose records make more than one group is ambiguous: the agent
  chooses, nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from pydantic import Field, field_validator

from connector.config import Strict
from connector.identifiers import PERSONAL_KINDS, fold_name

Pair = tuple[str, str]
SHAREABLE = ("email", "phone", "landline", "handle", "card")
# links a person made by hand (an agent's choice) or a helpdesk gave are not sources' claims:
# no source withdraws them and they do not age out
NOT_WITNESSED = (None, "agent", "helpdesk")


class IdentityRules(Strict):
    """How identifiers are trusted: `trust` orders kinds (`external` is any source's own id);
    a person has at most one value of each `unique` kind per source; `shared` kinds are never a
    reason to join two records; a link no source confirmed for `link_max_age_days` is checked
    with the sources again before it is trusted."""

    trust: list[str] = Field(default_factory=lambda: ["external", "card", "email", "phone",
                                                      "handle"])
    unique: list[str] = Field(default_factory=lambda: ["external", "card"])
    shared: list[str] = Field(default_factory=lambda: ["landline"])
    link_max_age_days: int = Field(default=365, ge=1, le=3650)

    @field_validator("shared")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        unknown = [k for k in kinds if k not in SHAREABLE]
        if unknown:
            raise ValueError(f"unknown kind {unknown[0]!r}: use {', '.join(SHAREABLE)}")
        return kinds

    def is_unique(self, kind: str) -> bool:
        """Whether two values of this kind are two people (a source's name: its own ids)."""
        return any(kind == rule or (rule == "external" and kind not in PERSONAL_KINDS)
                   for rule in self.unique)

    def shared_kind(self, kind: str, value: str) -> bool:
        """Whether this identifier is shared by its kind alone (before any evidence)."""
        if kind in self.shared:
            return True
        return kind == "phone" and "landline" in self.shared and not is_mobile(value)

    def trusted_since(self, now: dt.datetime) -> dt.datetime:
        """Links confirmed before this moment are checked again before they are trusted."""
        return now - dt.timedelta(days=self.link_max_age_days)


@lru_cache(maxsize=65536)
def is_mobile(e164: str) -> bool:
    """Whether a normalised phone number is a mobile's (a person's, not a household's)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE


@dataclass(frozen=True)
class Record:
    """One source's answer about one customer: one person, and what it claims about them."""

    source: str
    external_id: str | None
    claims: tuple[Pair, ...] = ()
    name: str | None = None  # folded full name, when the source gives one
    # what an answer with no id of its own (till rows, a review feed) was found with: it ties
    # the answer to the customer, but the source never said it, so it is never linked
    asked: tuple[Pair, ...] = ()

    def stated(self) -> list[Pair]:
        """What the source says about the person, its own id included (kind: its name)."""
        own = [(self.source, self.external_id)] if self.external_id else []
        return own + [pair for pair in self.claims if pair not in own]

    def pairs(self) -> list[Pair]:
        """Every identifier the record is known by: what it states and what found it."""
        stated = self.stated()
        return stated + [pair for pair in self.asked if pair not in stated]


def uniques(rules: IdentityRules, pairs: Iterable[Pair]) -> dict[str, set[str]]:
    """The unique-kind values among these identifiers, by kind."""
    values: dict[str, set[str]] = {}
    for kind, value in pairs:
        if rules.is_unique(kind):
            values.setdefault(kind, set()).add(value)
    return values


def conflicts(a: dict[str, set[str]], b: dict[str, set[str]]) -> bool:
    """Two sets of unique ids that cannot be one person: one kind, no value in common."""
    return any(kind in b and not (values & b[kind]) for kind, values in a.items())


def names_differ(a: str | None, b: str | None) -> bool:
    """Whether two folded full names are two people's: the words of the shorter are not all
    in the longer, an initial standing for any word it begins (`pauline deneve`, `deneve
    pauline marie` and `p. deneve` agree; `jean dupont` and `marie dupont` do not). Unknown
    names never differ."""
    if not a or not b:
        return False
    mine, theirs = sorted((_words(a), _words(b)), key=len)
    if not mine:
        return False
    return not all(any(_same_word(w, t) for t in theirs) for w in mine)


def _words(name: str) -> list[str]:
    return re.findall(r"[^\W_]+", name)


def _same_word(a: str, b: str) -> bool:
    return a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))


def evidence(a: Record, b: Record, shared: Callable[[Pair], bool]) -> int:
    """How strongly two records are one person: each value they share that is no one else's
    (a phone or an id counts twice, an email or a handle once: households share emails far
    more than mobiles), plus one for the same name. 0 (apart) when they share none, their
    names differ, or they share one value only and each has a phone of its own the other
    lacks (a couple's household email, with each spouse's mobile)."""
    agreed = {p for p in a.pairs() if not shared(p)} & set(b.pairs())
    if not agreed or names_differ(a.name, b.name):
        return 0
    if len(agreed) == 1 and phones_differ(a, b, shared):
        return 0
    weight = sum(1 if kind in ("email", "handle") else 2 for kind, _ in agreed)
    return weight + (a.name is not None and a.name == b.name)


def phones_differ(a: Record, b: Record, shared: Callable[[Pair], bool]) -> bool:
    """Whether each record states a phone that is its own and none of the other's."""
    mine = {p for p in a.stated() if p[0] == "phone" and not shared(p)}
    theirs = {p for p in b.stated() if p[0] == "phone" and not shared(p)}
    return bool(mine and theirs and not mine & theirs)


def folded_name(name: str | None) -> str | None:
    """A full name as records are compared by (None when there is none)."""
    return fold_name(name) or None if name else None


def external_identifier(raw: str, sources: Iterable[str]) -> Pair:
    """A source's own id written `source:id` (`erp:C100997`), for one of these sources;
    ValueError saying what is wrong."""
    source, sep, value = raw.strip().partition(":")
    known = sorted(sources)
    if not sep or not value.strip():
        raise ValueError(f"write a source's id as source:id, one of {', '.join(known)}")
    if source not in known:
        raise ValueError(f"no source {source!r}: one of {', '.join(known)}")
    if not value.strip().isprintable():  # a NUL, a line break: no id of any source
        raise ValueError("a source's id holds no control or invisible characters")
    return source, value.strip()
