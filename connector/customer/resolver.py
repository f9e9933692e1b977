"""Who is this? Identifiers resolved to one person through the link store, never two people
merged: the most trusted identifier decides, a shared one is shown as ambiguous, and two
different values of a unique id (an ERP id, a loyalty card) keep two people apart."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import Field

from connector.config import Strict
from connector.customer.links import Link, LinkStore, Person
from connector.identifiers import PERSONAL_KINDS, Identifiers, fold_name

Found = tuple[str, str, str | None]  # (kind, value, source that taught it)


class IdentityRules(Strict):
    """How identifiers are trusted: `trust` orders kinds (`external` is any source's own id);
    a person has at most one value of each `unique` kind per source; `shared` kinds (a
    household's landline, a switchboard) are never a reason to merge two records."""

    trust: list[str] = Field(default_factory=lambda: ["external", "card", "email", "phone",
                                                      "handle"])
    unique: list[str] = Field(default_factory=lambda: ["external", "card"])
    shared: list[str] = Field(default_factory=lambda: ["phone"])


@dataclass(frozen=True)
class Resolution:
    """What the link store says about some identifiers."""

    customer_id: str | None
    identifiers: Identifiers
    matched: list[Link] = field(default_factory=list)
    candidates: list[Person] = field(default_factory=list)

    @property
    def ambiguous(self) -> bool:
        """Several people share the identifiers given, and nothing tells them apart."""
        return bool(self.candidates)


def to_identifiers(pairs: Iterable[tuple[str, str]]) -> Identifiers:
    """Identifiers from (kind, value) pairs, a source's name standing for its own ids."""
    by_kind: dict[str, list[str]] = {kind: [] for kind in PERSONAL_KINDS}
    externals: list[tuple[str, str]] = []
    for kind, value in pairs:
        if kind in by_kind:
            by_kind[kind].append(value)
        else:
            externals.append((kind, value))
    return Identifiers(tuple(by_kind["email"]), tuple(by_kind["phone"]),
                       tuple(by_kind["card"]), tuple(by_kind["handle"]), tuple(externals))


class Resolver:
    """Resolves identifiers to people and learns new links from what sources say."""

    def __init__(self, store: LinkStore, rules: IdentityRules) -> None:
        self.store = store
        self.rules = rules

    def resolve(self, ids: Identifiers) -> Resolution:
        """The person these identifiers name, the candidates when several, or nobody known."""
        owners = self.store.owners(ids.pairs())
        people = {pair: {link.customer_id for link in found} for pair, found in owners.items()}
        chosen = self._choose(people)
        if chosen is None:
            return Resolution(None, ids)
        if isinstance(chosen, set):
            matched = [link for found in owners.values() for link in found]
            return Resolution(None, ids, matched, self.store.people(chosen))
        return self.person(chosen, ids)

    def people_named(self, ids: Identifiers) -> list[str]:
        """The person these identifiers name, or every candidate when several."""
        resolved = self.resolve(ids)
        if resolved.customer_id:
            return [resolved.customer_id]
        return [person.customer_id for person in resolved.candidates]

    def person(self, customer_id: str, given: Identifiers | None = None) -> Resolution:
        """A known person: every identifier linked to them (plus those given)."""
        mine = self.store.links_of(customer_id)
        given = given or Identifiers()
        wanted = set(given.pairs())
        ids = given.merged(to_identifiers((link.kind, link.value) for link in mine))
        matched = [link for link in mine if (link.kind, link.value) in wanted]
        return Resolution(customer_id, ids, matched)

    def _choose(self, people: dict[tuple[str, str], set[str]]) -> str | set[str] | None:
        """One person, a set of candidates, or None; the most trusted identifier decides."""
        known = {pair: owners for pair, owners in people.items() if owners}
        if not known:
            return None
        for kind in self.rules.trust:
            ranked = [owners for (k, _), owners in known.items() if self._is(k, kind)]
            if not ranked:
                continue
            candidates = set.union(*ranked)
            for other in known.values():
                if candidates & other:
                    candidates &= other
            return next(iter(candidates)) if len(candidates) == 1 else candidates
        return None

    def learn(self, resolved: Resolution, found: Sequence[Found], display_name: str | None,
              postcode: str | None, actor: str = "lookup") -> str:
        """Link what a lookup found to its person and return their id. A person whose unique
        ids differ from the lookup's is another person; one that agrees is merged in."""
        known = set(resolved.identifiers.pairs()) if resolved.customer_id else set()
        if known and {(k, v) for k, v, _ in found} <= known:
            return resolved.customer_id  # type: ignore[return-value]  # nothing new to learn
        mine = self._unique_values(found)
        person = resolved.customer_id
        if person is not None and self._conflicts(mine, self._stored_unique(person)):
            person = None
        if person is None:
            anchors = [(k, v) for k, v, _ in found if self._is_unique(k)]
            owners = self.store.owners(anchors)
            ids = {link.customer_id for links in owners.values() for link in links}
            person = next(iter(ids)) if len(ids) == 1 else new_customer_id(found)
        mergeable = [(k, v) for k, v, _ in found if k not in self.rules.shared]
        for links in self.store.owners(mergeable).values():
            for link in links:
                other = link.customer_id
                if other != person and not self._conflicts(mine, self._stored_unique(other)):
                    self.store.merge(other, person, actor)
        self.store.link(person, found)
        folded = fold_name(display_name) if display_name else None
        self.store.remember(person, display_name, folded, postcode)
        return person

    def _is(self, stored_kind: str, rule_kind: str) -> bool:
        return stored_kind == rule_kind or (rule_kind == "external"
                                            and stored_kind not in PERSONAL_KINDS)

    def _is_unique(self, kind: str) -> bool:
        return any(self._is(kind, rule) for rule in self.rules.unique)

    def _unique_values(self, found: Iterable[tuple[str, str, str | None]]) -> dict[str, set[str]]:
        values: dict[str, set[str]] = {}
        for kind, value, *_ in found:
            if self._is_unique(kind):
                values.setdefault(kind, set()).add(value)
        return values

    def _stored_unique(self, customer_id: str) -> dict[str, set[str]]:
        return self._unique_values((link.kind, link.value, link.source)
                                   for link in self.store.links_of(customer_id))

    @staticmethod
    def _conflicts(a: dict[str, set[str]], b: dict[str, set[str]]) -> bool:
        """Two people whose unique ids of one kind differ cannot be one person."""
        return any(kind in b and not (values & b[kind]) for kind, values in a.items())


def new_customer_id(found: Sequence[Found]) -> str:
    """A person's id, from their most telling identifier (a source's own id first)."""
    ordered = sorted(found, key=lambda f: (f[0] in PERSONAL_KINDS, f[0], f[1]))
    anchor = f"{ordered[0][0]}:{ordered[0][1]}" if ordered else "unknown"
    return "cus_" + hashlib.sha256(anchor.encode()).hexdigest()[:20]
