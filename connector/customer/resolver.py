"""Who is this? Identifiers resolved to one person through the link store, by the identity model
of `customer.identity`: only an identifier that is not shared names a person by itself, a value
several people hold is ambiguous, and what the sources found is settled onto one person without
ever joining two (two different unique ids keep them apart)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from connector.customer.identity import (
    NOT_WITNESSED,
    IdentityRules,
    Pair,
    Record,
    conflicts,
    evidence,
    uniques,
)
from connector.customer.links import Link, LinkStore, Person
from connector.identifiers import PERSONAL_KINDS, Identifiers, fold_name, name_key

__all__ = ["Facts", "IdentityRules", "Resolution", "Resolver", "new_customer_id",
           "to_identifiers"]
Found = tuple[str, str, str | None]  # (kind, value, source that taught it)
PERSON_OF_LOOKUP = "\x00known"  # what a known person or a lookup's records say, as one record
CONFIRM_EVERY = dt.timedelta(days=1)  # a link's confirmation is written at most this often


@dataclass(frozen=True)
class Resolution:
    """What the link store says about some identifiers: the person (`customer_id`) and all
    that is linked to them, or the candidates when several."""

    customer_id: str | None
    identifiers: Identifiers
    matched: list[Link] = field(default_factory=list)
    candidates: list[Person] = field(default_factory=list)

    @property
    def ambiguous(self) -> bool:
        """Several people share the identifiers given, and nothing tells them apart."""
        return bool(self.candidates)


@dataclass(frozen=True)
class Facts:
    """What is remembered to tell a person apart from others sharing an identifier."""

    display_name: str | None = None
    postcode: str | None = None
    city: str | None = None
    birth_year: int | None = None
    last_order: dt.date | None = None


def to_identifiers(pairs: Iterable[tuple[str, str]]) -> Identifiers:
    """Identifiers from (kind, value) pairs, a source's name standing for its own ids."""
    by_kind: dict[str, list[str]] = {kind: [] for kind in PERSONAL_KINDS}
    externals: list[tuple[str, str]] = []
    for kind, value in pairs:
        if kind in by_kind:
            by_kind[kind].append(value)
        else:
            externals.append((kind, value))
    return Identifiers(tuple(dict.fromkeys(by_kind["email"])),
                       tuple(dict.fromkeys(by_kind["phone"])),
                       tuple(dict.fromkeys(by_kind["card"])),
                       tuple(dict.fromkeys(by_kind["handle"])),
                       tuple(dict.fromkeys(externals)))


