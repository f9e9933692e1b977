"""Segments computed from the record itself (docs/segments.md), on a frozen clock: each lifecycle
boundary, the lifetime value's formula, the ambassador and win-back thresholds, and the
assembler wiring them into the record."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from connector.customer.links import LinkStore
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolver
from connector.customer.segments import (
    AmbassadorRules,
    LifecycleRules,
    LifetimeValueRules,
    SegmentRules,
    WinBackRules,
    compute_segments,
    is_ambassador,
    is_win_back,
    lifecycle_stage,
    lifetime_value,
)
from connector.identifiers import Identifiers
from connector.manifest import load_manifest
from connector.models import (
    ContactEvent,
    Contacts,
    CustomerProfile,
    Kpis,
    Order,
    Review,
    Status,
    SurveyAnswer,
)
from connector.sources.base import SourceResult
from connector.sources.cache import MemoryCache, SingleFlight

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
RULES = LifecycleRules()  # new 90, active 365, lost 730 days


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def bought(*days_ago: int) -> list[Order]:
    return [Order(number=str(d), date=ago(d), total=Decimal(100)) for d in days_ago]


# Lifecycle (tool 14)

def test_no_purchase_is_a_prospect() -> None:
    assert lifecycle_stage([], RULES, TODAY) == "prospect"


@pytest.mark.parametrize(("days_ago", "stage"), [
    ((0,), "new"),
    ((90,), "new"),                 # the first purchase exactly new_days ago is still new
    ((91,), "active"),
    ((400, 10), "active"),          # a first purchase long ago: not new, whatever the last
    ((365,), "active"),             # the last purchase exactly active_days ago: still active
    ((366,), "dormant"),
    ((730,), "dormant"),            # exactly lost_days ago: still dormant
    ((731,), "lost"),
    ((3000, 2000), "lost"),
])
def test_each_lifecycle_boundary(days_ago: tuple[int, ...], stage: str) -> None:
    assert lifecycle_stage(bought(*days_ago), RULES, TODAY) == stage


def test_durations_come_from_the_manifest() -> None:
    short = LifecycleRules(new_days=30, active_days=60, lost_days=120)
    assert [lifecycle_stage(bought(d), short, TODAY) for d in (30, 31, 61, 121)] == [
        "new", "active", "dormant", "lost"]


def test_a_source_s_own_figures_count() -> None:
    # Shopify's lifetime orders_count with only 60 days of orders listed
    assert lifecycle_stage([], RULES, TODAY, orders_count=4, last_order=ago(500)) == "dormant"
    assert lifecycle_stage([], RULES, TODAY, orders_count=4) is None
    assert lifecycle_stage(bought(20), RULES, TODAY, orders_count=4) == "active"  # not new
    assert lifecycle_stage(bought(20), RULES, TODAY, orders_count=1) == "new"
    assert lifecycle_stage(bought(800), RULES, TODAY, last_order=ago(10)) == "active"


def test_undated_purchases_leave_the_stage_unknown() -> None:
    assert lifecycle_stage([Order(number="1", total=Decimal(5))], RULES, TODAY) is None


# Lifetime value (tool 17)

def test_lifetime_value_is_spend_times_margin_minus_costs() -> None:
    rules = LifetimeValueRules(margin=Decimal("0.4"), acquisition_cost=Decimal(30),
                               cost_per_order=Decimal("2.5"), cost_per_contact=Decimal(4))
    # 1464 × 0.4 − 30 − 3 × 2.5 − 23 × 4 = 585.60 − 30 − 7.50 − 92
    assert lifetime_value(Decimal("1464.00"), 3, 23, rules) == Decimal("456.10")


def test_default_lifetime_value_is_thirty_percent_of_spend() -> None:
    assert lifetime_value(Decimal("1464.00"), 3, 23, LifetimeValueRules()) == Decimal("439.20")


def test_lifetime_value_rounds_to_the_cent_and_may_be_negative() -> None:
    rules = LifetimeValueRules(margin=Decimal("0.333"), cost_per_contact=Decimal(50))
    assert lifetime_value(Decimal("10.00"), 1, 0, rules) == Decimal("3.33")
    assert lifetime_value(Decimal("10.00"), 1, 2, rules) == Decimal("-96.67")


def test_a_customer_who_never_bought_has_no_lifetime_value() -> None:
    assert lifetime_value(None, 0, 5, LifetimeValueRules()) is None


# Ambassador (tool 46)

def review(stars: int, days_ago: int, text: str | None = "Très bien") -> Review:
    return Review(site="Trustpilot", rating=Decimal(stars), date=ago(days_ago), excerpt=text)


def survey(kind: str, score: int, days_ago: int, comment: str | None = None) -> SurveyAnswer:
    return SurveyAnswer.model_validate({"kind": kind, "score": score, "date": ago(days_ago),
                                        "comment": comment})


def contact(days_ago: int) -> ContactEvent:
    return ContactEvent(date=NOW - dt.timedelta(days=days_ago), channel="email",
                        reason="Question produit")


AMB = AmbassadorRules()  # 730 days, 2 positive, 3 contacts or 1 constructive


def test_two_positive_ratings_and_a_written_review_make_an_ambassador() -> None:
    assert is_ambassador([review(4, 10), review(5, 400)], [], [], AMB, TODAY)


def test_positive_ratings_without_contacts_or_comments_are_not_enough() -> None:
    silent = [review(5, 10, text=None), review(4, 20, text=None)]
    assert not is_ambassador(silent, [], [], AMB, TODAY)
    assert is_ambassador(silent, [], [contact(5), contact(50), contact(500)], AMB, TODAY)
    assert not is_ambassador(silent, [], [contact(5), contact(50), contact(800)], AMB, TODAY)
    assert is_ambassador(silent, [survey("csat", 7, 3, "Suggestion : un retrait en magasin")],
                         [], AMB, TODAY)


def test_survey_answers_count_as_positive_ratings() -> None:
    answers = [survey("nps", 9, 30), survey("csat", 10, 60, "Parfait, merci")]
    assert is_ambassador([], answers, [], AMB, TODAY)
    assert not is_ambassador([], [survey("nps", 9, 30), survey("csat", 8, 60, "Bien")], [],
                             AMB, TODAY)  # 8 is below positive_score


def test_one_negative_rating_in_the_window_rules_it_out() -> None:
    good = [review(5, 10), review(5, 20)]
    assert not is_ambassador([*good, review(2, 100)], [], [], AMB, TODAY)
    assert not is_ambassador(good, [survey("nps", 6, 100)], [], AMB, TODAY)
    assert is_ambassador([*good, review(1, 800)], [], [], AMB, TODAY)  # outside the window


def test_ratings_older_than_the_window_do_not_count() -> None:
    assert not is_ambassador([review(5, 731), review(5, 10)], [], [], AMB, TODAY)
    wider = AmbassadorRules(within_days=1000)
    assert is_ambassador([review(5, 731), review(5, 10)], [], [], wider, TODAY)


def test_ambassador_thresholds_come_from_the_manifest() -> None:
    one = AmbassadorRules(min_positive=1, positive_share=Decimal("0.6"))
    assert is_ambassador([review(3, 10)], [], [], one, TODAY)
    assert not is_ambassador([review(3, 10)], [], [], AMB, TODAY)


# Win-back

WIN = WinBackRules()  # dormant or lost, 1000 spent, or class A


@pytest.mark.parametrize(("stage", "spend", "value", "abc", "expected"), [
    ("dormant", Decimal(1000), None, None, True),
    ("lost", Decimal(2500), None, None, True),
    ("dormant", Decimal("999.99"), None, None, False),
    ("dormant", Decimal(10), None, "A", True),        # a small but influential class A
    ("active", Decimal(5000), None, "A", False),
    ("new", Decimal(5000), None, None, False),
    (None, Decimal(5000), None, None, False),
])
def test_win_back_is_valuable_and_no_longer_buying(stage: str | None, spend: Decimal,
                                                   value: Decimal | None, abc: str | None,
                                                   expected: bool) -> None:
    assert is_win_back(stage, spend, value, abc, WIN) is expected


def test_win_back_by_lifetime_value_and_dormant_only() -> None:
    rules = WinBackRules(stages=["dormant"], min_total_spend=None,
                         min_lifetime_value=Decimal(300), abc_classes=[])
    assert is_win_back("dormant", Decimal(100), Decimal(300), None, rules)
    assert not is_win_back("dormant", Decimal(9000), Decimal("299.99"), "A", rules)
    assert not is_win_back("lost", Decimal(100), Decimal(900), None, rules)


# The record

def customer(**status: object) -> CustomerProfile:
    return CustomerProfile(
        customer_id="c1", status=Status.model_validate(status),
        kpis=Kpis(total_spend=Decimal("1464.00"), orders_count=3, currency="EUR"),
        contacts=Contacts(count=23))


def test_computed_stage_wins_over_a_source_s_unless_the_manifest_says_source() -> None:
    purchases = bought(3000, 2900, 2800)
    computed = compute_segments(customer(lifecycle="active"), purchases, [], [],
                                SegmentRules(), NOW)
    assert (computed.lifecycle, computed.win_back) == ("lost", True)
    kept = SegmentRules(lifecycle=LifecycleRules(prefer="source"))
    assert compute_segments(customer(lifecycle="active"), purchases, [], [], kept,
                            NOW).lifecycle == "active"
    assert compute_segments(customer(), purchases, [], [], kept, NOW).lifecycle == "lost"


def test_a_source_s_lifetime_value_stands_only_when_the_manifest_says_source() -> None:
    given = customer()
    given.kpis.lifetime_value = Decimal(5000)
    assert compute_segments(given, bought(10), [], [], SegmentRules(), NOW
                            ).lifetime_value == Decimal("439.20")
    kept = SegmentRules(lifetime_value=LifetimeValueRules(prefer="source"))
    assert compute_segments(given, bought(10), [], [], kept, NOW
                            ).lifetime_value == Decimal(5000)


def test_a_source_s_ambassador_or_win_back_stands() -> None:
    found = compute_segments(customer(ambassador=True, win_back=True), bought(10), [], [],
                             SegmentRules(), NOW)
    assert (found.ambassador, found.win_back) == (True, True)


def test_no_purchase_read_is_not_a_prospect_when_a_purchase_source_failed() -> None:
    nobody = CustomerProfile(customer_id="c1")
    assert compute_segments(nobody, [], [], [], SegmentRules(), NOW,
                            purchases_complete=False).lifecycle is None
    assert compute_segments(nobody, [], [], [], SegmentRules(), NOW).lifecycle == "prospect"


MANIFEST = """\
version: 1
sources:
  erp: {type: files, path: a.csv, match: {email: e}, timeout_s: 0.5,
        sections: {identity: {items: null, fields: {last_name: n}}}}
