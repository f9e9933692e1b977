"""The brand's NPS per month: counted by the `segments` job over the sources that list survey
answers (the demo back office's real, paged listing over HTTP, against an independent count of
its data file), kept per month, shown on /admin and exported on /metrics."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import sqlalchemy
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from connector.app import Services, build_services
from connector.customer.brand_nps import monthly_nps, nps_category, recent_nps
from connector.jobs.brand_nps import answer_listers, count_brand_nps, window_start
from connector.jobs.config import SegmentsJob
from connector.jobs.segments import run_segments
from connector.manifest import load_manifest
from connector.settings import Settings
from connector.sources.base import BuildContext, ListedAnswer
from connector.sources.rest import RestConfig, RestSource
from connector.store.engine import open_database
from connector.web import create_app
from tests.conftest import ADMIN_TOKEN, MANIFEST, Backoffice, service_env

NOW = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)  # the demo data's reference date


class Listing:
    """A source listing the answers it is given (whatever `since` asks: the job filters)."""

    def __init__(self, answers: list[ListedAnswer]) -> None:
        self.answers = answers
        self.asked: list[dt.date] = []

    def surveys(self, since: dt.date) -> Iterator[ListedAnswer]:
        self.asked.append(since)
        yield from self.answers


def answers(day: dt.date, *scores: int | str, kind: str = "nps") -> list[ListedAnswer]:
    return [ListedAnswer(f"c{n}", day, kind, Decimal(score)) for n, score in enumerate(scores)]


def test_five_promoters_three_passives_two_detractors_is_30() -> None:
    day = dt.date(2026, 11, 3)
    found = monthly_nps([(day, Decimal(s)) for s in (9, 10, 9, 10, 10, 7, 8, 7, 0, 6)])
    [november] = found.values()
    assert (november.month, november.promoters, november.passives, november.detractors) == (
        "2026-11", 5, 3, 2)
    assert november.answers == 10 and november.nps == 30


def test_months_without_answers_are_absent_and_off_scale_scores_dropped() -> None:
    found = monthly_nps([(dt.date(2026, 9, 30), Decimal(10)), (dt.date(2026, 11, 1), Decimal(0)),
                         (dt.date(2026, 10, 5), Decimal(11)),
                         (dt.date(2026, 10, 6), Decimal("8.5"))])
    assert list(found) == ["2026-09", "2026-11"]  # October: only answers off the scale
    assert found["2026-09"].nps == 100 and found["2026-11"].nps == -100
    assert [nps_category(Decimal(s)) for s in ("-1", "0", "6", "7", "8", "9", "10.0", "11")] == [
        None, "detractor", "detractor", "passive", "passive", "promoter", "promoter", None]


def test_the_job_counts_nps_answers_of_the_window_and_replaces_its_months(
        tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path}/nps.sqlite")
    listing = Listing([*answers(dt.date(2026, 10, 2), 9, 10, 9, 10, 10, 7, 8, 7, 0, 6),
                       *answers(dt.date(2026, 10, 3), 1, 2, kind="csat"),  # not NPS
                       *answers(dt.date(2026, 10, 4), 12),  # off the scale: dropped
                       *answers(dt.date(2025, 10, 31), 10),  # before the window
                       *answers(dt.date(2026, 8, 1), 3)])
    counts = count_brand_nps({"feedback": listing}, engine, 90, NOW)
    assert listing.asked == [dt.date(2026, 8, 1)]  # whole months: from the 1st of the first
    assert counts == {"nps_answers": 11, "nps_months": 2}
    assert [(m.month, m.answers, m.nps) for m in recent_nps(engine, NOW.date())] == [
        ("2026-08", 1, -100), ("2026-10", 10, 30)]

    with engine.begin() as connection:  # a month before the window, counted by an older run
        connection.execute(sqlalchemy.text(
            "INSERT INTO brand_nps VALUES ('2026-05', 1, 0, 0, '2026-06-01 04:00:00')"))
    count_brand_nps({"feedback": Listing(answers(dt.date(2026, 10, 20), 10))}, engine, 90, NOW)
    assert [(m.month, m.answers, m.nps) for m in recent_nps(engine, NOW.date())] == [
        ("2026-05", 1, 100), ("2026-10", 1, 100)]  # August gone: no answer in it now
    assert count_brand_nps({}, engine, 90, NOW) == {}  # no listing: nothing touched
    assert len(recent_nps(engine, NOW.date())) == 2


def test_a_rest_listing_pages_and_skips_unreadable_answers(
        httpserver: HTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    listing = {"name": "page", "path": "/surveys", "params": {"since": "{since}"},
               "items": "answers", "paginate": {"type": "page", "param": "page", "start": 1,
                                                "size": 2, "size_param": "per_page"}}
    config = RestConfig.model_validate({
        "type": "rest", "base_url": httpserver.url_for("/feedback"), "requests": [{"name": "x"}],
        "sections": {"surveys": {"items": "x.answers", "fields": {"score": "score"}}},
        "surveys": {"request": listing, "customer": "email", "date": "at", "kind": "type",
                    "score": "score", "include": "!test"}})
    page = {"since": "2026-08-01", "per_page": "2"}
    httpserver.expect_ordered_request("/feedback/surveys", query_string={
        **page, "page": "1"}).respond_with_json({"answers": [
            {"email": "a@x.fr", "at": "2026-08-02T10:00:00Z", "type": "NPS", "score": 9},
            {"email": "b@x.fr", "at": "2026-08-03", "type": "nps", "score": "très bien"}]})
    httpserver.expect_ordered_request("/feedback/surveys", query_string={
        **page, "page": "2"}).respond_with_json({"answers": [
            {"email": "c@x.fr", "at": None, "type": "nps", "score": 3},
            {"email": "d@x.fr", "at": "2026-08-04", "type": "csat", "score": "7.5"}]})
    httpserver.expect_ordered_request("/feedback/surveys", query_string={
        **page, "page": "3"}).respond_with_json({"answers": [
            {"email": "e@x.fr", "at": "2026-08-05", "type": "nps", "score": 0, "test": True}]})
    source = RestSource("feedback", config, BuildContext(Path(".")))
    with caplog.at_level("INFO"):
        found = list(source.surveys(dt.date(2026, 8, 1)))
    httpserver.check_assertions()
    assert [(a.customer_id, a.at, a.kind, a.score) for a in found] == [
        ("a@x.fr", dt.date(2026, 8, 2), "nps", Decimal(9)),
        ("d@x.fr", dt.date(2026, 8, 4), "csat", Decimal("7.5"))]
    assert "source feedback: 2 survey answers skipped" in caplog.text
    assert "très bien" not in caplog.text and "b@x.fr" not in caplog.text


@pytest.fixture(scope="module")
def services(demo_data: Path, backoffice: Backoffice,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var = tmp_path_factory.mktemp("nps")
    env = service_env(demo_data, backoffice.url, var)
    settings = Settings(data_dir=var, demo_dir=demo_data, secret_key="test-secret-key",
                        public_url="http://connector.test", admin_token=ADMIN_TOKEN)
    running = build_services(settings, load_manifest(MANIFEST, env=env))
    yield running
    running.close()


def demo_nps(demo_data: Path, since: dt.date) -> dict[str, tuple[int, int, int]]:
    """Promoters, passives and detractors per month of the demo's NPS answers since a date,
    counted from its data file."""
    months: dict[str, list[int]] = {}
    for answer in json.loads((demo_data / "feedback.json").read_text())["surveys"]:
        day = dt.date.fromisoformat(answer["answered_at"][:10])
        if answer["type"] != "nps" or not since <= day <= NOW.date():
            continue
        score = int(answer["score"])
        row = months.setdefault(f"{day:%Y-%m}", [0, 0, 0])
        row[0 if score >= 9 else 1 if score >= 7 else 2] += 1
    return {month: (p, n, d) for month, (p, n, d) in sorted(months.items())}


def test_the_segments_job_counts_the_demo_answers_over_http(services: Services,
                                                            demo_data: Path) -> None:
    sources = services.assembler.sources
    assert list(answer_listers(sources)) == ["feedback"]
    engine = services.assembler.resolver.store.engine
    reported: list[tuple[int, int | None]] = []
    rules = SegmentsJob(window_days=3650)  # the demo's answers are sparse: ten years of them
    counts = run_segments(sources, engine, rules, lambda *a: reported.append(a), NOW)
    expected = demo_nps(demo_data, window_start(NOW.date(), 3650))
    assert counts["nps_answers"] == sum(map(sum, expected.values())) > 100
    assert counts["nps_months"] == len(expected)
    with engine.connect() as connection:
        kept = {row[0]: tuple(row[1:]) for row in connection.execute(sqlalchemy.text(
            "SELECT month, promoters, passives, detractors FROM brand_nps"))}
    assert kept == expected
    # progress: the items read (purchases, then answers), growing, the total given at the end
    done = [d for d, _ in reported]
    assert done == sorted(done) and len(done) >= 3
    assert all(total is None for _, total in reported[:-1])
    assert reported[-1][0] == reported[-1][1] >= counts["purchases"] + counts["nps_answers"]


def test_the_survey_listing_of_the_demo_back_office_is_paged(backoffice: Backoffice) -> None:
    first = requests.get(f"{backoffice.url}/feedback/api/surveys", timeout=5,
                         params={"since": "2026-10-01", "per_page": 3}).json()
    assert len(first["answers"]) == 3 and first["next"] == "?page=2&per_page=3&since=2026-10-01"
    assert all(a["answered_at"] >= "2026-10-01" and a["email"] for a in first["answers"])
    stamps = [a["answered_at"] for a in first["answers"]]
    assert stamps == sorted(stamps)
    assert requests.get(f"{backoffice.url}/feedback/api/surveys", timeout=5).status_code == 400


@pytest.fixture
def client(services: Services) -> FlaskClient:
    """The admin page and /metrics through Flask, over a brand_nps table of known months
    (counted now: the admin page shows the last 12 months of today)."""
    engine = services.assembler.resolver.store.engine
    today = dt.datetime.now(dt.UTC)
    this_month = today.date().replace(day=1)
    two_ago = (this_month - dt.timedelta(days=40)).replace(day=1)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DELETE FROM brand_nps"))
    listing = Listing([*answers(this_month, 9, 10, 9, 10, 10, 7, 8, 7, 0, 6),
                       *answers(two_ago, 0, 3, 9)])
    count_brand_nps({"feedback": listing}, engine, 400, today)
    with engine.begin() as connection:  # 13 months ago: off the page and the metrics
        connection.execute(sqlalchemy.text(
            "INSERT INTO brand_nps VALUES (:month, 9, 0, 0, :at)"),
            {"month": f"{this_month.year - 1}-{this_month.month:02d}", "at": today})
    return create_app(services=services).test_client()


def test_the_admin_page_shows_the_last_twelve_months(client: FlaskClient) -> None:
    this_month = dt.datetime.now(dt.UTC).date().replace(day=1)
    two_ago = (this_month - dt.timedelta(days=40)).replace(day=1)
    page = client.get("/admin/", auth=("admin", ADMIN_TOKEN))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    rows = text.split('<tr class="nps">')[1:]
    cell = '</td><td class="num">'
    assert len(rows) == 2
    assert f"<td>{two_ago:%Y-%m}{cell}3{cell}-33</td>" in rows[0]
    assert f"<td>{this_month:%Y-%m}{cell}10{cell}30</td>" in rows[1]
    assert f"{this_month.year - 1}-{this_month.month:02d}" not in text
    health = client.get("/admin/health.json", auth=("admin", ADMIN_TOKEN)).get_json()
    assert health["brand_nps"][-1] == {"month": f"{this_month:%Y-%m}", "answers": 10,
                                       "nps": 30.0, "promoters": 5, "passives": 3,
                                       "detractors": 2}


def test_metrics_export_each_month_nps_and_answers(client: FlaskClient) -> None:
    month = f"{dt.datetime.now(dt.UTC).date():%Y-%m}"
    text = client.get("/metrics").get_data(as_text=True)
    assert f'connector_brand_nps{{month="{month}"}} 30.0' in text
    for category, count in (("promoter", 5), ("passive", 3), ("detractor", 2)):
        assert (f'connector_brand_nps_answers{{category="{category}",month="{month}"}} '
                f'{count}.0') in text
    assert text.count("connector_brand_nps{") == 2  # the two months with answers, no older
