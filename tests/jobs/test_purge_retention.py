"""Retention of the kinds kept about people, run by `purge`: a person no source confirmed and
no helpdesk asked about for `people_days` loses their links, name and refusals, while any
recent trace of them keeps the whole person; notes go `notes_days` after their last edit or
the person's last contact; the audit trail after `audit_days`. Counted, never named. On SQLite
and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, insert, select

from connector.customer.links import LinkStore
from connector.jobs.config import Jobs, PurgeJob
from connector.jobs.history import OK, JobRuns
from connector.jobs.purge import purge
from connector.jobs.runner import JobRunner
from connector.manifest import ManifestError, load_manifest
from connector.ops.metrics import Metrics
from connector.store.schema import (
    audit,
    blocked,
    changes,
    choices,
    contacts,
    helpdesk_people,
    links,
    loyalty_tiers,
    notes,
    people,
    review_alerts,
    ticket_events,
    writeback_targets,
)
from tests.jobs.test_config import manifest

NOW = dt.datetime(2026, 12, 6, 3, 30, tzinfo=dt.UTC)
QUIET, RECENT = 1095 * 24 + 1, 10 * 24  # hours: an hour past three years; ten days
LONG_AGO = 2000 * 24  # hours
PEOPLE = ("cus_quiet", "cus_confirmed", "cus_asked")


def ago(hours: int) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours)


@pytest.fixture
def store(database: str | None, tmp_path: Path) -> Iterator[LinkStore]:
    """The link store on this test's database (a SQLite file, or a PostgreSQL schema)."""
    yield LinkStore(database or f"sqlite:///{tmp_path}/store.sqlite")


def add(store: LinkStore, table: Table, **row: Any) -> None:
    with store.engine.begin() as db:
        db.execute(insert(table).values(**row))


def email(customer_id: str) -> str:
    return f"{customer_id.removeprefix('cus_')}@example.org"


def add_person(store: LinkStore, customer_id: str, hours: int, *,
               confirmed: int | None = None) -> None:
    """A person as lookups leave them: two links, a name, a refused link, all `hours` old
    (the links confirmed `confirmed` hours ago instead, when given)."""
    at, seen = ago(hours), ago(confirmed if confirmed is not None else hours)
    for kind, value in (("email", email(customer_id)), ("phone", "+3361234" + str(hours)[-4:])):
        add(store, links, kind=kind, value=value, customer_id=customer_id, source="shop",
            learned_at=at, confirmed_at=seen)
    add(store, people, customer_id=customer_id, display_name="Ana Martin",
        name_folded="ana martin", postcode="75011", updated_at=at)
    add(store, blocked, kind="email", value="other@example.org", customer_id=customer_id,
        blocked_at=at)


def kept(store: LinkStore) -> dict[str, tuple[int, bool, int]]:
    """Per person: their links, whether their name is kept, their refusals."""
    with store.engine.connect() as db:
        held = {who: (len(db.execute(select(links).where(links.c.customer_id == who)).all()),
                      db.execute(select(people).where(people.c.customer_id == who)).first()
                      is not None,
                      len(db.execute(select(blocked).where(blocked.c.customer_id == who)).all()))
                for who in PEOPLE}
    return {who: counts for who, counts in held.items() if counts != (0, False, 0)}


def test_a_person_unseen_for_people_days_loses_links_name_and_refusals(
        store: LinkStore) -> None:
    add_person(store, "cus_quiet", QUIET)
    add_person(store, "cus_confirmed", LONG_AGO, confirmed=QUIET - 2)  # a source said so lately
    add_person(store, "cus_asked", LONG_AGO)
    add(store, helpdesk_people, helpdesk="zendesk", requester_id="9001",
        customer_id="cus_asked", last_seen=ago(300 * 24))  # a helpdesk asked about them
    # what is kept of the quiet person nowhere else goes with them; work still under way stays
    add(store, loyalty_tiers, source="club", external_id="C-1", customer_id="cus_quiet",
        tier="gold", seen_at=ago(QUIET))
    add(store, review_alerts, source="avis", review_key="k1", helpdesk="zendesk",
        customer_id="cus_quiet", ticket_id="77", sent_at=ago(QUIET))
    for state in ("confirmed", "pending"):
        add(store, changes, id=f"chg-{state}", customer_id="cus_quiet", source="shop",
            kind="correction", name="postcode", state=state, attempts=1,
            not_before=ago(QUIET), actor="agent:7", created_at=ago(QUIET),
            updated_at=ago(QUIET))

    counts = purge(store.engine, PurgeJob(), now=NOW)

    assert kept(store) == {"cus_confirmed": (2, True, 1), "cus_asked": (2, True, 1)}
    assert {k: counts[k] for k in ("people", "links", "names", "refusals", "tiers", "alerts",
                                   "changes")} == {
        "people": 1, "links": 2, "names": 1, "refusals": 1, "tiers": 1, "alerts": 1,
        "changes": 1}
    with store.engine.connect() as db:
        assert db.execute(select(changes.c.id)).scalars().all() == ["chg-pending"]
        assert db.execute(select(loyalty_tiers)).all() == []
    assert purge(store.engine, PurgeJob(), now=NOW)["people"] == 0


