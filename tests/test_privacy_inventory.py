"""docs/privacy.md's data inventory matches the schema: every table of
`connector.store.schema.metadata` has its row (and no row names a table that is gone), each row
says what it holds, where, its retention, whether `forget` erases it and the export's key that
shows it (the one `connector.customer.export` fills, or none for a table about no one), and the
retention settings it names are the `purge` job's."""

from __future__ import annotations

import re
from pathlib import Path

from connector.customer.export import NOTHING_PERSONAL, TABLES
from connector.jobs.config import PurgeJob
from connector.store.schema import metadata

DOC = Path(__file__).resolve().parents[1] / "docs" / "privacy.md"
SECTION = "## What connector keeps"
HEADER = ["table", "what it holds", "where", "retention", "erased by `forget`",
          "in the export"]


def inventory() -> dict[str, list[str]]:
    """The inventory's rows by table name (the first table of the section), each its cells."""
    text = DOC.read_text(encoding="utf-8")
    assert SECTION in text, f"{DOC.name} has no '{SECTION}' section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("| table |"))
    assert _cells(lines[start]) == HEADER
    rows: dict[str, list[str]] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        name = re.fullmatch(r"`([a-z_]+)`", cells[0])
        assert name, f"a row whose first cell is not a table name: {line}"
        assert name.group(1) not in rows, f"{name.group(1)} listed twice"
        rows[name.group(1)] = cells
    return rows


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]


def test_every_table_of_the_schema_is_in_the_inventory() -> None:
    listed, tables = set(inventory()), set(metadata.tables)
    assert tables - listed == set(), f"tables missing from {DOC.name}'s inventory"
    assert listed - tables == set(), f"rows of {DOC.name} naming no table of the schema"


def test_each_row_says_all_it_should() -> None:
    for name, cells in inventory().items():
        assert len(cells) == len(HEADER) and all(cells), (name, cells)


def test_the_export_column_names_the_exports_key() -> None:
    for name, cells in inventory().items():
        shown = cells[-1]
        if name in NOTHING_PERSONAL:
            assert shown == "—" and cells[-2] == "nothing personal", name
        else:
            assert shown.startswith(f"`{TABLES[name]}`"), (name, shown)


def test_the_retentions_named_are_the_purge_jobs_and_each_is_named() -> None:
    rows = inventory()
    named = {setting for cells in rows.values()
             for setting in re.findall(r"`([a-z_]+_days)`", cells[3])}
    settings = {field for field in PurgeJob.model_fields if field.endswith("_days")}
    elsewhere = {"link_max_age_days", "window_days"}  # identity's and the segments job's
    assert named - settings - elsewhere == set(), "not a setting of jobs.purge"
    assert settings - named == set(), "a jobs.purge retention the inventory does not name"
