"""The probe tells the truth: each value as read and as the record will show it, what is dropped
and why, exit 1 when a mapped field is dropped for every item; every dropped value is logged
with its source and field, never the value."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from connector.cli.main import main
from connector.customer.merge import merged_sections
from connector.models import Identity
from connector.sources.base import SourceResult

MANIFEST = """\
version: 1
sources:
  pos:
    type: files
    path: pos.csv
    delimiter: ";"
    {decimal_comma}
    date_formats: ["%d/%m/%Y"]
    match: {{email: mail}}
    sections:
      identity:
        path: rows[0]
        fields: {{last_name: nom, phones: tel}}
      store_purchases:
        items: rows
        fields:
          number: ticket
          date: jour
          total: montant
          status: {{path: etat, map: {{R: returned, V: delivered}}}}
"""
CSV = """\
mail;nom;tel;ticket;jour;montant;etat
p@x.fr;Martin;12;T-1;05/08/2017;45,95;R
p@x.fr;Martin;12;T-2;06/08/2017;1.204,50;V
"""


def probed(tmp_path: Path, decimal_comma: bool,
           capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    (tmp_path / "pos.csv").write_text(CSV, encoding="utf-8")
    setting = "decimal_comma: true" if decimal_comma else ""
    (tmp_path / "manifest.yaml").write_text(MANIFEST.format(decimal_comma=setting))
    code = main(["check", "--probe", "--manifest", str(tmp_path / "manifest.yaml"),
                 "--email", "p@x.fr"])
    return code, capsys.readouterr().out.splitlines()


def test_each_value_as_read_and_as_shown(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = probed(tmp_path, True, capsys)
    assert code == 0, lines
    assert f"  {'store_purchases[0].total':<34} = '45,95' → 45.95" in lines
    assert f"  {'store_purchases[0].date':<34} = '05/08/2017' → 2017-08-05" in lines
    assert f"  {'store_purchases[0].status':<34} = 'R' → 'returned'" in lines
    assert f"  {'identity.last_name':<34} = 'Martin'" in lines


def test_a_field_dropped_for_every_item_fails_the_probe_and_says_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        code, lines = probed(tmp_path, False, capsys)
    assert code == 1
    assert (f"  {'store_purchases[0].total':<34} = '45,95' ✗ dropped: unreadable as its "
            "type (not a number)") in lines
    assert ("  ✗ store_purchases[*].total: dropped for every item (2 of 2: unreadable as its "
            "type): the record will never show it") in lines
    assert (f"  {'identity.phones':<34} = '12' ✗ dropped: not a phone number the "
            "record can use") in lines
    assert "source pos: dropped store_purchases[0].total (unreadable as its type)" \
        in caplog.messages
    assert not any("45,95" in message for message in caplog.messages)


def test_a_phone_the_normaliser_refuses_is_logged_by_source_and_field(
        caplog: pytest.LogCaptureFixture) -> None:
    found = {"pos": SourceResult(found=True, sections={"identity": Identity(
        last_name="Martin", phones=["12", "06 53 88 88 90"])})}
    with caplog.at_level(logging.WARNING):
        merged = merged_sections(found, "FR")
    assert merged["identity"].phones == ["+33653888890"]
    assert caplog.messages == [
        "source pos: dropped identity.phones[0] (not a phone number the record can use)"]
