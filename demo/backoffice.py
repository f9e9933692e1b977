"""The demo back office: the generated ERP and feedback platform (reviews, surveys, the
campaigns each customer received) served over real HTTP."""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import phonenumbers
from flask import Blueprint, Flask, Response, abort, jsonify, request
from werkzeug.serving import make_server

from demo.helpdesk import API_TOKEN, DemoTickets, helpdesk_blueprint
from demo.loyalty_feed import LoyaltyLog, loyalty_blueprint

Record = dict[str, Any]
FAULT_MODES = ("ok", "slow", "down")
SYSTEMS = {"/erp/api/": "erp", "/feedback/api/": "feedback"}


def to_e164(raw: str | None, region: str = "FR") -> str | None:
    """Normalise a phone number written in any format to E.164, or None if it is not one."""
    if not raw:
        return None
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass
class BackOfficeData:
    """The generated files, indexed the way the demo APIs look them up."""

    customers: dict[str, Record] = field(default_factory=dict)
    by_email: dict[str, list[str]] = field(default_factory=dict)
    by_phone: dict[str, list[str]] = field(default_factory=dict)
    orders: dict[str, list[Record]] = field(default_factory=dict)
    order_by_number: dict[str, Record] = field(default_factory=dict)
    reviews: dict[str, list[Record]] = field(default_factory=dict)
    surveys: dict[str, list[Record]] = field(default_factory=dict)
    campaigns: dict[str, list[Record]] = field(default_factory=dict)
    # every review with its email, oldest first: the change feed a review job reads
    review_log: list[Record] = field(default_factory=list)
    # every survey answer with its email, oldest first: the listing the NPS job reads
    survey_log: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # corrections applied, by idempotency key: a change sent twice is applied once
    applied: dict[str, Record] = field(default_factory=dict)
    writes: list[Record] = field(default_factory=list)  # each one applied: key, customer, fields

    @classmethod
    def load(cls, data_dir: Path) -> BackOfficeData:
        """Read erp.json and feedback.json from a generated demo directory."""
        erp = json.loads((data_dir / "erp.json").read_text(encoding="utf-8"))
        feedback = json.loads((data_dir / "feedback.json").read_text(encoding="utf-8"))
        data = cls()
        for customer in erp["customers"]:
            data.customers[customer["id"]] = customer
            data.by_email.setdefault(customer["email"].lower(), []).append(customer["id"])
            for number in {to_e164(customer["mobile"]), to_e164(customer["phone"])} - {None}:
                data.by_phone.setdefault(str(number), []).append(customer["id"])
        for order in erp["orders"]:
            data.orders.setdefault(order["customer_id"], []).append(order)
            data.order_by_number[order["number"]] = order
        for orders in data.orders.values():
            orders.sort(key=lambda o: (o["date"], o["number"]), reverse=True)
        data.reviews = _by_email(feedback["reviews"], "published_at")
        data.review_log = sorted(feedback["reviews"], key=lambda r: (r["published_at"], r["url"]))
        data.surveys = _by_email(feedback["surveys"], "answered_at")
        data.survey_log = sorted(feedback["surveys"],
                                 key=lambda a: (a["answered_at"], a["email"], a["type"]))
        data.campaigns = _by_email(feedback.get("campaigns", []), "sent_at")
        return data

    def add_review(self, review: Record) -> Record:
        """A review published now (or at its own `published_at`), in both views."""
        record = {"published_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  **review}
        with self.lock:
            self.review_log.append(record)
            self.review_log.sort(key=lambda r: (r["published_at"], r["url"]))
            public = {k: v for k, v in record.items() if k != "email"}
            self.reviews.setdefault(record["email"].lower(), []).insert(0, public)
        return record

    def add_survey(self, answer: Record) -> Record:
        """A survey answer given now (or at its own `answered_at`), in both views."""
        record = {"answered_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **answer}
        with self.lock:
            self.survey_log.append(record)
            self.survey_log.sort(key=lambda a: (a["answered_at"], a["email"], a["type"]))
            public = {k: v for k, v in record.items() if k != "email"}
            self.surveys.setdefault(record["email"].lower(), []).insert(0, public)
        return record

    def correct(self, customer_id: str, given: Record, key: str | None) -> tuple[Record, bool]:
        """Apply a correction to a customer (an `email`; a phone: `phone_new` replacing
        `phone_old`, the mobile when it matches neither; an `address` in the ERP's own words:
        {street, zip, city, country}), once per idempotency key; the customer as it is
        now, and whether the key had been applied before."""
        def apply() -> tuple[Record, list[str]]:
            customer = self.customers[customer_id]
            changed = []
            if isinstance(given.get("email"), str) and "@" in given["email"]:
                self._unindex(customer)
                customer["email"] = given["email"].strip()
                changed.append("email")
            if isinstance(given.get("phone_new"), str) and to_e164(given["phone_new"]):
                self._unindex(customer)
                old = to_e164(given.get("phone_old") or "")
                slot = "phone" if old and old == to_e164(customer.get("phone")) else "mobile"
                customer[slot] = to_e164(given["phone_new"])
                changed.append(slot)
            place = given.get("address")
            if isinstance(place, dict) and str(place.get("street") or "").strip():
                customer["address"] = {name: str(place.get(name) or "").strip()
                                       for name in ("street", "zip", "city", "country")}
                changed.append("address")
            self._index(customer)
            return dict(customer), changed
        return self._once(key, customer_id, apply)

    def open_return(self, number: str, given: Record, key: str | None) -> tuple[Record, bool]:
        """Open a return on an order (`reason`, `comment`), once per idempotency key."""
        def apply() -> tuple[Record, list[str]]:
            order = self.order_by_number[number]
            returns = order.setdefault("returns", [])
            opened = {"id": f"R-{number}-{len(returns) + 1}", "reason": given.get("reason"),
                      "comment": given.get("comment") or ""}
            returns.append(opened)
            return {"return": opened}, ["return"]
        return self._once(key, self.order_by_number[number]["customer_id"], apply)

    def resend_voucher(self, customer_id: str, key: str | None) -> tuple[Record, bool]:
        """Send the customer's current voucher again by email, once per idempotency key."""
        def apply() -> tuple[Record, list[str]]:
            return {"sent_to": self.customers[customer_id]["email"]}, ["voucher"]
        return self._once(key, customer_id, apply)

    def give_voucher(self, customer_id: str, given: Record,
                     key: str | None) -> tuple[Record, bool]:
        """A goodwill voucher for the customer (`amount`, `severity`), once per key."""
        def apply() -> tuple[Record, list[str]]:
            voucher = {"amount": given.get("amount"), "severity": given.get("severity"),
                       "sent_to": self.customers[customer_id]["email"]}
            return {"voucher": voucher}, ["goodwill_voucher"]
        return self._once(key, customer_id, apply)

    def _once(self, key: str | None, customer_id: str,
              apply: Callable[[], tuple[Record, list[str]]]) -> tuple[Record, bool]:
        """A change applied once per idempotency key (the same key again answers what it
        answered), logged in `writes`; the answer, and whether it was a replay."""
        with self.lock:
            if key and key in self.applied:
                return self.applied[key], True
            answer, changed = apply()
            if key:
                self.applied[key] = answer
            self.writes.append({"key": key, "customer_id": customer_id, "fields": changed})
            return answer, False

    def _unindex(self, customer: Record) -> None:
        for index, values in ((self.by_email, [customer["email"].lower()]),
                              (self.by_phone, [to_e164(customer["mobile"]),
                                               to_e164(customer["phone"])])):
            for value in values:
                if value and customer["id"] in index.get(str(value), []):
                    index[str(value)].remove(customer["id"])

    def _index(self, customer: Record) -> None:
        self._unindex(customer)
        self.by_email.setdefault(customer["email"].lower(), []).append(customer["id"])
        for number in {to_e164(customer["mobile"]), to_e164(customer["phone"])} - {None}:
            self.by_phone.setdefault(str(number), []).append(customer["id"])

    def find_customers(self, email: str | None, phone: str | None,
                       customer_id: str | None = None) -> list[Record]:
        """Customers matching every given criterion (email case-insensitive, phone any format)."""
        matches: set[str] | None = {customer_id} & set(self.customers) if customer_id else None
        if email:
            found_by_email = set(self.by_email.get(email.strip().lower(), []))
            matches = found_by_email if matches is None else matches & found_by_email
        if phone:
            found = set(self.by_phone.get(to_e164(phone) or "", []))
            matches = found if matches is None else matches & found
        return [self.customers[cid] for cid in sorted(matches or ())]

    def search(self, query: str, limit: int = 20) -> list[Record]:
        """Customers whose name holds every word of the query (accents and case ignored) and
        whose postcode is the query's number, if it has one."""
        words = [_folded(w) for w in query.split() if not w.isdigit()]
        numbers = [w for w in query.split() if w.isdigit()]
        found = []
        for customer in self.customers.values():
            name = _folded(f"{customer['first_name']} {customer['last_name']}")
            zip_code = customer["address"]["zip"]
            if all(w in name for w in words) and all(n == zip_code for n in numbers):
                found.append(customer)
        return sorted(found, key=lambda c: (c["last_name"], c["first_name"]))[:limit]


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _by_email(records: list[Record], stamp: str) -> dict[str, list[Record]]:
    """Group feedback records by lowercased email, newest first, without the email key."""
    grouped: dict[str, list[Record]] = {}
    for record in records:
        public = {key: value for key, value in record.items() if key != "email"}
        grouped.setdefault(record["email"].lower(), []).append(public)
    for items in grouped.values():
        items.sort(key=lambda item: item[stamp], reverse=True)
    return grouped


def _error(status: int, message: str) -> Response:
    """A JSON error response."""
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _erp_blueprint(data: BackOfficeData) -> Blueprint:
    """The ERP's customer API and its order pages (the back-office deep links)."""
    erp = Blueprint("erp", __name__, url_prefix="/erp")

    @erp.get("/api/customers")
    def customers() -> Response:
        email, phone = request.args.get("email"), request.args.get("phone")
        customer_id, query = request.args.get("id"), request.args.get("q")
        if query:
            return jsonify({"customers": data.search(query)})
        if not email and not phone and not customer_id:
            return _error(400, "give id, email, phone or q")
        return jsonify({"customers": data.find_customers(email, phone, customer_id)})

    @erp.get("/api/customers/all")
    def every_customer() -> Response:
        """The whole customer list, paged (`page` from 1, `per_page` up to 500), with a
        relative `next` link: what a job over the base reads."""
        page, per_page = _paging(request.args)
        ordered = sorted(data.customers)
        chunk = ordered[(page - 1) * per_page:page * per_page]
        more = page * per_page < len(ordered)
        return jsonify({"customers": [data.customers[c] for c in chunk], "total": len(ordered),
                        "next": f"?page={page + 1}&per_page={per_page}" if more else None})

    @erp.get("/api/orders")
    def every_order() -> Response:
        """Every order placed on or after `since` (a date, default all), oldest first, paged
        like the customers."""
        page, per_page = _paging(request.args)
        since = request.args.get("since", "")
        found = sorted((o for orders in data.orders.values() for o in orders
                        if o["date"] >= since), key=lambda o: (o["date"], o["number"]))
        chunk = found[(page - 1) * per_page:page * per_page]
        more = page * per_page < len(found)
        query = f"&since={since}" if since else ""
        return jsonify({"orders": chunk, "total": len(found),
                        "next": f"?page={page + 1}&per_page={per_page}{query}" if more else None})

    @erp.patch("/api/customers/<customer_id>")
    def correct(customer_id: str) -> Response:
        """A correction from connector's outbox: {email}, {phone_old, phone_new} or
        {address: {street, zip, city, country}}, applied once per `Idempotency-Key` (the
        same key again answers what it answered)."""
        if customer_id not in data.customers:
            return _error(404, "unknown customer")
        given = request.get_json(silent=True)
        if not isinstance(given, dict) or not ({"email", "phone_new", "address"} & set(given)):
            return _error(400, "expected {email}, {phone_old, phone_new} or {address}")
        customer, replayed = data.correct(customer_id, given,
                                          request.headers.get("Idempotency-Key"))
        return _replayed({"customer": customer}, replayed)

    @erp.post("/api/orders/<number>/returns")
    def open_return(number: str) -> Response:
        """An action from connector's outbox: open a return ({reason, comment}), once per
        `Idempotency-Key`."""
        if number not in data.order_by_number:
            return _error(404, "unknown order")
        given = request.get_json(silent=True)
        if not isinstance(given, dict) or not given.get("reason"):
            return _error(400, "expected {reason, comment?}")
        return _replayed(*data.open_return(number, given, request.headers.get("Idempotency-Key")))

    @erp.post("/api/customers/<customer_id>/vouchers/resend")
    def resend_voucher(customer_id: str) -> Response:
        """An action from connector's outbox: send the current voucher again, once per key."""
        if customer_id not in data.customers:
            return _error(404, "unknown customer")
        return _replayed(*data.resend_voucher(customer_id, request.headers.get("Idempotency-Key")))

    @erp.post("/api/customers/<customer_id>/vouchers")
    def give_voucher(customer_id: str) -> Response:
        """An action from connector's outbox: a goodwill voucher ({amount, severity}), once
        per `Idempotency-Key`."""
        if customer_id not in data.customers:
            return _error(404, "unknown customer")
        given = request.get_json(silent=True)
        if not isinstance(given, dict) or not str(given.get("amount") or "").strip():
            return _error(400, "expected {amount, severity}")
        return _replayed(*data.give_voucher(customer_id, given,
                                            request.headers.get("Idempotency-Key")))

    @erp.get("/api/customers/<customer_id>/orders")
    def orders(customer_id: str) -> Response:
        if customer_id not in data.customers:
            return _error(404, "unknown customer")
        return jsonify({"orders": data.orders.get(customer_id, [])})

    @erp.get("/api/orders/<number>/tracking")
    def tracking(number: str) -> Response:
        order = data.order_by_number.get(number)
        if order is None or not order.get("tracking"):
            return _error(404, "no parcel for this order")
        return jsonify(_parcel(order))

    @erp.get("/orders/<number>")
    def order_page(number: str) -> str:
        order = data.order_by_number.get(number) or abort(404)
        rows = "".join(f"<tr><th>{label}</th><td>{escape(str(order[key]))}</td></tr>"
                       for label, key in (("Commande", "number"), ("État", "state"),
                                          ("Date", "date"), ("Total (EUR)", "amount_total")))
        return (f"<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\">"
                f"<title>Commande {escape(number)}</title><h1>Commande {escape(number)}</h1>"
                f"<table>{rows}</table></html>")

    return erp


PARCEL_STATES = {"done": ("Livré", 3), "sent": ("En transit", 1), "return": ("Retour reçu", 9),
                 "cancel": ("Annulé", 0), "draft": ("En préparation", 0)}


def _replayed(answer: Record, replayed: bool) -> Response:
    """A change's answer; `Idempotent-Replayed: true` when its key had been applied."""
    response = jsonify(answer)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _parcel(order: Record) -> Record:
    """The carrier's view of an order's parcel, derived from the order (deterministic)."""
    label, days = PARCEL_STATES.get(order["state"], ("Inconnu", 0))
    carrier = "Colissimo" if str(order["tracking"])[:1].isalpha() else "Chronopost"
    when = (date.fromisoformat(order["date"]) + timedelta(days=days)).isoformat()
    return {"number": order["number"], "tracking": order["tracking"], "carrier": carrier,
            "status": label, "updated": when}


def _feedback_blueprint(data: BackOfficeData) -> Blueprint:
    """The public review and survey feed, and the campaigns sent, keyed by e-mail."""
    feedback = Blueprint("feedback", __name__, url_prefix="/feedback/api")

    @feedback.get("/reviews")
    def reviews() -> Response:
        email = request.args.get("email", "").strip().lower()
        if not email:
            return _error(400, "give email")
        return jsonify({"reviews": data.reviews.get(email, [])})

    @feedback.get("/reviews/changes")
    def review_changes() -> Response:
        """Reviews published after the cursor (`since`: the last one's `cursor`), oldest
        first, at most `limit` (100); with the email, as a review site's export carries it.
        The answer's `cursor` is where to start next time."""
        since = request.args.get("since", "")
        try:
            limit = max(1, min(500, int(request.args.get("limit", "100"))))
        except ValueError:
            return _error(400, "limit: a number")
        with data.lock:
            after = [r for r in data.review_log
                     if f"{r['published_at']}|{r['url']}" > since][:limit]
        cursor = f"{after[-1]['published_at']}|{after[-1]['url']}" if after else since
        return jsonify({"reviews": after, "cursor": cursor})

    @feedback.get("/surveys/changes")
    def survey_changes() -> Response:
        """Answers given after the cursor (`since`: the last one's `cursor`, "answered_at|
        email|type"), oldest first, at most `limit` (100), with the email; the answer's
        `cursor` is where to start next time."""
        since = request.args.get("since", "")
        try:
            limit = max(1, min(500, int(request.args.get("limit", "100"))))
        except ValueError:
            return _error(400, "limit: a number")
        with data.lock:
            after = [a for a in data.survey_log if _survey_key(a) > since][:limit]
        return jsonify({"answers": after, "cursor": _survey_key(after[-1]) if after else since})

    @feedback.get("/campaigns")
    def campaigns() -> Response:
        """The campaigns one customer (`email`) received, newest first: name, sent_at,
        channel and subject."""
        email = request.args.get("email", "").strip().lower()
        if not email:
            return _error(400, "give email")
        return jsonify({"campaigns": data.campaigns.get(email, [])})

    @feedback.get("/surveys")
    def surveys() -> Response:
        """One customer's answers (`email`), or, without an email, every answer given on or
        after `since` (a date, default all), oldest first, with its email, paged like the
        ERP's orders: what the job counting the brand's NPS reads."""
        email = request.args.get("email", "").strip().lower()
        if email:
            return jsonify({"answers": data.surveys.get(email, [])})
        if not {"since", "page", "per_page"} & set(request.args):
            return _error(400, "give email, or since (and page) for the listing")
        page, per_page = _paging(request.args)
        since = request.args.get("since", "")
        found = [a for a in data.survey_log if a["answered_at"] >= since]
        chunk = found[(page - 1) * per_page:page * per_page]
        more = page * per_page < len(found)
        query = f"&since={since}" if since else ""
        return jsonify({"answers": chunk, "total": len(found),
                        "next": f"?page={page + 1}&per_page={per_page}{query}" if more else None})

    return feedback


def _survey_key(answer: Record) -> str:
    """What orders the survey feed and names an answer: when, who, which question."""
    return f"{answer['answered_at']}|{answer['email']}|{answer['type']}"


def _paging(args: Any) -> tuple[int, int]:
    """`page` (from 1) and `per_page` (1–500, 100 by default) of a listing."""
    try:
        page = max(1, int(args.get("page", "1")))
        per_page = max(1, min(500, int(args.get("per_page", "100"))))
    except ValueError:
        return 1, 100
    return page, per_page


def _admin_blueprint(faults: dict[str, str], data: BackOfficeData) -> Blueprint:
    """Health check and the fault switch used by tests and demos."""
    admin = Blueprint("admin", __name__)

    @admin.post("/_admin/faults")
    def set_faults() -> Response:
        wanted = request.get_json(silent=True)
        if not isinstance(wanted, dict) or any(
                key not in faults or mode not in FAULT_MODES for key, mode in wanted.items()):
            return _error(400, f"expected {{system: mode}}, systems {sorted(faults)}, "
                               f"modes {list(FAULT_MODES)}")
        faults.update(wanted)
        return jsonify(faults)

    @admin.post("/_admin/reviews")
    def publish_review() -> Response:
        """Publish a review now (tests and the demo's review ticker)."""
        review = request.get_json(silent=True)
        needed = {"email", "site", "stars", "title", "text", "url"}
        if not isinstance(review, dict) or not needed <= set(review):
            return _error(400, f"expected a review with {sorted(needed)}")
        return jsonify(data.add_review(review))

    @admin.post("/_admin/surveys")
    def give_answer() -> Response:
        """Record a survey answer now (tests and demos): {email, type, score, comment?}."""
        answer = request.get_json(silent=True)
        if (not isinstance(answer, dict) or not {"email", "type", "score"} <= set(answer)
                or answer["type"] not in ("nps", "csat", "ces")):
            return _error(400, "expected an answer with email, type (nps, csat, ces), score")
        return jsonify(data.add_survey(answer))

    @admin.get("/_admin/writes")
    def writes() -> Response:
        """The corrections applied (key, customer, fields changed): tests count them."""
        with data.lock:
            return jsonify({"writes": list(data.writes)})

    @admin.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    return admin


def create_backoffice(
    data_dir: Path,
    *,
    latency_ms: tuple[int, int] = (20, 80),
    erp_token: str = "demo-erp-token",
    slow_seconds: float = 5.0,
    helpdesk_token: str = API_TOKEN,
) -> Flask:
    """Build the demo ERP + review feed app over a generated demo data directory, with the
    demo helpdesk's Zendesk-shaped API (demo/helpdesk.py) for its tickets."""
    app = Flask(__name__)
    data = BackOfficeData.load(Path(data_dir))
    faults = {"erp": "ok", "feedback": "ok"}
    jitter = random.Random()

    @app.before_request
    def behave_like_a_remote_system() -> Response | None:
        system = next((name for prefix, name in SYSTEMS.items()
                       if request.path.startswith(prefix)), None)
        if system is None:
            return None
        if latency_ms[1] > 0:
            time.sleep(jitter.randint(*latency_ms) / 1000)
        if faults[system] == "down":
            return _error(503, f"{system} unavailable")
        if faults[system] == "slow":
            time.sleep(slow_seconds)
        if system == "erp" and request.headers.get("Authorization") != f"Bearer {erp_token}":
            return _error(401, "unauthorized")
        return None

    app.extensions["demo_data"] = data
    loyalty = LoyaltyLog.load(Path(data_dir))
    app.extensions["demo_loyalty"] = loyalty
    app.register_blueprint(loyalty_blueprint(loyalty, _erp_ids(data)))
    app.register_blueprint(_erp_blueprint(data))
    app.register_blueprint(_feedback_blueprint(data))
    app.register_blueprint(_admin_blueprint(faults, data))
    tickets = DemoTickets.of(_tickets(Path(data_dir)))
    app.extensions["demo_tickets"] = tickets
    app.register_blueprint(helpdesk_blueprint(tickets, token=helpdesk_token))
    return app


def _tickets(data_dir: Path) -> list[Record]:
    """The demo helpdesk's tickets (tickets.json), none when it holds no list."""
    try:
        tickets = json.loads((data_dir / "tickets.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return tickets if isinstance(tickets, list) else []


NEW_REVIEWS = (
    (1, "Très déçue", "Commande arrivée incomplète, et personne pour me répondre."),
    (2, "Livraison en retard", "Dix jours de retard sur ma dernière commande."),
    (5, "Parfait", "Conseils au top en magasin, je recommande."),
    (4, "Bonne expérience", "Livraison rapide, produit conforme."),
)


def _erp_ids(data: BackOfficeData) -> dict[str, str]:
    """Email → the ERP customer id, for the emails only one customer holds."""
    return {email: ids[0] for email, ids in data.by_email.items() if len(ids) == 1}


def publish_now_and_then(data: BackOfficeData, every_s: float, seed: int = 1,
                         loyalty: LoyaltyLog | None = None) -> threading.Thread:
    """A review by a known customer every `every_s` seconds, as a live review site would get,
    and every other time a loyalty card moving one tier: what the demo's `refresh_reviews`
    and `refresh_loyalty` jobs pick up."""
    rng = random.Random(seed)

    def run() -> None:
        while True:
            time.sleep(every_s)
            customer = data.customers[rng.choice(sorted(data.customers))]
            stars, title, text = rng.choice(NEW_REVIEWS)
            key = f"{rng.randrange(16**24):024x}"
            data.add_review({"email": customer["email"], "site": "Trustpilot", "stars": stars,
                             "title": title, "text": text,
                             "url": f"https://fr.trustpilot.com/reviews/{key}"})
            if loyalty is not None and rng.random() < 0.5:
                loyalty.shuffle_one(rng, _erp_ids(data))

    thread = threading.Thread(target=run, name="review-ticker", daemon=True)
    thread.start()
    return thread


def _latency(text: str) -> tuple[int, int]:
    """Parse a latency range such as '20-80' (milliseconds)."""
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def main(argv: list[str] | None = None) -> None:
    """Command line: python -m demo.backoffice --data var/demo --host 127.0.0.1 --port 8071."""
    parser = argparse.ArgumentParser(description="Serve the demo ERP and review feed.")
    parser.add_argument("--data", type=Path, default=Path("var/demo"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8071)
    parser.add_argument("--latency-ms", type=_latency, default=(20, 80))
    parser.add_argument("--review-every", type=float, default=0,
                        help="publish a new review every this many seconds (0: never)")
    parser.add_argument("--log-requests", action="store_true",
                        help="log every request it answers (default: errors only, so that "
                             "`make run`'s terminal shows the connector's own log)")
    args = parser.parse_args(argv)
    if not args.log_requests:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    token = os.environ.get("DEMO_ERP_TOKEN", "demo-erp-token")
    app = create_backoffice(args.data, latency_ms=args.latency_ms, erp_token=token,
                            helpdesk_token=os.environ.get("DEMO_HELPDESK_TOKEN") or API_TOKEN)
    if args.review_every > 0:
        publish_now_and_then(app.extensions["demo_data"], args.review_every,
                             loyalty=app.extensions["demo_loyalty"])
    server = make_server(args.host, args.port, app, threaded=True)
    print(f"demo back office on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
