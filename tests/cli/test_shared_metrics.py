"""Metrics shared between processes (`connector.ops.metrics.share_between_processes`), in a
fresh interpreter (the mode is the whole process's): children's counters add up, a child that
ended drops out of the gauges, an operator's folder starts empty, a made one is removed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = textwrap.dedent("""
    import os, re, sys
    from connector.ops.metrics import Metrics, process_ended, share_between_processes, unshare

    made = share_between_processes()
    pids = []
    for blocks in (3, 4):
        pid = os.fork()
        if pid == 0:
            metrics = Metrics()
            for n in range(blocks):
                metrics._rendered_noted(n > 0, 1000 * blocks)
            metrics._shared_cache_noted("outage")
            os._exit(0)
        os.waitpid(pid, 0)
        pids.append(pid)

    def figure(name):
        found = re.search("^" + re.escape(name) + r" (\\S+)$", Metrics().render().decode(), re.M)
        return float(found.group(1)) if found else None

    print(figure('connector_rendered_blocks_total{result="hit"}'),
          figure('connector_rendered_blocks_total{result="miss"}'),
          figure("connector_shared_cache_outages_total"),
          figure("connector_rendered_blocks_bytes"))
    process_ended(pids[0])
    print(figure("connector_rendered_blocks_bytes"), figure("connector_shared_cache_degraded"))
    process_ended(pids[1])
    print(figure("connector_rendered_blocks_bytes"), figure("connector_shared_cache_degraded"))
    unshare(made)
    print(made is not None and not made.exists(), os.environ["PROMETHEUS_MULTIPROC_DIR"])
""")


def run(env: dict[str, str]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_children_add_up_and_an_ended_one_leaves_the_gauges(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    counted, one_ended, both_ended, removed = run(env)
    assert counted == "5.0 2.0 2.0 7000.0"  # hits 2 + 3, misses 1 + 1, bytes 3000 + 4000
    assert one_ended == "4000.0 1.0"
    assert both_ended == "0.0 0.0"  # only the scraping process left, keeping nothing
    assert removed.startswith("True ")  # the folder it made is gone


def test_an_operators_folder_is_emptied_of_old_counts_and_kept(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_99999.db").write_bytes(b"\0" * 16)  # a previous run's
    (folder / "notes.txt").write_text("the operator's")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
           "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    counted, *_, kept = run(env)
    assert counted == "5.0 2.0 2.0 7000.0"  # nothing of the old file
    assert kept == f"False {folder}" and (folder / "notes.txt").exists()


SWEEP = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from connector.ops.metrics import share_between_processes, unshare

    base = Path(sys.argv[1])
    made = share_between_processes(base)
    print(made.parent == base and made.name.startswith(f"connector-metrics-{os.getpid()}-"))
    print(sorted(p.name for p in base.iterdir() if p != made))
    unshare(made)
""")


def test_folders_killed_supervisors_left_are_removed_at_the_next_start(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    for name in (f"connector-metrics-{gone}-a1b2", "connector-metrics-1-c3d4",  # init: alive
                 "connector-metrics-x7y8", "someone-else"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "counter_1.db").write_bytes(b"\0" * 16)
    done = subprocess.run([sys.executable, "-c", SWEEP, str(tmp_path)], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    named, left = done.stdout.splitlines()
    assert named == "True"
    assert left == str(sorted(["connector-metrics-1-c3d4", "connector-metrics-x7y8",
                               "someone-else"]))