def test_the_audit_entry_and_the_run_history_hold_counts_only(store: LinkStore,
                                                              tmp_path: Path) -> None:
    add_person(store, "cus_quiet", QUIET)
    add(store, notes, customer_id="cus_quiet", text="aime la mousse au chocolat",
        author="agent:7", created_at=ago(QUIET), updated_at=ago(QUIET))
    runner = JobRunner(load_manifest(manifest(tmp_path)), JobRuns(store.engine, "here:1"),
                       {"purge": lambda progress: purge(store.engine, PurgeJob(), now=NOW,
                                                        progress=progress)},
                       Metrics())

    result = runner.run("purge")

    assert result.outcome == OK
    [run] = runner.runs.runs("purge")
    [entry] = store.audit_trail()
    assert (entry["actor"], entry["action"], entry["customer_id"]) == ("job:purge", "purge", None)
    for said in (str(entry["detail"]), str(run.summary)):
        assert re.fullmatch(r"[a-z_]+=\d+( [a-z_]+=\d+)*", said), said
        assert "people=1 links=2 names=1 refusals=1" in said and "notes=1" in said
        for name in ("cus_quiet", email("cus_quiet"), "Ana", "75011", "chocolat"):
            assert name not in said


def add_trace(store: LinkStore, kind: str, customer_id: str, at: dt.datetime) -> None:
    """One row of `kind` about the person, dated `at`."""
    rows: dict[str, Callable[[], None]] = {
        "link learned": lambda: add(store, links, kind="handle", value="@ana", source=None,
                                    customer_id=customer_id, learned_at=at, confirmed_at=None),
        "refusal": lambda: add(store, blocked, kind="phone", value="+33100000000",
                               customer_id=customer_id, blocked_at=at),
        "name changed": lambda: add(store, people, customer_id=customer_id,
                                    display_name="Ana", updated_at=at),
        "helpdesk id": lambda: add(store, helpdesk_people, helpdesk="zendesk",
                                   requester_id="1", customer_id=customer_id, last_seen=at),
        "contact": lambda: add(store, contacts, customer_id=customer_id, helpdesk="zendesk",
                               ticket_id="t1", at=at),
        "event": lambda: add(store, ticket_events, helpdesk="zendesk", key="e1",
                             kind="ticket.created", received_at=at, state="done", attempts=1,
                             done_at=at, customer_id=customer_id),
        "choice": lambda: add(store, choices, helpdesk="zendesk", ticket_id="t1",
                              customer_id=customer_id, chosen_at=at),
        "note": lambda: add(store, notes, customer_id=customer_id, text="…", author="agent:7",
                            created_at=at, updated_at=at),
        "change": lambda: add(store, changes, id="chg", customer_id=customer_id, source="shop",
                              kind="correction", name="postcode", state="confirmed",
                              attempts=1, not_before=at, actor="agent:7", created_at=at,
                              updated_at=at),
        "review alert": lambda: add(store, review_alerts, source="avis", review_key="k",
                                    helpdesk="zendesk", customer_id=customer_id,
                                    ticket_id="t1", sent_at=at),
        "loyalty tier": lambda: add(store, loyalty_tiers, source="club", external_id="C-9",
                                    customer_id=customer_id, tier="gold", seen_at=at),
    }
    rows[kind]()


TRACES = ("link learned", "refusal", "name changed", "helpdesk id", "contact", "event",
          "choice", "note", "change", "review alert", "loyalty tier")


@pytest.mark.parametrize("trace", TRACES)
def test_any_recent_trace_of_a_person_keeps_the_whole_person(store: LinkStore,
                                                             trace: str) -> None:
    """Links and name long unconfirmed, one recent trace elsewhere: all kept."""
    for customer_id in ("cus_asked", "cus_quiet"):
        with store.engine.begin() as db:
            db.execute(insert(links).values(kind="email", value=email(customer_id),
                                            customer_id=customer_id, source="shop",
                                            learned_at=ago(LONG_AGO), confirmed_at=ago(QUIET)))
    add_trace(store, trace, "cus_asked", ago(RECENT))
    if trace != "name changed":
        add(store, people, customer_id="cus_asked", display_name="Ana", updated_at=ago(LONG_AGO))

    counts = purge(store.engine, PurgeJob(), now=NOW)

    with store.engine.connect() as db:
        owners = db.execute(select(links.c.customer_id)).scalars().all()
        names = db.execute(select(people.c.customer_id)).scalars().all()
    assert (sorted(owners), names, counts["people"]) == (
        ["cus_asked"] * (2 if trace == "link learned" else 1), ["cus_asked"], 1)


