"""Assemble the customer: ask every source in parallel through the cache, merge, compute."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from connector.customer.answers import Outcome
from connector.customer.flags import complaints_of, evaluate_flags, past_of, shown, written
from connector.customer.identification import Identification, Identified
from connector.customer.kpis import (
    compute_contacts,
    compute_kpis,
    compute_sentiment,
    one_sale_once,
)
from connector.customer.links import Link
from connector.customer.merge import (
    LIST_SECTIONS,
    Found,
    found_identifiers,
    merged_sections,
    newest_key,
)
from connector.customer.notes import Notes
from connector.customer.ranking import AbcOverride, stored
from connector.customer.resolver import Resolver, to_identifiers
from connector.customer.rules import RecordSettings
from connector.customer.segments import SegmentSettings, apply_segments
from connector.customer.tiers import kept_tier
from connector.customer.unchecked import UncheckedIdentification, Undecided
from connector.i18n import LOCALES
from connector.identifiers import Identifiers, email_for_source
from connector.models import (
    Candidate,
    ContactEvent,
    CustomerProfile,
    Flag,
    Match,
    SourceState,
    SourceStatus,
)
from connector.ops.gate import Gate
from connector.sources.base import (
    Source,
    SourceError,
    SourceResult,
    SourceTimeout,
    current_deadline,
    deadline_at,
)
from connector.sources.cache import Loaded, Policy, SingleFlight, source_of, spread
from connector.sources.guard import CircuitOpen, SourceGuard
from connector.sources.shared_state import SharedFlags
from connector.store.engine import shared_reads
from connector.store.guard import unavailable
from connector.store.versions import CACHE_KEY, cached_answer, changed, not_kept

log = logging.getLogger(__name__)

NOT_FOUND_TTL_S = 60.0
KEEPABLE = frozenset({SourceState.OK, SourceState.NOT_FOUND})  # answers a kept page may show
T = TypeVar("T")
Ticket = tuple[str, str]  # (helpdesk, ticket id): the ticket being handled
DEADLINE_MARGIN_S = 0.25


@dataclass
class Lookup:
    """A lookup's answer: the customer (None when no source knows them, or when several people
    match and the agent must choose among `candidates`), and each source's status. When the
    link store could not be read, `identity_checked` is False: the profile is what the sources
    alone say, or nobody when they cannot tell who it is (`undecided`: several people fit, or
    the agent chose a person by id, whom only the store knows)."""

    profile: CustomerProfile | None
    sources: dict[str, SourceStatus]
    candidates: list[Candidate] = field(default_factory=list)
    identity_checked: bool = True
    undecided: bool = False
    # every flag that applies, most important first: the profile shows the first
    # `flags.max_shown`, write-back carries them all
    flags: list[Flag] = field(default_factory=list)
    # an identifier asked by is on the suppression list (`forget --suppress`): nobody is
    # shown, no source asked, nothing learnt
    suppressed: bool = False
    # who it is (the profile's id; alone, without a profile, from `lookup(…, record=False)`)
    customer_id: str | None = None

    @property
    def unanswered(self) -> list[str]:
        """The sources that could not say whether they know the customer (too slow, failing,
        paused, or only an old copy): while any did, "no such customer" is not known."""
        return [name for name, status in self.sources.items()
                if status.status not in (SourceState.OK, SourceState.NOT_FOUND)]


class IdentityNotChecked(Exception):
    """The link store could not be read: who this is waits until it can (events)."""


class ContactHistory(Protocol):
    """Where requests recorded from helpdesk events are kept (the event log)."""

    def tickets_of(self, customer_id: str) -> list[tuple[Ticket, ContactEvent]]: ...


class AssemblySettings(RecordSettings, SegmentSettings, Protocol):
    """What a record is assembled and segmented by (the manifest satisfies it)."""


class ProfileAssembler:
    """Builds canonical customers from the manifest's sources."""

    def __init__(
        self,
        manifest: AssemblySettings,
        sources: dict[str, Source],
        cache: SingleFlight,
        pool: ThreadPoolExecutor,
        resolver: Resolver,
        observe: Callable[[str, SourceStatus, bool], None] | None = None,
        circuits: SharedFlags | None = None,
    ) -> None:
        self.manifest = manifest
        self.sources = sources
        self.cache = cache
        self.pool = pool
        self.resolver = resolver
        self.notes = Notes(resolver.store)
        self.history: ContactHistory | None = None  # requests recorded from helpdesk events
        self.abc_override = AbcOverride()  # the manifest's `jobs.segments.abc_override`
        self.observe = observe
        self.gate = Gate()  # the process's CPU slots (`CONNECTOR_CPU_SLOTS`), given up to wait
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # tests freeze it
        self.region = manifest.brand.default_region
        self.guards = {  # each source on its own threads, a slow answer counted as a failure
            name: SourceGuard(c.max_concurrency, c.circuit, wait_s=c.timeout_s,
                              slow_s=c.timeout_s, name=name, shared=circuits)
            for name, c in manifest.sources.items()
        }

    @property
    def source_names(self) -> list[str]:
        """The sources, in manifest order."""
        return list(self.sources)

    def lookup_kinds(self, name: str) -> list[str]:
        """The kinds of identifier a source is asked by."""
        config = self.manifest.sources[name]
        return list(getattr(config, "lookup_by", None) or getattr(config, "match", {}))

    def revalidate_s(self, cache_key: str) -> float:
        """How long past its TTL the answer under a cache key is served while it is refreshed
        (its source's `revalidate_s`, as `_fetch` gives the cache)."""
        config = self.manifest.sources.get(source_of(cache_key))
        return float(getattr(config, "revalidate_s", 0) or 0)

    def invalidate(self, ids: Identifiers, source: str | None = None) -> int:
        """Forget what the cache holds on these identifiers (in one source, or all)."""
        prefix = f"src:{source}:" if source else "src:"
        dropped = self.cache.cache.invalidate_tags(_id_tags(ids), prefix)
        try:  # then said, for the pages every process keeps (not before: `store.versions`)
            changed(self.resolver.store.engine, CACHE_KEY)
        except Exception as exc:
            log.warning("cache invalidation not told to the kept pages (%s): they show the "
                        "answers as cached until their TTL", type(exc).__name__)
        return dropped

    def lookup(self, ids: Identifiers, locale: str | None = None,
               customer_id: str | None = None, ticket: Ticket | None = None,
               record: bool = True) -> Lookup:
        """Resolve who this is, ask every source, tell the customer's records from those of
        people who only share an identifier with them, merge, and learn. Several people
        fitting the identifiers are returned as candidates, never guessed. When the link
        store cannot be read (down, hung, too slow), the record is what the sources alone say,
        identity not checked (`customer.unchecked`). `ticket`, the one being handled, counts
        as a contact, never as its own past complaint. Without `record`, the same up to who
        it is (the sources asked, their answers cached, links learnt): `customer_id` and no
        profile, neither merged nor flagged nor read from what we keep (an event that only
        needs to know whose it is: about half the lookup's work)."""
        try:
            return self._checked(ids, locale, customer_id, ticket, record)
        except Exception as exc:
            if not unavailable(exc):
                raise
            log.warning("link store unavailable (%s): the record comes from the sources alone, "
                        "identity not checked", type(exc).__name__)
        return self._unchecked(ids, locale, customer_id)

    def _checked(self, ids: Identifiers, locale: str | None, customer_id: str | None,
                 ticket: Ticket | None = None, record: bool = True) -> Lookup:
        """The lookup through the link store (raises when the store cannot be read)."""
        for attempt in range(3):  # again when a link the resolution used was withdrawn
            with self.resolver.store.one_view():
                if attempt == 0 and self._suppressed(ids):
                    return Lookup(None, {}, suppressed=True)
                resolved = (self.resolver.person(customer_id, ids) if customer_id
                            else self.resolver.resolve(ids))
                found = Identification(self, ids, resolved, chosen=bool(customer_id)).run()
            if found is not None and len(found.candidates) == 1 and not customer_id:
                customer_id = found.candidates[0].customer_id  # the others held it once only
                continue
            if found is not None and not record:
                whose = None if found.candidates or not found.results else found.customer_id
                return Lookup(None, found.statuses, found.candidates, customer_id=whose)
            if found is not None:
                return self._finish(found, ids, locale, ticket=ticket)
        return Lookup(None, {})

    def _suppressed(self, ids: Identifiers) -> bool:
        """Whether an identifier asked by is on the suppression list (`forget --suppress`).
        Only those nobody holds are looked for: a suppressed identifier is never linked
        (forget erases its links, `link` refuses it), so a known person's lookup reads nothing
        more than its resolution does (the owners read here is the view's, read once)."""
        store = self.resolver.store
        free = [pair for pair, held in store.owners(ids.pairs()).items() if not held]
        return bool(free) and bool(store.suppressed(free))

    def _unchecked(self, ids: Identifiers, locale: str | None,
                   customer_id: str | None) -> Lookup:
        """The lookup on the sources' answers alone: one person, or nobody (`undecided` when
        several people fit, or when the agent chose a person the store alone knows)."""
        if customer_id:
            return Lookup(None, {}, identity_checked=False, undecided=True)
        try:
            found = UncheckedIdentification(self, ids).run()
        except Undecided as several:
            return Lookup(None, several.statuses, identity_checked=False, undecided=True)
        if found is None:  # only a withdrawn link makes it None, and nothing is read here
            return Lookup(None, {}, identity_checked=False)
        return self._finish(found, ids, locale, checked=False)

    def _finish(self, found: Identified, ids: Identifiers, locale: str | None,
                checked: bool = True, ticket: Ticket | None = None) -> Lookup:
        """The customer's record from their sources' answers, with what we keep ourselves
        (contacts recorded from helpdesk events, notes): said unavailable when the store
        cannot be read, the rest of the record whole."""
        if found.candidates or not found.results:
            return Lookup(None, found.statuses, found.candidates, identity_checked=checked)
        customer_id = found.customer_id
        missing: list[str] = []
        history = self.history
        with shared_reads():  # what we keep, read on one connection: nothing waited on here
            tickets = (_kept(lambda: history.tickets_of(customer_id), "contacts", missing)
                       if history is not None and checked else [])
            recorded = [contact for _, contact in tickets]
            current = [contact for key, contact in tickets
                       if ticket is not None and key == ticket]
            profile, every = self._merge(found.results, found.statuses,
                                         locale if locale in LOCALES
                                         else self.manifest.brand.locale, recorded, current)
            profile.customer_id = customer_id
            profile.matched = _matches(ids, found_identifiers(found.results, self.region),
                                       found.links)
            kept = (_kept(lambda: self.notes.of(customer_id), "notes", missing)
                    if checked else [])
        profile.notes = [note.as_note() for note in kept] + profile.notes
        if not checked:
            missing = ["contacts", "notes"] if history is not None else ["notes"]
        profile.identity_checked = checked
        profile.unavailable = sorted(missing)
        return Lookup(profile=profile, sources=found.statuses, identity_checked=checked,
                      flags=written(every, self.manifest.flags), customer_id=customer_id)

    def _kept_classes(self, profile: CustomerProfile) -> None:
        """The ABC class and RFM scores the `segments` job kept (a class a source gives stands;
        an admin's override wins: a listed customer's, kept by the job, then a status tag's,
        applied here); left out, with a log line, when the store cannot be read. Only the
        customer's ids in the sources that list purchases are asked for: with none, no read
        at all (the sidebar's hot path)."""
        listed = {source: value for source, value in profile.identity.external_ids.items()
                  if getattr(self.manifest.sources.get(source), "purchases", None) is not None}
        kept = None
        try:
            kept = stored(self.resolver.store.engine, listed) if listed else None
        except SQLAlchemyError as exc:
            log.warning("segments not read: %s", type(exc).__name__)
            not_kept("segments not read")
        status = profile.status
        update: dict[str, object] = {}
        if kept is not None:
            update = {"abc_class": kept.abc_class if kept.overridden
                      else status.abc_class or kept.abc_class, "rfm": kept.rfm,
                      "classes_at": kept.computed_at, "abc_overridden": kept.overridden}
        by_tag = self.abc_override.by_tags(status.tags)
        if by_tag is not None and not update.get("abc_overridden"):
            update |= {"abc_class": by_tag, "abc_overridden": True}
        if update:
            profile.status = status.model_copy(update=update)

    def _kept_tier(self, profile: CustomerProfile) -> None:
        """The tier before the last change the loyalty feed told, and the day it changed
        (`refresh_loyalty`), when the record's tier is still the one it changed to; asked only
        by the customer's ids in sources with a loyalty feed (none: no read at all)."""
        fed = {source: value for source, value in profile.identity.external_ids.items()
               if getattr(getattr(self.manifest.sources.get(source), "changes", None),
                          "loyalty", None) is not None}
        if not fed:
            return
        try:
            kept = kept_tier(self.resolver.store.engine, fed)
        except SQLAlchemyError as exc:
            log.warning("loyalty tier changes not read: %s", type(exc).__name__)
            not_kept("tiers not read")
            return
        loyalty = profile.loyalty
        if kept is None or kept[1] is None or loyalty is None:
            return
        tier, previous, changed = kept
        if loyalty.tier in (None, tier):
            profile.loyalty = loyalty.model_copy(update={
                "tier": tier, "previous_tier": previous, "tier_changed_at": changed})

    def close(self) -> None:
        """Stop the sources' own threads, and close the shared cache's connections if any."""
        for guard in self.guards.values():
            guard.close()
        closing = getattr(self.cache.cache, "close", None)  # a shared cache's (Redis)
        if callable(closing):
            closing()

    def fan_out(self, names: list[str], ids: Identifiers) -> dict[str, Outcome]:
        """Every named source asked in parallel with these identifiers, each on its own threads
        (a stuck source never holds another's answers) and within its deadline, past which its
        stale copy stands in, if any; a fresh cached answer is taken at once. Answers are cached
        by exactly what they were asked with."""
        started = time.monotonic()
        key = ids.cache_key()
        outcomes: dict[str, Outcome] = {}
        futures: dict[str, tuple[Future[Outcome], float]] = {}
        fresh = self.cache.fresh_many([f"src:{name}:{key}" for name in names])  # one round trip
        for name, cached in zip(names, fresh, strict=True):
            if cached is not None:
                outcomes[name] = self._outcome(cached, f"src:{name}:{key}", started)
                continue
            paused = self._paused(name)
            if paused is not None:  # not even queued for its threads, which it may hold stuck
                outcomes[name] = self._without(f"src:{name}:{key}", paused, started)
                continue
            due = current_deadline(self.manifest.sources[name].timeout_s) or started
            futures[name] = (self.guards[name].submit(
                partial(self._fetch, name, ids, key, started, due)), due)
        for name, (future, due) in futures.items():
            outcomes[name] = self._awaited(name, future, f"src:{name}:{key}", started, due)
        for name in names:
            outcome = outcomes[name]
            if self.observe is not None:
                self.observe(name, outcome.status, outcome.from_cache)
            # what a page kept is made of: answers as stored, never a stale or missing one
            cached_answer(f"src:{name}:{key}", outcome.stored_at
                          if outcome.status.status in KEEPABLE else None, outcome.fresh_until)
        return {name: outcomes[name] for name in names}

    def _paused(self, name: str) -> SourceError | None:
        """Why a source is not asked now: its circuit is open (here or in another process), or
        a call to it still runs past its deadline (a lookup would only wait behind it for its
        whole timeout: a failure of the source, counted as such); None when it is asked."""
        guard = self.guards[name]
        paused = guard.paused()
        if paused is None and guard.stuck():
            guard.overdue()
            return SourceTimeout("no answer in time", "a call to it still runs past its deadline")
        return paused

    def _awaited(self, name: str, future: Future[Outcome], cache_key: str, started: float,
                 due: float) -> Outcome:
        """A source's outcome by its deadline; past it, its stale copy, else a timeout."""
        try:
            with self.gate.released():  # waiting on a source: another request's turn
                return future.result(timeout=max(due + DEADLINE_MARGIN_S - time.monotonic(),
                                                  0.0))
        except FutureTimeout:
            # still queued behind the source's own busy threads: never run it; running past
            # its deadline: its own bounds did not end it, a failure of the source
            if not future.cancel():
                self.guards[name].overdue()
        return self._missed(name, cache_key, started)

    def _missed(self, name: str, cache_key: str, started: float) -> Outcome:
        """A source that missed its deadline: its stale copy if the cache keeps one."""
        timeout_s = self.manifest.sources[name].timeout_s
        late = SourceTimeout(f"no answer within {timeout_s:g} s")
        log.warning("source %s: no answer by its deadline (%g s)", name, timeout_s)
        return self._without(cache_key, late, started)

    def _without(self, cache_key: str, why: SourceError, started: float) -> Outcome:
        """A source not heard from (`why`): its stale copy if the cache keeps one."""
        kept = self.cache.kept(cache_key, why)
        if kept is None:
            return Outcome(None, _status(why.state, started, error=why.public))
        return self._outcome(kept, cache_key, started)

    def _fetch(self, name: str, ids: Identifiers, key: str, started: float,
               due: float) -> Outcome:
        """One source's answer through the cache, every call of it ending by `due`."""
        config = self.manifest.sources[name]
        source = self.sources[name]
        guard = self.guards[name]
        region = self.manifest.brand.default_region
        cache_key = f"src:{name}:{key}"
        policy = Policy(
            ttl_for=lambda r: spread(cache_key, config.ttl_s if r.found
                                     else min(config.ttl_s, NOT_FOUND_TTL_S)),
            stale_ttl_s=config.stale_ttl_s,
            revalidate_s=config.revalidate_s,
            tags_for=lambda r: _id_tags(ids.merged(to_identifiers(
                (k, v) for k, v, _ in found_identifiers({name: r}, region)))),
        )
        if time.monotonic() >= due:  # it waited its turn past its deadline: do not call now
            return self._missed(name, cache_key, started)
        asked = as_stored(ids, config.email_domains)
        try:
            with deadline_at(due):
                loaded = self.cache.load(cache_key,
                                         lambda: guard.run(lambda: source.fetch(asked)), policy,
                                         refresher=guard.threads)
        except SourceError as exc:  # what the record says, then what happened (a call cut at
            # its deadline reads "Connection aborted" alone, which an operator takes for a refusal)
            _behind_stuck(guard, exc)
            said = exc.public if str(exc) == exc.public else f"{exc.public} ({exc})"
            # a paused source was logged once as it paused (`SourceGuard`), not at every lookup
            log.log(logging.DEBUG if isinstance(exc, CircuitOpen) else logging.WARNING,
                    "source %s failed: %s", name, said)
            return Outcome(None, _status(exc.state, started, error=exc.public))
        except Exception:
            log.exception("source %s: unexpected failure", name)
            return Outcome(None, _status(SourceState.ERROR, started, error="internal error"))
        _behind_stuck(guard, loaded.stale_error)
        return self._outcome(loaded, cache_key, started)

    def _outcome(self, loaded: Loaded, cache_key: str, started: float) -> Outcome:
        """What a source's answer (fresh, new or stale) says, with its status."""
        result: SourceResult = loaded.value
        state = SourceState.OK if result.found else SourceState.NOT_FOUND
        error = None
        if result.candidates:
            state, error = SourceState.NOT_FOUND, f"{len(result.candidates)} customers match"
        if loaded.stale_error is not None:
            state, error = SourceState.STALE, loaded.stale_error.public
        fetched_at = dt.datetime.fromtimestamp(loaded.stored_at, dt.UTC)
        status = _status(state, started, fetched_at=fetched_at, error=error)
        return Outcome(result, status, from_cache=loaded.from_cache, key=cache_key,
                       stored_at=loaded.stored_at, fresh_until=loaded.fresh_until)

    def _merge(self, found: dict[str, SourceResult], statuses: dict[str, SourceStatus],
               locale: str, recorded: list[ContactEvent],
               current: list[ContactEvent]) -> tuple[CustomerProfile, list[Flag]]:
        """The record, showing the first `flags.max_shown` flags, and every flag that applies.
        The ticket being handled (`current`) counts as a contact, not as a past complaint."""
        sections = merged_sections(found, self.region)
        if recorded:
            sections["contacts"] = sorted([*sections["contacts"], *recorded], key=newest_key,
                                          reverse=True)
        rules = self.manifest.kpis
        if rules.dedupe:  # one sale held by several sources counts, and shows, once
            sections.update(one_sale_once({k: sections[k] for k in ("orders", "store_purchases")},
                                          rules.dedupe, list(self.manifest.sources)))
        purchases = [p for kind in rules.purchases for p in sections[kind]]
        profile = CustomerProfile(
            customer_id="",
            identity=sections["identity"],
            status=sections["status"],
            loyalty=sections["loyalty"],
            consent=sections["consent"],
            kpis=compute_kpis(
                purchases, sections["surveys"], exclude_statuses=rules.exclude_statuses,
                satisfaction_window=rules.satisfaction_window,
                currency=self.manifest.brand.currency,
            ),
            sentiment=compute_sentiment(sections["surveys"]),
            contacts=compute_contacts(sections["contacts"], rules.repeat_window_days),
            requests=sections["contacts"], surveys=sections["surveys"],
            sources=statuses,
            **{name: sections[name] for name in LIST_SECTIONS},
        )
        given = sections.get("kpis")
        if given is not None:
            profile.kpis = profile.kpis.model_copy(update=given.model_dump(exclude_none=True))
        self._kept_classes(profile)
        self._kept_tier(profile)
        now = self.clock()
        today = now.date()
        apply_segments(profile, [p for p in purchases if p.status not in rules.exclude_statuses],
                       sections["surveys"], sections["contacts"], self.manifest.segments, now,
                       purchases_complete=self._answered(rules.purchases, statuses))
        flag_rules = self.manifest.flags
        profile.contacts.complaints = complaints_of(past_of(sections["contacts"], current),
                                                    flag_rules)
        every = evaluate_flags(profile, sections["contacts"], flag_rules, today, locale, current,
                               surveys=sections["surveys"])
        profile.flags = shown(every, flag_rules)
        return profile, every

    def _answered(self, kinds: Sequence[str], statuses: dict[str, SourceStatus]) -> bool:
        """Every source declaring one of these sections said what it knows (or has no
        status: not asked)."""
        return all(statuses[name].status in (SourceState.OK, SourceState.STALE,
                                             SourceState.NOT_FOUND)
                   for name, config in self.manifest.sources.items()
                   if name in statuses and set(kinds) & set(config.sections))


