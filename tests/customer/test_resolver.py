"""Identity resolution: one person whatever the identifier, never two people merged."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.customer.links import LinkStore
from connector.customer.resolver import IdentityRules, Resolution, Resolver
from connector.identifiers import Identifiers
from tests.conftest import drop_schema, postgres_url

PAULINE = [("erp", "C100997", "erp"), ("email", "pauline.deneve@easiware.fr", "erp"),
           ("phone", "+33653888890", "erp"), ("card", "29000123456", "loyalty")]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store's database: SQLite in memory, and a real PostgreSQL (a fresh schema)."""
    if request.param == "sqlite":
        yield "sqlite://"
        return
    schema = "connector_test_" + uuid.uuid4().hex[:10]
    yield postgres_url(schema)
    drop_schema(schema)


def resolver(url: str = "sqlite://") -> Resolver:
    return Resolver(LinkStore(url), IdentityRules())


def learn(r: Resolver, found: list[tuple[str, str, str | None]], name: str = "X") -> str:
    pairs = [(k, v) for k, v, _ in found if k in ("email", "phone", "card", "handle")]
    start = r.resolve(Identifiers(emails=tuple(v for k, v in pairs if k == "email")[:1]))
    if start.ambiguous:
        start = Resolution(None, start.identifiers)
    return r.learn(start, found, name, "77184")


def test_unknown_until_learnt_then_every_identifier_names_her(store_url: str) -> None:
    r = resolver(store_url)
    assert r.resolve(Identifiers(phones=("+33653888890",))).customer_id is None
    who = learn(r, PAULINE, "Pauline Denève")
    for ids in (Identifiers(phones=("+33653888890",)), Identifiers(cards=("29000123456",)),
                Identifiers(externals=(("erp", "C100997"),)),
                Identifiers(emails=("pauline.deneve@easiware.fr",))):
        resolved = r.resolve(ids)
        assert resolved.customer_id == who
        assert set(resolved.identifiers.emails) == {"pauline.deneve@easiware.fr"}
        assert ("erp", "C100997") in resolved.identifiers.externals
        assert resolved.matched and not resolved.ambiguous


def test_a_shared_landline_is_ambiguous_until_something_tells_them_apart(store_url: str) -> None:
    r = resolver(store_url)
    jean = learn(r, [("erp", "C1", "erp"), ("email", "jean@x.fr", "erp"),
                     ("phone", "+33145454545", "erp")], "Jean Martin")
    marie = learn(r, [("erp", "C2", "erp"), ("email", "marie@x.fr", "erp"),
                      ("phone", "+33145454545", "erp")], "Marie Martin")
    assert jean != marie
    shared = r.resolve(Identifiers(phones=("+33145454545",)))
    assert shared.ambiguous and shared.customer_id is None
    assert sorted(p.display_name or "" for p in shared.candidates) == ["Jean Martin",
                                                                      "Marie Martin"]
    both = r.resolve(Identifiers(phones=("+33145454545",), emails=("marie@x.fr",)))
    assert both.customer_id == marie


def test_two_erp_ids_never_merge_even_with_the_same_email(store_url: str) -> None:
    r = resolver(store_url)
    first = learn(r, [("erp", "C1", "erp"), ("email", "famille@x.fr", "erp")])
    second = learn(r, [("erp", "C2", "erp"), ("email", "famille@x.fr", "erp")])
    assert first != second
    assert r.resolve(Identifiers(emails=("famille@x.fr",))).ambiguous
    assert r.resolve(Identifiers(externals=(("erp", "C2"),))).customer_id == second


def test_records_that_agree_are_merged(store_url: str) -> None:
    r = resolver(store_url)
    history_only = learn(r, [("email", "p.deneve@work.fr", "history")])
    merged = learn(r, [("erp", "C100997", "erp"), ("email", "pauline.deneve@easiware.fr", "erp"),
                       ("email", "p.deneve@work.fr", "erp")])
    assert history_only == merged  # the person known by that email, now with an ERP id
    assert r.resolve(Identifiers(emails=("p.deneve@work.fr",))).customer_id == merged
    assert r.resolve(Identifiers(externals=(("erp", "C100997"),))).customer_id == merged