class Resolver:
    """Resolves identifiers to people and settles what sources found onto one person."""

    def __init__(self, store: LinkStore, rules: IdentityRules) -> None:
        self.store = store
        self.rules = rules

    # ---- reading ------------------------------------------------------------------------
    def resolve(self, ids: Identifiers) -> Resolution:
        """The person these identifiers name, the candidates when several, or nobody known."""
        owners = self._trusted(self.store.owners(ids.pairs()))
        people = {pair: {link.customer_id for link in found} for pair, found in owners.items()}
        pinning = {pair: who for pair, who in people.items()
                   if len(who) == 1 and not self.rules.shared_kind(*pair)}
        if pinning:
            named = self._most_trusted(pinning)
            if len(named) > 1:  # the ticket's own identifiers name different people
                return self._candidates(ids, owners, named)
            return self.person(next(iter(named)), ids)
        held = [who for who in people.values() if len(who) > 1]
        if held:
            common = set.intersection(*held)
            return self._candidates(ids, owners, common or set.union(*held))
        return Resolution(None, ids)

    def person(self, customer_id: str, given: Identifiers | None = None) -> Resolution:
        """A known person: every identifier linked to them (plus those given)."""
        mine = self.store.links_of(customer_id)
        given = given or Identifiers()
        wanted = set(given.pairs())
        ids = given.merged(to_identifiers((link.kind, link.value) for link in mine))
        matched = [link for link in mine if (link.kind, link.value) in wanted]
        return Resolution(customer_id, ids, matched)

    def own_query(self, resolved: Resolution, given: Identifiers) -> Identifiers:
        """What to ask the sources with for a known person: the ticket's identifiers that are
        not shared, and the person's own (never a value they share with others)."""
        linked = [pair for pair in resolved.identifiers.pairs() if pair not in given.pairs()]
        held = self.store.owners(linked)
        own = [pair for pair in linked if not self.shared(*pair, len(held.get(pair, [])))]
        return self.query_for(given).merged(to_identifiers(own))

    def people_named(self, ids: Identifiers) -> list[str]:
        """The person these identifiers name, or every candidate when several."""
        resolved = self.resolve(ids)
        if resolved.customer_id:
            return [resolved.customer_id]
        return [person.customer_id for person in resolved.candidates]

    def shared(self, kind: str, value: str, owners: int = 0) -> bool:
        """Whether a value is shared: by its kind, or because several people hold it."""
        return owners > 1 or self.rules.shared_kind(kind, value)

    def query_for(self, given: Identifiers) -> Identifiers:
        """The ticket's identifiers to ask the sources with: those not shared by kind when
        there are any (a household's landline only when nothing better is known)."""
        own = [pair for pair in given.pairs() if not self.rules.shared_kind(*pair)]
        return to_identifiers(own) if own else given

    def _trusted(self, owners: dict[Pair, list[Link]]) -> dict[Pair, list[Link]]:
        """The links still trusted: confirmed by a source within `link_max_age_days`, or not
        a source's claim at all (an agent's choice)."""
        since = self.rules.trusted_since(dt.datetime.now(dt.UTC))
        return {pair: [link for link in found
                       if link.source in NOT_WITNESSED or _aware(link.confirmed_at) >= since]
                for pair, found in owners.items()}

    def _most_trusted(self, pinning: dict[Pair, set[str]]) -> set[str]:
        """The person the ticket's identifiers name; several when they disagree, unless the
        most trusted of them is a unique id (a card, a source's own id), which decides."""
        for kind in self.rules.trust:
            ranked = {(k, v): who for (k, v), who in pinning.items() if _is(k, kind)}
            if ranked:
                first = set.union(*ranked.values())
                if len(first) == 1 and all(self.rules.is_unique(k) for k, _ in ranked):
                    return first
                break
        return set.union(*pinning.values())

    def _candidates(self, ids: Identifiers, owners: dict[Pair, list[Link]],
                    people: set[str]) -> Resolution:
        matched = [link for found in owners.values() for link in found
                   if link.customer_id in people]
        return Resolution(None, ids, matched, self.store.people(people))

    # ---- learning -----------------------------------------------------------------------
    def settle(self, person: str | None, records: Sequence[Record], extra: Sequence[Found],
               facts: Facts, actor: str = "lookup") -> str:
        """Settle one person's records: who they are (the person given, or the one their ids
        already name, merged with records of theirs that agree, or someone new), link what
        the records claim, withdraw what their sources no longer say, remember the facts."""
        found = [(k, v, r.source) for r in records for k, v in r.stated()] + list(extra)
        mine = uniques(self.rules, ((k, v) for k, v, _ in found))
        target = person if person and not conflicts(mine, self._stored_unique(person)) else None
        apart: list[str] = []
        for other in self._same_people(found, facts.display_name, target):
            theirs = self._stored_unique(other)
            if conflicts(mine, theirs):
                apart.append(other)
            elif target is None:
                target = other
            elif not conflicts(self._stored_unique(target), theirs):
                self.store.merge(other, target, actor)
        if target is None and not found:  # answers with no id of their own, nothing else:
            return unanchored_id(p for r in records for p in r.asked)  # nothing to link
        target = target or self._adopted(found) or new_customer_id(found)
        held = self.store.links_of(target)
        unsaid = self._unsaid(found, held)
        if unsaid:  # a warm lookup of a known person writes nothing
            self.store.link(target, unsaid)
        for record in records:
            self._withdraw(target, record, held, actor)
            self._taken_back(record, apart, actor)
        self._remember(target, facts)
        return target

    def _adopted(self, found: Sequence[Found]) -> str | None:
        """The customer only id-less answers knew until now, by an identifier these records
        state that no one holds and no household shares by its kind, when something is kept
        under them (notes, requests): this new person takes their id on, so what was kept
        stays on the record (docs/identity.md)."""
        personal = [(k, v) for k, v, _ in found
                    if k in PERSONAL_KINDS and not self.rules.shared_kind(k, v)]
        free = [pair for pair, links in self.store.owners(personal).items() if not links]
        kept = self.store.holding(unanchored_ids(free)) if free else []
        return kept[0] if kept else None

    def unanchored(self, ids: Identifiers) -> list[str]:
        """The people known only from answers without an id of their own that one of these
        identifiers found (`unanchored_id`), for whom something is kept (a note, a contact):
        what `forget` erases besides the people the identifiers name."""
        return self.store.holding(unanchored_ids(ids.pairs()))

    def _unsaid(self, found: Sequence[Found], held: Sequence[Link]) -> list[Found]:
        """What is not linked yet, or a source has not confirmed for a day."""
        since = dt.datetime.now(dt.UTC) - CONFIRM_EVERY
        known = {(link.kind, link.value): link for link in held}
        return [(k, v, s) for k, v, s in found if (k, v) not in known
                or (s is not None and _aware(known[(k, v)].confirmed_at) < since)]

    def _remember(self, target: str, facts: Facts) -> None:
        """Keep the facts that tell this person apart, when they changed."""
        kept = self.store.people([target])[0]
        if (kept.display_name, kept.postcode, kept.city, kept.birth_year, kept.last_order) == (
                facts.display_name, facts.postcode, facts.city, facts.birth_year,
                facts.last_order):
            return
        key = name_key(facts.display_name) if facts.display_name else None  # what search reads
        self.store.remember(target, facts.display_name, key or None, facts.postcode,
                            city=facts.city, birth_year=facts.birth_year,
                            last_order=facts.last_order)

    def learn(self, resolved: Resolution, found: Sequence[Found], display_name: str | None,
              postcode: str | None, actor: str = "lookup") -> str:
        """Link identifiers one source taught (a search's or a candidate list's record)."""
        return self.settle(resolved.customer_id, [], found, Facts(display_name, postcode), actor)

    def _same_people(self, found: Sequence[Found], name: str | None,
                     target: str | None) -> list[str]:
        """The people already known by these records' ids: the holders of their unique ids,
        and the only holder of a value no one else holds when what the store knows of them is
        evidence enough (`identity.evidence`: names and phones that do not differ)."""
        unique = [(k, v) for k, v, _ in found if self.rules.is_unique(k)]
        personal = [(k, v) for k, v, _ in found
                    if not self.rules.is_unique(k) and not self.rules.shared_kind(k, v)]
        raw = self.store.owners(unique + personal)
        held = self._trusted(raw)  # a unique id is a person's however old the link
        people = {link.customer_id for pair in unique for link in raw[pair]}
        alone = {links[0].customer_id for pair in personal
                 if len(links := held[pair]) == 1} - people - {target}
        if alone:
            mine = Record(PERSON_OF_LOOKUP, None, tuple((k, v) for k, v, _ in found),
                          fold_name(name) if name else None)
            for person in self.store.people(alone):
                theirs = Record(PERSON_OF_LOOKUP, None, tuple(
                    (link.kind, link.value) for link in self.store.links_of(person.customer_id)),
                    fold_name(person.display_name) if person.display_name else None)
                strength = evidence(mine, theirs,
                                    lambda pair: self.shared(*pair, len(raw.get(pair, []))))
                both = uniques(self.rules, mine.pairs()) and uniques(self.rules, theirs.pairs())
                if strength >= (2 if both else 1):
                    people.add(person.customer_id)
        return sorted(people - {target})

    def _withdraw(self, person: str, record: Record, held: Sequence[Link], actor: str) -> None:
        """A source that answers for a record it identifies no longer vouches for what it
        stopped saying about it (a corrected typo, a number given to someone else)."""
        if not record.external_id:
            return
        said = set(record.stated())
        stale = [(link.kind, link.value) for link in held
                 if link.source == record.source and (link.kind, link.value) not in said
                 and link.kind != record.source]
        if stale:
            self.store.withdraw(person, stale, record.source, actor)

    def _taken_back(self, record: Record, others: list[str], actor: str) -> None:
        """A record is one person: when it now belongs with someone else (a card re-registered
        to another customer), the people it was linked to before lose its ids."""
        if not record.external_id or not others:
            return
        own = [(k, v) for k, v in record.stated() if self.rules.is_unique(k)]
        for other in others:
            held = [(link.kind, link.value) for link in self.store.links_of(other)
                    if (link.kind, link.value) in own and link.source == record.source]
            if held:
                self.store.withdraw(other, held, record.source, actor)

    def _stored_unique(self, customer_id: str) -> dict[str, set[str]]:
        return uniques(self.rules, ((link.kind, link.value)
                                    for link in self.store.links_of(customer_id)))


