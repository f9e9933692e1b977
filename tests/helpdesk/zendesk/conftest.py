"""What the Zendesk tests share: the service's clock, moved on instead of waited for."""

from __future__ import annotations

import time

import pytest


class Clock:
    """Now, or later (sessions and the role cache go by the service's clock)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()
