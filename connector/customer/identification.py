"""One lookup's identification: ask the sources with the identifiers that name the customer,
group what they answer into people, ask again with what the customer's own records taught,
and settle the customer (or the candidates the agent chooses among) in the link store."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from connector.customer.answers import (
    PERSON,
    Outcome,
    SharedTest,
    anchored,
    candidate_of,
    facts,
    group,
    listed_as,
    person_record,
    record_of,
)
from connector.customer.identity import Record
from connector.customer.links import Link, Person
from connector.customer.resolver import Facts, Resolution, Resolver, to_identifiers
from connector.identifiers import Identifiers
from connector.models import Candidate, SourceState, SourceStatus
from connector.sources.base import SourceCandidate, SourceResult

MAX_CANDIDATE_READS = 8  # candidates of a source's list read one by one to tell them apart
SHARED_ONLY = "found only through an identifier other people share: not shown"
NOT_THEIRS = "its record is someone else's: not shown"


class Asker(Protocol):
    """What identification needs of the profile assembler."""

    resolver: Resolver
    region: str

    @property
    def source_names(self) -> list[str]: ...

    def lookup_kinds(self, name: str) -> list[str]: ...

    def fan_out(self, names: list[str], ids: Identifiers) -> dict[str, Outcome]: ...


@dataclass
class Identified:
    """Who the lookup found: one customer and their sources' answers, or candidates."""

    customer_id: str
    results: dict[str, SourceResult]
    statuses: dict[str, SourceStatus]
    links: list[Link] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)


