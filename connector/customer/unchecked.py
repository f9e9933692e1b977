"""Who the customer is when the link store cannot be read (down, hung, too slow): what the
sources alone say. The identification is the usual one (`customer.identification`: the same
waves, the same identity model grouping the answers into people) with nothing read from the
store or written to it: a value is shared by its kind only, and nobody is settled. One person
is shown only when the answers are one person, marked "identity not checked"; several people
cannot be told apart without the store, and nobody is shown then (never a guess, never two
people merged)."""

from __future__ import annotations

from collections.abc import Iterable

from connector.customer.answers import SharedTest
from connector.customer.identification import Asker, Identification, Identified
from connector.customer.identity import Record
from connector.customer.resolver import Resolution
from connector.identifiers import Identifiers
from connector.models import SourceStatus


class Undecided(Exception):
    """Several people fit the sources' answers, and only the link store tells them apart."""

    def __init__(self, statuses: dict[str, SourceStatus]) -> None:
        super().__init__("several people fit the sources' answers; the link store is needed")
        self.statuses = statuses


class UncheckedIdentification(Identification):
    """One lookup's identification on the sources' answers alone (see the module's docstring):
    `run` gives the customer's answers (an empty customer id: no one was settled), nobody's
    when no source knows them, or raises Undecided."""

    def __init__(self, asker: Asker, given: Identifiers) -> None:
        super().__init__(asker, given, Resolution(None, given), chosen=False)

    def _shared(self, records: Iterable[Record]) -> SharedTest:
        """Shared by its kind only (a household landline): who else holds a value is the
        store's to say."""
        return SharedTest(self.resolver, {})

    def _ambiguous(self, groups: list[list[Record]]) -> Identified:
        raise Undecided(self._statuses([]))

    def _settle(self, mine: list[Record]) -> Identified | None:
        records = [r for r in mine if r in self.results]
        results = {r.source: self.results[r] for r in records}
        return Identified("", results, self._statuses(records))
