"""Identity safety, labelled: does the service ever show one customer's data as another's?

Run: .venv/bin/python bench/bench_identity_safety.py [--people 2400] [--seed 7]
     [--db sqlite|postgres|both] [--json] [--no-search]      (--people 300: a quick run)
bench/identity_population.py makes a seeded population (Faker fr_FR, fr_BE, en_GB, de_DE) with
stress cases a-k and knows who owns every ERP id, card, order, receipt and identifier. Its
sources are files: an ERP and a loyalty database (SQLite, `sql` sources; the ERP's SQL reads
numbers with the row's country and trims badly written emails, through expression indexes,
but cannot read IDN domains: those people are reached through the receipts) and store receipts
(CSV, `files`). A real `connector serve` reads them, on a fresh link store (SQLite file, or a
PostgreSQL schema made and dropped here); every identifier is looked up over HTTP in a few
written forms, in a shuffled order. Phase 1 looks everyone up; then the ERP changes (typos
corrected, recycled numbers moved) and phase 2 looks them up again. Caching: every source has
ttl_s 2 and revalidate_s 0, and phase 2 starts once that TTL is waited out, as when nobody
tells the connector that the ERP changed (no invalidation call). Prints a block per database.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from identity_population import Population, Probe, build, fold

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TOKEN = "bench-identity-safety"
TTL_S = 2
CASES = {
    "a": "couples sharing a household landline", "b": "couples sharing a household email",
    "c": "partner only in loyalty (card on line/email)", "d": "company switchboards",
    "e": "card registered with household landline", "f": "second email in loyalty",
    "g": "ERP email typo, corrected", "h": "recycled mobile number",
    "i": "BE/DE numbers written nationally", "j": "badly written emails, IDN",
    "k": "names: particles, accents, apostrophes", "-": "ordinary customers",
}


class SetupError(Exception):
    """The benchmark could not be set up (exit 2)."""


def phone_sql(column: str) -> str:
    """SQL reading a number as the ERP writes it, in E.164 (national: the row's country)."""
    digits = f"c.{column}"
    for junk in ("(0)", " ", ".", "/", "-", "(", ")"):
        digits = f"replace({digits}, '{junk}', '')"
    prefix = ("CASE c.country WHEN 'BE' THEN '+32' WHEN 'DE' THEN '+49' WHEN 'GB' THEN '+44' "
              "ELSE '+33' END")
    return (f"CASE WHEN {digits} LIKE '+%' THEN {digits} WHEN {digits} LIKE '00%' THEN '+' || "
            f"substr({digits}, 3) ELSE {prefix} || substr({digits}, 2) END")


def email_sql() -> str:
    """SQL reading the ERP's email as an address (no mailto:, <…>, zero-width space, ;.,)."""
    e = "replace(replace(lower(trim(c.email)), char(8203), ''), 'mailto:', '')"
    inner = f"substr({e}, instr({e}, '<') + 1, instr({e}, '>') - instr({e}, '<') - 1)"
    return f"rtrim(CASE WHEN instr({e}, '<') > 0 THEN {inner} ELSE {e} END, '., ' || char(59))"


KEYS = {"email_key": email_sql(), "mobile_key": phone_sql("mobile"),
        "phone_key": phone_sql("phone")}
WHERE = (f"c.id = :external OR {KEYS['email_key']} = :email OR {KEYS['mobile_key']} = :phone "
         f"OR {KEYS['phone_key']} = :phone")


def manifest(erp: Path, loyalty: Path, pos: Path) -> dict[str, Any]:
    """The manifest: ERP and loyalty as `sql` sources, store receipts as a `files` source."""
    fresh = {"timeout_s": 5, "ttl_s": TTL_S, "revalidate_s": 0}
    identity = {"first_name": "first_name", "last_name": "last_name", "birth_date": "birth_date",
                "emails": "email", "phones": "[mobile, phone]", "address.line1": "street",
                "address.postcode": "zip", "address.city": "city", "address.country": "country"}
    order = {"number": "number", "date": "date", "total": "total", "currency": "'EUR'",
             "channel": "'web'", "status": "'delivered'"}
    erp_source = {
        "type": "sql", "label": "ERP", "url": f"sqlite:///{erp}", **fresh,
        "lookup_by": ["external", "email", "phone"],
        "queries": {"customer": f"SELECT c.* FROM customers c WHERE {WHERE} ORDER BY c.id",
                    "orders": "SELECT o.number, o.date, o.total FROM customers c JOIN orders o "
                              f"ON o.customer_id = c.id WHERE {WHERE} ORDER BY o.date DESC"},
        "id": "customer[0].id",
        "candidates": {"items": "customer", "id": "id", "postcode": "zip",
                       "name": "join(' ', [first_name, last_name])"},
        "sections": {"identity": {"path": "customer[0]", "fields": identity},
                     "orders": {"items": "orders", "fields": order}}}
    loyalty_source = {
        "type": "sql", "label": "Fidélité", "url": f"sqlite:///{loyalty}", **fresh,
        "lookup_by": ["card", "email", "phone"],
        "queries": {"member": "SELECT card, points, tier, email, phone FROM members WHERE "
                              "card = :card OR lower(email) = :email OR phone = :phone"},
        "id": "member[0].card",
        "candidates": {"items": "member", "id": "card", "name": "join(' ', ['Carte', card])"},
        "sections": {"loyalty": {"path": "member[0]",
                                 "fields": {"card": "card", "points": "points", "tier": "tier"}},
                     "identity": {"path": "member[0]",
                                  "fields": {"emails": "email", "phones": "phone"}}}}
    receipts = {"channel": "'store'", "number": "ticket", "date": "date", "store": "store",
                "total": "total", "currency": "'EUR'"}
    pos_source = {
        "type": "files", "label": "Caisses", "path": str(pos), **fresh, "delimiter": ";",
        "decimal_comma": True, "date_formats": ["%d/%m/%Y"],
        "match": {"email": "email", "phone": "phone", "card": "card"},
        "sections": {"store_purchases": {"items": "rows", "fields": receipts},
                     "identity": {"path": "rows[0]",
                                  "fields": {"emails": "email", "phones": "phone"}}}}
    return {"version": 1, "brand": {"name": "Bench Retail", "locale": "fr", "currency": "EUR",
                                    "default_region": "FR", "timezone": "Europe/Paris"},
            "sources": {"erp": erp_source, "loyalty": loyalty_source, "pos": pos_source},
            "jobs": {"refresh_flags": {"enabled": False}, "purge": {"enabled": False}}}


def erp_values(pop: Population, rows: list[Any]) -> list[tuple[str | None, ...]]:
    """ERP rows as the customers table holds them."""
    people = pop.people
    return [(r.id, people[r.pid].first, people[r.pid].last, r.email, r.mobile, r.phone,
             people[r.pid].street, people[r.pid].zip, people[r.pid].city,
             people[r.pid].country, people[r.pid].birth) for r in rows]


def write_sources(pop: Population, folder: Path) -> Path:
    """The ERP and loyalty SQLite files, the receipts CSV and the manifest (phase 1)."""
    erp, loyalty, pos = folder / "erp.sqlite", folder / "loyalty.sqlite", folder / "pos.csv"
    with sqlite3.connect(erp) as db:
        db.execute("CREATE TABLE customers (id TEXT PRIMARY KEY, first_name TEXT, last_name "
                   "TEXT, email TEXT, mobile TEXT, phone TEXT, street TEXT, zip TEXT, city TEXT, "
                   "country TEXT, birth_date TEXT)")
        db.execute("CREATE TABLE orders (number TEXT PRIMARY KEY, customer_id TEXT, date TEXT, "
                   "total TEXT)")
        db.execute("CREATE INDEX orders_customer ON orders (customer_id)")
        for name, expression in KEYS.items():  # what lets the ERP's DBA answer in 0.1 ms
            db.execute(f"CREATE INDEX {name} ON customers ({expression.replace('c.', '')})")
        db.executemany("INSERT INTO customers VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       erp_values(pop, pop.erp))
        db.executemany("INSERT INTO orders VALUES (?,?,?,?)", pop.orders)
    with sqlite3.connect(loyalty) as db:
        db.execute("CREATE TABLE members (card TEXT PRIMARY KEY, email TEXT, phone TEXT, "
                   "points INTEGER, tier TEXT)")
        db.executemany("INSERT INTO members VALUES (?,?,?,?,?)",
                       [(c, e, p, pts, t) for c, _pid, e, p, pts, t in pop.members])
    with pos.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, delimiter=";")
        out.writerow(["ticket", "date", "store", "total", "email", "phone", "card"])
        out.writerows([t[0], *t[2:]] for t in pop.tickets)
    path = folder / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest(erp, loyalty, pos), sort_keys=False,
                                   allow_unicode=True, width=1000))
    return path


