"""What the Zendesk tests share: the service's clock, moved on instead of waited for."""

from __future__ import annotations

import time

import pytest


class Clock:
    """The moment the test began, or later (sessions and the role cache go by the service's
    clock): frozen, so a second ticking by between two steps of a test never moves a limit."""

    def __init__(self) -> None:
        self.start = time.time()
        self.offset = 0.0

    def __call__(self) -> float:
        return self.start + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()
