"""`helpdesks.zendesk` in the manifest: the sidebar app's key, the webhook secret, the API
account and the app package's details (secrets from the environment)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from connector.helpdesk.config import AdapterConfig


class Config(AdapterConfig):
    """`helpdesks.zendesk` in the manifest (secrets from the environment)."""

    external_id_field: ClassVar[str | None] = "external_id"  # users' (externalId in ZAF)
    vouches_for_agents: ClassVar[bool] = True  # the signed-URL JWT's user (agents.py)

    subdomain: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    # signed URLs: the app's public key (PEM) and, optionally, the expected audience
    app_public_key: SecretStr | None = None
    app_audience: str | None = None
    # webhooks: the signing secret of the webhook (Admin Center → Webhooks → signing secret)
    webhook_secret: SecretStr | None = None
    replay_window_s: int = Field(default=300, ge=30, le=3600)
    # the REST API (requesters' identities, write-back): an agent's email and an API token
    api_email: str | None = None
    api_token: SecretStr | None = None
    # https://{subdomain}.zendesk.com unless set (a proxy; plain http only to this machine,
    # for tests: the token is sent with every call)
    api_url: str | None = Field(
        default=None,
        pattern=r"^(https://[^\s/]+|http://(127\.0\.0\.1|localhost)(:\d+)?)(/\S*)?$")
    # our field names (segment, lifecycle, abc_class) → the keys of Zendesk user fields;
    # a field not listed goes to the key `{tag_prefix}{name}` (e.g. connector_segment)
    user_fields: dict[str, str] = Field(default_factory=dict)
    # write-backs a minute, account-wide (each is 1 to 4 API calls): well under the plans'
    # 200-700 requests a minute, leaving room for the agents' own apps
    writes_per_minute: int = Field(default=20, ge=1, le=300)
    # the app package (`connector zendesk-app`): its name (default: "{brand} sidebar") and
    # the author's support address and page (Zendesk requires author name, email and url)
    app_name: str | None = Field(default=None, max_length=40)
    app_author_email: str | None = None
    app_author_url: str | None = None
    # where the app's pages are served from (the package's location URLs): settings.public_url
    # unless set here
    app_url: str | None = None
    # the sidebar page's session: its lifetime, renewed with each record link the page gets,
    # up to session_max_s after Zendesk's signed-URL token (then the agent reloads the apps).
    # 3 s minimum, not a minute: a browser test lets it run out in seconds; shorter is stricter
    session_ttl_s: int = Field(default=600, ge=3, le=3600)
    session_max_s: int = Field(default=43_200, ge=60, le=86_400)
    # how long an agent's role read from the API is kept (a change in Zendesk shows after it)
    role_ttl_s: int = Field(default=300, ge=10, le=3600)
    # the ZAF SDK the sidebar page loads: Zendesk's CDN (a test points it at a local copy)
    sdk_url: str = Field(
        default="https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js",
        pattern=r"^(https://|http://(127\.0\.0\.1|localhost)[:/])[^\s;,']+$")

    @field_validator("session_max_s")
    @classmethod
    def _outlives_a_session(cls, value: int, info: ValidationInfo) -> int:
        ttl = info.data.get("session_ttl_s")
        if isinstance(ttl, int) and value < ttl:
            raise ValueError(f"must be at least session_ttl_s ({ttl})")
        return value
