"""`connector identity audit`: people in the link store holding two different values of a
unique kind (two ERP ids, two cards) — two people merged by an older release or by hand — and
their repair: each extra value split off to a person of its own, what the merged person held
besides checked with the sources again before it is trusted; and names whose search key an
earlier release wrote differently, written anew."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update

from connector.customer.identity import IdentityRules
from connector.customer.links import LinkStore, fingerprint
from connector.customer.resolver import new_customer_id
from connector.identifiers import name_key
from connector.store.schema import links, people


@dataclass(frozen=True)
class Conflict:
    """One person holding several values of one unique kind (oldest first)."""

    customer_id: str
    kind: str
    values: tuple[str, ...]

    def describe(self, mark: Callable[[str], str] = fingerprint) -> str:
        """One line for an admin: the person, the kind and the values' fingerprints (`mark`:
        the store's keyed one, as in its audit trail)."""
        shown = ", ".join(f"#{mark(v)}" for v in self.values)
        return f"{self.customer_id}: {len(self.values)} values of {self.kind} ({shown})"


def conflicts_in(store: LinkStore, rules: IdentityRules) -> list[Conflict]:
    """Every person holding two values of a unique kind."""
    held: dict[tuple[str, str], list[str]] = defaultdict(list)
    query = select(links.c.customer_id, links.c.kind, links.c.value).order_by(
        links.c.customer_id, links.c.kind, links.c.learned_at, links.c.value)
    with store.engine.connect() as connection:
        for row in connection.execute(query):
            if rules.is_unique(row.kind):
                held[(row.customer_id, row.kind)].append(row.value)
    return [Conflict(customer, kind, tuple(values))
            for (customer, kind), values in held.items() if len(values) > 1]


def split(store: LinkStore, conflict: Conflict, actor: str) -> list[str]:
    """Give each value but the oldest a person of its own; the people made."""
    made = []
    for value in conflict.values[1:]:
        person = new_customer_id([(conflict.kind, value, conflict.kind)])
        if person == conflict.customer_id:
            person = new_customer_id([(conflict.kind, value + "#split", conflict.kind)])
        store.split_off(conflict.customer_id, conflict.kind, value, person, actor)
        made.append(person)
    return made


def stale_name_keys(store: LinkStore) -> list[tuple[str, str | None]]:
    """People whose stored search key is not their name's key today (written by an earlier
    release): (customer id, the key it should be)."""
    query = select(people.c.customer_id, people.c.display_name, people.c.name_folded)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    wanted = [(r.customer_id, r.name_folded, name_key(r.display_name) or None
               if r.display_name else None) for r in rows]
    return [(customer, key) for customer, held, key in wanted if held != key]


def rekey_names(store: LinkStore, stale: list[tuple[str, str | None]]) -> int:
    """Write each person's search key anew; how many."""
    if stale:
        statement = update(people).where(people.c.customer_id == bindparam("id")).values(
            name_folded=bindparam("key"))
        with store.engine.begin() as connection:
            connection.execute(statement, [{"id": c, "key": k} for c, k in stale])
    return len(stale)
