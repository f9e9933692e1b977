"""A real Tryton: the tryton preset reads a party, its sale and its store sale over JSON-RPC.

trytond, proteus and the party, sale and sale_point modules come with the `dev` extra. The
database is SQLite in a temporary folder; the server listens on 127.0.0.1 only. Standard Tryton
keeps store sales anonymous, so a site module from the fixtures (sale_point_party) records the
customer on them, as a shop that runs loyalty at its tills would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from importlib import metadata
from pathlib import Path

import pytest
import requests

from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.sources import build_source
from connector.sources.base import BuildContext, Source, SourceRefused

pytestmark = pytest.mark.live

FIXTURE_MODULES = Path(__file__).parent.parent / "fixtures" / "tryton" / "modules"
DATABASE = "shop"
API_LOGIN = "connector"
API_PASSWORD = "Tq7-vLx9-mWz4-Kp2R"  # a test server's, thrown away with it
EMAIL = "camille.martin@example.org"
PHONE = "+33612345678"
STORE = "Boutique Lyon Presqu'île"
REQUIRED = ("trytond", "proteus", "trytond-party", "trytond-sale", "trytond-sale-point")
SETUP_TIMEOUT_S = 240
INSTALL = ("--all", "-u", "sale_point_party", "--activate-dependencies",
           "--email", "admin@example.org")


def _missing() -> list[str]:
    missing = []
    for name in REQUIRED:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    tools = [Path(sys.executable).with_name(n) for n in ("trytond", "trytond-admin")]
    return missing + [t.name for t in tools if not t.exists()]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(root: Path) -> dict[str, str]:
    """The servers' environment: the fixture module found through an entry point, no caches."""
    site = root / "site" / "connector_tryton_fixtures-0.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: connector-tryton-fixtures\n"
                                   "Version: 0\n")
    (site / "entry_points.txt").write_text("[trytond.modules]\n"
                                           "sale_point_party = sale_point_party\n")
    (root / "admin-password").write_text("admin-Zr8-Qw4\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYTOND")}
    env.update(PYTHONPATH=os.pathsep.join([str(root / "site"), str(FIXTURE_MODULES)]),
               PYTHONDONTWRITEBYTECODE="1", TRYTONPASSFILE=str(root / "admin-password"))
    return env


def _run(command: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                              timeout=SETUP_TIMEOUT_S, check=False)
    if done.returncode:
        tail = log.read_text(errors="replace")[-3000:]
        pytest.fail(f"{Path(command[0]).name} failed ({done.returncode}):\n{tail}")


def _wait_until_answering(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"trytond stopped:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            requests.post(f"{url}/rpc/", json={"method": "common.server.version", "params": [],
                                               "id": 0}, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    pytest.fail("trytond did not answer within 60 s")


