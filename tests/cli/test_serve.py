"""`connector serve`'s access log, read from the real process."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import ROOT, free_port, stop, wait_http


def test_a_path_cannot_forge_a_line_of_the_access_log(env: dict[str, str],
                                                        tmp_path: Path) -> None:
    port = free_port()
    connector = shutil.which("connector", path=str(Path(sys.executable).parent)) or "connector"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([connector, "serve", "--port", str(port)], cwd=ROOT,
                                   env={**env, "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}"},
                                   stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", process)
            forged = "/healthz%0A127.0.0.1%20%22GET%20/admin%22%20200"
            requests.get(f"http://127.0.0.1:{port}{forged}", timeout=5)
            deadline = time.monotonic() + 10
            while "%0A127.0.0.1" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            stop(process)
    lines = log.read_text().splitlines()
    assert any("/healthz%0A127.0.0.1" in line for line in lines), lines[-5:]
    assert not any(line.startswith('127.0.0.1 "GET /admin"') for line in lines)


def test_the_start_heap_is_left_out_of_full_collections_and_later_garbage_is_collected() -> None:
    import gc
    import weakref

    from connector.cli.processes import settle_heap

    class Cycle:
        other: object = None

    started = Cycle()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 1000  # the modules, the code: everything built so far
        assert all(o is not started for o in gc.get_objects())  # full passes skip it
        later = Cycle()
        later.other = later  # a cycle only the collector frees
        gone = weakref.ref(later)
        del later
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
