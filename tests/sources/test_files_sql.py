"""The files and SQL sources on real files and a real SQLite database."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from connector.identifiers import Identifiers
from connector.sources.base import BuildContext, SourceError, SourceUnavailable
from connector.sources.files import FilesConfig, FilesSource
from connector.sources.sql import SqlConfig, SqlSource

CSV = """ticket;date;store;total;email;phone;card
T1;05/08/2017;Lyon;1 234,50;pauline.deneve@easiware.fr;;
T2;06/08/2017;Lille;12,00;;06 53 88 88 90;
T3;07/08/2017;Paris;9,99;other@example.fr;;290001
"""

POS_SECTIONS = {"store_purchases": {"items": "rows", "fields": {
    "number": "ticket", "date": "date", "store": "store", "total": "total"}}}


def pos(tmp_path: Path) -> FilesSource:
    (tmp_path / "pos.csv").write_text(CSV, encoding="utf-8")
    config = FilesConfig.model_validate({
        "type": "files", "path": "pos.csv", "delimiter": ";", "decimal_comma": True,
        "date_formats": ["%d/%m/%Y"], "match": {"email": "email", "phone": "phone", "card": "card"},
        "sections": POS_SECTIONS})
    return FilesSource("pos", config, BuildContext(tmp_path))


def test_csv_rows_matched_by_any_identifier(tmp_path: Path) -> None:
    source = pos(tmp_path)
    result = source.fetch(Identifiers(emails=("pauline.deneve@easiware.fr",),
                                      phones=("+33653888890",)))
    rows = result.sections["store_purchases"]
    assert [(r.number, r.total, r.date, r.store) for r in rows] == [
        ("T1", Decimal("1234.50"), dt.date(2017, 8, 5), "Lyon"),
        ("T2", Decimal("12.00"), dt.date(2017, 8, 6), "Lille"),
    ]
    by_card = source.fetch(Identifiers(cards=("290001",)))
    assert by_card.sections["store_purchases"][0].number == "T3"
    assert not source.fetch(Identifiers(emails=("nobody@example.fr",))).found


def test_file_reloaded_when_it_changes(tmp_path: Path) -> None:
    source = pos(tmp_path)
    ids = Identifiers(emails=("new@example.fr",))
    assert not source.fetch(ids).found
    path = tmp_path / "pos.csv"
    path.write_text(CSV + "T4;08/08/2017;Nantes;5,00;new@example.fr;;\n", encoding="utf-8")
    os.utime(path, (1, 1))
    assert source.fetch(ids).sections["store_purchases"][0].number == "T4"


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    source = pos(tmp_path)
    (tmp_path / "pos.csv").unlink()
    with pytest.raises(SourceError) as caught:
        source.fetch(Identifiers(emails=("a@b.fr",)))
    assert caught.value.public == "file not found"


def loyalty(tmp_path: Path, url: str = "sqlite:///loyalty.sqlite") -> SqlSource:
    config = SqlConfig.model_validate({
        "type": "sql", "url": url, "lookup_by": ["card", "email"],
        "queries": {"member": "SELECT * FROM members WHERE card = :card OR email = :email"},
        "id": "member[0].card",
        "sections": {"loyalty": {"path": "member[0]", "fields": {
            "card": "card", "points": "points", "tier": "tier"}}}})
    return SqlSource("loyalty", config, BuildContext(tmp_path))


def test_sql_reads_a_member(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "loyalty.sqlite") as db:
        db.execute("CREATE TABLE members (card TEXT, email TEXT, points INT, tier TEXT)")
        db.execute("INSERT INTO members VALUES ('2900', 'p@x.fr', 1240, 'Or')")
    source = loyalty(tmp_path)
    result = source.fetch(Identifiers(emails=("p@x.fr",)))
    assert result.external_id == "2900"
    assert (result.sections["loyalty"].points, result.sections["loyalty"].tier) == (1240, "Or")
    assert not source.fetch(Identifiers(emails=("q@x.fr",))).found


def test_sql_is_read_only(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "loyalty.sqlite") as db:
        db.execute("CREATE TABLE members (card TEXT, email TEXT, points INT, tier TEXT)")
    config = SqlConfig.model_validate({
        "type": "sql", "url": "sqlite:///loyalty.sqlite",
        "queries": {"m": "WITH x AS (DELETE FROM members RETURNING *) SELECT * FROM x"},
        "sections": {"loyalty": {"path": "m[0]", "fields": {"card": "card"}}}})
    with pytest.raises(SourceError):
        SqlSource("l", config, BuildContext(tmp_path)).fetch(Identifiers(emails=("p@x.fr",)))


def test_sql_database_missing_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable):
        loyalty(tmp_path).fetch(Identifiers(emails=("p@x.fr",)))
