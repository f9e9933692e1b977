"""`python -m demo` (what `make run` runs): demo data, the demo back office, then the service,
which the demo helpdesk then sends its tickets to as signed webhooks (demo/webhooks.py)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from demo.generate import ensure
from demo.helpdesk import API_EMAIL, PREFIX
from demo.webhooks import announce, ensure_secret

ROOT = Path(__file__).resolve().parent.parent
# the port manifest.yaml falls back to (`${DEMO_BACKOFFICE_URL:-http://127.0.0.1:8071}`): with
# the back office there, `connector check --probe` and `connector lookup` run in another
# terminal find it with no variable set
FIXED_PORT = int(os.environ.get("DEMO_BACKOFFICE_PORT", "8071"))


def start_backoffice(data_dir: Path, env: dict[str, str], latency_ms: tuple[int, int] | None = None
                     ) -> tuple[subprocess.Popen[str], str]:
    """Start the demo ERP/review service on its fixed port, or a free one when that is taken;
    its process and base URL. `latency_ms`: how long each answer takes (its default: 20-80)."""
    process, line = _backoffice(data_dir, env, FIXED_PORT if _free(FIXED_PORT) else 0, latency_ms)
    if not line.startswith("demo back office on "):
        raise SystemExit(f"the demo back office did not start: {line or 'no output'}")
    url = line.removeprefix("demo back office on ")
    if not url.endswith(f":{FIXED_PORT}"):
        print(f"  port {FIXED_PORT} is taken: the demo back office is on {url}; before "
              f"running `connector` in another terminal: export DEMO_BACKOFFICE_URL={url}",
              flush=True)
    for _ in range(50):
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the demo back office did not answer on /healthz")


def helpdesk_env(backoffice_url: str, token: str) -> dict[str, str]:
    """What points the service's Zendesk adapter at the demo helpdesk's API (demo/helpdesk.py)
    and turns its write-back on: an action run from a demo ticket leaves its note there."""
    return {"ZENDESK_API_URL": backoffice_url + PREFIX, "ZENDESK_API_EMAIL": API_EMAIL,
            "ZENDESK_API_TOKEN": token, "ZENDESK_WRITE_BACK": "true"}


def _backoffice(data_dir: Path, env: dict[str, str], port: int,
                latency_ms: tuple[int, int] | None = None) -> tuple[subprocess.Popen[str], str]:
    """The back office started on `port` (0: any free one), and its first line of output."""
    latency = ["--latency-ms", "{}-{}".format(*latency_ms)] if latency_ms else []
    process = subprocess.Popen(
        [sys.executable, "-m", "demo.backoffice", "--data", str(data_dir), "--port", str(port),
         "--review-every", "300", *latency],  # a new review now and then, for the review job
        stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("demo back office on "):
        process.kill()
        process.wait(timeout=5)
    return process, line


def _free(port: int) -> bool:
    """Whether nothing listens on this port of the loopback address (one a server just left,
    its connections still closing, is free: the back office binds it as this probe does)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until_up(url: str, server: subprocess.Popen[bytes], seconds: float = 60) -> str | None:
    """Wait for the service to answer /healthz; None once it does, else why not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return f"the service stopped (exit code {server.returncode})"
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return None
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return f"the service did not answer {url}/healthz within {seconds:.0f} s"


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Run the demo until Ctrl-C, SIGTERM or SIGHUP; its back office and server stop with it."""
    data_dir = Path(os.environ.get("CONNECTOR_DEMO_DIR", ROOT / "var" / "demo"))
    try:
        ensure(data_dir)  # regenerated when they are another day's
    except ValueError as exc:  # an unreadable CONNECTOR_DEMO_TODAY
        raise SystemExit(f"the demo data cannot be generated: {exc}") from None
    env = {**os.environ, "CONNECTOR_DEMO_DIR": str(data_dir), "CONNECTOR_DEMO": "1"}
    secret = ensure_secret(env)  # the demo helpdesk signs its webhooks with it
    # the demo helpdesk's API token, for this run: the back office checks it, the service uses it
    env["DEMO_HELPDESK_TOKEN"] = secrets.token_urlsafe(24)
    backoffice, url = start_backoffice(data_dir, env)
    env["DEMO_BACKOFFICE_URL"] = url
    env.update(helpdesk_env(url, env["DEMO_HELPDESK_TOKEN"]))
    port = env.setdefault("CONNECTOR_PORT", "8000")
    host = env.setdefault("CONNECTOR_HOST", "127.0.0.1")
    env.setdefault("CONNECTOR_PUBLIC_URL", f"http://{host}:{port}")
    # the classes that need the whole base (ABC, RFM): computed once now, then nightly
    first = subprocess.run([sys.executable, "-m", "connector.cli", "jobs", "run", "segments"],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    print(f"  {(first.stdout or first.stderr).strip()}", flush=True)
    print(f"\n  Demo helpdesk: http://{host}:{port}/demo   (Ctrl-C to stop)"
          f"\n  Demo back office: {url}   (in another terminal: .venv/bin/connector check "
          "--probe --email pauline.deneve@easiware.fr)\n", flush=True)
    server = subprocess.Popen([sys.executable, "-m", "connector.cli", "serve"], env=env, cwd=ROOT)
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):  # stopped any way: as Ctrl-C
        signal.signal(stop_signal, _interrupt)
    try:
        local = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
        down = wait_until_up(local, server)
        print(f"  Demo helpdesk: its tickets' webhooks were not posted: {down}" if down
              else announce(local, secret, data_dir), flush=True)
        return server.wait()
    except KeyboardInterrupt:
        server.send_signal(signal.SIGTERM)
        return server.wait(timeout=10)
    finally:
        backoffice.terminate()
        backoffice.wait(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