class Identification:
    """One lookup's identification (see the module's docstring)."""

    def __init__(self, asker: Asker, given: Identifiers, resolved: Resolution,
                 chosen: bool) -> None:
        self.asker = asker
        self.resolver = asker.resolver
        self.given = given
        self.resolved = resolved
        self.person = resolved.customer_id
        # the person is certain (chosen by the agent, or named by a card or a source's id):
        # ask with their own ids; otherwise with the ticket's, to see who else they fit
        self.strong = chosen or (self.person is not None and any(
            self.resolver.rules.is_unique(kind) for kind, _ in given.pairs()))
        self.chosen = chosen
        self.results: dict[Record, SourceResult] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.notes: dict[str, str] = {}

    def run(self) -> Identified | None:
        """The customer or the candidates; None when a link this resolution rested on was
        withdrawn by a source on the way (the lookup is then made again)."""
        if self.resolved.ambiguous:
            return self._held_in_store()
        query = (self.resolver.own_query(self.resolved, self.given) if self.strong
                 else self.resolver.query_for(self.given))
        records, several = self._ask(list(self.asker.source_names), query)
        base = [person_record(self.resolved.identifiers, self._name())] if self.person else []
        shared = self._shared(base + records)  # one look at the store for the whole wave
        groups = group(self.resolver.rules, base + records, shared)
        mine, others = self._split(groups, base, shared)
        if self.person and not self.strong and (others or several) and self._verify():
            return None  # the ticket's identifier is no longer the person's: again, afresh
        if several and not self.strong:
            others += [[Record(name, c.external_id, tuple(query.pairs()))]
                       for name, found in several.items() for c in found]
        if others and not self.strong:
            return self._ambiguous(([mine] if mine else []) + others)
        for group_ in others:
            for record in group_:
                self.notes[record.source] = NOT_THEIRS
        for name in several:
            self.notes[name] = f"{len(several[name])} customers match: not shown"
        if mine is None:
            return Identified("", {}, self._statuses([]))
        mine = self._second_wave(mine, query, shared)
        return self._settle(mine)

    # ---- asking -------------------------------------------------------------------------
    def _name(self) -> str | None:
        known = self.resolver.store.people([self.person]) if self.person else []
        return known[0].display_name if known else None

    def _ask(self, names: list[str], query: Identifiers
             ) -> tuple[list[Record], dict[str, list[SourceCandidate]]]:
        outcomes = self.asker.fan_out(names, query)
        self.outcomes.update(outcomes)
        records: list[Record] = []
        several: dict[str, list[SourceCandidate]] = {}
        for name, outcome in outcomes.items():
            result = outcome.result
            if result is None or not result.found:
                continue
            if result.candidates:
                several[name] = list(result.candidates)
                continue
            kinds = self.asker.lookup_kinds(name)
            asked = [(k, v) for k, v in query.pairs() if k in kinds]
            record = record_of(name, result, self.asker.region, asked)
            self.results[record] = result
            records.append(record)
        return records, several

    def _shared(self, records: Iterable[Record]) -> SharedTest:
        pairs = list(dict.fromkeys(p for r in records for p in r.pairs()))
        held = self.resolver.store.owners(pairs)
        owners = {pair: len({link.customer_id for link in links}) for pair, links in held.items()}
        return SharedTest(self.resolver, owners)

    def _split(self, groups: list[list[Record]], base: list[Record], shared: SharedTest
               ) -> tuple[list[Record] | None, list[list[Record]]]:
        """The customer's group, and the groups of other people (a group of records that
        identify nobody, found through a shared value only, is neither)."""
        rules = self.resolver.rules
        mine: list[Record] | None
        if base:
            mine = next(g for g in groups if base[0] in g)
        else:
            real = [g for g in groups if any(anchored(rules, r) for r in g)]
            loose = [g for g in groups if g not in real
                     and any(not shared(p) for r in g for p in r.pairs())]
            mine = real[0] if len(real) == 1 else (loose[0] if not real and loose else None)
            if len(real) > 1:
                return None, real
        others = [g for g in groups if g is not mine and any(anchored(rules, r) for r in g)]
        for g in groups:
            if g is not mine and g not in others:
                for record in g:
                    self.notes[record.source] = SHARED_ONLY
        return mine, others

    def _second_wave(self, mine: list[Record], query: Identifiers,
                     test: SharedTest) -> list[Record]:
        """Ask the sources that did not answer for the customer with what their own records
        taught (never a shared value); an answer joins only on evidence, never by default."""
        asked = set(query.pairs())
        learned = [p for r in mine for p in r.pairs() if p not in asked and not test(p)]
        answered = {r.source for r in mine}
        retry = [n for n in self.asker.source_names if n not in answered and n in self.outcomes
                 and (self.outcomes[n].status.status == SourceState.NOT_FOUND
                      or n in self.notes)]
        if not learned or not retry:
            return mine
        kept = [p for p in query.pairs() if not test(p)]
        records, several = self._ask(retry, to_identifiers(kept + learned))
        regrouped = group(self.resolver.rules, mine + records, self._shared(mine + records))
        home = next(g for g in regrouped if mine[0] in g)
        for record in records:
            if record not in home:
                self.notes[record.source] = NOT_THEIRS
        for name in several:
            self.notes.setdefault(name, f"{len(several[name])} customers match: not shown")
        return home

    # ---- settling -----------------------------------------------------------------------
    def _settle(self, mine: list[Record]) -> Identified | None:
        records = [r for r in mine if r in self.results]
        results = {r.source: self.results[r] for r in records}
        who = self.resolver.settle(self.person, records, [], facts(results.values()))
        if self.person and not self.chosen and self._withdrawn(who):
            return None
        return Identified(who, results, self._statuses(records), self.resolved.matched)

    def _verify(self, person: str | None = None) -> bool:
        """Before showing a known person beside others sharing the ticket's identifier, ask
        the sources with the person's own ids whether it is still theirs; whether a link of
        the ticket's was withdrawn on the way."""
        person = person or self.person or ""
        rules = self.resolver.rules
        mine = self.resolver.store.links_of(person)
        own = to_identifiers((link.kind, link.value) for link in mine if rules.is_unique(link.kind))
        if not own:
            return False
        outcomes = self.asker.fan_out(list(self.asker.source_names), own)
        records, results = [], []
        for name, outcome in outcomes.items():
            result = outcome.result
            if result is not None and result.found and not result.candidates:
                records.append(record_of(name, result, self.asker.region, []))
                results.append(result)
        given = set(self.given.pairs())
        named = {(link.kind, link.value) for link in mine} & given
        self.resolver.settle(person, records, [], facts(results))
        return bool(named - {(link.kind, link.value)
                             for link in self.resolver.store.links_of(person)})

    def _withdrawn(self, who: str) -> bool:
        """Whether an identifier of the ticket that named this person no longer does."""
        named = {(link.kind, link.value) for link in self.resolved.matched}
        now = {(link.kind, link.value) for link in self.resolver.store.links_of(who)}
        return bool(named - now)

    def _held_in_store(self) -> Identified | None:
        """The ticket's identifiers are held by several people in the store: ask the sources
        too (they may know more people sharing it, or that one of those held it once only),
        and show everyone it still fits."""
        query = self.resolver.query_for(self.given)
        records, several = self._ask(list(self.asker.source_names), query)
        rules = self.resolver.rules
        groups = group(rules, records, self._shared(records))
        real = [g for g in groups if any(anchored(rules, r) for r in g)]
        listed = [[Record(name, c.external_id, tuple(query.pairs()))]
                  for name, found in several.items() for c in found]
        ids = [p for g in real + listed for r in g for p in r.stated() if rules.is_unique(p[0])]
        seen = {link.customer_id for links in self.resolver.store.owners(ids).values()
                for link in links}
        unseen = [p.customer_id for p in self.resolved.candidates if p.customer_id not in seen]
        if any([self._verify(person) for person in unseen]):
            return None  # a link only its past held: look again, afresh
        found = self._ambiguous(real + listed)
        shown = {c.customer_id for c in found.candidates}
        found.candidates += [candidate_of(p, self.resolver.store.links_of(p.customer_id))
                             for p in self.resolved.candidates if p.customer_id not in shown]
        return found

    def _ambiguous(self, groups: list[list[Record]]) -> Identified:
        people: dict[str, Candidate] = {}
        listed = sum(1 for members in groups for r in members if not self._known(r))
        for members in groups:
            if listed <= MAX_CANDIDATE_READS:  # what tells them apart: their own record
                members = [self._read(r) if not self._known(r) else r for r in members]
            records = [r for r in members if r.source != PERSON]
            results = [self.results[r] for r in records if r in self.results]
            found = facts(results)
            if not results:  # a candidate of a source's list: its name and postcode
                found = Facts(*listed_as(members[0], self.outcomes))
            person = self.person if len(records) < len(members) else None
            extra = [(k, v, r.source) for r in records if r not in self.results
                     for k, v in r.pairs()]
            who = self.resolver.settle(person, [r for r in records if r in self.results],
                                       extra, found)
            people[who] = candidate_of(Person(who, found.display_name, found.postcode,
                                            found.city, found.birth_year, found.last_order),
                                     self.resolver.store.links_of(who))
        return Identified("", {}, self._statuses([]), candidates=list(people.values()))

    def _known(self, record: Record) -> bool:
        return record.source == PERSON or record in self.results

    def _read(self, listed: Record) -> Record:
        """A candidate of a source's list, read by its own id: its own record then."""
        own = Identifiers(externals=((listed.source, listed.external_id or ""),))
        outcome = self.asker.fan_out([listed.source], own)[listed.source]
        result = outcome.result
        if result is None or not result.found or result.candidates:
            return listed
        record = record_of(listed.source, result, self.asker.region, listed.claims)
        self.results[record] = result
        return record

    def _statuses(self, records: list[Record]) -> dict[str, SourceStatus]:
        statuses = {}
        kept = {r.source for r in records}
        for name in self.asker.source_names:
            outcome = self.outcomes.get(name)
            status = outcome.status if outcome else SourceStatus(status=SourceState.NOT_FOUND)
            if name in self.notes and name not in kept:
                status = status.model_copy(update={"status": SourceState.NOT_FOUND,
                                                   "error": self.notes[name]})
            statuses[name] = status
        return statuses
