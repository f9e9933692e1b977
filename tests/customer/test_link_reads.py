"""What a lookup reads of the link store (connector/customer/links.py): within one view an
identifier's owners, a person's links and facts are read once, and read afresh after any
write; outside a view every read goes to the database (another process's writes are seen by
the next lookup); a pooled PostgreSQL connection given back a moment ago is not pinged again
(connector/store/guard.py), an older one is."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from connector.customer.links import LinkStore
from connector.store import guard

PAULINE = ("email", "pauline.deneve@easiware.fr")
PHONE = ("phone", "+33653888890")


@contextmanager
def statements(store: LinkStore) -> Iterator[list[str]]:
    """The SQL statements the store runs meanwhile."""
    ran: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        ran.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        yield ran
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)


def test_one_view_reads_each_thing_once(store: LinkStore) -> None:
    store.link("cus_1", [(*PAULINE, "erp"), (*PHONE, "erp")])
    store.remember("cus_1", "Pauline Denève", "pauline deneve", "77184")
    with store.one_view(), statements(store) as ran:
        first = store.owners([PAULINE, PHONE])
        again = store.owners([PHONE, PAULINE])  # the same identifiers, in another order
        assert again == first and [link.customer_id for link in first[PAULINE]] == ["cus_1"]
        assert store.links_of("cus_1") == store.links_of("cus_1")
        assert store.people(["cus_1"]) == store.people(["cus_1"])
        assert store.owners([("email", "nobody@example.fr")]) == {
            ("email", "nobody@example.fr"): []}
    # owners; the people they name (links, other holders, facts); the identifier not yet read
    assert len(ran) == 3


def test_the_people_an_identifier_names_are_read_whole_with_who_shares_their_identifiers(
        store: LinkStore) -> None:
    """One statement around the owners reads what the lookup asks next, and it is what the
    reads one at a time answer: every link in order, every holder of a shared identifier,
    the facts (or none kept), nothing more for a switchboard's many holders."""
    store.link("cus_1", [(*PAULINE, "erp"), (*PHONE, "erp"), ("customer_ref", "C1", "erp")])
    store.link("cus_2", [("email", "gilles@example.fr", "erp"), (*PHONE, "erp")])  # a household
    store.remember("cus_1", "Pauline Denève", "pauline deneve", "77184")
    expected = ({pair: store.owners([pair])[pair] for pair in
                 [PAULINE, PHONE, ("customer_ref", "C1")]},
                store.links_of("cus_1"), store.people(["cus_1", "cus_2"]))
    with store.one_view(), statements(store) as ran:
        store.owners([PAULINE])
        read = ({pair: store.owners([pair])[pair] for pair in expected[0]},
                store.links_of("cus_1"), store.people(["cus_1", "cus_2"]))
    assert len(ran) == 2 and read == expected
    assert [p.display_name for p in read[2]] == ["Pauline Denève", None]
    assert sorted(link.customer_id for link in read[0][PHONE]) == ["cus_1", "cus_2"]

    switchboard = ("phone", "+33140000000")
    for n in range(5):
        store.link(f"cus_s{n}", [(*switchboard, "erp"), ("email", f"s{n}@example.fr", "erp")])
    with store.one_view(), statements(store) as ran:
        assert len(store.owners([switchboard])[switchboard]) == 5
        store.links_of("cus_s0")
    assert len(ran) == 2  # five holders: nothing read around them, each read as asked


def test_a_write_within_the_view_is_read_back(store: LinkStore) -> None:
    store.link("cus_1", [(*PAULINE, "erp")])
    with store.one_view():
        assert store.owners([PHONE])[PHONE] == []
        assert len(store.links_of("cus_1")) == 1
        store.link("cus_1", [(*PHONE, "erp")])
        assert [link.customer_id for link in store.owners([PHONE])[PHONE]] == ["cus_1"]
        assert len(store.links_of("cus_1")) == 2
        store.remember("cus_1", "Pauline Denève", "pauline deneve", "77184")
        assert store.people(["cus_1"])[0].display_name == "Pauline Denève"


def test_outside_a_view_each_read_sees_another_process_s_writes(store: LinkStore) -> None:
    other = LinkStore(str(store.engine.url.render_as_string(hide_password=False)))
    with store.one_view():
        assert store.owners([PAULINE])[PAULINE] == []
    other.link("cus_2", [(*PAULINE, "erp")])
    assert [link.customer_id for link in store.owners([PAULINE])[PAULINE]] == ["cus_2"]
    with store.one_view():  # a new view (a new lookup) reads afresh
        assert [link.customer_id for link in store.owners([PAULINE])[PAULINE]] == ["cus_2"]
    other.engine.dispose()


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_connection_given_back_a_moment_ago_is_not_pinged_again(
        store: LinkStore, monkeypatch: pytest.MonkeyPatch) -> None:
    pings = []
    dialect = store.engine.dialect
    real = dialect.do_ping

    def counted(connection: Any) -> bool:
        pings.append(1)
        return real(connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    store.links_of("cus_1")  # a pooled connection now exists
    monkeypatch.setattr(guard, "PING_BYPASS_S", 3600.0)
    store.links_of("cus_1")
    assert pings == []
    monkeypatch.setattr(guard, "PING_BYPASS_S", 0.0)  # given back longer ago than the window
    store.links_of("cus_1")
    assert pings == [1]


def test_the_audit_trail_s_fingerprints_are_keyed_with_the_service_s_secret(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/keyed.sqlite"
    ours, theirs = LinkStore(url, digest_key=b"our secret"), LinkStore(url, digest_key=b"other")
    ours.link("cus_1", [(*PAULINE, "erp")])
    assert ours.unlink("cus_1", *PAULINE, actor="admin")
    detail = ours.audit_trail("cus_1")[-1]["detail"]
    unkeyed = hashlib.sha256(PAULINE[1].encode()).hexdigest()[:12]
    assert detail == f"email #{ours.fingerprint(PAULINE[1])}"  # the same value, the same mark
    assert unkeyed not in detail and theirs.fingerprint(PAULINE[1]) not in detail
    assert PAULINE[1] not in detail
