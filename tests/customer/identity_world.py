"""A small retailer for identity tests: an ERP and a loyalty programme as real SQLite databases
read by real `sql` sources (declared as the demo declares them), the real assembler, resolver
and link store, and the people the test writes into them."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from connector.customer.links import LinkStore
from connector.customer.profile import Lookup, ProfileAssembler
from connector.customer.resolver import Resolver
from connector.identifiers import Identifiers, identifiers_from
from connector.manifest import Manifest, load_manifest
from connector.models import CustomerProfile
from connector.sources import build_source
from connector.sources.cache import MemoryCache, SingleFlight

MANIFEST = """\
version: 1
brand: {name: Test, default_region: FR}
sources:
  erp:
    type: sql
    url: sqlite:///{dir}/erp.sqlite
    ttl_s: 0
    stale_ttl_s: 0
    lookup_by: [external, email, phone]
    queries:
      customer: >-
        SELECT id, first_name, last_name, email, mobile, phone, zip, city, country, birth_date
        FROM customers WHERE id = :external OR lower(email) = :email
        OR mobile = :phone OR phone = :phone
      orders: >-
        SELECT o.number, o.date, o.total FROM orders o JOIN customers c ON c.id = o.customer_id
        WHERE c.id = :external OR lower(c.email) = :email OR c.mobile = :phone OR c.phone = :phone
    id: customer[0].id
    candidates: {items: customer, id: id, name: "join(' ', [first_name, last_name])",
                 postcode: zip}
    sections:
      identity:
        path: customer[0]
        fields:
          first_name: first_name
          last_name: last_name
          emails: email
          phones: "[mobile, phone]"
          birth_date: birth_date
          address.postcode: zip
          address.city: city
          address.country: country
      orders:
        items: orders
        fields: {number: number, date: date, total: total}
  loyalty:
    type: sql
    url: sqlite:///{dir}/loyalty.sqlite
    ttl_s: 0
    stale_ttl_s: 0
    lookup_by: [card, email, phone]
    queries:
      member: >-
        SELECT card, name, email, phone, points FROM members
        WHERE card = :card OR lower(email) = :email OR phone = :phone
    id: member[0].card
    candidates: {items: member, id: card, name: name}
    sections:
      loyalty: {path: "member[0]", fields: {card: card, points: points}}
      identity: {path: "member[0]", fields: {full_name: name, emails: email, phones: phone}}
"""


class World:
    """The ERP's and the loyalty programme's tables, and lookups through the connector."""

    def __init__(self, folder: Path, store_url: str | None = None, more_sources: str = "") -> None:
        self.folder = folder
        self.erp = sqlite3.connect(folder / "erp.sqlite", isolation_level=None)
        self.erp.executescript(
            "CREATE TABLE customers (id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT,"
            " email TEXT, mobile TEXT, phone TEXT, zip TEXT, city TEXT, country TEXT,"
            " birth_date TEXT);"
            "CREATE TABLE orders (number TEXT, customer_id TEXT, date TEXT, total REAL);")
        self.loyalty = sqlite3.connect(folder / "loyalty.sqlite", isolation_level=None)
        self.loyalty.execute("CREATE TABLE members (card TEXT PRIMARY KEY, name TEXT,"
                             " email TEXT, phone TEXT, points INTEGER)")
        (folder / "manifest.yaml").write_text(MANIFEST.replace("{dir}", str(folder))
                                              + more_sources.replace("{dir}", str(folder)))
        self.manifest: Manifest = load_manifest(folder / "manifest.yaml", env={})
        self.store = LinkStore(store_url or f"sqlite:///{folder}/store.sqlite")
        self.resolver = Resolver(self.store, self.manifest.identity)
        context = self.manifest.source_context()
        self.sources = {name: build_source(name, config, context)
                        for name, config in self.manifest.sources.items()}
        self.pool = ThreadPoolExecutor(4)
        self.assembler = ProfileAssembler(self.manifest, self.sources,
                                          SingleFlight(MemoryCache(), self.pool), self.pool,
                                          self.resolver)

    def customer(self, id: str, first: str, last: str, email: str | None = None,
                 mobile: str | None = None, phone: str | None = None, *, zip: str = "75011",
                 city: str = "Paris", country: str = "FR", born: str | None = None,
                 orders: tuple[str, ...] = ()) -> None:
        """An ERP customer, with their orders (numbers), each dated 2024-01-0N."""
        self.erp.execute("INSERT INTO customers VALUES (?,?,?,?,?,?,?,?,?,?)",
                         (id, first, last, email, mobile, phone, zip, city, country, born))
        for n, number in enumerate(orders, start=1):
            self.erp.execute("INSERT INTO orders VALUES (?,?,?,?)",
                             (number, id, f"2024-01-0{n}", 10.0 * n))

    def member(self, card: str, name: str | None, email: str | None = None,
               phone: str | None = None) -> None:
        """A loyalty card, registered with an email and a phone."""
        self.loyalty.execute("INSERT INTO members VALUES (?,?,?,?,?)",
                             (card, name, email, phone, 100))

    def lookup(self, customer_id: str | None = None, **given: str) -> Lookup:
        """What the connector answers for a ticket's identifiers (email=, phone=, card=)."""
        ids = identifiers_from("FR", **given) if given else Identifiers()
        return self.assembler.lookup(ids, customer_id=customer_id)

    def profile(self, **given: str) -> CustomerProfile:
        """The one customer these identifiers name (fails when ambiguous or unknown)."""
        found = self.lookup(**given)
        assert not found.candidates, [c.name for c in found.candidates]
        assert found.profile is not None, found.sources
        return found.profile

    def close(self) -> None:
        """Let go of the databases."""
        self.pool.shutdown(wait=True)
        self.erp.close()
        self.loyalty.close()
        self.store.engine.dispose()


def holdings(profile: CustomerProfile) -> set[str]:
    """Everything in a profile that belongs to one real person: ids, emails, phones, card,
    order numbers."""
    found = {f"{k}:{v}" for k, v in profile.identity.external_ids.items()}
    found |= {f"email:{e}" for e in profile.identity.emails}
    found |= {f"phone:{p}" for p in profile.identity.phones}
    if profile.loyalty.card:
        found.add(f"card:{profile.loyalty.card}")
    return found | {f"order:{o.number}" for o in profile.orders}
