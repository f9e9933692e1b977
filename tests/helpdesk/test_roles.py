"""`roles` and `agent_roles` of a helpdesk entry: the helpdesk's words for a role turned into
ours, one agent's own role over them, every bad entry refused at load with its path, and
helpdesks that vouch for no agent refusing the maps."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.helpdesk.helpscout.adapter import Config as HelpScoutConfig
from connector.helpdesk.zendesk.config import Config as ZendeskConfig
from connector.manifest import ManifestError, load_manifest
from tests.helpdesk.scouts import write_manifest


def test_a_mapped_role_becomes_ours_without_case_and_others_pass_through() -> None:
    config = HelpScoutConfig(roles={"Owner": "supervisor", "admin": "Supervisor"})
    assert config.role_of("owner") == "supervisor"
    assert config.role_of(" ADMIN ") == "Supervisor"
    assert config.role_of("user") == "user"  # unmapped: as the helpdesk says it
    assert config.role_of(" user ") == "user"
    assert config.role_of(None) is None and config.role_of("  ") is None


def test_one_agent_s_role_wins_over_the_map_by_id_or_email() -> None:
    config = HelpScoutConfig(roles={"owner": "supervisor"},
                             agent_roles={"4512": "supervisor", "Lea@Example.com": "trainee"})
    assert config.role_of("user", agent=(4512, None)) == "supervisor"  # an id, as a number
    assert config.role_of("owner", agent=(None, "lea@example.COM")) == "trainee"
    assert config.role_of("owner", agent=("77", "other@example.com")) == "supervisor"
    # no role vouched for, but this agent is named: theirs
    assert config.role_of(None, agent=("4512",)) == "supervisor"


def test_a_finer_role_the_map_names_comes_first_else_the_role_passes() -> None:
    config = ZendeskConfig(roles={"360001": "supervisor", "admin": "supervisor"})
    assert config.role_of("agent", finer=("360001",)) == "supervisor"
    assert config.role_of("agent", finer=("999",)) == "agent"
    assert config.role_of("admin", finer=(None,)) == "supervisor"


def test_numeric_keys_in_yaml_are_agent_ids(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {"helpscout": {"roles": {"owner": "supervisor"},
                                                   "agent_roles": {4512: "supervisor"}}})
    config = load_manifest(path, env={}).helpdesks.adapters["helpscout"]
    assert config.agent_roles == {"4512": "supervisor"}
    assert config.role_of("user", agent=("4512",)) == "supervisor"


def test_empty_maps_are_none(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {"helpscout": {"roles": None, "agent_roles": ""}})
    config = load_manifest(path, env={}).helpdesks.adapters["helpscout"]
    assert config.roles == {} and config.agent_roles == {}


def test_every_bad_entry_is_refused_with_its_path(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {
        "helpscout": {"roles": {"owner": "x" * 41, "admin": "supervisor", "user": ["agent"]},
                      "agent_roles": {"y" * 255: "agent"}},
        "zendesk": {"subdomain": "acme", "roles": "admin"},
    })
    with pytest.raises(ManifestError) as refused:
        load_manifest(path, env={})
    assert sorted(refused.value.errors) == [
        f"helpdesks.helpscout.agent_roles.{'y' * 255}: string should have at most 254 "
        "characters",
        "helpdesks.helpscout.roles.owner: string should have at most 40 characters",
        "helpdesks.helpscout.roles.user: input should be a valid string",
        "helpdesks.zendesk.roles: input should be a valid dictionary",
    ]


def test_two_keys_that_differ_only_by_case_are_refused(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {"helpscout": {"roles": {"Admin": "supervisor",
                                                             "admin": "agent"}}})
    with pytest.raises(ManifestError) as refused:
        load_manifest(path, env={})
    assert refused.value.errors == [
        "helpdesks.helpscout.roles: 'Admin' and 'admin' are the same key (compared without "
        "case)"]


def test_helpdesks_that_vouch_for_no_agent_refuse_the_maps(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {
        "chatwoot": {"roles": {"administrator": "supervisor"}},
        "freshdesk": {"agent_roles": {"lea@example.com": "supervisor"}},
        "freescout": {"roles": {"admin": "supervisor"}},
    })
    with pytest.raises(ManifestError) as refused:
        load_manifest(path, env={})
    assert sorted(refused.value.errors) == [
        "helpdesks.chatwoot.roles: the context Chatwoot gives a dashboard app (currentAgent) "
        "is unsigned, so no agent is vouched for and no role can be mapped",
        "helpdesks.freescout.roles: the Sidebar Webhook module does not say which FreeScout "
        "agent is looking, so no role can be mapped",
        "helpdesks.freshdesk.agent_roles: the Freshdesk app's request is composed in the "
        "agent's browser (loggedInUser is not signed), so no agent is vouched for and no role "
        "can be mapped",
    ]
