"""How identity resolution holds up at a million identifiers: bulk load, lookups, memory.

Run: .venv/bin/python bench/bench_identity.py [--people 250000] [--lookups 20000]
     [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
Builds a link store of PEOPLE × 4 identifiers (ERP id, email, E.164 mobile, loyalty card) plus
one household landline shared by two people per 125 people, loaded with bulk inserts; then
resolves a random sample through Resolver.resolve and checks every answer (the person, the two
candidates of a landline, nobody for an unknown identifier). SQLite file in a temp dir by
default; with --postgres, a throw-away schema in that database instead.
Prints a Markdown table; bench/RESULTS.md keeps the latest figures with the machine and date.
Also tried on the same data, to size further changes to connector/store.py:
- an engine without pool_pre_ping (the store pings on every connection checkout);
- one-identifier `owners` as a statement built once, with bound parameters.
(An earlier run sized `owners` as OR of (kind = ? AND value = ?) instead of a row-value IN:
258× faster for two identifiers on SQLite; the store now does that.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import (  # noqa: E402
    bindparam,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url  # noqa: E402

from connector.customer.links import Link, LinkStore, owners_query  # noqa: E402
from connector.customer.resolver import IdentityRules, Resolution, Resolver, new_customer_id  # noqa: E402
from connector.identifiers import Identifiers, normalise_email, normalise_phone  # noqa: E402
from connector.store.schema import links  # noqa: E402
from connector.store.schema import people as customers  # noqa: E402

SCHEMA = "bench_identity"
FIRST = ("claire", "jean", "marie", "luc", "sophie", "paul", "ines", "hugo", "lea", "omar",
         "chloe", "yann", "nadia", "marc", "julie", "theo", "emma", "karim", "alice", "louis")
LAST = ("deneve", "martin", "bernard", "petit", "durand", "leroy", "moreau", "simon", "laurent",
        "lefebvre", "michel", "garcia", "david", "bertrand", "roux", "vincent", "fournier",
        "morel", "girard", "andre", "mercier", "dupont", "lambert", "bonnet", "francois")
DOMAINS = ("example.fr", "mail.test", "exemple.com", "courriel.test", "boite.example")
MOBILE_SECOND = "01245678"  # +33 6x… that libphonenumber holds valid for any 7 digits after
Expected = str | frozenset[str] | None  # one person, the candidates of a shared id, or nobody


@dataclass(frozen=True)
class Lookup:
    """One resolution to make and the answer it must give."""

    label: str
    ids: Identifiers
    expected: Expected


@dataclass
class Population:
    """People numbered 0…count-1, each identifier derived from the number; households share."""

    count: int
    households: list[tuple[int, int]]

    @staticmethod
    def build(count: int, seed: int) -> Population:
        """People and their households (one per 125 people, two members each)."""
        members = random.Random(seed).sample(range(count), 2 * (count // 125))
        return Population(count, list(zip(members[::2], members[1::2], strict=True)))

    def customer_id(self, i: int) -> str:
        """The id the resolver would give this person (from their ERP id)."""
        return new_customer_id([("erp", self.erp(i), "erp")])

    def erp(self, i: int) -> str:
        """The ERP's own id."""
        return f"C{i + 1:07d}"

    def email(self, i: int) -> str:
        """A normalised email address."""
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        return f"{first}.{last}{i}@{DOMAINS[i % len(DOMAINS)]}"

    def mobile(self, i: int) -> str:
        """A French mobile in E.164, unique (7919 is prime to 8·10⁷, so i → n is one-to-one)."""
        n = (i * 7919 + 1234567) % (8 * 10**7)
        return f"+336{MOBILE_SECOND[n // 10**7]}{n % 10**7:07d}"

    def card(self, i: int) -> str:
        """A loyalty card number."""
        return f"LC{(i * 104729 + 7) % 10**10:010d}"

    def landline(self, h: int) -> str:
        """A household's Paris landline in E.164."""
        return f"+331{40000000 + h:08d}"

    def link_rows(self, i: int, now: dt.datetime) -> list[dict[str, object]]:
        """The four identity links of one person."""
        cid = self.customer_id(i)
        found = (("erp", self.erp(i), "erp"), ("email", self.email(i), "erp"),
                 ("phone", self.mobile(i), "erp"), ("card", self.card(i), "loyalty"))
        return [{"kind": k, "value": v, "customer_id": cid, "source": s, "learned_at": now}
                for k, v, s in found]

    def person_row(self, i: int, now: dt.datetime) -> dict[str, object]:
        """What the store keeps to tell this person apart."""
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        return {"customer_id": self.customer_id(i), "display_name": f"{first} {last}".title(),
                "name_folded": f"{first} {last}", "postcode": f"{i % 95 + 1:02d}{i % 1000:03d}",
                "updated_at": now}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def peak_rss_mib() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def chunks(items: Iterable[int], size: int) -> Iterator[list[int]]:
    """Items in lists of `size`."""
    batch: list[int] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load(store: LinkStore, population: Population, batch: int) -> tuple[int, float, float]:
    """Bulk-insert everyone in one transaction; (identifiers, seconds, seconds in INSERTs)."""
    now = dt.datetime.now(dt.UTC)
    count, inserting = 0, 0.0
    started = time.perf_counter()
    with store.engine.begin() as connection:
        for chunk in chunks(range(population.count), batch // 4):
            rows = [row for i in chunk for row in population.link_rows(i, now)]
            persons = [population.person_row(i, now) for i in chunk]
            begun = time.perf_counter()
            connection.execute(insert(links), rows)
            connection.execute(insert(customers), persons)
            inserting += time.perf_counter() - begun
            count += len(rows)
        shared = [{"kind": "phone", "value": population.landline(h), "customer_id":
                   population.customer_id(i), "source": "pos", "learned_at": now}
                  for h, pair in enumerate(population.households) for i in pair]
        connection.execute(insert(links), shared)
    return count + len(shared), time.perf_counter() - started, inserting


def single_lookups(population: Population, count: int, seed: int) -> list[Lookup]:
    """A mixed sample of one-identifier lookups, with the answer each must give."""
    rng = random.Random(seed)
    p = population
    makers: dict[str, Callable[[int], Lookup]] = {
        "email": lambda i: Lookup("email", Identifiers(emails=(p.email(i),)), p.customer_id(i)),
        "mobile": lambda i: Lookup("mobile", Identifiers(phones=(p.mobile(i),)),
                                   p.customer_id(i)),
        "card": lambda i: Lookup("card", Identifiers(cards=(p.card(i),)), p.customer_id(i)),
        "erp id": lambda i: Lookup("erp id", Identifiers(externals=(("erp", p.erp(i)),)),
                                   p.customer_id(i)),
        "landline": lambda i: landline_lookup(p, i % len(p.households)),
        "unknown": lambda i: unknown_lookup(i),
    }
    weights = {"email": 25, "mobile": 20, "card": 15, "erp id": 15, "landline": 10,
               "unknown": 15}
    labels = rng.choices(list(weights), list(weights.values()), k=count)
    return [makers[label](rng.randrange(p.count)) for label in labels]


def landline_lookup(population: Population, h: int) -> Lookup:
    """A household's landline alone: both members are candidates."""
    pair = frozenset(population.customer_id(i) for i in population.households[h])
    return Lookup("landline", Identifiers(phones=(population.landline(h),)), pair)


def unknown_lookup(i: int) -> Lookup:
    """An identifier nobody has (email, mobile on an unused prefix, or card)."""
    ids = [Identifiers(emails=(f"nobody{i}@unknown.test",)),
           Identifiers(phones=(f"+33695{i % 10**6:06d}",)), Identifiers(cards=(f"ZZ{i:08d}",))]
    return Lookup("unknown", ids[i % 3], None)


def pair_lookups(population: Population, count: int, seed: int) -> list[Lookup]:
    """Two identifiers at once, as a ticket gives them: email + mobile, or email + landline
    (a household member told apart by their email)."""
    rng = random.Random(seed)
    p = population
    found = []
    for n in range(count):
        if n % 2:
            i = rng.randrange(p.count)
            found.append(Lookup("email + mobile",
                                Identifiers(emails=(p.email(i),), phones=(p.mobile(i),)),
                                p.customer_id(i)))
        else:
            h = rng.randrange(len(p.households))
            i = p.households[h][n % 4 // 2]
            found.append(Lookup("email + landline", Identifiers(
                emails=(p.email(i),), phones=(p.landline(h),)), p.customer_id(i)))
    return found


def right(resolution: Resolution, expected: Expected) -> bool:
    """Whether a resolution gives the answer expected."""
    if isinstance(expected, frozenset):
        found = {person.customer_id for person in resolution.candidates}
        return resolution.customer_id is None and found == expected
    return resolution.customer_id == expected and not resolution.ambiguous


def measure(resolver: Resolver, lookups: list[Lookup]) -> list[float]:
    """Each lookup's latency in seconds; stops on the first wrong answer."""
    latencies = []
    for lookup in lookups:
        started = time.perf_counter()
        resolution = resolver.resolve(lookup.ids)
        latencies.append(time.perf_counter() - started)
        if not right(resolution, lookup.expected):
            raise AssertionError(f"{lookup.label} {lookup.ids}: got {resolution.customer_id} "
                                 f"/ {[p.customer_id for p in resolution.candidates]}, "
                                 f"expected {lookup.expected}")
    return latencies


def normalising(population: Population, count: int) -> tuple[float, float]:
    """normalise_phone and normalise_email calls per second on raw variants (each checked)."""
    phones, emails = [], []
    for i in range(0, population.count, max(1, population.count // (count // 4))):
        e164 = population.mobile(i)
        digits = "0" + e164[3:]
        spaced = " ".join(digits[k:k + 2] for k in range(0, 10, 2))
        phones += [(spaced, e164), ("+33 (0)" + spaced[1:], e164),
                   ("0033 " + spaced[1:], e164), (spaced.replace(" ", "."), e164)]
        email = population.email(i)
        emails += [(f"  {email.title()} ", email), (email.upper(), email),
                   (f"{email}\t", email), (email, email)]
    started = time.perf_counter()
    assert all(normalise_phone(raw, "FR") == e164 for raw, e164 in phones)
    phone_rate = len(phones) / (time.perf_counter() - started)
    started = time.perf_counter()
    assert all(normalise_email(raw) == email for raw, email in emails)
    return phone_rate, len(emails) / (time.perf_counter() - started)


class NoPingStore(LinkStore):
    """The store on an engine that does not ping the database at every checkout."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.engine.dispose()  # the SQLite pragmas left out matter to writers, not to reads
        self.engine = create_engine(url)


class BuiltOnceStore(LinkStore):
    """The OR query, plus one-identifier `owners` and `links_of` as statements built once
    with bound parameters instead of a new select() per call."""

    one = select(links).where(links.c.kind == bindparam("kind"),
                              links.c.value == bindparam("value"))
    mine = select(links).where(links.c.customer_id == bindparam("customer_id")).order_by(
        links.c.learned_at, links.c.kind, links.c.value)

    def owners(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[Link]]:
        """For each (kind, value), the links naming it."""
        wanted = list(dict.fromkeys(pairs))
        if len(wanted) != 1:
            return super().owners(wanted)
        [(kind, value)] = wanted
        with self.engine.connect() as connection:
            rows = connection.execute(self.one, {"kind": kind, "value": value}).all()
        return {(kind, value): [Link(r.kind, r.value, r.customer_id, r.source) for r in rows]}

    def links_of(self, customer_id: str) -> list[Link]:
        """Every identifier linked to a person."""
        with self.engine.connect() as connection:
            rows = connection.execute(self.mine, {"customer_id": customer_id}).all()
        return [Link(r.kind, r.value, r.customer_id, r.source) for r in rows]


def owners_plan(store: LinkStore, count: int) -> str:
    """How the database runs the store's `owners` query for `count` identifiers."""
    wanted = [("email", f"x{n}@example.fr") for n in range(count)]
    query, params = owners_query(wanted)
    with store.engine.connect() as connection:
        sql = str(query.params(params).compile(connection,
                                               compile_kwargs={"literal_binds": True}))
        sqlite = connection.dialect.name == "sqlite"
        rows = connection.execute(text(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + sql))
        steps = [str(row[-1]).strip() for row in rows]
    return "; ".join(step.split("  (cost")[0] for step in steps
                     if any(word in step for word in ("SCAN", "SEARCH", "Scan")))


def postgres_url(url: str) -> str:
    """The URL of a fresh schema of its own in that database (any leftover dropped)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()
    own = make_url(url).update_query_dict({"options": f"-csearch_path={SCHEMA}"})
    return own.render_as_string(hide_password=False)


def drop_schema(url: str) -> None:
    """Remove the benchmark's schema and everything in it."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    engine.dispose()


def settle(store: LinkStore) -> tuple[str, int, int]:
    """After the load, as in service (SQLite: WAL checkpointed; PostgreSQL: vacuumed and
    analysed, as autovacuum would); the back end, bytes on disk and of them in indexes."""
    if store.engine.dialect.name == "sqlite":
        with store.engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            version = connection.execute(text("SELECT sqlite_version()")).scalar_one()
            sizes = connection.execute(text(
                "SELECT SUM(pgsize), SUM(pgsize) FILTER (WHERE name IN (SELECT name FROM "
                "sqlite_schema WHERE type = 'index')) FROM dbstat")).one()
        return f"SQLite {version}, file in a temp dir (WAL)", int(sizes[0]), int(sizes[1])
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE identity_links"))
        connection.execute(text("VACUUM ANALYZE customers"))
        version = connection.execute(text("SHOW server_version")).scalar_one()
        sizes = connection.execute(text(
            "SELECT pg_total_relation_size('identity_links') + pg_total_relation_size("
            "'customers'), pg_indexes_size('identity_links') + pg_indexes_size('customers')"
        )).one()
    return f"PostgreSQL {version.split()[0]}, 127.0.0.1", int(sizes[0]), int(sizes[1])


def alternate(resolvers: list[Resolver], lookups: list[Lookup],
              block: int = 100) -> list[list[float]]:
    """The same lookups through several resolvers, in alternating blocks (fair to caches)."""
    latencies: list[list[float]] = [[] for _ in resolvers]
    for start in range(0, len(lookups), block):
        for resolver, mine in zip(resolvers, latencies, strict=True):
            mine += measure(resolver, lookups[start:start + block])
    return latencies


@dataclass
class Figures:
    """What one run measured."""

    backend: str
    people: int
    households: int
    identifiers: int
    load_s: float
    insert_s: float
    disk: int
    disk_indexes: int
    rss: tuple[float, float, float]
    singles: list[Lookup]
    latencies: list[float]
    pairs: list[Lookup]
    pair_store: list[float]
    variants: dict[str, list[float]]
    normalise: tuple[float, float]
    plans: tuple[str, str]


def run(url: str, args: argparse.Namespace) -> Figures:
    """The benchmark proper, on the store at `url`."""
    rss_start = peak_rss_mib()
    population = Population.build(args.people, args.seed)
    store = LinkStore(url)
    identifiers, load_s, insert_s = load(store, population, args.batch)
    backend, disk, disk_indexes = settle(store)
    rss_loaded = peak_rss_mib()
    rules = IdentityRules()
    resolver = Resolver(store, rules)
    singles = single_lookups(population, args.lookups, args.seed + 1)
    latencies = measure(resolver, singles)
    pairs = pair_lookups(population, args.pairs, args.seed + 2)
    variants = {"as is": store, "no pool_pre_ping": NoPingStore(url),
                "statements built once": BuiltOnceStore(url)}
    (pair_store,) = alternate([resolver], pairs, 20)
    compared = alternate([Resolver(each, rules) for each in variants.values()],
                         singles[: args.lookups // 4])
    rss_after = peak_rss_mib()
    normalise = normalising(population, args.normalise)
    plans = (owners_plan(store, 1), owners_plan(store, 2))
    for each in variants.values():
        each.engine.dispose()
    return Figures(backend, population.count, len(population.households), identifiers, load_s,
                   insert_s, disk, disk_indexes, (rss_start, rss_loaded, rss_after), singles,
                   latencies, pairs, pair_store,
                   dict(zip(variants, compared, strict=True)), normalise, plans)


def spread(latencies: list[float]) -> str:
    """p50 / p95 / p99 in milliseconds."""
    return " / ".join(f"{percentile(latencies, q) * 1000:.3g} ms" for q in (50, 95, 99))


def report(f: Figures) -> str:
    """The figures as a Markdown table."""
    by_kind: dict[str, list[float]] = {}
    for lookup, latency in zip(f.singles, f.latencies, strict=True):
        by_kind.setdefault(lookup.label, []).append(latency)
    answers = {"person": 0, "two candidates": 0, "nobody": 0}
    for lookup in f.singles + f.pairs:
        kind = {str: "person", frozenset: "two candidates"}.get(type(lookup.expected), "nobody")
        answers[kind] += 1
    mib = 1024 * 1024
    rows = [
        ("link store", f.backend),
        ("identifiers (people × 4 + household landlines)",
         f"{f.identifiers:,} ({f.people:,} people, {f.households:,} shared landlines)"),
        ("bulk load (one transaction, executemany batches)",
         f"{f.identifiers / f.load_s:,.0f} identifiers/s ({f.load_s:.1f} s, "
         f"{f.insert_s:.1f} s of it in INSERTs)"),
        ("database on disk (of it indexes)",
         f"{f.disk / mib:,.0f} MiB ({f.disk_indexes / mib:,.0f} MiB), "
         f"{f.disk / f.identifiers:.0f} bytes per identifier"),
        ("peak RSS: start / after load / after lookups",
         " / ".join(f"{value:,.0f} MiB" for value in f.rss)),
        ("resolve, one identifier: throughput (1 thread)",
         f"{len(f.latencies) / sum(f.latencies):,.0f} resolutions/s ({len(f.latencies):,})"),
        ("resolve, one identifier: p50 / p95 / p99", spread(f.latencies)),
        ("p50 by kind", " · ".join(f"{kind} {percentile(values, 50) * 1000:.3g} ms"
                                   for kind, values in by_kind.items())),
        (f"resolve, two identifiers ({len(f.pairs)}): store as is, p50 / p95 / p99",
         spread(f.pair_store)),
        (f"one identifier, same {len(f.variants['as is']):,} lookups interleaved: p50 (÷ as is)",
         " · ".join(f"{name} {percentile(values, 50) * 1000:.3g} ms "
                    f"({percentile(values, 50) / percentile(f.variants['as is'], 50):.2f})"
                    for name, values in f.variants.items())),
        ("normalise_phone / normalise_email on raw variants",
         f"{f.normalise[0]:,.0f}/s / {f.normalise[1]:,.0f}/s"),
        ("answers checked, all right", ", ".join(f"{n:,} {kind}" for kind, n in answers.items())),
        ("plan of `owners`, 1 identifier", f.plans[0]),
        ("plan of `owners`, 2 identifiers", f.plans[1]),
    ]
    head = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{dt.date.today().isoformat()}")
    lines = [head, "", "| measure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=250_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=200, help="two-identifier lookups")
    parser.add_argument("--normalise", type=int, default=20_000, help="raw values of each kind")
    parser.add_argument("--batch", type=int, default=20_000, help="rows per executemany")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    if args.postgres:
        try:
            print(report(run(postgres_url(args.postgres), args)))
        finally:
            drop_schema(args.postgres)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        print(report(run(f"sqlite:///{tmp}/links.db", args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
