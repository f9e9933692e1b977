"""One bad survey value leaves the record standing: a feedback source answering an NPS of 11
and a CSAT of 85 (0–100) gives the sidebar and the API a 200 with every other block,
`connector lookup` exit 0, and `connector check --probe` lists the dropped fields. Real files
sources in a manifest of the test's own, the app in process, the commands as processes."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from connector.app import Services, build_services
from connector.helpdesk.embed import EmbedLinks
from connector.manifest import load_manifest
from connector.settings import Settings
from connector.web import create_app
from tests.conftest import connector

ANA = "ana.martin@example.org"
SECRET, TOKEN = "test-secret-key", "test-api-token"
MANIFEST = """\
version: 1
sources:
  shop:
    type: files
    path: shop.csv
    match: {email: email}
    sections:
      identity:
        path: "rows[0]"
        fields: {first_name: first_name, last_name: last_name, emails: email}
      orders:
        items: rows
        fields: {number: order, total: total, date: date}
  feedback:
    type: files
    label: Enquêtes
    path: feedback.jsonl
    match: {email: email}
    sections:
      surveys: {items: rows, fields: {kind: type, score: score, date: at}}
"""


def ago(days: int) -> str:
    """A date this many days back: the flags look at recent answers."""
    return (dt.date.today() - dt.timedelta(days=days)).isoformat()


ANSWERS = [("nps", 11, ago(10)), ("csat", 85, ago(9)), ("csat", "non concerné", ago(8)),
           ("nps", 3, ago(120)), ("csat", 6, ago(119))]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "shop.csv").write_text(
        f"email,first_name,last_name,order,total,date\n{ANA},Ana,Martin,A-1,42.50,2024-04-01\n",
        encoding="utf-8")
    rows = [{"email": ANA, "type": kind, "score": score, "at": at} for kind, score, at in ANSWERS]
    (tmp_path / "feedback.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")
    return tmp_path


@pytest.fixture
def services(folder: Path) -> Iterator[Services]:
    settings = Settings(data_dir=folder / "var", secret_key=SECRET,  # type: ignore[arg-type]
                        api_token=SecretStr(TOKEN), public_url="http://connector.test")
    built = build_services(settings, load_manifest(folder / "manifest.yaml", env={}))
    yield built
    built.close()


def test_the_sidebar_and_the_api_stand_without_the_bad_values(services: Services) -> None:
    web = create_app(services=services).test_client()
    answer = web.get("/api/v1/customers/lookup", query_string={"email": ANA},
                     headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    record = answer.json
    assert record is not None
    assert record["identity"]["last_name"] == "Martin"
    assert record["sentiment"]["nps"]["score"] == 3  # the last answer on its scale
    assert record["sentiment"]["last_satisfaction"] == "6"
    assert record["kpis"]["satisfaction"] == "6.0"
    assert [f["key"] for f in record["flags"]] == ["detractor"]

    links = EmbedLinks(SECRET.encode(), 600, "FR")
    page = web.get(links.url("", links.token(email=ANA), "fr"))
    assert page.status_code == 200, page.text
    text = page.get_data(as_text=True)
    assert "Martin" in text and "A-1" in text and "Détracteur" in text


def test_lookup_exits_0_and_the_probe_lists_what_it_drops(folder: Path) -> None:
    env = {**os.environ, "CONNECTOR_MANIFEST": str(folder / "manifest.yaml"),
           "CONNECTOR_DATA_DIR": str(folder / "var"), "CONNECTOR_SECRET_KEY": SECRET}
    looked = connector("lookup", "--email", ANA, env=env)
    assert looked.returncode == 0, looked.stderr
    assert json.loads(looked.stdout)["sentiment"]["nps"]["score"] == 3
    assert "Traceback" not in looked.stderr
    assert "source feedback: dropped surveys[0].score (off its scale)" in looked.stderr

    probed = connector("check", "--probe", "--email", ANA, env=env)
    assert probed.returncode == 0, probed.stdout + probed.stderr
    lines = probed.stdout.splitlines()
    assert "feedback (files): found in" in probed.stdout
    assert "  dropped surveys[0].score: off its scale" in lines
    assert "  dropped surveys[1].score: off its scale" in lines
    assert "  dropped surveys[2].score: unreadable as its type" in lines
    assert not any("dropped" in line for line in lines if "shop" in line)
