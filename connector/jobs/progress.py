"""How a job says how far it is: a callback the runner passes, `progress(done, total)`, with
`total` None while the job cannot know it (a paged listing). `connector jobs run` draws it; the
scheduler passes the no-op. A job's entry point takes `progress: Progress = no_progress` and
calls it as often as it likes: whoever draws it throttles."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Progress = Callable[[int, int | None], None]
T = TypeVar("T")
EVERY = 500  # items read between two reports of a listing


def no_progress(done: int, total: int | None) -> None:
    """Nobody watches (a scheduled run)."""


class Tally:
    """Items read across one job's listings, one count (their total is known at the end)."""

    def __init__(self, progress: Progress = no_progress, every: int = EVERY) -> None:
        self.progress = progress
        self.every = every
        self.done = 0

    def through(self, items: Iterable[T]) -> Iterator[T]:
        """The items, reported every `every` read."""
        for item in items:
            yield item
            self.done += 1
            if self.done % self.every == 0:
                self.progress(self.done, None)

    def finish(self) -> None:
        """Every item is read: done is the total."""
        self.progress(self.done, self.done)
