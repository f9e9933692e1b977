"""Search for agents when a contact carries no usable identifier (an anonymous call): by name
(in any order, however spelt: accents, case, particles, hyphens, apostrophes, transliterations),
email, phone in any format, card or postcode."""

from __future__ import annotations

import re
from concurrent.futures import Future

from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolution
from connector.identifiers import InvalidIdentifier, fold_name, identifiers_from, name_key
from connector.models import Candidate
from connector.sources.base import SourceCandidate, SourceError

POSTCODE = re.compile(r"^\d{4,5}$")
PHONE_CHARS = re.compile(r"^[\d\s.+()/-]{8,}$")
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
        found = self.assembler.lookup(ids)
        if found.profile is not None:
            identity = found.profile.identity
            return [Candidate(customer_id=found.profile.customer_id, name=identity.full_name,
                              postcode=identity.address.postcode)]
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
        for name, future in futures.items():
            try:
                matches = future.result(timeout=self.assembler.manifest.sources[name].timeout_s)
            except (SourceError, TimeoutError):
                continue
            for match in matches:
                who = self.assembler.resolver.learn(
                    Resolution(None, identifiers_from(self.assembler.region)),
                    [(name, match.external_id, name)], match.name, match.postcode)
                people.append(Candidate(customer_id=who, name=match.name,
                                        postcode=match.postcode))
        return people