def _installed_key() -> str:
    """What an installed database depends on: trytond's packages, the fixture module, the
    command. Any of them changing makes a new key, so a kept database is never stale."""
    digest = hashlib.sha256(repr((sys.version_info[:2], INSTALL)).encode())
    for dist in sorted(metadata.distributions(), key=lambda d: d.metadata["Name"] or ""):
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith(("trytond", "proteus", "python-sql")):
            digest.update(f"{name}=={dist.version}\n".encode())
    for path in sorted(FIXTURE_MODULES.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(FIXTURE_MODULES).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _install(database: Path, command: list[str], env: dict[str, str], log: Path) -> None:
    """trytond-admin installs sale and its dependencies (~30 s); the installed, still empty
    database is kept in the user's cache under a key of everything it depends on, and copied
    from there on the next run. The seed (dated today) always runs afresh."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    kept = cache / "connector-tests" / f"tryton-{_installed_key()}.sqlite"
    if kept.is_file():
        shutil.copyfile(kept, database)
        return
    _run(command, env, log)
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_suffix(f".{os.getpid()}.partial")
        shutil.copyfile(database, partial)
        partial.replace(kept)  # atomic: a run reading the cache sees the whole file or none
    except OSError as error:  # a read-only home only costs the next run the install
        print(f"tryton: the installed database is not kept ({error})")


@pytest.fixture(scope="module")
def tryton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A seeded trytond on a free local port; its URL."""
    missing = _missing()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: pip install -e '.[dev]'")
    root = tmp_path_factory.mktemp("tryton")
    port = _free_port()
    config = root / "trytond.conf"
    config.write_text(f"[database]\nuri = sqlite://\npath = {root}\n\n"
                      f"[web]\nlisten = 127.0.0.1:{port}\n")
    (root / f"{DATABASE}.sqlite").touch()  # trytond opens SQLite databases, it does not create
    env = _environment(root)
    log = root / "trytond.log"
    bin_dir = Path(sys.executable).parent
    _install(root / f"{DATABASE}.sqlite",
             [str(bin_dir / "trytond-admin"), "-c", str(config), "-d", DATABASE, *INSTALL],
             env, log)
    _run([sys.executable, __file__, str(config), DATABASE], env, log)
    with log.open("ab") as out:
        server = subprocess.Popen([str(bin_dir / "trytond"), "-c", str(config), "-d", DATABASE],
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_answering(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def tryton_source(tmp_path: Path, url: str, password: str = API_PASSWORD) -> Source:
    """The tryton preset as an admin declares it, with the site's store-sale customer field."""
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(f"""version: 1
sources:
  erp:
    type: tryton
    base_url: {url}
    database: {DATABASE}
    username: {API_LOGIN}
    password: ${{TRYTON_PASSWORD}}
    store_sales_customer_field: party
""", encoding="utf-8")
    loaded = load_manifest(manifest, env={"TRYTON_PASSWORD": password})
    return build_source("erp", loaded.sources["erp"], BuildContext(tmp_path))


def test_the_party_its_sale_and_its_store_sale_come_back(tryton: str, tmp_path: Path) -> None:
    source = tryton_source(tmp_path, tryton)
    by_email = source.fetch(Identifiers(emails=(EMAIL,)))
    assert by_email.found and by_email.external_id
    identity = by_email.sections["identity"]
    assert (identity.full_name, identity.emails) == ("Camille Martin", [EMAIL])
    assert [re.sub(r"[^\d+]", "", p) for p in identity.phones] == [PHONE]
    assert (identity.address.city, identity.address.postcode, identity.address.country) == (
        "Lyon", "69002", "France")
    (order,) = by_email.sections["orders"]
    assert (order.status, order.total, order.currency, order.date) == (
        "processing", Decimal("45.00"), "EUR", dt.date.today())
    assert order.number and order.back_office_url.endswith(f"/#{DATABASE}/model/sale.sale/1")
    (store_sale,) = by_email.sections["store_purchases"]
    assert (store_sale.store, store_sale.status, store_sale.total, store_sale.channel) == (
        STORE, "delivered", Decimal("22.50"), "store")

    by_phone = source.fetch(Identifiers(phones=(PHONE,)))
    assert by_phone.found and by_phone.external_id == by_email.external_id
    assert by_phone.sections["orders"] == by_email.sections["orders"]


def test_an_unknown_customer_is_not_found(tryton: str, tmp_path: Path) -> None:
    source = tryton_source(tmp_path, tryton)
    assert not source.fetch(Identifiers(emails=("nobody@example.org",),
                                        phones=("+33700000000",))).found


def test_a_wrong_password_is_refused(tryton: str, tmp_path: Path) -> None:
    with pytest.raises(SourceRefused) as refused:
        tryton_source(tmp_path, tryton, password="not-the-password").fetch(
            Identifiers(emails=(EMAIL,)))
    assert refused.value.public == "refused our credentials (401)"


def seed(config: str, database: str) -> None:
    """A company selling in EUR, a customer with an email and a mobile, a confirmed sale and a
    paid store sale, and the API user (groups Sales and POS only)."""
    from proteus import Model
    from proteus import config as proteus_config

    proteus_config.set_trytond(database, config_file=config)
    from trytond.modules.account.tests.tools import create_chart, create_fiscalyear, get_accounts
    from trytond.modules.account_invoice.tests.tools import set_fiscalyear_invoice_sequences
    from trytond.modules.company.tests.tools import create_company, get_company

    party_model = Model.get("party.party")
    owner = party_model(name="Maison Exemple")
    owner.save()
    create_company(owner, "EUR")
    company = get_company()
    create_chart(company)
    fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear(company))
    fiscalyear.click("create_period")
    accounts = get_accounts(company)

    france = Model.get("country.country")(name="France", code="FR")
    france.save()
    customer = party_model(name="Camille Martin")
    address = customer.addresses[0] if customer.addresses else customer.addresses.new()
    address.street = "12 rue Mercière"
    address.postal_code, address.city, address.country = "69002", "Lyon", france
    customer.contact_mechanisms.new(type="email", value=EMAIL)
    customer.contact_mechanisms.new(type="mobile", value="+33 6 12 34 56 78")
    customer.save()

    category = Model.get("product.category")(name="Candles", accounting=True)
    category.account_revenue = accounts["revenue"]
    category.save()
    (unit,) = Model.get("product.uom").find([("name", "=", "Unit")])
    template = Model.get("product.template")(name="Scented candle", default_uom=unit,
                                             type="service", salable=True,
                                             account_category=category)
    template.list_price = template.gross_price = Decimal("22.50")
    template.save()
    (product,) = template.products

    sale = Model.get("sale.sale")(party=customer, reference="WEB-1042")
    line = sale.lines.new()
    line.product, line.quantity = product, 2
    sale.save()
    sale.click("quote")
    sale.click("confirm")

    _store_sale(customer, product, accounts)
    groups = Model.get("res.group").find([("name", "in", ["Sales", "POS"])])
    api_user = Model.get("res.user")(name="Connector", login=API_LOGIN, password=API_PASSWORD)
    api_user.groups.extend(groups)
    api_user.companies.append(company)
    api_user.company = company
    api_user.save()


def _store_sale(customer: object, product: object, accounts: dict[str, object]) -> None:
    """A paid sale at a till of the Lyon store, recorded for the customer."""
    from proteus import Model

    (journal,) = Model.get("account.journal").find([("type", "=", "revenue")], limit=1)
    location = Model.get("stock.location")
    (storage,) = location.find([("code", "=", "STO")])
    (customers,) = location.find([("code", "=", "CUS")])
    (sequence_type,) = Model.get("ir.sequence.type").find([("name", "=", "POS")], limit=1)
    point = Model.get("sale.point")(name=STORE, journal=journal, storage_location=storage,
                                    customer_location=customers)
    point.sequence = Model.get("ir.sequence.strict")(name="POS", company=point.company,
                                                     sequence_type=sequence_type)
    point.sequence.save()
    point.save()
    cash = Model.get("sale.point.payment.method")(name="Cash", account=accounts["cash"],
                                                  cash=True)
    cash.save()
    store_sale = Model.get("sale.point.sale")(point=point, party=customer)
    line = store_sale.lines.new()
    line.product, line.quantity = product, 1
    store_sale.save()
    payment = store_sale.click("pay")
    payment.form.method = cash
    payment.execute("pay")


if __name__ == "__main__":
    seed(sys.argv[1], sys.argv[2])
