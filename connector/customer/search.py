"""Search for agents when a contact carries no usable identifier (an anonymous call): by name
(in any order, however spelt: accents, case, particles, hyphens, apostrophes, transliterations),
email, phone in any format, card, postcode, or a source's own customer number (`C100997`,
`erp:C100997`)."""

from __future__ import annotations

import re
from concurrent.futures import Future

from connector.customer.identity import external_identifier
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolution
from connector.identifiers import (
    Identifiers,
    InvalidIdentifier,
    fold_name,
    identifiers_from,
    name_key,
)
from connector.models import Candidate
from connector.sources.base import SourceCandidate, SourceError

POSTCODE = re.compile(r"^\d{4,5}$")
PHONE_CHARS = re.compile(r"^[\d\s.+()/-]{8,}$")
OWN_ID = re.compile(r"^(?=.*\d)[\w.-]{3,40}$")  # a customer number: one word with a digit
MIN_LENGTH = 2
MAX_RESULTS = 20


class SearchError(ValueError):
    """A query that cannot be searched; the message says why."""


class CustomerSearch:
    """Finds people from free text, in the link store and in sources that can search."""

    def __init__(self, assembler: ProfileAssembler) -> None:
        self.assembler = assembler

    def search(self, query: str) -> list[Candidate]:
        """The people matching the query, best first (at most 20)."""
        text = " ".join(query.split())
        if len(text) < MIN_LENGTH:
            raise SearchError(f"type at least {MIN_LENGTH} characters")
        identified = self._by_identifier(text)
        if identified is None and " " not in text:
            identified = self._by_own_id(text)
        if identified is not None:
            return identified
        tokens = text.split(" ")
        postcode = next((t for t in tokens if POSTCODE.match(t)), None)
        # the stored key must contain each word's key, in any order (Pierre-Jean finds Jean-Pierre)
        words = fold_name(" ".join(t for t in tokens if t != postcode)).split()
        name = " ".join(name_key(word) for word in words) or None
        found = {p.customer_id: Candidate(customer_id=p.customer_id, name=p.display_name,
                                          postcode=p.postcode)
                 for p in self.assembler.resolver.store.search_people(name, postcode)}
        for person in self._from_sources(text):
            found.setdefault(person.customer_id, person)
        return sorted(found.values(), key=lambda c: (c.name or "", c.postcode or ""))[
            :MAX_RESULTS]

    def _by_identifier(self, text: str) -> list[Candidate] | None:
        """An email, a phone or a card: the lookup itself (None when the text is none of them)."""
        region = self.assembler.region
        try:
            if "@" in text:
                ids = identifiers_from(region, email=text)
            elif PHONE_CHARS.match(text) and not POSTCODE.match(text):
                ids = identifiers_from(region, phone=text)
            else:
                return None
        except InvalidIdentifier as exc:
            raise SearchError(str(exc)) from exc
        return self._looked_up(ids)

    def _by_own_id(self, text: str) -> list[Candidate] | None:
        """A source's own id (`C100997`, or `erp:C100997`): that source asked for it (None
        when no source knows it, so the text is searched as a name)."""
        sources = self.assembler.manifest.sources
        if ":" in text and text.split(":", 1)[0] in sources:
            try:
                pairs = [external_identifier(text, sources)]
            except ValueError:
                return None
        elif OWN_ID.match(text) and not POSTCODE.match(text):
            pairs = [(name, text) for name in sources if "external" in
                     (getattr(sources[name], "lookup_by", None) or [])]
        else:
            return None
        found = self._looked_up(Identifiers(externals=tuple(pairs))) if pairs else []
        return found or None

    def _looked_up(self, ids: Identifiers) -> list[Candidate]:
        found = self.assembler.lookup(ids)
        if found.profile is not None:
            identity = found.profile.identity
            return [Candidate(customer_id=found.profile.customer_id, name=identity.full_name,
                              postcode=identity.address.postcode,
                              source_ids=identity.external_ids)]
        return found.candidates

    def _from_sources(self, text: str) -> list[Candidate]:
        """Sources that declare a search, asked in parallel within their guards and timeouts."""
        searchers = {name: source for name, source in self.assembler.sources.items()
                     if source.searchable}
        futures: dict[str, Future[list[SourceCandidate]]] = {
            name: self.assembler.pool.submit(
                self.assembler.guards[name].run, lambda s=source: s.search(text))
            for name, source in searchers.items()}
        people = []
        store = self.assembler.resolver.store
        for name, future in futures.items():
            try:
                matches = future.result(timeout=self.assembler.manifest.sources[name].timeout_s)
            except (SourceError, TimeoutError):
                continue
            erased = store.suppressed([(name, match.external_id) for match in matches])
            for match in matches:
                if (name, match.external_id) in erased:  # erased at their request: not shown
                    continue  # nor learnt again
                who = self.assembler.resolver.learn(
                    Resolution(None, identifiers_from(self.assembler.region)),
                    [(name, match.external_id, name)], match.name, match.postcode)
                people.append(Candidate(customer_id=who, name=match.name,
                                        postcode=match.postcode))
        return people