@contextmanager
def link_store(db: str, folder: Path) -> Iterator[str]:
    """A fresh link store: a SQLite file, or a PostgreSQL schema made (and dropped) here."""
    if db == "sqlite":
        yield f"sqlite:///{folder / 'links.sqlite'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    schema = f"bench_identity_safety_{uuid.uuid4().hex[:10]}"
    engine = create_engine(POSTGRES)
    try:
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except SQLAlchemyError as exc:
        raise SetupError(f"PostgreSQL at {POSTGRES}: {exc}") from exc
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@contextmanager
def serving(manifest_path: Path, store: str, folder: Path) -> Iterator[str]:
    """`connector check`, then `connector serve` as a process; its URL; stopped at the end."""
    with socket.create_server(("127.0.0.1", 0)) as sock:  # a port nobody listens on now
        port = sock.getsockname()[1]
    exe = str(Path(sys.executable).parent / "connector")
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CONNECTOR_API_TOKEN": TOKEN, "CONNECTOR_DATABASE_URL": store,
           "CONNECTOR_DATA_DIR": str(folder / "var"), "CONNECTOR_SECRET_KEY": "bench",
           "CONNECTOR_PUBLIC_URL": url, "CONNECTOR_LOG_LEVEL": "WARNING",
           # one client asking as fast as it goes: past the per-address budget (1,200 a
           # minute) the answers would be 429s, counted as errors, not identity's figures
           "CONNECTOR_RATE_LIMIT": "off"}
    checked = subprocess.run([exe, "check", "--manifest", str(manifest_path)], env=env,
                             capture_output=True, text=True, timeout=120, cwd=folder)
    if checked.returncode != 0:
        raise SetupError(f"connector check refused the manifest:\n{checked.stdout}"
                         f"{checked.stderr}")
    with (folder / "serve.log").open("w") as log:
        process = subprocess.Popen([exe, "serve", "--manifest", str(manifest_path), "--port",
                                    str(port)], env=env, cwd=folder, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SetupError(f"connector serve did not come up (exit code "
                                     f"{process.poll()}), see its log:\n"
                                     f"{(folder / 'serve.log').read_text()[-2000:]}")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def healthy(url: str) -> bool:
    """Whether /healthz answers 200."""
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@dataclass
class Answer:
    """One lookup, what came back, and what the ground truth says of it."""

    probe: Probe
    form: str
    status: int
    ms: float
    cid: str | None = None
    shown: frozenset[int] = frozenset()  # real people whose ERP id or card the profile shows
    items: list[tuple[str, str]] = field(default_factory=list)  # everything identifying in it
    candidates: list[tuple[str, str, str]] = field(default_factory=list)
    error: str = ""


def anyone(pop: Population, key: tuple[str, str]) -> frozenset[int]:
    """Who owns an id, order or receipt number (in either phase: those never move)."""
    return pop.owners(1).get(key, frozenset()) | pop.owners(2).get(key, frozenset())


def ask(session: requests.Session, url: str, pop: Population, probe: Probe,
        form: str) -> Answer:
    """GET /api/v1/customers/lookup for one written form, read into an Answer."""
    started = time.perf_counter()
    try:
        r = session.get(f"{url}/api/v1/customers/lookup", params={probe.kind: form},
                        timeout=60, allow_redirects=False)
        status, body = r.status_code, (r.json() if r.content else {})
    except (requests.RequestException, ValueError) as exc:
        status, body = 0, {"error": type(exc).__name__}
    answer = Answer(probe, form, status, (time.perf_counter() - started) * 1000)
    if status == 300:
        answer.candidates = [(c.get("customer_id", ""), c.get("name") or "",
                              c.get("postcode") or "") for c in body.get("candidates", [])]
    elif status == 200:
        identity = body.get("identity") or {}
        ext, card = identity.get("external_ids") or {}, (body.get("loyalty") or {}).get("card")
        answer.cid = body.get("customer_id")
        keys = [("erp", ext.get("erp")), ("loyalty", ext.get("loyalty")), ("card", card)]
        answer.shown = frozenset().union(*(anyone(pop, (k, v)) for k, v in keys if v))
        answer.items = [(k, v) for k, v in keys if v]
        answer.items += [("email", e) for e in identity.get("emails", [])]
        answer.items += [("phone", p) for p in identity.get("phones", [])]
        answer.items += [("order", o.get("number")) for o in body.get("orders", [])]
        answer.items += [("ticket", s.get("number")) for s in body.get("store_purchases", [])]
    elif status != 404:
        answer.error = str(body.get("error", ""))[:120]
    return answer


def run_lookups(url: str, pop: Population, erp: Path, seed: int) -> tuple[list[Answer], float]:
    """Phase 1, the ERP changes, the TTL waited out, phase 2; answers and seconds spent."""
    rng = random.Random(seed)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    answers: list[Answer] = []
    spent = 0.0
    for phase in (1, 2):
        if phase == 2:
            with sqlite3.connect(erp, timeout=30) as db:
                db.executemany("INSERT OR REPLACE INTO customers VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                               erp_values(pop, pop.changes))
            time.sleep(TTL_S + 1.5)
        probes = [p for p in pop.probes if p.phase == phase]
        rng.shuffle(probes)
        started = time.perf_counter()
        for number, probe in enumerate(probes):
            answers += [ask(session, url, pop, probe, form) for form in probe.forms]
            if number % 500 == 499:
                print(f"  phase {phase}: {number + 1}/{len(probes)} identifiers, "
                      f"{len(answers)} lookups", file=sys.stderr, flush=True)
        spent += time.perf_counter() - started
    return answers, spent


def search_names(url: str, pop: Population, merged: dict[str, set[int]]
                 ) -> list[tuple[str, bool]]:
    """Each name search of case k: (pattern, whether the person was among the results)."""
    session, done = requests.Session(), []
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    for p in (p for p in pop.people if p.searches):
        for pattern, query in p.searches:
            r = session.get(f"{url}/api/v1/customers/search", params={"q": query}, timeout=60)
            found = r.json().get("results", []) if r.status_code == 200 else []
            done.append((pattern, any(p.pid in merged.get(x.get("customer_id"), ()) or (
                fold(x.get("name") or ""), x.get("postcode")) == (fold(f"{p.first} {p.last}"),
                                                                  p.zip) for x in found)))
    return done


def judge(pop: Population, answers: list[Answer]) -> tuple[dict[str, Counter[str]],
                                                          dict[str, set[int]], list[str]]:
    """Counts per case, customer ids → real people shown under them, and a few examples."""
    names: dict[tuple[str, str], set[int]] = {}
    for p in pop.people:
        names.setdefault((fold(f"{p.first} {p.last}"), p.zip), set()).add(p.pid)
    merged: dict[str, set[int]] = {}
    for a in (a for a in answers if a.status == 200 and a.cid):
        merged.setdefault(str(a.cid), set()).update(a.shown)

    def listed(a: Answer) -> frozenset[int]:  # who the candidates are, as an agent reads them
        found: set[int] = set()
        for cid, name, postcode in a.candidates:
            card = re.fullmatch(r"Carte (\S+)", name)
            found |= (anyone(pop, ("card", card.group(1))) if card else
                      names.get((fold(name), postcode)) or merged.get(cid, set()))
        return frozenset(found)
    per: dict[str, Counter[str]] = {case: Counter() for case in CASES}
    examples: list[str] = []

    def note(c: Counter[str], kind: str, a: Answer, detail: str = "") -> None:
        c[kind] += 1
        if sum(e.startswith(f"{a.probe.case} {kind}:") for e in examples) < 2:
            examples.append(f"{a.probe.case} {kind}: {a.probe.kind}={a.form!r} (phase "
                            f"{a.probe.phase}) → {a.status} {a.cid or a.candidates or a.error} "
                            f"{detail}".rstrip())
    for a in answers:
        c, truth = per[a.probe.case], pop.owners(a.probe.phase)
        owners = truth.get((a.probe.kind, a.probe.value), frozenset())
        seen = a.shown if a.status == 200 else listed(a)
        c["lookups"] += 1
        if a.status not in (200, 300, 404):
            note(c, "errors", a)
        garbled = [v for k, v in a.items if k in ("email", "phone") and (k, v) not in truth]
        if garbled:
            note(c, "garbled", a, f"shows {garbled}: nobody's")
        if any(not name for _cid, name, _postcode in a.candidates):
            note(c, "nameless", a)
        c["old"] += a.probe.old is not None
        if a.probe.old is not None and a.probe.old in seen:
            note(c, "old_shown", a, f"the old person is {a.probe.old}")
        if len(owners) == 1:
            (me,) = owners
            c["own"] += 1
            c[{200: "found" if me in a.shown else "other", 300: "own300", 404: "own404"}.get(
                a.status, "own_error")] += 1
            if a.status == 300 or (a.status == 200 and me not in a.shown):
                note(c, "not_themselves", a, f"person {me}; shows {sorted(seen)}")
            foreign = [(k, v) for k, v in a.items
                       if me not in (truth.get((k, v)) or anyone(pop, (k, v)) or {me})]
            if foreign:
                note(c, "mixed", a, f"person {me} with {foreign[:3]}")
        elif owners:
            c["shared"] += 1
            c[f"shared{a.status}"] += 1
            c["complete"] += a.status == 300 and owners <= seen
            if a.status != 300 or not owners <= seen:
                note(c, "shared_wrong", a, f"shared by {sorted(owners)}, lists {sorted(seen)}")
        else:
            c["nobody"] += 1
            c["nobody404"] += a.status == 404
    for people in (ppl for ppl in merged.values() if len(ppl) > 1):
        for case in {pop.people[pid].case for pid in people}:
            per[case]["false_merges"] += 1
    return per, merged, examples


def pct(part: int, whole: int) -> str:
    """part/whole as a percentage, or n/a."""
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def summary(db: str, pop: Population, answers: list[Answer], spent: float,
            searched: list[tuple[str, bool]]) -> dict[str, Any]:
    """What one database's run measured, as JSON-ready data."""
    per, merged, examples = judge(pop, answers)
    t: Counter[str] = sum(per.values(), Counter())
    wrong, ms = [ppl for ppl in merged.values() if len(ppl) > 1], sorted(a.ms for a in answers)
    patterns: dict[str, Counter[str]] = {}
    for pattern, found in searched:
        patterns.setdefault(pattern, Counter()).update(queries=1, found=int(found))
    return {
        "db": db, "people": len(pop.people), "lookups": len(answers), "seconds": round(spent, 1),
        "lookups_per_s": round(len(answers) / spent, 1), "p50_ms": round(ms[len(ms) // 2], 1),
        "p99_ms": round(ms[int(len(ms) * 0.99)], 1), "false_merges": len(wrong),
        "people_falsely_merged": len(set().union(*wrong)), "mixed_profiles": t["mixed"],
        "own_lookups": t["own"], "recall": pct(t["found"], t["own"]),
        "shared_lookups": t["shared"], "ambiguous_300": pct(t["shared300"], t["shared"]),
        "all_sharers_listed": pct(t["complete"], t["shared"]), "old_lookups": t["old"],
        "old_person_shown": t["old_shown"], "garbled": t["garbled"],
        "nameless_candidates": t["nameless"], "errors": t["errors"],
        "search": {k: f"{v['found']}/{v['queries']}" for k, v in patterns.items()},
        "cases": {case: dict(c) for case, c in per.items()}, "examples": examples}


def report(s: dict[str, Any]) -> str:
    """One database's block of text."""
    head = [
        f"## link store on {s['db']}: {s['people']} people, {s['lookups']} lookups over HTTP",
        f"throughput: {s['lookups_per_s']} lookups/s, one client ({s['seconds']} s); "
        f"latency p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms",
        f"false merges: {s['false_merges']} customer ids show 2+ real people's ERP ids or cards "
        f"({s['people_falsely_merged']} people involved)",
        f"mixed profiles: {s['mixed_profiles']} of {s['own_lookups']} answers to a person's own "
        "identifier show someone else's identifier, id, card, order or receipt",
        f"ambiguity shown: {s['ambiguous_300']} of {s['shared_lookups']} lookups by a shared "
        f"identifier answered 300; listing everyone who shares it: {s['all_sharers_listed']}",
        f"recall: {s['recall']} of {s['own_lookups']} lookups by an own identifier found them",
        f"after the ERP change, the old person shown: {s['old_person_shown']} of "
        f"{s['old_lookups']} lookups (typo corrected, number recycled)",
        f"answers showing nobody's identifier (garbled): {s['garbled']}; 300s with a nameless "
        f"candidate: {s['nameless_candidates']}; errors: {s['errors']}",
        "name search (found/queries): " + (", ".join(f"{k} {v}" for k, v in s["search"].items())
                                           or "not run"), ""]
    columns = ("lookups", "recall", "own300", "own404", "other", "mixed", "shared", "300%",
               "all%", "old", "merges", "garbled", "nameless", "errors")
    rows = [f"{'case':<46}" + "".join(f"{c:>9}" for c in columns)]
    for case, c in s["cases"].items():
        g = c.get
        values = (g("lookups", 0), pct(g("found", 0), g("own", 0)), g("own300", 0),
                  g("own404", 0), g("other", 0), g("mixed", 0), g("shared", 0),
                  pct(g("shared300", 0), g("shared", 0)), pct(g("complete", 0), g("shared", 0)),
                  f"{g('old_shown', 0)}/{g('old', 0)}" if g("old") else "-",
                  g("false_merges", 0), g("garbled", 0), g("nameless", 0), g("errors", 0))
        rows.append(f"{case} {CASES[case]:<44}" + "".join(f"{v:>9}" for v in values))
    return "\n".join([*head, *rows, "", "examples:", *(f"  {e}" for e in s["examples"])])


def main() -> int:
    """Build, serve, look up, judge, print; exit 2 when the set-up fails."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead")
    parser.add_argument("--search", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    pop, results = build(args.people, args.seed), []
    try:
        for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
            with tempfile.TemporaryDirectory(prefix="bench-identity-safety-") as tmp:
                folder = Path(tmp)
                manifest_path = write_sources(pop, folder)
                with link_store(db, folder) as store, serving(manifest_path, store,
                                                              folder) as url:
                    print(f"{db}: serving at {url}", file=sys.stderr, flush=True)
                    answers, spent = run_lookups(url, pop, folder / "erp.sqlite", args.seed)
                    merged = judge(pop, answers)[1]
                    searched = search_names(url, pop, merged) if args.search else []
            results.append(summary(db, pop, answers, spent, searched))
            if not args.json:
                print(report(results[-1]) + "\n", flush=True)
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.json:
            print(json.dumps({"people": args.people, "seed": args.seed, "runs": results},
                             indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
