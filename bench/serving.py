"""What the benchmarks that run `connector serve` share: a free port, and the service started
in its own process, waited for until `/healthz` answers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(env: dict[str, str], port: int | None = None,
          command: list[str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`connector serve` (or `command`, given the port) in its own process, quiet (its log in
    `$BENCH_LOG_DIR` when set); its process and URL once `/healthz` answers (SystemExit when it
    does not within 20 s)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    exe = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    logs = os.environ.get("BENCH_LOG_DIR")  # the service's log there, else none
    log = (open(Path(logs) / f"connector-{port}.log", "ab") if logs  # noqa: SIM115
           else subprocess.DEVNULL)
    process = subprocess.Popen(command or [exe, "serve", "--port", str(port)],
                               env={"CONNECTOR_PUBLIC_URL": url, "CONNECTOR_WORKERS": "1",
                                    **env}, cwd=ROOT, stdout=log, stderr=log)
    if logs:
        log.close()  # the child has its own
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}")
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return process, url
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the service did not answer on /healthz")
