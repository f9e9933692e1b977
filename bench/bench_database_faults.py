"""The database as a dependency that fails: what agents and helpdesks get while PostgreSQL
refuses connections, then while it hangs (TCP accepted, nothing answered), and how long the
service takes to work again once it is back.

Run: .venv/bin/python bench/bench_database_faults.py [--sidebars 240] [--webhooks 120] [--quick]
`connector serve` runs as its own process on PostgreSQL (127.0.0.1:5432, a schema of its own)
through a TCP proxy the benchmark switches (tests/faults/proxy.py); every source stays up (the
demo back office). For each fault, N sidebars and M signed webhooks at once (8 clients):
- sidebars: 200 from the sources marked "identity not checked", 503 (several people may match:
  identity cannot be checked), and 500 or no answer (target 0); their p50/p95/max;
- webhooks: acknowledged (2xx, target 0: an event is acknowledged only once written), 503 with
  Retry-After;
- /healthz during the fault (liveness: stays 200 and prompt) and /readyz (503);
- recovery: seconds from the database's return to a sidebar checked again and a webhook
  acknowledged (target ≤ 5 s), polled every 50 ms;
- at the end, events in the log = webhooks acknowledged (nothing acknowledged is lost).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_sidebar import percentile  # noqa: E402
from bench.serving import free_port, serve  # noqa: E402
from connector.helpdesk.embed import EmbedLinks  # noqa: E402
from demo.__main__ import start_backoffice  # noqa: E402
from demo.generate import ensure  # noqa: E402
from tests.faults.proxy import HANG, PASS, REFUSE, Proxy  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET = "bench-helpscout-secret"
KEY = "bench-secret-key"
LINKS = EmbedLinks(KEY.encode(), 600, "FR")
PAULINE = "pauline.deneve@easiware.fr"
UNCHECKED = "Identité non vérifiée"
CLIENTS = 8
TICKETS = itertools.count(700001)


@dataclass
class Phase:
    """What one fault's requests got."""

    name: str
    sidebars: Counter[str] = field(default_factory=Counter)
    webhooks: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    healthz_ms: list[float] = field(default_factory=list)
    readyz: int = 0
    recovery_s: float = float("nan")


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sidebars", type=int, default=240)
    parser.add_argument("--webhooks", type=int, default=120)
    parser.add_argument("--quick", action="store_true", help="40 sidebars, 20 webhooks")
    args = parser.parse_args()
    sidebars, webhooks = (40, 20) if args.quick else (args.sidebars, args.webhooks)
    data = ensure(Path(tempfile.mkdtemp()) / "demo")
    office, office_url = start_backoffice(data, {**os.environ, "CONNECTOR_DEMO_DIR": str(data)})
    schema = "connector_bench_" + uuid.uuid4().hex[:8]
    admin = sqlalchemy.create_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    proxy = Proxy()
    service = None
    try:
        service, url = start_service(data, office_url, schema, proxy)
        emails = [c["email"] for c in json.loads((data / "erp.json").read_text())["customers"]]
        for email in emails[:40]:  # the day's customers, seen once (linked, answers cached)
            sidebar(url, email)
        phases = [fault(url, proxy, mode, emails[:40], sidebars, webhooks)
                  for mode in (REFUSE, HANG)]
        acknowledged = sum(p.webhooks["acknowledged"] for p in phases) + 2  # + recoveries
        with admin.connect() as connection:
            logged = connection.execute(sqlalchemy.text(
                f'SELECT count(*) FROM "{schema}".ticket_events')).scalar_one()
        print(report(phases, sidebars, webhooks, acknowledged, int(logged)))
    finally:
        if service is not None:
            service.terminate()
            service.wait(timeout=15)
        proxy.close()
        office.terminate()
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    return 0


def start_service(data: Path, office_url: str, schema: str,
                  proxy: Proxy) -> tuple[subprocess.Popen[bytes], str]:
    """`connector serve` on the schema, through the proxy; its process and URL."""
    port = free_port()
    database = (f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test"
                f"?options=-csearch_path%3D{schema}")
    env = {**os.environ, "DEMO_BACKOFFICE_URL": office_url, "CONNECTOR_DEMO_DIR": str(data),
           "CONNECTOR_DATA_DIR": tempfile.mkdtemp(), "CONNECTOR_SECRET_KEY": KEY,
           "CONNECTOR_MANIFEST": str(ROOT / "manifest.yaml"), "CONNECTOR_DATABASE_URL": database,
           "HELPSCOUT_WEBHOOK_SECRET": SECRET, "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "CONNECTOR_RATE_LIMIT": "off"}
    return serve(env, port)


def sidebar(url: str, email: str) -> requests.Response:
    return requests.get(LINKS.url(url, LINKS.token(email=email)), timeout=30)


def webhook(url: str) -> requests.Response:
    """A new signed Help Scout conversation from Pauline."""
    number = next(TICKETS)
    body = json.dumps({"id": number, "number": number, "type": "email", "subject": "Colis",
                       "primaryCustomer": {"email": PAULINE},
                       "createdBy": {"type": "customer", "email": PAULINE}}).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha1).digest())
    return requests.post(f"{url}/helpdesk/helpscout/webhook", data=body, timeout=30,
                         headers={"X-HelpScout-Signature": signature.decode(),
                                  "X-HelpScout-Event": "convo.created",
                                  "Content-Type": "application/json"})