def as_stored(ids: Identifiers, email_domains: str) -> Identifiers:
    """The identifiers in the form a source stores them (its emails' domains in Unicode when
    it keeps them so)."""
    if email_domains != "unicode" or not ids.emails:
        return ids
    return dataclasses.replace(ids, emails=tuple(email_for_source(e, "unicode")
                                                 for e in ids.emails))


def _status(state: SourceState, started: float, *, fetched_at: dt.datetime | None = None,
            error: str | None = None) -> SourceStatus:
    now = dt.datetime.now(dt.UTC)
    return SourceStatus(
        status=state,
        fetched_at=fetched_at,
        age_s=round((now - fetched_at).total_seconds(), 1) if fetched_at else None,
        latency_ms=round((time.monotonic() - started) * 1000, 1),
        error=error,
    )


def _kept(read: Callable[[], list[T]], part: str, missing: list[str]) -> list[T]:
    """What we keep ourselves about the customer; none, and `part` added to `missing`, when
    the store cannot be read now."""
    try:
        return read()
    except Exception as exc:
        if not unavailable(exc):
            raise
        log.warning("%s unavailable: the store cannot be read (%s)", part, type(exc).__name__)
        missing.append(part)
        return []


def _behind_stuck(guard: SourceGuard, error: SourceError | None) -> None:
    """A lookup that timed out waiting behind another's call to the source that still runs
    past its deadline: a failure of the source (the stuck call itself may never end)."""
    if isinstance(error, SourceTimeout) and guard.stuck():
        guard.overdue()


def _id_tags(ids: Identifiers) -> list[str]:
    """Cache tags naming a customer's identifiers, so an event about one drops every entry."""
    return [f"{kind}:{value}" for kind, value in ids.pairs()]


def _matches(given: Identifiers, found: list[Found], links: list[Link]) -> list[Match]:
    """For each identifier of the ticket, the sources (or earlier links) that vouch for it."""
    vouchers: dict[tuple[str, str], set[str]] = {}
    for kind, value, source in found:
        vouchers.setdefault((kind, value), set()).add(source or "helpdesk")
    for link in links:
        vouchers.setdefault((link.kind, link.value), set()).add(link.source or "helpdesk")
    return [Match(kind=kind, value=value, sources=sorted(vouchers.get((kind, value), set())))
            for kind, value in given.pairs()]