def _is(stored_kind: str, rule_kind: str) -> bool:
    return stored_kind == rule_kind or (rule_kind == "external"
                                        and stored_kind not in PERSONAL_KINDS)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def unanchored_id(asked: Iterable[Pair]) -> str:
    """The id of a person only answers without an id of their own know (a contact history, a
    review feed): the same at every opening, from the identifier that found them (nothing is
    linked to them: no source said it is theirs; `Resolver.unanchored` finds them again)."""
    return new_customer_id([(kind, value, None) for kind, value in dict.fromkeys(asked)])


def unanchored_ids(pairs: Iterable[Pair]) -> list[str]:
    """The ids a customer only id-less answers know may have, one for each identifier that
    could have found them (`unanchored_id` of that identifier alone)."""
    return list(dict.fromkeys(unanchored_id([pair]) for pair in pairs))


def new_customer_id(found: Sequence[Found]) -> str:
    """A person's id, from their most telling identifier (a source's own id first)."""
    ordered = sorted(found, key=lambda f: (f[0] in PERSONAL_KINDS, f[0], f[1]))
    anchor = f"{ordered[0][0]}:{ordered[0][1]}" if ordered else uuid.uuid4().hex  # no anchor
    return "cus_" + hashlib.sha256(anchor.encode()).hexdigest()[:20]
