"""What every helpdesk adapter's manifest entry shares: on/off, framing, write-back, secrets."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from connector.config import Strict


class WriteBackConfig(Strict):
    """What we write back to the helpdesk about its customers (off unless asked)."""

    enabled: bool = False
    tags: bool = True  # our flags as tags (`vip`, `negative_review`…), prefixed
    tag_prefix: str = Field(default="connector_", pattern=r"^[a-z0-9_-]{0,20}$")
    fields: bool = False  # segment, lifecycle, ABC class as custom fields
    note: bool = False  # an internal note on a new ticket when a flag is raised
    max_batch: int = Field(default=50, ge=1, le=100)


CAPABILITIES = frozenset({"tags", "fields", "note"})


class AdapterConfig(Strict):
    """The keys every adapter accepts. Secrets are `SecretStr` (never printed) and an empty
    value (an unset `${VAR:-}`) means "not configured": that adapter then refuses with 401.

    An adapter says what its helpdesk can take back (`writable`); the rest defaults to off and
    is refused at load, with `unwritable` (naming `{what}`) as the reason. It names the field
    where its contacts keep the brand's own customer number (`external_id_field`), if any."""

    writable: ClassVar[frozenset[str]] = CAPABILITIES
    unwritable: ClassVar[str] = "this helpdesk cannot take {what} back"
    external_id_field: ClassVar[str | None] = None

    enabled: bool = True
    frame_ancestors: list[str] | None = None  # None: the adapter's own default
    write_back: WriteBackConfig = WriteBackConfig()
    # the manifest source whose own customer id the helpdesk's external id field holds (e.g.
    # erp): the contact's value is then looked up as that source's id
    external_id_source: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("write_back", mode="before")
    @classmethod
    def _unwritable_off_unless_asked(cls, value: Any) -> Any:
        return ({**dict.fromkeys(CAPABILITIES - cls.writable, False), **value}
                if isinstance(value, dict) else value)

    @field_validator("external_id_source")
    @classmethod
    def _a_field_to_read(cls, value: str | None) -> str | None:
        if value is not None and cls.external_id_field is None:
            raise ValueError("this helpdesk's contacts have no external id field to read")
        return value

    @field_validator("write_back")
    @classmethod
    def _only_what_the_helpdesk_takes(cls, value: WriteBackConfig) -> WriteBackConfig:
        asked = {c for c in CAPABILITIES if getattr(value, c)} - cls.writable
        if value.enabled and (asked or not cls.writable):
            raise ValueError(cls.unwritable.format(what=", ".join(sorted(asked)) or "anything"))
        return value


def secret(value: SecretStr | None) -> str | None:
    """The secret's value, or None when it is not configured."""
    return value.get_secret_value() if value is not None else None


def unset_secrets(config: AdapterConfig) -> list[str]:
    """The adapter's secrets that are not configured (what it refuses requests for)."""
    return [name for name, field in type(config).model_fields.items()
            if "SecretStr" in str(field.annotation) and getattr(config, name) is None]


class EmbedConfig(Strict):
    """The signed sidebar link any helpdesk (or an admin) can open."""

    # the pages framing the record (Zendesk, Chatwoot) renew it at 80 % of this; 3 s minimum,
    # not 30: a browser test lets links run out in seconds, and shorter is only stricter
    link_ttl_s: int = Field(default=600, ge=3, le=86400)
    # how long renewals may keep one link alive from its first seal (a working day)
    session_max_s: int = Field(default=12 * 3600, ge=60, le=7 * 86400)
    # the "full record" link inside an HTML fragment (FreeScout's Sidebar Webhook module, which
    # anyone who can reach its route may read): short, and never renewed
    fragment_link_ttl_s: int = Field(default=120, ge=3, le=600)
    frame_ancestors: list[str] = Field(default_factory=lambda: ["'self'"], min_length=1)