segments:
  lifecycle: {new_days: 30, active_days: 180, lost_days: 400}
  lifetime_value: {margin: 0.5, cost_per_order: 1}
"""


class Answering:
    name = "erp"
    provides: frozenset[str] = frozenset()

    def __init__(self, result: SourceResult) -> None:
        self.result = result

    def fetch(self, ids: Identifiers) -> SourceResult:
        return self.result


def test_the_assembled_record_carries_its_segments_on_the_assembler_s_clock(
        tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text(MANIFEST)
    manifest = load_manifest(tmp_path / "manifest.yaml", env={})
    orders = [Order(number="1", date=ago(200), total=Decimal(600), status="delivered"),
              Order(number="2", date=ago(20), total=Decimal(900), status="cancelled")]
    result = SourceResult(found=True, sections={
        "orders": orders, "reviews": [review(5, 10), review(4, 30)]})
    assembler = ProfileAssembler(manifest, {"erp": Answering(result)},  # type: ignore[dict-item]
                                 SingleFlight(MemoryCache()), ThreadPoolExecutor(2),
                                 Resolver(LinkStore("sqlite://"), manifest.identity))
    assembler.clock = lambda: NOW
    profile = assembler.lookup(Identifiers(emails=("p@x.fr",))).profile
    assert profile is not None
    # the cancelled order counts neither in spend nor in recency: last purchase 200 days ago
    assert profile.status.lifecycle == "dormant"
    assert profile.kpis.lifetime_value == Decimal("299.00")  # 600 × 0.5 − 1 × 1
    assert (profile.status.ambassador, profile.status.win_back) == (True, False)
    data = profile.model_dump(mode="json")
    assert data["status"]["lifecycle"] == "dormant" and data["kpis"]["lifetime_value"] == "299.00"
    assert data["status"]["ambassador"] is True and data["status"]["win_back"] is False
    assembler.close()

