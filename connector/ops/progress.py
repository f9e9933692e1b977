"""What a process is working at and whether it moves (`Progress`): the requests a web process
serves, the events a worker works — read by the watchdog (`connector.cli.watchdog`), which
ends a process whose work has stopped moving."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Progress:
    """Work of one kind (`what`: "request", "event"): how many are under way, and since when
    nothing moved (the last to end, or the first to begin after none was)."""

    def __init__(self, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.clock = clock
        self.under_way = 0
        self.moved = clock()
        self._lock = threading.Lock()

    def began(self) -> None:
        with self._lock:
            if self.under_way == 0:
                self.moved = self.clock()
            self.under_way += 1

    def ended(self) -> None:
        with self._lock:
            self.under_way -= 1
            self.moved = self.clock()

    def stuck_for(self) -> float:
        """Seconds some have been under way with none ending; 0 when none is under way."""
        with self._lock:
            return self.clock() - self.moved if self.under_way > 0 else 0.0
