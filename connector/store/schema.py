"""Every table we keep, in one schema: the link store's (identity links, refused links,
people's names, notes, the audit trail), the event log's (events, contacts, helpdesk ids), the
write-back queue's and the scheduled jobs' (locks, run history). One `MetaData`, so a database
is created whole and `forget` can erase a person from every table keyed by them."""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    TypeDecorator,
    UniqueConstraint,
)


def storable(value: Any) -> Any:
    """A text as every database can store it: without NUL characters (PostgreSQL refuses them)
    and with any lone surrogate (JSON may escape one, `"\\ud800"`; no encoding holds it) as
    U+FFFD. What a hostile or broken payload sends is kept readable, never a failed write."""
    if not isinstance(value, str) or (value.isascii() and "\x00" not in value):
        return value
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


class String(TypeDecorator[str]):
    """sqlalchemy's String, its values `storable`."""

    impl = sqlalchemy.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return storable(value)


class Text(TypeDecorator[str]):
    """sqlalchemy's Text, its values `storable`."""

    impl = sqlalchemy.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return storable(value)


NOTE_MAX = 280  # characters of an agent's note
SUBJECT_MAX = 120  # characters of a contact's subject kept

metadata = MetaData()

links = Table(
    "identity_links", metadata,
    Column("kind", String(40), nullable=False),
    Column("value", String(320), nullable=False),
    Column("customer_id", String(40), nullable=False),
    Column("source", String(40)),
    Column("learned_at", DateTime(timezone=True), nullable=False),
    # when its source last said so: a link no source confirms ages out (identity.link_max_age_days)
    Column("confirmed_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("kind", "value", "customer_id"),
    Index("ix_identity_links_customer", "customer_id"),
)
blocked = Table(
    "identity_blocks", metadata,
    Column("kind", String(40), nullable=False),
    Column("value", String(320), nullable=False),
    Column("customer_id", String(40), nullable=False, index=True),
    Column("blocked_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("kind", "value", "customer_id"),
)
people = Table(
    "customers", metadata,
    Column("customer_id", String(40), primary_key=True),
    Column("display_name", String(200)),
    Column("name_folded", String(200), index=True),
    Column("postcode", String(16), index=True),
    # what tells apart people who share an identifier (a household): shown to the agent who
    # chooses among them
    Column("city", String(100)),
    Column("birth_year", Integer),
    Column("last_order", Date),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
# the person an agent chose for a ticket whose identifiers fit several: not asked again
choices = Table(
    "ticket_choices", metadata,
    Column("helpdesk", String(40), nullable=False),
    Column("ticket_id", String(120), nullable=False),
    Column("customer_id", String(40), nullable=False, index=True),
    Column("chosen_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("helpdesk", "ticket_id"),
)
notes = Table(
    "notes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(40), nullable=False, index=True),
    Column("text", String(NOTE_MAX), nullable=False),
    Column("author", String(80), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
audit = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(80), nullable=False),
    Column("action", String(40), nullable=False),
    Column("customer_id", String(40)),
    Column("detail", String(400)),
)

# identifiers an admin erased and asked us not to learn again (`forget --suppress`): a keyed
# digest only, never the value; lifted by `connector unsuppress`
suppressed = Table(
    "suppressed_identifiers", metadata,
    Column("digest", String(64), primary_key=True),  # HMAC-SHA256 of "kind:value", hex
    Column("kind", String(40), nullable=False),
    Column("suppressed_at", DateTime(timezone=True), nullable=False),
)

# the event log
ticket_events = Table(
    "ticket_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("helpdesk", String(40), nullable=False),
    Column("key", String(160), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("ticket_id", String(80)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text),  # the event until it is worked; then NULL (store little)
    Column("state", String(12), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_at", DateTime(timezone=True)),
    Column("not_before", DateTime(timezone=True)),
    Column("done_at", DateTime(timezone=True)),
    Column("customer_id", String(40), index=True),
    Column("error", String(200)),
    UniqueConstraint("helpdesk", "key", name="uq_ticket_events_delivery"),
)
contacts = Table(
    "contacts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(40), nullable=False, index=True),
    Column("helpdesk", String(40), nullable=False),
    Column("ticket_id", String(80), nullable=False),
    Column("channel", String(40)),
    Column("subject", String(SUBJECT_MAX)),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("helpdesk", "ticket_id", name="uq_contacts_ticket"),
)
# who a customer is in each helpdesk (its requester id), for the refresh_flags job's
# write-backs; erased with the customer, purged when not seen for a while
helpdesk_people = Table(
    "helpdesk_people", metadata,
    Column("helpdesk", String(40), primary_key=True),
    Column("requester_id", String(80), primary_key=True),
    Column("customer_id", String(40), nullable=False, index=True),
    Column("last_seen", DateTime(timezone=True), nullable=False, index=True),
)

# the write-back queue
writebacks = Table(
    "writebacks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("helpdesk", String(40), nullable=False),
    Column("target", String(200), nullable=False, index=True),
    Column("payload", Text, nullable=False),
    Column("state", String(12), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", DateTime(timezone=True), nullable=False),
    Column("claimed_at", DateTime(timezone=True)),
    Column("error", String(200)),
)
# when each target was last written to (per-target limits hold across processes)
writeback_targets = Table(
    "writeback_targets", metadata,
    Column("helpdesk", String(40), primary_key=True),
    Column("target", String(200), primary_key=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

# the outbox: corrections (and actions) agents asked of a source, written before their 202,
# sent with their id as the idempotency key, confirmed by reading the source again; the values
# they carry are erased once the change is settled
changes = Table(
    "changes", metadata,
    Column("id", String(32), primary_key=True),  # the idempotency key the source receives
    Column("customer_id", String(40), nullable=False, index=True),
    Column("source", String(80), nullable=False),
    Column("kind", String(12), nullable=False),  # correction, action
    Column("name", String(80), nullable=False),  # the field corrected, or the action's name
    Column("item", String(80)),  # the item an action applies to (an order's number)
    Column("payload", Text),  # the values to send (new, old): None once settled
    # pending -> sending -> (sent ->) confirmed | unconfirmed | failed
    Column("state", String(12), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", DateTime(timezone=True), nullable=False),
    Column("claimed_at", DateTime(timezone=True)),
    Column("actor", String(80), nullable=False),
    Column("helpdesk", String(40)),
    Column("ticket_id", String(80)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(200)),  # what happened, in words: never a value
)

# the scheduled jobs
job_locks = Table(
    "job_locks", metadata,
    Column("job", String(40), primary_key=True),
    Column("holder", String(120)),  # host:pid of the process running it, NULL when free
    Column("leased_until", DateTime(timezone=True)),
    Column("slot", DateTime(timezone=True)),  # the schedule's fire time last claimed
)
# classes that need the whole base, by the `segments` job: one row per customer of a source
# that lists its purchases (classes and scores only: no amount is kept)
segments = Table(
    "segments", metadata,
    Column("source", String(40), primary_key=True),
    Column("external_id", String(120), primary_key=True),
    Column("abc_class", String(1), nullable=False),
    Column("rfm_r", Integer, nullable=False),
    Column("rfm_f", Integer, nullable=False),
    Column("rfm_m", Integer, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    # the class was set by the manifest's `jobs.segments.abc_override`, not computed
    Column("abc_overridden", Boolean),
)
# the brand's NPS answers per month (`YYYY-MM`), by the `segments` job over the sources that
# list survey answers: counts only, recomputed over the job's window (months before it kept)
brand_nps = Table(
    "brand_nps", metadata,
    Column("month", String(7), primary_key=True),
    Column("promoters", Integer, nullable=False),
    Column("passives", Integer, nullable=False),
    Column("detractors", Integer, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)
# the change feeds' cursors (`refresh_reviews`, `refresh_loyalty`): where each source's feed
# is read from next; advanced only once a page is handled
feed_cursors = Table(
    "feed_cursors", metadata,
    Column("source", String(40), primary_key=True),
    Column("feed", String(20), primary_key=True),
    Column("cursor", String(1000), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
# the notes a new review put on a customer's ticket: one per review and helpdesk, written in the
# same transaction as the queued note, so a run read again never notes it twice
review_alerts = Table(
    "review_alerts", metadata,
    Column("source", String(40), primary_key=True),
    Column("review_key", String(64), primary_key=True),  # a digest of the feed's item key
    Column("helpdesk", String(40), primary_key=True),
    Column("customer_id", String(40), nullable=False, index=True),
    Column("ticket_id", String(80), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)
# each known customer's last loyalty tier, as the loyalty feed said (by the feed source's own id
# of the customer, as `segments`), with the tier before it and the day it changed
loyalty_tiers = Table(
    "loyalty_tiers", metadata,
    Column("source", String(40), primary_key=True),
    Column("external_id", String(120), primary_key=True),
    Column("customer_id", String(40), nullable=False, index=True),
    Column("tier", String(80)),
    Column("previous_tier", String(80)),
    Column("changed_on", Date),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)
job_runs = Table(
    "job_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(40), nullable=False, index=True),
    Column("holder", String(120), nullable=False),
    Column("slot", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", String(12), nullable=False),
    Column("summary", String(400)),
    Column("error", String(80)),
)
# which records changed, for the pages each process keeps (`store.versions`): a row per change
# of a customer's kept parts (`c:<customer id>`) or of a table read whole (`t:<table>`), written
# by the database's own triggers, whoever writes; pruned within minutes
record_changes = Table(
    "record_changes", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("key", String(200), nullable=False),
    Index("ix_record_changes_key", "key", "id"),
    sqlite_autoincrement=True,  # an id never given twice: a key's newest id tells a change
)