def test_a_shared_phone_alone_never_merges(store_url: str) -> None:
    r = resolver(store_url)
    a = learn(r, [("email", "a@x.fr", "history"), ("phone", "+33145454545", "history")])
    b = learn(r, [("email", "b@x.fr", "history"), ("phone", "+33145454545", "history")])
    assert a != b


def test_unlink_removes_and_refuses_the_link_for_good(store_url: str) -> None:
    r = resolver(store_url)
    who = learn(r, PAULINE)
    assert r.store.unlink(who, "phone", "+33653888890", actor="admin@example.com")
    assert r.resolve(Identifiers(phones=("+33653888890",))).customer_id is None
    learn(r, PAULINE)  # the ERP still says so: not linked again
    assert r.resolve(Identifiers(phones=("+33653888890",))).customer_id is None
    trail = r.store.audit_trail(who)
    assert trail[-1]["action"] == "unlink" and "+33653888890" not in str(trail)
    assert not r.store.unlink(who, "phone", "+33653888890", actor="admin")


OBSERVATIONS = [
    [("erp", "C1", "erp"), ("email", "a@x.fr", "erp"), ("phone", "+33100000001", "erp")],
    [("erp", "C2", "erp"), ("email", "b@x.fr", "erp"), ("phone", "+33100000001", "erp")],
    [("card", "K1", "loyalty"), ("email", "a@x.fr", "loyalty")],
    [("email", "c@x.fr", "history"), ("email", "b@x.fr", "history")],
    [("erp", "C3", "erp"), ("email", "d@x.fr", "erp")],
]


def partition(r: Resolver) -> frozenset[frozenset[tuple[str, str]]]:
    """Which identifiers resolve to the same person (ids themselves may differ)."""
    everything = {(k, v) for found in OBSERVATIONS for k, v, _ in found}
    groups: dict[str, set[tuple[str, str]]] = {}
    for pair in everything:
        for link in r.store.owners([pair])[pair]:
            groups.setdefault(link.customer_id, set()).add(pair)
    return frozenset(frozenset(g) for g in groups.values())


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(len(OBSERVATIONS))))
def test_resolution_does_not_depend_on_the_order_things_were_learnt(order: list[int]) -> None:
    reference = resolver()
    for found in OBSERVATIONS:
        learn(reference, found)
    shuffled = resolver()
    for index in order:
        learn(shuffled, OBSERVATIONS[index])
    assert partition(shuffled) == partition(reference)


def test_every_order_of_the_household_gives_the_same_people() -> None:
    results = set()
    for order in itertools.permutations(OBSERVATIONS[:2]):
        r = resolver()
        for found in order:
            learn(r, found)
        results.add(partition(r))
    assert len(results) == 1


def test_the_same_new_person_learnt_by_concurrent_lookups_is_one_person(
        store_url: str, tmp_path: Path) -> None:
    """Twenty agents (or an agent and the webhook worker) meet a new customer at once: every
    lookup succeeds and names the same person. (SQLite on a file, as served: the in-memory
    test database is one connection, which threads cannot share.)"""
    import threading

    store = LinkStore(f"sqlite:///{tmp_path}/c.sqlite" if store_url == "sqlite://" else store_url)
    people: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def lookup() -> None:
        r = Resolver(store, IdentityRules())
        found = r.resolve(Identifiers(emails=("pauline.deneve@easiware.fr",)))
        start.wait()
        try:
            people.append(r.learn(found, PAULINE, "Pauline Denève", "77184"))
        except BaseException as exc:  # the failure is what the test reports
            errors.append(exc)

    threads = [threading.Thread(target=lookup) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(people)) == 1 and len(people) == 8
    assert len(store.links_of(people[0])) == len(PAULINE)