def fault(url: str, proxy: Proxy, mode: str, emails: list[str], sidebars: int,
          webhooks: int) -> Phase:
    """One fault: the requests during it, then the time to recover once it ends."""
    phase = Phase(mode)
    proxy.set(mode)

    def one_sidebar(n: int) -> None:
        started = time.perf_counter()
        try:
            page = sidebar(url, emails[n % len(emails)])
        except requests.RequestException:
            phase.sidebars["no answer"] += 1
            return
        phase.latencies.append(time.perf_counter() - started)
        if page.status_code == 200:
            phase.sidebars["200 unchecked" if UNCHECKED in page.text else "200 checked"] += 1
        else:
            phase.sidebars[str(page.status_code)] += 1

    def one_webhook(_: int) -> None:
        try:
            answer = webhook(url)
        except requests.RequestException:
            phase.webhooks["no answer"] += 1
            return
        if answer.status_code < 300:
            phase.webhooks["acknowledged"] += 1
        elif answer.status_code == 503 and answer.headers.get("Retry-After"):
            phase.webhooks["503 Retry-After"] += 1
        else:
            phase.webhooks[str(answer.status_code)] += 1

    with ThreadPoolExecutor(CLIENTS) as pool:
        work = [pool.submit(one_sidebar, n) for n in range(sidebars)]
        work += [pool.submit(one_webhook, n) for n in range(webhooks)]
        while not all(w.done() for w in work):
            started = time.perf_counter()
            requests.get(f"{url}/healthz", timeout=10)
            phase.healthz_ms.append((time.perf_counter() - started) * 1000)
            time.sleep(0.1)
        for done in work:
            done.result()
    phase.readyz = requests.get(f"{url}/readyz", timeout=30).status_code
    proxy.set(PASS)
    phase.recovery_s = recovery(url)
    return phase


def recovery(url: str, limit_s: float = 60) -> float:
    """Seconds until a sidebar is checked again and a webhook acknowledged."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        try:
            page = sidebar(url, PAULINE)
            if page.status_code == 200 and UNCHECKED not in page.text \
                    and webhook(url).status_code == 202:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return float("inf")


def report(phases: list[Phase], sidebars: int, webhooks: int, acknowledged: int,
           logged: int) -> str:
    """The figures as a Markdown table."""
    rows = [f"Database faults — {sidebars} sidebars and {webhooks} webhooks per fault, "
            f"{CLIENTS} clients; {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}", "",
            "| fault | sidebars 200 (identity not checked) / 503 / 500 or none | "
            "sidebar p50 / p95 / max | webhooks acknowledged (target 0) / 503 Retry-After | "
            "/healthz max | /readyz | recovery (target ≤ 5 s) |",
            "|---|---|---|---|---|---|---|"]
    for p in phases:
        failed = sum(n for k, n in p.sidebars.items() if k not in ("200 unchecked",
                                                                    "200 checked", "503"))
        ok = p.sidebars["200 unchecked"]
        checked = f" (+{p.sidebars['200 checked']} checked)" if p.sidebars["200 checked"] else ""
        ms = [value * 1000 for value in p.latencies]
        lat = (f"{percentile(ms, 50):.0f} / {percentile(ms, 95):.0f} / {max(ms):.0f} ms"
               if ms else "-")
        others = sum(n for k, n in p.webhooks.items() if k not in ("acknowledged",
                                                                     "503 Retry-After"))
        hooks = f"{p.webhooks['acknowledged']} / {p.webhooks['503 Retry-After']}" + (
            f" (+{others} other)" if others else "")
        rows.append(f"| {p.name} | {ok}{checked} / {p.sidebars['503']} / {failed} | {lat} | "
                    f"{hooks} | {max(p.healthz_ms, default=0):.0f} ms | {p.readyz} | "
                    f"{p.recovery_s:.2f} s |")
    rows += ["", f"events in the log: {logged}; webhooks acknowledged: {acknowledged} "
                 f"({'none lost' if logged == acknowledged else 'MISMATCH'})"]
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
