"""Loyalty tiers as the loyalty change feed told them (`refresh_loyalty`): each known customer's
last tier, kept by the feed source's own id of them, with the tier before it and the day it
changed. The record reads them (`Loyalty.previous_tier`, `tier_changed_at`) for the flag rule
that says a tier changed."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from connector.store.engine import by_source_ids, insert_ignoring, reading, source_ids
from connector.store.schema import loyalty_tiers


@dataclass(frozen=True)
class TierChange:
    """A customer's tier moved: from `previous` to `tier`, on `on` (`again`: recorded by an
    earlier read of the same feed items, today)."""

    customer_id: str
    previous: str | None
    tier: str | None
    on: dt.date
    again: bool = False


def kept_tier(engine: Engine, external_ids: Mapping[str, str]
              ) -> tuple[str | None, str | None, dt.date | None] | None:
    """The tier, previous tier and day of change kept for this customer (by their ids in the
    sources with a loyalty feed), the most recently seen if several; None when none is kept."""
    params = source_ids(external_ids)
    if not params:
        return None
    with reading(engine) as connection:
        row = connection.execute(_kept_statement(len(params) // 2), params).first()
    return None if row is None else (row.tier, row.previous_tier, row.changed_on)


@functools.lru_cache(maxsize=16)
def _kept_statement(count: int) -> Select[Any]:
    return (select(loyalty_tiers.c.tier, loyalty_tiers.c.previous_tier,
                   loyalty_tiers.c.changed_on)
            .where(by_source_ids(loyalty_tiers, count))
            .order_by(loyalty_tiers.c.seen_at.desc()).limit(1))


def record_tier(connection: Connection, source: str, external_id: str, customer_id: str,
                tier: str | None, now: dt.datetime, said_before: str | None = None
                ) -> TierChange | None:
    """Keep the tier the feed gives now; the change when it differs from the one kept (or,
    for the first tier seen of a customer, from the one the feed says they had before, if it
    says), or when this same change was recorded today (a run that died is read again: its
    write-back may not have been queued)."""
    key = and_(loyalty_tiers.c.source == source,
               loyalty_tiers.c.external_id == external_id[:120])
    kept = connection.execute(select(loyalty_tiers.c.tier, loyalty_tiers.c.previous_tier,
                                     loyalty_tiers.c.changed_on).where(key)).first()
    if kept is None:
        moved = said_before is not None and said_before != tier
        connection.execute(insert_ignoring(connection, loyalty_tiers), [{
            "source": source, "external_id": external_id[:120], "customer_id": customer_id,
            "tier": tier, "seen_at": now, "previous_tier": said_before if moved else None,
            "changed_on": now.date() if moved else None}])
        return TierChange(customer_id, said_before, tier, now.date()) if moved else None
    values: dict[str, object] = {"customer_id": customer_id, "seen_at": now}
    change = None
    if kept.tier != tier:
        change = TierChange(customer_id, kept.tier, tier, now.date())
        values.update(tier=tier, previous_tier=kept.tier, changed_on=now.date())
    elif kept.changed_on == now.date() and kept.previous_tier is not None:
        change = TierChange(customer_id, kept.previous_tier, tier, now.date(), again=True)
    connection.execute(update(loyalty_tiers).where(key).values(**values))
    return change
