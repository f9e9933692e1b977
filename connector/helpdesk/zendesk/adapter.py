"""Zendesk Support: the sidebar app (signed-URL POST, then a page reading the ticket's
requester through the ZAF SDK), signed webhooks (event subscriptions and trigger templates),
and write-back of tags, user fields and internal notes through the REST API; it also opens a
ticket for a requester (`WriteBack.new_ticket_subject`: the `refresh_reviews` job's alerts).

The sidebar side lives in `sidebar.py`, the manifest entry in `config.py`; this module is the
adapter the registry finds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from connector.helpdesk.base import (
    Headers,
    HttpRequest,
    Limits,
    Reply,
    SidebarContext,
    TicketEvent,
    WriteBack,
    WriteBackFailed,
    require_secret,
)
from connector.helpdesk.config import secret
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.zendesk import sidebar, webhooks
from connector.helpdesk.zendesk.agents import AgentDirectory
from connector.helpdesk.zendesk.api import ZendeskApi
from connector.helpdesk.zendesk.config import Config

KIND = "zendesk"
__all__ = ["KIND", "Config", "Zendesk", "build"]




class Zendesk:
    """The Zendesk adapter."""

    kind = KIND
    opens_tickets = True  # a WriteBack with new_ticket_subject opens one

    def __init__(self, config: Config, deps: HelpdeskDeps) -> None:
        self.config = config
        self.deps = deps
        origin = f"https://{config.subdomain}.zendesk.com" if config.subdomain else None
        self.frame_ancestors = tuple(config.frame_ancestors or
                                     ([origin] if origin else ["https://*.zendesk.com"]))
        # one change per person every 20 s: Update User allows 5 a minute per user, Update
        # Ticket 30 per 10 minutes per ticket
        self.write_limits = Limits(calls=config.writes_per_minute, per_s=60.0,
                                   target_interval_s=20.0)
        self.api = _api(config)
        self.agents = AgentDirectory(config, self.api, deps.clock)  # who is looking

    def sidebar_context(self, request: HttpRequest) -> SidebarContext | Reply:
        return sidebar.sidebar_context(self.config, self.deps, request, self.agents)

    def verify(self, headers: Headers, body: bytes) -> None:
        """The webhook's HMAC over timestamp + raw body, within the replay window."""
        key = require_secret(secret(self.config.webhook_secret), "ZENDESK_WEBHOOK_SECRET")
        now = dt.datetime.fromtimestamp(self.deps.clock(), dt.UTC)
        webhooks.verify(key, headers, body, now, self.config.replay_window_s)

    def parse_event(self, headers: Headers, body: bytes) -> TicketEvent | None:
        """An event subscription's or a trigger template's event."""
        return webhooks.parse(headers, body, self.deps.region, self.config.external_id_source)

    def enrich(self, event: TicketEvent) -> TicketEvent:
        """In the worker: an event naming its requester by id only (event subscriptions) gets
        their emails, phones, handles and external id from the API, when it is configured."""
        if event.identifiers or not event.requester_id or self.api is None:
            return event
        found = self.api.identities(event.requester_id, self.deps.region,
                                    self.config.external_id_source)
        return dataclasses.replace(event, identifiers=found)

    def write_back(self, change: WriteBack) -> None:
        """Our tags and fields on the requester, a note (and tags, when no requester is
        known) on the ticket, or a new ticket for the requester; only what differs from what
        Zendesk holds is written."""
        if self.api is None:
            raise WriteBackFailed("Zendesk write-back needs helpdesks.zendesk.subdomain, "
                                  "api_email and ZENDESK_API_TOKEN", permanent=True)
        tags = (self.config.write_back.tags or change.erases) and not change.keeps_tags
        if change.new_ticket_subject is not None and not change.requester_id:
            raise WriteBackFailed("a new Zendesk ticket needs its requester's id",
                                  permanent=True)
        if change.requester_id:
            self._write_user(self.api, change.requester_id, change, tags)
        if change.new_ticket_subject is not None and change.requester_id:
            # last, once the retryable writes went through: a failure after it would open a
            # second ticket on retry (Zendesk has no idempotency key for Create Ticket)
            self.api.create_ticket(change.requester_id, change.new_ticket_subject,
                                   change.note or change.new_ticket_subject,
                                   list(change.tags) if tags else [])
            return
        if change.ticket_id:
            self._write_ticket(self.api, change.ticket_id, change,
                               tags and not change.requester_id)

    def _write_user(self, api: ZendeskApi, user_id: str, change: WriteBack,
                    tags: bool) -> None:
        # a forgotten person's fields are emptied (null), those never filled left alone
        fields: dict[str, str | None] = {
            self.config.user_fields.get(k, f"{change.tag_prefix}{k}"):
                (v or None) if change.erases else v for k, v in change.fields.items()}
        if not (tags or fields):
            return
        user = api.user(user_id)
        if tags:
            add, remove = _tag_diff(user.get("tags"), change)
            if remove:
                api.remove_user_tags(user_id, remove)
            if add:
                api.add_user_tags(user_id, add)
        held = user.get("user_fields")
        changed = {k: v for k, v in fields.items()
                   if (held.get(k) if isinstance(held, dict) else None) != v}
        if changed:
            api.update_user_fields(user_id, changed)

    def _write_ticket(self, api: ZendeskApi, ticket_id: str, change: WriteBack,
                      tags: bool) -> None:
        add: list[str] = []
        remove: list[str] = []
        if tags:
            add, remove = _tag_diff(api.ticket(ticket_id).get("tags"), change)
        api.update_ticket(ticket_id, note=change.note, add_tags=add, remove_tags=remove)


def _tag_diff(held: object, change: WriteBack) -> tuple[list[str], list[str]]:
    """(ours to add, ours to remove): every tag we own starts with the prefix; the others
    are never touched."""
    current = {str(t) for t in held} if isinstance(held, list) else set()
    wanted = set(change.tags)
    ours = {t for t in current if change.tag_prefix and t.startswith(change.tag_prefix)}
    return sorted(wanted - current), sorted(ours - wanted)


def _api(config: Config) -> ZendeskApi | None:
    """The REST client, when the manifest and the environment give all it needs."""
    base = config.api_url or (f"https://{config.subdomain}.zendesk.com"
                              if config.subdomain else None)
    token = secret(config.api_token)
    if not (base and config.api_email and token):
        return None
    return ZendeskApi(base, config.api_email, token)


def build(config: Config, deps: HelpdeskDeps) -> Zendesk:
    """The adapter for this manifest entry."""
    return Zendesk(config, deps)
