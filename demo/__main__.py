"""`python -m demo` (what `make run` runs): demo data, the demo back office, then the service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from demo.generate import ensure

ROOT = Path(__file__).resolve().parent.parent


def start_backoffice(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start the demo ERP/review service on a free port; its process and base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "demo.backoffice", "--data", str(data_dir), "--port", "0",
         "--review-every", "300"],  # a new review now and then, for the review job
        stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("demo back office on "):
        process.kill()
        raise SystemExit(f"the demo back office did not start: {line or 'no output'}")
    url = line.removeprefix("demo back office on ")
    for _ in range(50):
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the demo back office did not answer on /healthz")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Run the demo until Ctrl-C, SIGTERM or SIGHUP; its back office and server stop with it."""
    data_dir = Path(os.environ.get("CONNECTOR_DEMO_DIR", ROOT / "var" / "demo"))
    ensure(data_dir)
    env = {**os.environ, "CONNECTOR_DEMO_DIR": str(data_dir), "CONNECTOR_DEMO": "1"}
    backoffice, url = start_backoffice(data_dir, env)
    env["DEMO_BACKOFFICE_URL"] = url
    port = env.setdefault("CONNECTOR_PORT", "8000")
    host = env.setdefault("CONNECTOR_HOST", "127.0.0.1")
    env.setdefault("CONNECTOR_PUBLIC_URL", f"http://{host}:{port}")
    # the classes that need the whole base (ABC, RFM): computed once now, then nightly
    first = subprocess.run([sys.executable, "-m", "connector.cli", "jobs", "run", "segments"],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    print(f"  {(first.stdout or first.stderr).strip()}", flush=True)
    print(f"\n  Demo helpdesk: http://{host}:{port}/demo   (Ctrl-C to stop)\n", flush=True)
    server = subprocess.Popen([sys.executable, "-m", "connector.cli", "serve"], env=env, cwd=ROOT)
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):  # stopped any way: as Ctrl-C
        signal.signal(stop_signal, _interrupt)
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.send_signal(signal.SIGTERM)
        return server.wait(timeout=10)
    finally:
        backoffice.terminate()
        backoffice.wait(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
