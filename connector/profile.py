"""Assemble the customer: ask every source in parallel through the cache, merge, compute."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

from connector.cache import Policy, SingleFlight
from connector.flags import evaluate_flags
from connector.i18n import LOCALES
from connector.identity import normalise
from connector.kpis import compute_contacts, compute_kpis, compute_sentiment
from connector.manifest import Manifest
from connector.models import (
    Address,
    CustomerProfile,
    Identity,
    Loyalty,
    SourceState,
    SourceStatus,
    Status,
)
from connector.sources.base import Identifiers, Source, SourceError, SourceResult
from connector.sources.guard import SourceGuard

log = logging.getLogger(__name__)

NOT_FOUND_TTL_S = 60.0
DEADLINE_MARGIN_S = 0.25
LIST_SECTIONS = ("orders", "store_purchases", "reviews", "campaigns", "notes")
T = TypeVar("T")


@dataclass
class Outcome:
    """How one source answered for one lookup."""

    result: SourceResult | None
    status: SourceStatus
    from_cache: bool = False


@dataclass
class Lookup:
    """A lookup's answer: the customer (None when no source knows them), each source's status."""

    profile: CustomerProfile | None
    sources: dict[str, SourceStatus]


class ProfileAssembler:
    """Builds canonical customers from the manifest's sources."""

    def __init__(
        self,
        manifest: Manifest,
        sources: dict[str, Source],
        cache: SingleFlight,
        pool: ThreadPoolExecutor,
        observe: Callable[[str, SourceStatus, bool], None] | None = None,
    ) -> None:
        self.manifest = manifest
        self.sources = sources
        self.cache = cache
        self.pool = pool
        self.observe = observe
        self.guards = {
            name: SourceGuard(c.max_concurrency, c.circuit, wait_s=c.timeout_s)
            for name, c in manifest.sources.items()
        }

    def invalidate(self, ids: Identifiers, source: str | None = None) -> int:
        """Forget what the cache holds on these identifiers (in one source, or all)."""
        prefix = f"src:{source}:" if source else "src:"
        return self.cache.cache.invalidate_tags(_id_tags(ids), prefix)

    def lookup(self, ids: Identifiers, locale: str | None = None) -> Lookup:
        """Ask every source; ask again those that did not know the customer when others taught us
        more identifiers (the ERP gives the email of a phone number, loyalty the card)."""
        outcomes = self._fan_out(list(self.sources), ids)
        learned = ids.merged(_learned_identifiers(outcomes, self.manifest.brand.default_region))
        retry = [n for n, o in outcomes.items() if o.status.status == SourceState.NOT_FOUND]
        if learned != ids and retry:
            outcomes.update(self._fan_out(retry, learned))
        statuses = {name: outcomes[name].status for name in self.sources}
        if not any(o.result is not None and o.result.found for o in outcomes.values()):
            return Lookup(profile=None, sources=statuses)
        if locale not in LOCALES:
            locale = self.manifest.brand.locale
        profile = self._merge(outcomes, statuses, locale)
        return Lookup(profile=profile, sources=statuses)

    def _fan_out(self, names: list[str], ids: Identifiers) -> dict[str, Outcome]:
        started = time.monotonic()
        futures: dict[str, Future[Outcome]] = {
            name: self.pool.submit(self._fetch, name, ids) for name in names
        }
        outcomes = {}
        for name, future in futures.items():
            timeout_s = self.manifest.sources[name].timeout_s
            remaining = started + timeout_s + DEADLINE_MARGIN_S - time.monotonic()
            try:
                outcomes[name] = future.result(timeout=max(remaining, 0.0))
            except FutureTimeout:
                status = SourceStatus(status=SourceState.TIMEOUT, latency_ms=timeout_s * 1000,
                                      error=f"no answer within {timeout_s:g} s")
                outcomes[name] = Outcome(None, status)
            if self.observe is not None:
                self.observe(name, outcomes[name].status, outcomes[name].from_cache)
        return outcomes

    def _fetch(self, name: str, ids: Identifiers) -> Outcome:
        config = self.manifest.sources[name]
        source = self.sources[name]
        guard = self.guards[name]
        region = self.manifest.brand.default_region
        policy = Policy(
            ttl_for=lambda r: config.ttl_s if r.found else min(config.ttl_s, NOT_FOUND_TTL_S),
            stale_ttl_s=config.stale_ttl_s,
            revalidate_s=config.revalidate_s,
            tags_for=lambda r: _id_tags(ids.merged(_learned_identifiers({name: Outcome(r, _OK)},
                                                                         region))),
        )
        started = time.monotonic()
        try:
            loaded = self.cache.load(f"src:{name}:{ids.cache_key()}",
                                     lambda: guard.run(lambda: source.fetch(ids)), policy)
        except SourceError as exc:
            log.warning("source %s failed: %s", name, exc)
            return Outcome(None, _status(exc.state, started, error=exc.public))
        except Exception:
            log.exception("source %s: unexpected failure", name)
            return Outcome(None, _status(SourceState.ERROR, started, error="internal error"))
        result: SourceResult = loaded.value
        state = SourceState.OK if result.found else SourceState.NOT_FOUND
        error = None
        if loaded.stale_error is not None:
            state, error = SourceState.STALE, loaded.stale_error.public
        fetched_at = dt.datetime.fromtimestamp(loaded.stored_at, dt.UTC)
        status = _status(state, started, fetched_at=fetched_at, error=error)
        return Outcome(result, status, from_cache=loaded.from_cache)

    def _merge(
        self, outcomes: dict[str, Outcome], statuses: dict[str, SourceStatus], locale: str
    ) -> CustomerProfile:
        found = {
            name: o.result for name in self.sources
            if (o := outcomes[name]).result is not None and o.result.found
        }
        sections = _merged_sections(found, self.manifest.brand.default_region)
        rules = self.manifest.kpis
        purchases = [p for kind in rules.purchases for p in sections[kind]]
        profile = CustomerProfile(
            customer_id=_customer_id(found, sections["identity"]),
            identity=sections["identity"],
            status=sections["status"],
            loyalty=sections["loyalty"],
            kpis=compute_kpis(
                purchases, sections["surveys"], exclude_statuses=rules.exclude_statuses,
                satisfaction_window=rules.satisfaction_window,
                currency=self.manifest.brand.currency,
            ),
            sentiment=compute_sentiment(sections["surveys"]),
            contacts=compute_contacts(sections["contacts"], rules.repeat_window_days),
            sources=statuses,
            **{name: sections[name] for name in LIST_SECTIONS},
        )
        given = sections.get("kpis")
        if given is not None:
            profile.kpis = profile.kpis.model_copy(update=given.model_dump(exclude_none=True))
        today = dt.datetime.now(dt.UTC).date()
        profile.flags = evaluate_flags(profile, sections["contacts"], self.manifest.flags,
                                       today, locale)
        return profile


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


