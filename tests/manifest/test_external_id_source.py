"""`helpdesks.<kind>.external_id_source` must name a source the manifest declares: refused
with its dotted path otherwise, exactly as printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.helpdesk.chatwoot.adapter import Config as ChatwootConfig
from connector.helpdesk.freshdesk.config import Config as FreshdeskConfig
from connector.helpdesk.zendesk.config import Config as ZendeskConfig
from connector.manifest import ManifestError, load_manifest
from connector.manifest.checks import check_helpdesks
from tests.conftest import MANIFEST

DECLARED = ["erp", "pos", "feedback", "loyalty", "history"]  # the default manifest's sources


def test_an_unknown_source_is_refused_with_its_path() -> None:
    adapters = {"zendesk": ZendeskConfig(external_id_source="crm"),
                "freshdesk": FreshdeskConfig(external_id_source="erp"),
                "chatwoot": ChatwootConfig(external_id_source="ERP")}
    assert check_helpdesks(adapters, DECLARED) == [
        "helpdesks.zendesk.external_id_source: unknown source 'crm' "
        "(declared: erp, pos, feedback, loyalty, history)",
        "helpdesks.chatwoot.external_id_source: unknown source 'ERP' "
        "(declared: erp, pos, feedback, loyalty, history)",
    ]


def test_a_declared_source_or_none_passes() -> None:
    adapters = {"zendesk": ZendeskConfig(external_id_source="erp"),
                "freshdesk": FreshdeskConfig(), "chatwoot": ChatwootConfig()}
    assert check_helpdesks(adapters, DECLARED) == []
    assert check_helpdesks({"zendesk": ZendeskConfig(external_id_source="erp")}, []) == [
        "helpdesks.zendesk.external_id_source: unknown source 'erp' (declared: none)"]


def write_manifest(folder: Path, **helpdesks: dict[str, Any]) -> Path:
    """The default manifest with these helpdesk entries."""
    data = yaml.safe_load(MANIFEST.read_text())
    data["helpdesks"] = {**data.get("helpdesks", {}), **helpdesks}
    path = folder / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def test_the_manifest_is_refused_at_load(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, zendesk={"subdomain": "acme", "external_id_source": "crm"},
                          freshdesk={"domain": "acme", "external_id_source": "erp"})
    with pytest.raises(ManifestError) as refused:
        load_manifest(path, env={})
    assert refused.value.errors == [
        "helpdesks.zendesk.external_id_source: unknown source 'crm' "
        "(declared: erp, pos, feedback, loyalty, history)"]


def test_a_declared_source_loads(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, zendesk={"subdomain": "acme", "external_id_source": "erp"})
    manifest = load_manifest(path, env={})
    assert manifest.helpdesks.adapters["zendesk"].external_id_source == "erp"


def test_a_source_that_never_looks_up_by_its_own_id_is_refused(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, zendesk={"subdomain": "acme",
                                             "external_id_source": "feedback"})
    with pytest.raises(ManifestError) as refused:
        load_manifest(path, env={})
    assert refused.value.errors == [
        "helpdesks.zendesk.external_id_source: sources.feedback does not look customers up "
        "by their id: put `external` first in its lookup_by"]
