"""Bad values are dropped where a source's answer is mapped, not fatal: a score off its scale
(an NPS of 11, a CSAT on 0–100), a label where a number is expected, a survey answered "not
concerned". Each is named by source and field in the log (never its value) and in the
mapping's problems; a manifest `map` or `scale` reads them instead; the rest stands."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from connector.customer.kpis import compute_kpis, compute_sentiment
from connector.models import SurveyAnswer
from connector.sources.base import SourceConfig
from connector.sources.mapping import map_sections


def surveys(score: Any = "score") -> SourceConfig:
    return SourceConfig.model_validate({"type": "rest", "sections": {"surveys": {
        "items": "answers", "fields": {"kind": "type", "score": score, "date": "at"}}}})


def answers(*rows: tuple[str, Any]) -> dict[str, Any]:
    return {"answers": [{"type": kind, "score": score, "at": "2024-02-0" + str(n + 1)}
                        for n, (kind, score) in enumerate(rows)]}


def test_scores_off_their_scale_are_dropped_and_named_never_shown(
        caplog: pytest.LogCaptureFixture) -> None:
    document = answers(("nps", 11), ("csat", 85), ("ces", 7), ("nps", 9), ("csat", "7,5"),
                       ("nps", "7.5"), ("ces", 2))
    config = surveys().model_copy(update={"decimal_comma": True})
    with caplog.at_level(logging.WARNING):
        mapped = map_sections(document, config, "feedback")
    kept = [(s.kind, s.score) for s in mapped.sections["surveys"]]
    assert kept == [("nps", Decimal(9)), ("csat", Decimal("7.5")), ("ces", Decimal(2))]
    assert mapped.problems == [
        "surveys[0].score: off its scale", "surveys[0]: the item, without a valid score",
        "surveys[1].score: off its scale", "surveys[1]: the item, without a valid score",
        "surveys[2].score: off its scale", "surveys[2]: the item, without a valid score",
        "surveys[5].score: off its scale", "surveys[5]: the item, without a valid score",
    ]
    logged = [r.getMessage() for r in caplog.records]
    assert "source feedback: dropped surveys[0].score (off its scale)" in logged
    assert not any(value in line for line in logged for value in ("11", "85", "7.5"))


@pytest.mark.parametrize("label", ["non concerné", "N/A", "NC", "NaN", "Infinity", True])
def test_a_label_where_a_number_is_expected_is_dropped(label: Any) -> None:
    mapped = map_sections(answers(("csat", label), ("csat", 8)), surveys(), "feedback")
    assert [s.score for s in mapped.sections["surveys"]] == [Decimal(8)]
    assert mapped.problems == ["surveys[0].score: unreadable as its type",
                               "surveys[0]: the item, without a valid score"]


def test_a_manifest_map_or_scale_reads_them_instead() -> None:
    levels = {"path": "score", "map": {"très satisfait": "10", "satisfait": "7",
                                       "insatisfait": "3", "très insatisfait": "0"}}
    mapped = map_sections(answers(("csat", "satisfait"), ("csat", "non concerné")),
                          surveys(levels), "feedback")
    assert [s.score for s in mapped.sections["surveys"]] == [Decimal(7)]
    assert mapped.dropped == 2  # "not concerned": no score, so no answer
    on_100 = map_sections(answers(("csat", 85)), surveys({"path": "score", "scale": -1}), "f")
    assert [s.score for s in on_100.sections["surveys"]] == [Decimal("8.5")]
    assert on_100.problems == []


def test_a_bad_value_in_a_section_drops_that_value_not_the_section() -> None:
    config = SourceConfig.model_validate({"type": "rest", "sections": {
        "kpis": {"path": "stats", "fields": {"satisfaction": "sat", "orders_count": "n",
                                             "total_spend": "spent"}},
        "reviews": {"items": "reviews", "fields": {"site": "site", "rating": "stars"}}}})
    document = {"stats": {"sat": 85, "n": 4, "spent": "120.50"},
                "reviews": [{"site": "Google", "stars": 9}, {"site": "Avis", "stars": 2}]}
    mapped = map_sections(document, config, "crm")
    kpis = mapped.sections["kpis"]
    assert (kpis.satisfaction, kpis.orders_count, kpis.total_spend) == (None, 4, Decimal("120.50"))
    assert [(r.site, r.rating) for r in mapped.sections["reviews"]] == [
        ("Google", None), ("Avis", Decimal(2))]
    assert mapped.problems == ["kpis.satisfaction: off its scale",
                               "reviews[0].rating: off its scale"]


def test_answers_that_came_another_way_are_skipped_by_the_record_too() -> None:
    bad = [SurveyAnswer(kind="nps", score=Decimal(11)),
           SurveyAnswer(kind="csat", score=Decimal(85)),
           SurveyAnswer(kind="ces", score=Decimal(9))]
    sentiment = compute_sentiment(bad)
    assert (sentiment.nps, sentiment.last_satisfaction, sentiment.ces) == (None, None, None)
    kpis = compute_kpis([], bad, exclude_statuses=[], satisfaction_window=5, currency="EUR")
    assert kpis.satisfaction is None
