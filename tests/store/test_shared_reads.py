"""Reads that follow each other with nothing to wait on between them share one pooled
connection (`connector.store.engine.shared_reads`): checked out at the first read, given back
at the end, replaced when lost; nested scopes are the outer one's. On a real SQLite file and a
real PostgreSQL (the `store` fixture: a fresh schema)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text

from connector.customer.links import LinkStore
from connector.store.engine import reading, shared_reads

PAULINE = ("email", "pauline.deneve@easiware.fr")


@contextmanager
def checkouts(store: LinkStore) -> Iterator[list[int]]:
    """How many connections the store's pool lends meanwhile (a list of one count)."""
    lent = [0]

    def counted(*_args: Any) -> None:
        lent[0] += 1

    event.listen(store.engine.pool, "checkout", counted)
    try:
        yield lent
    finally:
        event.remove(store.engine.pool, "checkout", counted)


def read(store: LinkStore) -> int:
    with reading(store.engine) as connection:
        return int(connection.execute(text("SELECT 1")).scalar_one())


def test_reads_in_a_scope_take_one_connection_and_give_it_back(store: LinkStore) -> None:
    with checkouts(store) as lent:
        assert [read(store) for _ in range(4)] == [1, 1, 1, 1]
    assert lent == [4]  # outside a scope: a connection each
    with checkouts(store) as lent:
        with shared_reads():
            assert [read(store) for _ in range(4)] == [1, 1, 1, 1]
            with shared_reads():  # nested: the outer one's connection
                assert read(store) == 1
            assert store.engine.pool.checkedout() == 1
        assert store.engine.pool.checkedout() == 0  # given back at the end
    assert lent == [1]
    with checkouts(store) as lent, shared_reads():
        pass  # nothing read: nothing taken
    assert lent == [0]


def test_a_connection_lost_in_a_scope_is_replaced(store: LinkStore) -> None:
    with checkouts(store) as lent, shared_reads():
        with reading(store.engine) as connection:
            connection.execute(text("SELECT 1"))
            connection.invalidate()  # as a cut socket leaves it
        assert read(store) == 1
        assert store.engine.pool.checkedout() == 1  # the lost one given back, not kept
    assert lent == [2]
    assert store.engine.pool.checkedout() == 0


def test_a_write_in_a_scope_still_takes_a_transaction_of_its_own(store: LinkStore) -> None:
    """Only reads share: a write (`link`) inside the scope is committed on its own, and the
    reads after it see it."""
    with shared_reads():
        assert store.owners([PAULINE]) == {PAULINE: []}
        store.link("cus_1", [(*PAULINE, "erp")])
        assert [link.customer_id for link in store.owners([PAULINE])[PAULINE]] == ["cus_1"]
    assert [link.customer_id for link in store.owners([PAULINE])[PAULINE]] == ["cus_1"]


def test_an_identifier_s_owners_and_the_people_around_them_on_one_connection(
        store: LinkStore) -> None:
    """A lookup's first read of the link store is two statements (the owners, then what it
    asks next about them): one connection lent, not two."""
    store.link("cus_1", [(*PAULINE, "erp"), ("phone", "+33653888890", "erp")])
    with checkouts(store) as lent, store.one_view():
        assert [link.customer_id for link in store.owners([PAULINE])[PAULINE]] == ["cus_1"]
        assert len(store.links_of("cus_1")) == 2  # read around the owners: no statement
    assert lent == [1]
