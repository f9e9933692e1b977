"""`connector jobs run NAME` shows the progress its job reports: plain lines, at most one per
tenth of the way, when stderr is not a terminal (CI logs); a bar redrawn in place when it is. The
jobs call their `progress` with growing counts."""

from __future__ import annotations

import io
import itertools
import logging
from pathlib import Path

from connector.cli.progress import ProgressLine
from connector.jobs.config import PurgeJob
from connector.jobs.purge import purge
from connector.store.engine import open_database
from tests.conftest import connector


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_jobs_run_prints_progress_lines_on_a_pipe_and_the_summary(env: dict[str, str],
                                                                  tmp_path: Path) -> None:
    ran = connector("jobs", "run", "purge", env={**env, "CONNECTOR_DATA_DIR": str(tmp_path)})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == (  # the summary, as before
        "purge: ok — contacts=0 events=0 writebacks=0 requesters=0 choices=0 targets=0 "
        "job_runs=0 people=0 links=0 names=0 refusals=0 tiers=0 alerts=0 changes=0 notes=0 "
        "audit=0")
    lines = [line for line in ran.stderr.splitlines() if line.startswith("purge: ")]
    assert lines == ["purge: 2/16 (12 %)", "purge: 4/16 (25 %)", "purge: 5/16 (31 %)",
                     "purge: 7/16 (43 %)", "purge: 8/16 (50 %)", "purge: 10/16 (62 %)",
                     "purge: 12/16 (75 %)", "purge: 13/16 (81 %)", "purge: 15/16 (93 %)",
                     "purge: 16/16 (100 %)"]
    assert "\r" not in ran.stderr and "\x1b" not in ran.stderr


def test_jobs_run_segments_ends_with_its_total(env: dict[str, str], tmp_path: Path) -> None:
    ran = connector("jobs", "run", "segments", env={**env, "CONNECTOR_DATA_DIR": str(tmp_path)})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("segments: ok — sources=1 purchases=")
    assert " nps_answers=" in ran.stdout
    [line] = [line for line in ran.stderr.splitlines() if line.startswith("segments: ")]
    assert line.endswith(" (100 %)")  # a short run: the total only, no "so far" line


def test_plain_lines_at_most_one_per_tenth_however_often_called() -> None:
    stream = io.StringIO()
    progress = ProgressLine("segments", stream, clock=itertools.count().__next__, quiet_s=1000)
    for done in range(1, 2001):
        progress(done, 2000)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0] == "segments: 200/2000 (10 %)" and lines[-1] == "segments: 2000/2000 (100 %)"


def test_without_a_total_a_plain_line_only_now_and_then() -> None:
    stream = io.StringIO()
    seconds = iter([0.0, 10.0, 31.0, 40.0, 62.0])
    progress = ProgressLine("refresh_reviews", stream, tty=False, clock=lambda: next(seconds))
    for done in (500, 1000, 1500, 2000, 2500):
        progress(done, None)
    assert stream.getvalue().splitlines() == ["refresh_reviews: 1500 so far",
                                              "refresh_reviews: 2500 so far"]


def test_a_terminal_gets_a_bar_redrawn_in_place() -> None:
    stream = Terminal()
    seconds = iter([0.0, 0.05, 0.2, 0.21])
    progress = ProgressLine("purge", stream, clock=lambda: next(seconds))
    progress(1, 4)
    progress(2, 4)  # within 0.1 s of the last drawing: skipped
    progress(3, 4)
    progress(4, 4)  # the end is always drawn
    progress.close()
    drawn = stream.getvalue()
    assert drawn.count("\r") == 3 and drawn.endswith("\n")
    frames = [frame.removeprefix("\x1b[2K") for frame in drawn.rstrip("\n").split("\r")[1:]]
    assert frames[0] == "purge " + "█" * 7 + "░" * 23 + "  25 % 1/4"
    assert frames[-1] == "purge " + "█" * 30 + " 100 % 4/4"


def test_purge_reports_each_table_done(tmp_path: Path) -> None:
    reported: list[tuple[int, int | None]] = []
    purge(open_database(f"sqlite:///{tmp_path}/purge.sqlite"), PurgeJob(),
          progress=lambda done, total: reported.append((done, total)))
    assert reported == [(n, 16) for n in range(1, 17)]


def test_a_log_line_takes_the_bars_place() -> None:
    stream = Terminal()
    seconds = iter([0.0, 0.01])
    progress = ProgressLine("segments", stream, clock=lambda: next(seconds))
    progress(500, None)
    assert progress.filter(logging.makeLogRecord({"msg": "segments of erp"})) is True
    stream.write("a log line\n")
    progress(1000, None)  # drawn again at once, though within 0.1 s
    progress.close()
    assert stream.getvalue() == ("\r\x1b[2Ksegments 500 so far\r\x1b[2Ka log line\n"
                                 "\r\x1b[2Ksegments 1000 so far\n")
