"""The demo ERP's loyalty export: the cards whose tier or points changed, after a cursor (what
the `refresh_loyalty` job reads), and tier changes now and then, written to the loyalty
database too so the sidebar's loyalty block says the same."""

from __future__ import annotations

import random
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request

Record = dict[str, Any]
TIERS = ("Bronze", "Argent", "Or")


@dataclass
class LoyaltyLog:
    """The members of the loyalty database, and every change made since the back office
    started, oldest first."""

    database: Path
    members: dict[str, Record] = field(default_factory=dict)
    changes: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, data_dir: Path) -> LoyaltyLog:
        """Read loyalty.sqlite from a generated demo directory (none: no members)."""
        log = cls(data_dir / "loyalty.sqlite")
        if log.database.exists():
            with sqlite3.connect(log.database) as db:
                rows = db.execute("SELECT card, email, points, tier FROM members").fetchall()
            log.members = {card: {"card": card, "email": email, "points": points, "tier": tier}
                           for card, email, points, tier in rows}
        return log

    def change(self, card: str, tier: str, points: int | None = None,
               customer_id: str | None = None) -> Record | None:
        """Move a member to this tier (and points) now; the change, None for an unknown card."""
        with self.lock:
            member = self.members.get(card)
            if member is None:
                return None
            before = member["tier"]
            member.update(tier=tier, points=member["points"] if points is None else points)
            with sqlite3.connect(self.database) as db:
                db.execute("UPDATE members SET tier = ?, points = ? WHERE card = ?",
                           (tier, member["points"], card))
            db.close()
            record = {**member, "previous_tier": before, "customer_id": customer_id,
                      "changed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "seq": len(self.changes) + 1}
            self.changes.append(record)
            return record

    def after(self, since: str, limit: int) -> list[Record]:
        """The changes after the cursor (`cursor_of`: a time, then the change's number, so
        that an ISO time is a cursor too), oldest first."""
        with self.lock:
            return [c for c in self.changes if cursor_of(c) > since][:limit]

    def shuffle_one(self, rng: random.Random, customer_of: dict[str, str]) -> Record | None:
        """A random member moves one tier up or down (what a live programme does)."""
        if not self.members:
            return None
        card = rng.choice(sorted(self.members))
        now = self.members[card]["tier"]
        place = TIERS.index(now) if now in TIERS else 0
        tier = TIERS[min(len(TIERS) - 1, place + 1)] if place == 0 or rng.random() < 0.5 \
            else TIERS[place - 1]
        email = str(self.members[card]["email"] or "").lower()
        return self.change(card, tier, customer_id=customer_of.get(email))


def loyalty_blueprint(loyalty: LoyaltyLog, customer_of: dict[str, str]) -> Blueprint:
    """`GET /erp/api/loyalty/changes?since=&limit=` and `POST /_admin/loyalty`."""
    blueprint = Blueprint("loyalty", __name__)

    @blueprint.get("/erp/api/loyalty/changes")
    def changes() -> Response:
        """Cards changed after the cursor (`since`: the last answer's `cursor`), oldest
        first, at most `limit` (100), each with its ERP customer id when it has one."""
        since = request.args.get("since", "")
        try:
            limit = max(1, min(500, int(request.args.get("limit", "100"))))
        except ValueError:
            return _error(400, "limit: a number")
        found = loyalty.after(since, limit)
        cursor = cursor_of(found[-1]) if found else since
        return jsonify({"cards": found, "cursor": cursor})

    @blueprint.post("/_admin/loyalty")
    def change_tier() -> Response:
        """Move a card to a tier now (tests and the demo's ticker): `{card, tier, points?}`."""
        wanted = request.get_json(silent=True)
        if not isinstance(wanted, dict) or not {"card", "tier"} <= set(wanted):
            return _error(400, "expected {card, tier, points?}")
        email = str(loyalty.members.get(wanted["card"], {}).get("email") or "").lower()
        record = loyalty.change(str(wanted["card"]), str(wanted["tier"]), wanted.get("points"),
                                customer_of.get(email))
        return jsonify(record) if record is not None else _error(404, "unknown card")

    return blueprint


def cursor_of(change: Record) -> str:
    """Where a read after this change starts: `2026-12-06T10:00:00Z|00000012`."""
    return f"{change['changed_at']}|{change['seq']:08d}"


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response
