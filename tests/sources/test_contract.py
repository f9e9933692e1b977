"""One contract for every registered source type and preset: declared, documented, buildable,
quiet when it has nothing to search by."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.models import SECTIONS
from connector.sources import SOURCE_TYPES, build_source
from connector.sources.base import BuildContext
from connector.sources.preset import presets

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = {
    "rest": {"type": "rest", "base_url": "http://127.0.0.1:9", "requests": [
        {"name": "c", "path": "/c", "params": {"email": "{email}"}}],
        "sections": {"identity": {"path": "c", "fields": {"last_name": "name"}}}},
    "files": {"type": "files", "path": "rows.csv", "match": {"email": "email"},
              "sections": {"store_purchases": {"items": "rows", "fields": {"number": "n"}}}},
    "sql": {"type": "sql", "url": "sqlite:///none.sqlite", "queries": {"q": "SELECT 1 AS n"},
            "sections": {"loyalty": {"path": "q[0]", "fields": {"points": "n"}}}},
}
ENTRIES = {**{f"type:{k}": v for k, v in MINIMAL.items()},
           **{f"preset:{name}": None for name in presets()}}


def entry_for(case: str) -> dict[str, object]:
    kind, name = case.split(":")
    if kind == "type":
        return MINIMAL[name]
    example = yaml.safe_load(presets()[name].example)
    assert isinstance(example, dict) and len(example) == 1, "example: one source entry"
    return next(iter(example.values()))  # type: ignore[no-any-return]


def test_every_source_type_has_a_minimal_case() -> None:
    assert set(MINIMAL) == set(SOURCE_TYPES)


@pytest.mark.parametrize("case", list(ENTRIES))
def test_source_contract(case: str, tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("email,n\n")
    entry = entry_for(case)
    text = yaml.safe_dump({"version": 1, "sources": {"probe": entry}}, allow_unicode=True)
    env = {name: "dummy-value" for name in re.findall(r"\$\{([A-Z0-9_]+)", text)}
    (tmp_path / "manifest.yaml").write_text(text)
    manifest = load_manifest(tmp_path / "manifest.yaml", env=env)
    config = manifest.sources["probe"]
    assert set(config.sections) <= set(SECTIONS)
    assert config.model_config.get("extra") == "forbid"
    source = build_source("probe", config, BuildContext(tmp_path))
    assert source.provides == frozenset(config.sections)
    assert not source.fetch(Identifiers()).found  # nothing to search by: no call, no error


@pytest.mark.parametrize("name", list(presets()))
def test_preset_is_documented_and_tested(name: str) -> None:
    preset = presets()[name]
    assert preset.title and preset.description and preset.example
    assert all(p.description for p in preset.parameters.values()), "describe every parameter"
    secrets = [p for p in preset.parameters.values() if p.secret]
    for parameter in secrets:
        assert f"{parameter.name}: ${{" in preset.example, "secrets come from ${VARS}"
    assert (ROOT / "docs" / "sources" / f"{name}.md").is_file()
    assert list((ROOT / "tests" / "fixtures" / name).glob("*.json"))
    assert (ROOT / "tests" / "sources" / "presets" / f"test_{name}.py").is_file()
