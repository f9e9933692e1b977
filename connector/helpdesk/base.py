"""What a helpdesk adapter gives the rest of the service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from connector.sources.base import Identifiers


class Unauthorized(Exception):
    """A request we cannot trust: bad or stale signature, expired link. Answered with a 401."""

    def __init__(self, public: str) -> None:
        super().__init__(public)
        self.public = public


@dataclass(frozen=True)
class SidebarContext:
    """Who the helpdesk asks about, once the request is authenticated."""

    helpdesk: str
    identifiers: Identifiers
    ticket_id: str | None = None
    locale: str | None = None
    customer_id: str | None = None


class SidebarHelpdesk(Protocol):
    """A helpdesk that shows our sidebar: it turns an authenticated request into a context."""

    kind: str

    def sidebar_context(self, args: Mapping[str, str]) -> SidebarContext:
        """The context of a sidebar request; raise Unauthorized when it cannot be trusted."""
        ...
