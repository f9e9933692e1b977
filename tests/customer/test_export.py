"""Access requests: each kind of the export reads what the store keeps on one person, and
nothing of anyone else's; every table of the schema is either exported or about no one. On a
SQLite file and on a real PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from connector.customer import export, suppression
from connector.customer.links import LinkStore
from connector.customer.notes import Notes
from connector.store.schema import (
    changes,
    contacts,
    helpdesk_people,
    loyalty_tiers,
    metadata,
    review_alerts,
    segments,
    ticket_events,
    writeback_targets,
    writebacks,
)

SHE, HIM = "cus_0a1b2c3d4e5f60718293", "cus_ffeeddccbbaa99887766"
AT = dt.datetime(2026, 11, 30, 9, 15, tzinfo=dt.UTC)


def _insert(engine: Engine, table: Any, *rows: dict[str, Any]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(table), list(rows))


def _her_and_his(store: LinkStore) -> Engine:
    """Two people, each with something in every table keyed to a person."""
    engine = store.engine
    for who, email, erp, name in ((SHE, "pauline.deneve@easiware.fr", "C100997", "Pauline"),
                                  (HIM, "marc.petit@example.fr", "C101001", "Marc")):
        store.link(who, [("email", email, "erp"), ("erp", erp, "erp"),
                         ("phone", f"+3365388889{len(name)}", None)])
        store.remember(who, f"{name} Denève", name.lower(), "75011", city="Paris",
                       birth_year=1980)
        Notes(store).add(who, f"{name} préfère le matin", "Margaux")
        store.choose("zendesk", f"t-{name}", who, [], actor="agent@zendesk")
        _insert(engine, contacts, {"customer_id": who, "helpdesk": "zendesk",
                                   "ticket_id": f"t-{name}", "channel": "email",
                                   "subject": f"Colis de {name}", "at": AT})
        _insert(engine, ticket_events, {
            "helpdesk": "zendesk", "key": f"d-{name}", "kind": "ticket.created",
            "ticket_id": f"t-{name}", "received_at": AT, "state": "pending", "attempts": 0,
            "customer_id": who, "payload": json.dumps({"requester": email})})
        _insert(engine, helpdesk_people, {"helpdesk": "zendesk", "requester_id": f"r-{name}",
                                          "customer_id": who, "last_seen": AT})
        _insert(engine, changes, {
            "id": f"chg{name}", "customer_id": who, "source": "erp", "kind": "correction",
            "name": "identity.emails", "payload": json.dumps({"new": f"new-{email}"}),
            "state": "pending", "attempts": 0, "not_before": AT, "actor": "Margaux",
            "helpdesk": "zendesk", "ticket_id": f"t-{name}", "created_at": AT,
            "updated_at": AT})
        _insert(engine, writebacks, {
            "helpdesk": "zendesk", "target": f"r-{name}|t-{name}", "state": "pending",
            "attempts": 0, "not_before": AT,
            "payload": json.dumps({"requester_id": f"r-{name}", "tags": ["connector_vip"]})})
        _insert(engine, writeback_targets, {"helpdesk": "zendesk", "target": f"r-{name}|",
                                            "sent_at": AT})
        _insert(engine, segments, {"source": "erp", "external_id": erp, "abc_class": "A",
                                   "rfm_r": 5, "rfm_f": 4, "rfm_m": 5, "computed_at": AT})
        _insert(engine, loyalty_tiers, {"source": "loyalty", "external_id": f"L-{name}",
                                        "customer_id": who, "tier": "Or",
                                        "previous_tier": "Argent", "changed_on": AT.date(),
                                        "seen_at": AT})
        _insert(engine, review_alerts, {"source": "feedback", "review_key": f"k-{name}",
                                        "helpdesk": "zendesk", "customer_id": who,
                                        "ticket_id": f"t-{name}", "sent_at": AT})
    store.unlink(SHE, "phone", "+33653888897", actor="dpo")  # a refused link of hers
    return engine


@pytest.fixture
def engine(store: LinkStore) -> Engine:
    return _her_and_his(store)


def read(engine: Engine, kind: str) -> Any:
    reader, _ = export.KINDS[kind]
    with engine.connect() as connection:
        return reader(connection, SHE)


def test_every_table_is_exported_or_about_no_one() -> None:
    assert set(export.TABLES) | export.NOTHING_PERSONAL == set(metadata.tables)
    assert not set(export.TABLES) & export.NOTHING_PERSONAL


def test_known_is_a_link_or_a_row_of_facts(store: LinkStore) -> None:
    store.link("cus_linked", [("email", "a@example.fr", "erp")])
    store.remember("cus_named", "Ana", "ana", None)
    assert export.known(store.engine, "cus_linked") and export.known(store.engine, "cus_named")
    assert not export.known(store.engine, "cus_doesnotexist")
    store.forget("cus_linked", actor="dpo")
    assert not export.known(store.engine, "cus_linked")


def test_identifiers_name_the_source_vouching_for_each(engine: Engine) -> None:
    found = read(engine, "identifiers")
    assert {(r["kind"], r["value"], r["source"]) for r in found} == {
        ("email", "pauline.deneve@easiware.fr", "erp"), ("erp", "C100997", "erp")}
    assert all(r["learned_at"] and r["confirmed_at"] for r in found)
    assert dt.datetime.fromisoformat(found[0]["learned_at"]).tzinfo is not None


def test_refused_identifiers(engine: Engine) -> None:
    assert [(r["kind"], r["value"]) for r in read(engine, "refused_identifiers")] == [
        ("phone", "+33653888897")]


def test_person(engine: Engine) -> None:
    found = read(engine, "person")
    assert (found["display_name"], found["postcode"], found["city"], found["birth_year"]) == (
        "Pauline Denève", "75011", "Paris", 1980)


def test_notes(engine: Engine) -> None:
    assert [(n["text"], n["author"]) for n in read(engine, "notes")] == [
        ("Pauline préfère le matin", "Margaux")]


def test_contacts(engine: Engine) -> None:
    assert [(c["ticket_id"], c["subject"], c["at"]) for c in read(engine, "contacts")] == [
        ("t-Pauline", "Colis de Pauline", AT.isoformat())]


def test_ticket_events_with_the_event_while_kept(engine: Engine) -> None:
    found = read(engine, "ticket_events")
    assert [(e["ticket_id"], e["state"], e["payload"]) for e in found] == [
        ("t-Pauline", "pending", {"requester": "pauline.deneve@easiware.fr"})]


def test_ticket_choices(engine: Engine) -> None:
    assert [(c["helpdesk"], c["ticket_id"]) for c in read(engine, "ticket_choices")] == [
        ("zendesk", "t-Pauline")]


def test_helpdesk_requesters(engine: Engine) -> None:
    assert [(r["helpdesk"], r["requester_id"]) for r in read(engine, "helpdesk_requesters")] \
        == [("zendesk", "r-Pauline")]


def test_changes_with_their_values_until_settled(engine: Engine) -> None:
    found = read(engine, "changes")
    assert [(c["id"], c["name"], c["payload"]) for c in found] == [
        ("chgPauline", "identity.emails", {"new": "new-pauline.deneve@easiware.fr"})]


def test_writebacks_queued_for_her_helpdesk_records(engine: Engine) -> None:
    found = read(engine, "writebacks")
    assert [(w["target"], w["state"], w["payload"]["tags"]) for w in found] == [
        ("r-Pauline|t-Pauline", "pending", ["connector_vip"])]


def test_writeback_times(engine: Engine) -> None:
    assert [(w["target"], w["sent_at"]) for w in read(engine, "writeback_times")] == [
        ("r-Pauline|", AT.isoformat())]


def test_segments_by_her_sources_own_ids(engine: Engine) -> None:
    assert [(s["source"], s["external_id"], s["abc_class"]) for s in read(engine, "segments")] \
        == [("erp", "C100997", "A")]


def test_loyalty_tiers(engine: Engine) -> None:
    assert [(t["tier"], t["previous_tier"], t["changed_on"])
            for t in read(engine, "loyalty_tiers")] == [("Or", "Argent", "2026-11-30")]


def test_review_alerts(engine: Engine) -> None:
    assert [(a["source"], a["ticket_id"]) for a in read(engine, "review_alerts")] == [
        ("feedback", "t-Pauline")]


def test_audit_entries_under_her_id_or_naming_it(store: LinkStore, engine: Engine) -> None:
    store.link("cus_twin", [("card", "29000123456", "loyalty")])
    store.merge("cus_twin", SHE, actor="dpo")  # under her id, naming the twin
    store.link("cus_other", [("card", "29000999999", "loyalty")])
    store.merge(SHE, "cus_other", actor="dpo")  # under the other's id, naming her
    actions = [(e["action"], e["customer_id"]) for e in read(engine, "audit")]
    assert ("note_add", SHE) in actions and ("choose", SHE) in actions
    assert ("unlink", SHE) in actions and ("merge", "cus_other") in actions
    assert all(e["customer_id"] != HIM for e in read(engine, "audit"))


def test_the_footprint_is_every_kind_and_nothing_of_his(engine: Engine) -> None:
    found = export.footprint(engine, SHE, now=AT)
    assert list(found) == ["customer_id", "exported_at", *export.KINDS, export.SUPPRESSED]
    assert found["customer_id"] == SHE and found["exported_at"] == AT.isoformat()
    text = json.dumps(found, ensure_ascii=False)
    assert all(found[kind] for kind in export.KINDS)  # something of hers in each
    for his in ("Marc", "marc.petit", "C101001", "r-Marc", "t-Marc", HIM):
        assert his not in text, his


def test_a_person_nothing_is_kept_on_exports_empty(store: LinkStore) -> None:
    found = export.footprint(store.engine, "cus_doesnotexist")
    assert found["person"] is None and found[export.SUPPRESSED] == []
    assert all(found[kind] == [] for kind in export.KINDS if kind != "person")


def test_suppressed_identifiers_given_or_hers(engine: Engine) -> None:
    key = b"the service's secret"
    with engine.begin() as connection:
        suppression.add(connection, key, [("email", "p.deneve@example.fr"),
                                          ("phone", "+33653888897"),  # refused from her
                                          ("email", "marc.petit@example.fr")])
    found = export.footprint(engine, SHE, key, given=[("email", "p.deneve@example.fr")])
    assert [(s["kind"], s["value"]) for s in found[export.SUPPRESSED]] == [
        ("email", "p.deneve@example.fr"), ("phone", "+33653888897")]
    assert all(s["suppressed_at"] for s in found[export.SUPPRESSED])
    unkeyed = export.footprint(engine, SHE, given=[("email", "p.deneve@example.fr")])
    assert unkeyed[export.SUPPRESSED] == []  # another key: the digests differ


def test_no_person_exports_nothing_of_anyone(engine: Engine) -> None:
    found = export.footprint(engine, None)
    assert found["person"] is None and found["audit"] == []  # not every entry: none
    assert not export.anything_kept(found)
