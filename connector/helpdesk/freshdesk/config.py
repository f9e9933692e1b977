"""`helpdesks.freshdesk` in the manifest: the account, the app's token, the webhook secret and
the API key for write-back (secrets from the environment)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from connector.helpdesk.config import AdapterConfig


class Config(AdapterConfig):
    """`helpdesks.freshdesk` in the manifest (secrets from the environment)."""

    external_id_field: ClassVar[str | None] = "unique_external_id"  # the contacts'
    agentless: ClassVar[str] = ("the Freshdesk app's request is composed in the agent's "
                                "browser (loggedInUser is not signed), so no agent is vouched "
                                "for and no role can be mapped")

    # the account: `acme` or `acme.freshdesk.com` (the API is https://acme.freshdesk.com/api/v2)
    domain: str | None = Field(default=None,
                               pattern=r"^[a-z0-9][a-z0-9-]{0,62}(\.freshdesk\.com)?$")
    api_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # the FDK app's token (installation parameter `app_token`), sent as `Authorization: Bearer`
    app_token: SecretStr | None = None
    # the automation rule's shared secret, sent in `webhook_header` (or as basic-auth password)
    webhook_secret: SecretStr | None = None
    webhook_header: str = Field(default="X-Connector-Secret",
                                pattern=r"^[A-Za-z0-9-]{1,60}$")
    # write-back: an agent's API key (Profile settings → View API key), basic auth `key:X`
    api_key: SecretStr | None = None
    # tags on the ticket (Freshdesk's tag filters work on tickets) or on the contact
    tags_on: Literal["ticket", "contact"] = "ticket"
    # our field (segment, lifecycle, abc_class) -> the contact custom field it is written to
    contact_fields: dict[str, str] = Field(default_factory=dict)
    # the account's API budget we may use: the trial allows 50/min, Growth 200/min (ticket
    # updates 80/min), Pro 400, Enterprise 700: stay well under the smallest
    api_calls_per_minute: int = Field(default=40, ge=4, le=700)
    timeout_s: float = Field(default=10.0, gt=0, le=60)
