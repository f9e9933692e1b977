"""The demo's complaints say how they were handled, Pauline's first (the sidebar shows them)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from demo import generate as gen
from tests.conftest import DEMO_TODAY


@pytest.fixture(scope="module")
def contacts(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str | None]]:
    out = gen.generate(tmp_path_factory.mktemp("demo") / "out", customers=120)
    lines = (Path(out) / "contacts.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def moment(stamp: str | None) -> datetime:
    assert stamp is not None
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:00Z")


def test_pauline_s_complaints_were_handled(contacts: list[dict[str, str | None]]) -> None:
    hers = sorted((c for c in contacts if c["email"] == gen.SAMPLE_EMAIL
                   and c["reason"] == gen.COMPLAINT), key=lambda c: str(c["at"]))
    assert [(c["at"], c["channel"], c["status"], c["resolution"]) for c in hers] == [
        ("2015-04-10T10:44:00Z", "phone", "resolved", "Remplacement du produit"),
        ("2017-10-01T17:51:00Z", "email", "resolved", "Avoir de 10 €"),
    ]
    replies = [moment(c["first_reply_at"]) - moment(c["at"]) for c in hers]
    assert replies[0].total_seconds() < 3600 and replies[1].total_seconds() > 24 * 3600
    assert all(moment(c["resolved_at"]) > moment(c["first_reply_at"]) for c in hers)


def test_every_complaint_says_how_it_was_handled(contacts: list[dict[str, str | None]]) -> None:
    complaints = [c for c in contacts if c["reason"] == gen.COMPLAINT]
    others = [c for c in contacts if c["reason"] != gen.COMPLAINT]
    assert len(complaints) > 20 and all("status" not in c for c in others)
    for complaint in complaints:
        assert complaint["status"] in ("resolved", "open")
        if complaint["status"] == "resolved":
            assert complaint["resolution"] in gen.RESOLUTIONS
            assert moment(complaint["at"]) < moment(complaint["first_reply_at"]) \
                < moment(complaint["resolved_at"])
        else:
            assert complaint["resolution"] is None and complaint["resolved_at"] is None
        stamps = [complaint["first_reply_at"], complaint["resolved_at"]]
        assert all(s is None or s <= DEMO_TODAY + "T23:59" for s in stamps)
