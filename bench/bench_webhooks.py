"""How fast a helpdesk event is acknowledged, against the work it causes.

Run: .venv/bin/python bench/bench_webhooks.py [--events 200]
A webhook is verified, parsed and written to the event log before the 202; resolving the
customer (every source asked: a cold lookup against the demo back office), recording the
contact and queuing write-backs happen after, in the worker. Measured in one run, in process
(Flask test client, SQLite event log on disk), with Help Scout's signed `convo.created`:
- ack p50/p95, and ack ÷ work (how much of the work the helpdesk waits for: ≪ 1);
- acks per second with 4 threads posting at once (SQLite serialises the writes);
- duplicates: the same deliveries again are acknowledged and worked zero more times.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_sidebar import percentile  # noqa: E402
from demo.__main__ import start_backoffice  # noqa: E402
from demo.generate import ensure  # noqa: E402

SECRET = "bench-webhook-secret"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    data = ensure(Path(tempfile.mkdtemp()) / "demo")
    office, url = start_backoffice(data, {**os.environ, "CONNECTOR_DEMO_DIR": str(data)})
    os.environ.update({"DEMO_BACKOFFICE_URL": url, "CONNECTOR_DEMO_DIR": str(data),
                       "CONNECTOR_DATA_DIR": tempfile.mkdtemp(),
                       "CONNECTOR_SECRET_KEY": "bench", "HELPSCOUT_WEBHOOK_SECRET": SECRET,
                       "CONNECTOR_MANIFEST": str(ROOT / "manifest.yaml")})
    try:
        print(run(data, args.events))
    finally:
        office.terminate()
    return 0


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha1).digest()
    return {"X-HelpScout-Signature": base64.b64encode(digest).decode(),
            "X-HelpScout-Event": "convo.created", "Content-Type": "application/json"}


def drain(worker: object, expected: int) -> int:
    """Run a worker until it has worked `expected` events (claims come 20 at a time)."""
    worked = 0
    while worked < expected and (done := worker.run_once()):  # type: ignore[attr-defined]
        worked += done
    return worked


def bodies(data: Path, count: int) -> list[bytes]:
    """One new conversation per event, from the demo's customers in turn."""
    customers = json.loads((data / "erp.json").read_text())["customers"]
    template = json.loads((ROOT / "tests/fixtures/helpscout/convo_created.json").read_text())
    out = []
    for n in range(count):
        event = json.loads(json.dumps(template))
        event["id"] = 900000 + n
        event["number"] = 90000 + n
        email = customers[n % len(customers)]["email"]
        event["primaryCustomer"]["email"] = event["createdBy"]["email"] = email
        out.append(json.dumps(event).encode())
    return out


def run(data: Path, count: int) -> str:
    from connector.app import build_services
    from connector.events.worker import EventWorker
    from connector.settings import Settings
    from connector.web import create_app

    services = build_services(Settings(worker_threads=1))
    client = create_app(services=services).test_client()
    events = bodies(data, count)
    acks = []
    for body in events:
        started = time.perf_counter()
        answer = client.post("/helpdesk/helpscout/webhook", data=body, headers=signed(body))
        acks.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 202, answer.get_data(as_text=True)
    # the first half worked one at a time, the second half 4 at once (serve's default); each
    # half names other customers, so both are cold lookups
    half = count // 2
    # each claims its half and no more (a worker claims up to 200 events at once)
    single = EventWorker(services.events, services.assembler, services.writebacks, {}, {},
                         batch=half)
    started = time.perf_counter()
    worked = drain(single, half)
    serial_s = time.perf_counter() - started
    assert worked == half, (worked, half)  # else the rates below divide the wrong counts
    work_ms = serial_s * 1000 / max(worked, 1)
    pooled = EventWorker(services.events, services.assembler, services.writebacks, {}, {},
                         threads=4, batch=count - half)
    started = time.perf_counter()
    worked += drain(pooled, count - half)
    pooled_s = time.perf_counter() - started
    pooled.stop()
    assert worked == count, (worked, services.events.counts())

    again = time.perf_counter()
    statuses = [client.post("/helpdesk/helpscout/webhook", data=b, headers=signed(b)).json
                for b in events[:50]]
    dup_ms = (time.perf_counter() - again) * 1000 / 50
    assert all(s["status"] == "duplicate" for s in statuses)
    assert services.worker.run_once() == 0

    threaded = bodies(data, count + 400)[count:]
    lock = threading.Lock()
    index = iter(range(len(threaded)))

    def post() -> None:
        local = create_app(services=services).test_client()
        while True:
            with lock:
                n = next(index, None)
            if n is None:
                return
            local.post("/helpdesk/helpscout/webhook", data=threaded[n],
                       headers=signed(threaded[n]))

    started = time.perf_counter()
    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = len(threaded) / (time.perf_counter() - started)
    services.close()

    ack_p50 = statistics.median(acks)
    rows = [
        ("webhook ack p50 / p95 (verify, parse, write to the event log)",
         f"{ack_p50:.2f} ms / {percentile(acks, 95):.2f} ms"),
        ("work per event, mean (cold lookup of 5 sources, contact recorded)",
         f"{work_ms:.1f} ms"),
        ("events worked per second: 1 thread / 4 threads",
         f"{half / serial_s:.1f} / {(count - half) / pooled_s:.1f}"),
        ("ack ÷ work", f"{ack_p50 / work_ms:.3f}"),
        ("duplicate delivery ack, mean; extra work done", f"{dup_ms:.2f} ms; 0 events"),
        ("acks per second, 4 threads posting", f"{rate:.0f}"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return (f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; {count} events\n\n| measure | value |\n|---|---|\n"
            f"{table}")


if __name__ == "__main__":
    raise SystemExit(main())
