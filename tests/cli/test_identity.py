"""`connector identity audit [--fix]`, and lookups by a source's own id, on the real demo."""

from __future__ import annotations

import json
import os
from pathlib import Path

from connector.customer.links import LinkStore
from connector.customer.resolver import Resolver
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from tests.conftest import connector

ROOT = Path(__file__).resolve().parents[2]


def test_an_audit_finds_two_people_merged_and_the_fix_splits_them(
        env: dict[str, str], tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/store.sqlite"
    private = {**env, "CONNECTOR_DATABASE_URL": database}
    store = LinkStore(database)
    store.link("cus_merged", [("erp", "C1", "erp"), ("erp", "C2", "erp"),
                              ("email", "famille@x.fr", "erp")])
    store.link("cus_fine", [("erp", "C3", "erp"), ("card", "K3", "loyalty")])
    store.remember("cus_fine", "Jean-Pierre Le Gall", "jean-pierre le gall", None)  # old form
    found = connector("identity", "audit", env=private)
    assert found.returncode == 1, found.stderr
    assert "cus_merged: 2 values of erp (#" in found.stdout and "cus_fine" not in found.stdout
    assert "C1" not in found.stdout and "C2" not in found.stdout  # fingerprints only
    assert "1 name(s) kept in an older search form" in found.stdout
    fixed = connector("identity", "audit", "--fix", "--actor", "dpo@example.com", env=private)
    assert fixed.returncode == 0 and "1 conflicting customer record(s) repaired" in fixed.stdout
    assert "1 name(s) re-keyed for search" in fixed.stdout
    assert [p.customer_id for p in store.search_people("legall")] == ["cus_fine"]
    again = connector("identity", "audit", env=private)
    assert again.returncode == 0 and "0 conflicting" in again.stdout
    resolver = Resolver(store, load_manifest(ROOT / "manifest.yaml", env=dict(os.environ)).identity)
    first = resolver.resolve(Identifiers(externals=(("erp", "C1"),))).customer_id
    second = resolver.resolve(Identifiers(externals=(("erp", "C2"),))).customer_id
    assert first == "cus_merged" and second not in (None, "cus_merged")
    # what the merged person held besides is checked with the sources before it is trusted
    assert resolver.resolve(Identifiers(emails=("famille@x.fr",))).customer_id is None
    assert [e["action"] for e in store.audit_trail("cus_merged")] == ["split"]


def test_lookup_by_a_sources_own_id(env: dict[str, str]) -> None:
    by_email = json.loads(connector("lookup", "--email", "pauline.deneve@easiware.fr",
                                    env=env).stdout)
    erp_id = by_email["identity"]["external_ids"]["erp"]
    by_id = connector("lookup", "--external", f"erp:{erp_id}", env=env)
    assert by_id.returncode == 0, by_id.stderr
    assert json.loads(by_id.stdout)["customer_id"] == by_email["customer_id"]
    wrong = connector("lookup", "--external", "nosuch:1", env=env)
    assert wrong.returncode == 2 and "no source 'nosuch'" in wrong.stderr