def test_notes_go_notes_days_after_their_last_edit_or_the_persons_last_contact(
        store: LinkStore) -> None:
    for who, edited in (("cus_alone", QUIET), ("cus_called", QUIET), ("cus_fresh", QUIET - 2),
                        ("cus_called_before", QUIET)):
        add(store, notes, customer_id=who, text="préfère le téléphone", author="agent:7",
            created_at=ago(5000), updated_at=ago(edited))
    add(store, contacts, customer_id="cus_called", helpdesk="zendesk", ticket_id="t1",
        at=ago(RECENT))  # a contact since the edit: counted from it
    add(store, contacts, customer_id="cus_called_before", helpdesk="zendesk", ticket_id="t2",
        at=ago(QUIET + 5))  # before the edit: the edit counts

    counts = purge(store.engine, PurgeJob(), now=NOW)

    with store.engine.connect() as db:
        left = sorted(db.execute(select(notes.c.customer_id)).scalars())
    assert left == ["cus_called", "cus_fresh"]
    assert counts["notes"] == 2


def test_notes_days_counts_from_the_last_contact_not_any_contact(store: LinkStore) -> None:
    rules = PurgeJob(notes_days=30)
    add(store, notes, customer_id="cus_called", text="…", author="agent:7",
        created_at=ago(24 * 100), updated_at=ago(24 * 100))
    add(store, contacts, customer_id="cus_called", helpdesk="zendesk", ticket_id="t1",
        at=ago(24 * 40))  # a contact after the edit, but itself past the retention
    assert purge(store.engine, rules, now=NOW)["notes"] == 1


def test_the_audit_trail_is_pruned_after_audit_days(store: LinkStore) -> None:
    for hours, action in ((365 * 24 + 1, "unlink"), (365 * 24 - 1, "merge")):
        add(store, audit, at=ago(hours), actor="admin", action=action, customer_id="cus_1",
            detail="email #0123456789ab")

    counts = purge(store.engine, PurgeJob(), now=NOW)

    assert [e["action"] for e in store.audit_trail()] == ["merge", "purge"]
    assert counts["audit"] == 1
    assert purge(store.engine, PurgeJob(audit_days=1), now=NOW)["audit"] == 1  # the merge


def test_when_a_helpdesk_id_was_last_written_to_goes_with_the_ids(store: LinkStore) -> None:
    for hours, target in ((365 * 24 + 1, "user:1"), (365 * 24 - 1, "user:2")):
        add(store, writeback_targets, helpdesk="zendesk", target=target, sent_at=ago(hours))
    assert purge(store.engine, PurgeJob(), now=NOW)["targets"] == 1
    with store.engine.connect() as db:
        assert db.execute(select(writeback_targets.c.target)).scalars().all() == ["user:2"]


def test_every_count_is_zero_on_a_second_run(store: LinkStore) -> None:
    add_person(store, "cus_quiet", QUIET)
    first = purge(store.engine, PurgeJob(), now=NOW)
    assert set(first) >= {"people", "links", "names", "refusals", "notes", "audit"}
    assert purge(store.engine, PurgeJob(), now=NOW) == dict.fromkeys(first, 0)


def test_the_retentions_have_documented_defaults_and_are_checked_at_load(
        tmp_path: Path) -> None:
    purge_rules = Jobs().purge
    assert (purge_rules.people_days, purge_rules.notes_days, purge_rules.audit_days) == (
        1095, 1095, 365)
    read = load_manifest(manifest(tmp_path, "jobs:\n  purge: {people_days: 730, notes_days: "
                                            "365, audit_days: 180}\n")).jobs.purge
    assert (read.people_days, read.notes_days, read.audit_days) == (730, 365, 180)
    with pytest.raises(ManifestError) as raised:
        load_manifest(manifest(tmp_path, "jobs:\n  purge: {people_days: 0, notes_days: "
                                         "forever, audit_days: -5}\n"))
    assert raised.value.errors == [
        "jobs.purge.people_days: input should be greater than or equal to 1",
        "jobs.purge.notes_days: input should be a valid integer, unable to parse string as "
        "an integer",
        "jobs.purge.audit_days: input should be greater than or equal to 1",
    ]
