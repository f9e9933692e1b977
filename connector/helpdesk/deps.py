"""What the service lends every adapter when it is built: our sealed links, where helpdesks
reach us, the brand's region, our signing key, the record as an HTML fragment and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connector.helpdesk.base import SidebarContext
from connector.helpdesk.embed import EmbedLinks


@dataclass(frozen=True)
class HelpdeskDeps:
    """What the service lends every adapter when it is built."""

    links: EmbedLinks  # sealed links to our own sidebar page
    public_url: str  # where helpdesks reach us, e.g. https://connector.example.com
    region: str  # the brand's default region, for phone numbers
    secret_key: bytes  # signs our own short-lived sessions
    # the record as an HTML fragment (no script) for a context, in its locale
    render_fragment: Callable[[SidebarContext], str]
    clock: Callable[[], float]
