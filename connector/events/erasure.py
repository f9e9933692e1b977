"""Erasing a person (`connector forget`, `POST /api/v1/customers/forget`): what we keep on them
in the store and the caches, the removal of what we wrote in each helpdesk that holds them
(queued in the erasing transaction: durable before the answer), optionally the suppression of
their identifiers, and the list of the sources that still know them (which we cannot erase)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from connector.customer.links import Erased
from connector.customer.profile import ProfileAssembler
from connector.events.writeback import WriteBackQueue
from connector.helpdesk.config import AdapterConfig
from connector.identifiers import Identifiers, forget_phones


@dataclass
class Forgotten:
    """What one erasure did, in counts (it names nobody): rows erased per table, cached
    answers dropped, helpdesk removals queued, identifiers suppressed, and the declared
    sources that know the person (the admin asks them: we cannot erase there)."""

    customers: int = 0
    erased: dict[str, int] = field(default_factory=dict)
    cache_entries: int = 0
    helpdesk_removals: int = 0
    suppressed: int = 0
    sources: list[str] = field(default_factory=list)

    @property
    def links(self) -> int:
        """How many identity links were erased."""
        return self.erased.get("identity_links", 0)

    def add(self, erased: Erased) -> None:
        """Count one person's erasure in."""
        self.customers += 1
        self.helpdesk_removals += erased.removals
        for table, count in erased.rows.items():
            self.erased[table] = self.erased.get(table, 0) + count


def forget(ids: Identifiers, assembler: ProfileAssembler, queue: WriteBackQueue,
           prefixes: Mapping[str, str], declared: Collection[str], actor: str,
           suppress: bool = False) -> Forgotten:
    """Erase the people these identifiers name (every candidate when several). `prefixes`:
    the helpdesks written back to, each with its tag prefix; `declared`: the manifest's
    sources. With `suppress`, the identifiers given and every one the people held go on the
    suppression list, not learnt again until lifted."""
    resolver = assembler.resolver
    named = resolver.people_named(ids)  # and those only answers with no id of their own knew
    people = named + [p for p in resolver.unanchored(ids) if p not in named]
    everything = ids
    for person in people:
        everything = everything.merged(resolver.person(person).identifiers)
    done = Forgotten()
    if suppress:  # first: a lookup meanwhile learns nothing back
        done.suppressed = resolver.store.suppress(everything.pairs(), actor,
                                                  people[0] if len(people) == 1 else None)
    known: set[str] = set()
    for person in people:
        erased = resolver.store.erase(person, actor, removals=lambda connection, held:
                                      queue.enqueue_removals(connection, held, prefixes))
        done.add(erased)
        known |= erased.sources
    # after: what a lookup cached meanwhile goes too
    done.cache_entries = assembler.invalidate(everything)
    forget_phones()  # the numbers this process remembers normalised
    done.erased = dict(sorted(done.erased.items()))
    done.sources = sorted(known & set(declared))
    return done


def written_to(configs: Mapping[str, AdapterConfig]) -> dict[str, str]:
    """The helpdesks we write back to, each with its tag prefix: where a removal is queued."""
    return {kind: config.write_back.tag_prefix for kind, config in configs.items()
            if config.write_back.enabled}


def summary(done: Forgotten) -> list[str]:
    """What an erasure did, in lines for the admin (counts and source names only)."""
    counts = ", ".join(f"{n} {table}" for table, n in done.erased.items() if n)
    lines = [f"erased {done.customers} customer record(s): {counts or 'no rows'}",
             f"dropped {done.cache_entries} cached answer(s)",
             f"queued {done.helpdesk_removals} removal(s) of our tags and fields in the "
             "helpdesks (sent by the service's worker)"]
    if done.suppressed:
        lines.append(f"suppressed {done.suppressed} identifier(s): not learnt again until "
                     "`connector unsuppress`")
    lines.append("still known to these sources, which connector cannot erase (ask them): "
                 + (", ".join(done.sources) or "none that we know of"))
    return lines
