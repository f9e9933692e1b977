"""How `connector jobs run` shows a job's progress on stderr: a bar redrawn in place on a
terminal; elsewhere (CI, a log file) a plain line at most every tenth of the way, or every
`quiet_s` while the total is unknown, so a log never fills with progress. Drawn by hand: no
library for one line (rich is only a development tool's dependency here)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30
REDRAW_S = 0.1  # a terminal is redrawn at most this often
QUIET_S = 30.0  # without a total, a plain line at most this often


class ProgressLine:
    """The progress callback of one run (`connector.jobs.progress.Progress`), drawn on `stream`."""

    def __init__(self, job: str, stream: TextIO, *, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, quiet_s: float = QUIET_S) -> None:
        self.job = job
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.clock = clock
        self.quiet_s = quiet_s
        self._last_at: float | None = None
        self._tenths = 0  # tenths of the way already written (plain lines)
        self._drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        """Show `done` of `total` (None: not known yet), throttled."""
        if self.tty:
            self._redraw(done, total)
        else:
            self._line(done, total)

    def filter(self, record: logging.LogRecord) -> bool:
        """As a log handler's filter: erase the bar before a log line is written in its place
        (it is drawn again at the next report)."""
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False
            self._last_at = None
        return True

    def close(self) -> None:
        """End the bar's line, so what follows starts on its own."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def _redraw(self, done: int, total: int | None) -> None:
        now = self.clock()
        finished = total is not None and done >= total
        if not finished and self._last_at is not None and now - self._last_at < REDRAW_S:
            return
        self._last_at = now
        if total is not None:
            share = _percent(done, total)
            filled = BAR_WIDTH * share // 100
            bar = "█" * filled + "░" * (BAR_WIDTH - filled)
            text = f"{self.job} {bar} {share:3d} % {done}/{total}"
        else:
            text = f"{self.job} {done} so far"
        self.stream.write("\r\x1b[2K" + text)
        self.stream.flush()
        self._drawn = True

    def _line(self, done: int, total: int | None) -> None:
        if total is None:
            now = self.clock()
            if self._last_at is None:
                self._last_at = now  # the first line only after quiet_s: short runs say nothing
            elif now - self._last_at >= self.quiet_s:
                self._last_at = now
                self._write(f"{self.job}: {done} so far")
            return
        share = _percent(done, total)
        if share // 10 > self._tenths:
            self._tenths = share // 10
            self._write(f"{self.job}: {done}/{total} ({share} %)")

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def _percent(done: int, total: int) -> int:
    """0–100 (a total of nothing is all done)."""
    return 100 if total <= 0 else max(0, min(100, 100 * done // total))
