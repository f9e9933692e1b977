"""What one lookup's source answers say about who is who: each answer made a `Record`, the
records grouped into people by the identity model, and the group that is the customer told
apart from those that only share an identifier with them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from connector.customer.identity import (
    IdentityRules,
    Pair,
    Record,
    conflicts,
    evidence,
    folded_name,
    names_differ,
    uniques,
)
from connector.customer.links import Link, Person
from connector.customer.merge import found_identifiers
from connector.customer.resolver import Facts, Resolver
from connector.identifiers import PERSONAL_KINDS, Identifiers
from connector.models import Candidate, SourceStatus
from connector.sources.base import SourceResult

PERSON = "\x00person"  # the source name of the record standing for a known person


@dataclass
class Outcome:
    """How one source answered for one lookup."""

    result: SourceResult | None
    status: SourceStatus
    from_cache: bool = False
    key: str | None = None  # the cache entry holding the answer
    stored_at: float | None = None  # when that entry was stored (epoch seconds)
    fresh_until: float = 0.0  # and until when it is fresh


def record_of(name: str, result: SourceResult, region: str,
              asked: Iterable[Pair]) -> Record:
    """The record one source's answer describes. An answer without an id of its own (a
    review feed, till rows) claims what it was asked with."""
    claims = [(k, v) for k, v, _ in found_identifiers({name: result}, region) if k != name]
    found_with = tuple(pair for pair in asked if pair not in claims) if not result.external_id \
        else ()
    identity = result.sections.get("identity")
    full = None
    if identity is not None:
        full = identity.full_name or " ".join(
            n for n in (identity.first_name, identity.last_name) if n) or None
    return Record(name, result.external_id, tuple(dict.fromkeys(claims)), folded_name(full),
                  found_with)


def person_record(ids: Identifiers, name: str | None = None) -> Record:
    """A known person, as a record of everything linked to them (and their name)."""
    return Record(PERSON, None, tuple(ids.pairs()), folded_name(name))


def group(rules: IdentityRules, records: list[Record],
          shared: Callable[[Pair], bool]) -> list[list[Record]]:
    """People among the records: two records join on evidence that they are one person (a
    value they share that is no one else's, and names that do not differ), strongest first,
    never across different unique ids. Records with an id of their own join each other first;
    one without (till rows, a review feed) then joins the one person it fits, and never
    bridges two: an email two people's records carry says nothing of which one it is."""
    parent = list(range(len(records)))
    own = [uniques(rules, record.pairs()) for record in records]  # each record's, once

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def members(r: int) -> list[int]:
        return [i for i in range(len(records)) if root(i) == r]

    def held(indexes: list[int]) -> dict[str, set[str]]:
        """The unique-kind values the records together carry, by kind."""
        values: dict[str, set[str]] = {}
        for i in indexes:
            for kind, found in own[i].items():
                values.setdefault(kind, set()).update(found)
        return values

    def apart(x: int, y: int) -> bool:
        mine, theirs = members(x), members(y)
        return (conflicts(held(mine), held(theirs))
                or any(names_differ(records[m].name, records[t].name)
                       for m in mine for t in theirs))

    anchors = [i for i, r in enumerate(records) if anchored(rules, r)]
    edges = [(strength, i, j) for n, i in enumerate(anchors) for j in anchors[n + 1:]
             if (strength := evidence(records[i], records[j], shared)) >= 2]
    for _, i, j in sorted(edges, reverse=True):
        x, y = root(i), root(j)
        if x != y and not apart(x, y):
            parent[y] = x
    loose = [i for i in range(len(records)) if i not in anchors]
    for i in loose:  # onto the one person it fits, if it fits one
        fits = {root(j) for j in anchors if evidence(records[i], records[j], shared)
                and not apart(root(j), i)}
        if len(fits) == 1:
            parent[i] = fits.pop()
    for n, i in enumerate(loose):  # those that fit nobody, together when they agree
        for j in loose[n + 1:]:
            if root(i) == i and root(j) == j and evidence(records[i], records[j], shared):
                parent[j] = i
    roots: dict[int, list[Record]] = {}
    for i, record in enumerate(records):
        roots.setdefault(root(i), []).append(record)
    return list(roots.values())


def anchored(rules: IdentityRules, record: Record) -> bool:
    """Whether a record carries an id that is a person's alone (its source's, a card)."""
    return bool(uniques(rules, record.pairs()))


def facts(results: Iterable[SourceResult]) -> Facts:
    """What tells this person apart from others sharing an identifier with them."""
    name = postcode = city = None
    birth_year = None
    last: dt.date | None = None
    for result in results:
        identity = result.sections.get("identity")
        if identity is not None:
            name = name or identity.full_name or " ".join(
                n for n in (identity.first_name, identity.last_name) if n) or None
            postcode = postcode or identity.address.postcode
            city = city or identity.address.city
            if birth_year is None and identity.birth_date:
                birth_year = identity.birth_date.year
        for kind in ("orders", "store_purchases"):
            dates = [o.date for o in result.sections.get(kind, []) if o.date]
            last = max([*dates, *([last] if last else [])], default=last)
    return Facts(name, postcode, city, birth_year, last)


class SharedTest:
    """Whether a value is shared: by its kind, or because several people hold it."""

    def __init__(self, resolver: Resolver, owners: dict[Pair, int]) -> None:
        self.resolver = resolver
        self.owners = owners

    def __call__(self, pair: Pair) -> bool:
        return self.resolver.shared(pair[0], pair[1], self.owners.get(pair, 0))


def listed_as(record: Record, outcomes: dict[str, Outcome]) -> tuple[str | None, str | None]:
    """The name and postcode a source's list of candidates gives for one of them."""
    outcome = outcomes.get(record.source)
    for candidate in (outcome.result.candidates if outcome and outcome.result else []):
        if candidate.external_id == record.external_id:
            return candidate.name, candidate.postcode
    return None, None


def candidate_of(person: Person, links: list[Link]) -> Candidate:
    """A person as the agent sees them among others: what tells them apart."""
    ids = {link.kind: link.value for link in links if link.kind not in PERSONAL_KINDS}
    return Candidate(customer_id=person.customer_id, name=person.display_name,
                     postcode=person.postcode, city=person.city,
                     birth_year=person.birth_year, last_order=person.last_order,
                     source_ids=ids)
