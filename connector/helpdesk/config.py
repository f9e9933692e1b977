"""What every helpdesk adapter's manifest entry shares: on/off, framing, write-back, secrets,
and the map from the roles the helpdesk vouches for to ours."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr, StringConstraints, field_validator

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
ROLE_MAX = 40  # a role, as sealed links keep it
AGENT_KEY_MAX = 254  # an agent's id or email (the longest address)
RoleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=ROLE_MAX)]
AgentKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=AGENT_KEY_MAX)]


class AdapterConfig(Strict):
    """The keys every adapter accepts. Secrets are `SecretStr` (never printed) and an empty
    value (an unset `${VAR:-}`) means "not configured": that adapter then refuses with 401.

    An adapter says what its helpdesk can take back (`writable`); the rest defaults to off and
    is refused at load, with `unwritable` (naming `{what}`) as the reason. It names the field
    where its contacts keep the brand's own customer number (`external_id_field`), if any.

    `roles` (the helpdesk's role → ours) and `agent_roles` (an agent's id or email → ours) turn
    the role a helpdesk vouches for into the one `roles:` of writes and actions name
    (`role_of`); an adapter whose helpdesk vouches for no agent (`vouches_for_agents` false)
    refuses them at load, with `agentless` as the reason."""

    writable: ClassVar[frozenset[str]] = CAPABILITIES
    unwritable: ClassVar[str] = "this helpdesk cannot take {what} back"
    external_id_field: ClassVar[str | None] = None
    vouches_for_agents: ClassVar[bool] = False
    agentless: ClassVar[str] = ("this helpdesk vouches for no agent in the sidebar's context, "
                                "so no role can be mapped")

    enabled: bool = True
    frame_ancestors: list[str] | None = None  # None: the adapter's own default
    write_back: WriteBackConfig = WriteBackConfig()
    # the manifest source whose own customer id the helpdesk's external id field holds (e.g.
    # erp): the contact's value is then looked up as that source's id
    external_id_source: str | None = None
    # the helpdesk's role (as it names it) → ours; an unmapped role is kept as it is
    roles: dict[RoleName, RoleName] = Field(default_factory=dict)
    # one agent (their id or email at the helpdesk) → our role, over `roles`
    agent_roles: dict[AgentKey, RoleName] = Field(default_factory=dict)

    def role_of(self, role: str | None, agent: Iterable[object] = (),
                finer: Iterable[object] = ()) -> str | None:
        """Our role for an agent the helpdesk vouches for: `agent_roles` of one of their ids or
        emails, else the first of `finer` (a more specific name of their role: Zendesk's
        custom role id) or `role` that `roles` maps, else `role` as it is (all without
        case)."""
        for key in agent:
            if (mapped := _folded(self.agent_roles).get(_fold(key))) is not None:
                return mapped
        for name in [*finer, role]:
            if (mapped := _folded(self.roles).get(_fold(name))) is not None:
                return mapped
        kept = role.strip()[:ROLE_MAX] if isinstance(role, str) else ""
        return kept or None

    @field_validator("roles", "agent_roles", mode="before")
    @classmethod
    def _keys_as_written(cls, value: Any) -> Any:
        """An empty map is none; numeric keys (an agent's id in YAML) are text."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return {}
        if isinstance(value, dict):
            return {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v
                    for k, v in value.items()}
        return value

    @field_validator("roles", "agent_roles")
    @classmethod
    def _one_meaning_each(cls, value: dict[str, str]) -> dict[str, str]:
        if value and not cls.vouches_for_agents:
            raise ValueError(cls.agentless)
        seen: dict[str, str] = {}
        for key in value:
            if (other := seen.setdefault(key.casefold(), key)) != key:
                raise ValueError(f"'{other}' and '{key}' are the same key (compared without "
                                 "case)")
        return value

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


def _fold(value: object) -> str | None:
    """A role, id or email as the maps compare it: text without case or outer spaces."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip().casefold() or None


def _folded(mapping: dict[str, str]) -> dict[str | None, str]:
    return {_fold(k): v for k, v in mapping.items()}


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