def _merged_sections(found: dict[str, SourceResult], region: str) -> dict[str, Any]:
    """Sources in manifest order: first value wins for single fields, lists are concatenated."""
    identities = [r.sections["identity"] for r in found.values() if "identity" in r.sections]
    statuses = [r.sections["status"] for r in found.values() if "status" in r.sections]
    loyalties = [r.sections["loyalty"] for r in found.values() if "loyalty" in r.sections]
    merged: dict[str, Any] = {
        "identity": _merge_identity(identities, found, region),
        "status": _first_values(Status, statuses, union=("tags",)),
        "loyalty": _first_values(Loyalty, loyalties),
    }
    for name in (*LIST_SECTIONS, "surveys", "contacts"):
        items = [i for r in found.values() for i in r.sections.get(name, [])]
        merged[name] = sorted(items, key=_newest_key, reverse=True)
    for result in found.values():
        if "kpis" in result.sections:
            merged.setdefault("kpis", result.sections["kpis"])
    return merged


def _merge_identity(identities: list[Identity], found: dict[str, SourceResult],
                    region: str) -> Identity:
    identity = _first_values(Identity, identities, union=("emails", "phones"))
    emails = [e for raw in identity.emails if (e := normalise("email", raw, region))]
    phones = [p for raw in identity.phones if (p := normalise("phone", raw, region))]
    address = next((i.address for i in identities if i.address != Address()), Address())
    full_name = identity.full_name or " ".join(
        n for n in (identity.first_name, identity.last_name) if n
    ) or None
    external = {name: r.external_id for name, r in found.items() if r.external_id}
    return identity.model_copy(update={
        "emails": list(dict.fromkeys(emails)), "phones": list(dict.fromkeys(phones)),
        "address": address, "full_name": full_name, "external_ids": external,
    })


def _first_values(model: type[T], values: list[Any], union: tuple[str, ...] = ()) -> T:
    merged: dict[str, Any] = {}
    for value in values:
        for key, item in value.model_dump(exclude_defaults=True).items():
            if key in union:
                merged[key] = list(dict.fromkeys([*merged.get(key, []), *item]))
            else:
                merged.setdefault(key, item)
    return model.model_validate(merged)  # type: ignore[attr-defined, no-any-return]


def _learned_identifiers(outcomes: dict[str, Outcome], region: str) -> Identifiers:
    emails: list[str] = []
    phones: list[str] = []
    cards: list[str] = []
    for outcome in outcomes.values():
        if outcome.result is None or not outcome.result.found:
            continue
        identity = outcome.result.sections.get("identity")
        if identity is not None:
            emails += [e for raw in identity.emails if (e := normalise("email", raw, region))]
            phones += [p for raw in identity.phones if (p := normalise("phone", raw, region))]
        loyalty = outcome.result.sections.get("loyalty")
        if loyalty is not None and loyalty.card:
            cards += [c for c in [normalise("card", loyalty.card, region)] if c]
    return Identifiers(tuple(emails), tuple(phones), tuple(cards))


_OK = SourceStatus(status=SourceState.OK)


def _id_tags(ids: Identifiers) -> list[str]:
    """Cache tags naming a customer's identifiers, so an event about one drops every entry."""
    return [f"{kind}:{value}" for kind in ("email", "phone", "card") for value in ids.of(kind)]


def _customer_id(found: dict[str, SourceResult], identity: Identity) -> str:
    """A stable id: the first source's own id for the customer, else their email or phone."""
    anchor = next((f"{n}:{r.external_id}" for n, r in found.items() if r.external_id), None)
    anchor = anchor or next(iter(identity.emails), None) or next(iter(identity.phones), "unknown")
    return "cus_" + hashlib.sha256(anchor.encode()).hexdigest()[:20]


def _newest_key(item: Any) -> tuple[int, str]:
    value = getattr(item, "date", None)
    return (1, value.isoformat()) if value is not None else (0, "")
