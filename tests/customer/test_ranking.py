"""ABC classes and RFM scores over a whole base: small cases at their boundaries, then the real
CDNOW retail data set (23,570 customers, 69,659 purchases, 1997–1998) checked against an
independent computation. CDNOW ships inside the PyPI package `lifetimes`: its wheel is
downloaded (not installed, not imported: the library is unmaintained) and its data file read."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
import zipfile
from collections import Counter
from decimal import Decimal

import pytest

from connector.customer.ranking import (
    Purchase,
    Totals,
    abc_classes,
    rfm_scores,
    totals,
)
from tests.conftest import ARTIFACTS

TODAY = dt.date(2026, 12, 5)


def test_class_a_holds_at_least_80_percent_and_the_customer_who_crosses_it() -> None:
    revenue = {"a": Decimal(50), "b": Decimal(29), "c": Decimal(10), "d": Decimal(6),
               "e": Decimal(5)}
    # before a: 0 < 80 → A; before b: 50 < 80 → A; before c: 79 < 80 → A; before d: 89 < 95 → B;
    # before e: 95 → C
    assert abc_classes(revenue, customers=["f"]) == {"a": "A", "b": "A", "c": "A", "d": "B",
                                                      "e": "C", "f": "P"}


def test_no_revenue_is_a_prospect_and_the_split_is_configurable() -> None:
    revenue = {"a": Decimal(60), "b": Decimal(40), "z": Decimal(0)}
    assert abc_classes(revenue)["z"] == "P"
    assert abc_classes(revenue, split=[Decimal(50), Decimal(30), Decimal(20)]) == {
        "a": "A", "b": "B", "z": "P"}
    with pytest.raises(ValueError, match="adding up to 100"):
        abc_classes(revenue, split=[Decimal(80), Decimal(15), Decimal(4)])


def test_rfm_against_fixed_bins_with_a_frozen_today() -> None:
    found = {"recent_big": Totals(TODAY - dt.timedelta(days=3), 12, Decimal(2400)),
             "old_small": Totals(TODAY - dt.timedelta(days=800), 1, Decimal(15))}
    bins = {"recency_days": [30, 90, 180, 365], "frequency": [1, 2, 4, 8],
            "monetary": [50, 150, 400, 1000]}
    scores = rfm_scores(found, TODAY, bins)
    assert (scores["recent_big"].r, scores["recent_big"].f, scores["recent_big"].m) == (5, 5, 5)
    assert scores["recent_big"].score == 15
    assert (scores["old_small"].r, scores["old_small"].f, scores["old_small"].m) == (1, 1, 1)


def test_totals_keep_the_window() -> None:
    purchases = [Purchase("a", dt.date(2025, 1, 1), Decimal(10)),
                 Purchase("a", dt.date(2026, 6, 1), Decimal(20)),
                 Purchase("b", dt.date(2024, 1, 1), Decimal(99))]
    found = totals(purchases, since=dt.date(2025, 12, 5), until=TODAY)
    assert found == {"a": Totals(dt.date(2026, 6, 1), 1, Decimal(20))}


# --- CDNOW --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cdnow() -> list[Purchase]:
    """CDNOW's master file, read from the `lifetimes` wheel (downloaded once into
    tests/artifacts/)."""
    folder = ARTIFACTS / "lifetimes"
    wheels = sorted(folder.glob("*.whl")) if folder.exists() else []
    if not wheels:
        folder.mkdir(parents=True, exist_ok=True)
        run = subprocess.run([sys.executable, "-m", "pip", "download", "lifetimes==0.11.3",
                              "--no-deps", "-q", "-d", str(folder)],
                             capture_output=True, text=True, timeout=300)
        wheels = sorted(folder.glob("*.whl"))
        if not wheels:
            pytest.fail(f"could not download the lifetimes wheel: {run.stderr[-500:]}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        text = wheel.read("lifetimes/datasets/CDNOW_master.txt").decode()
    purchases = []
    for line in text.splitlines()[1:]:
        if line.strip():
            customer, day, _cds, amount = line.split()
            purchases.append(Purchase(customer, dt.datetime.strptime(day, "%Y%m%d").date(),
                                      Decimal(amount)))
    return purchases


def independent_abc(purchases: list[Purchase]) -> dict[str, str]:
    """The same rule computed another way: floats, cumulative sums, thresholds found with a
    scan over the running total."""
    revenue: dict[str, float] = {}
    for each in purchases:
        revenue[each.customer_id] = revenue.get(each.customer_id, 0.0) + float(each.amount)
    ordered = sorted(revenue.items(), key=lambda pair: (-pair[1], pair[0]))
    total = sum(value for _, value in ordered)
    running = [0.0, *itertools.accumulate(value for _, value in ordered)][:-1]
    classes = {}
    for (customer, value), before in zip(ordered, running, strict=True):
        share = before / total
        classes[customer] = "P" if value <= 0 else (
            "A" if share < 0.80 - 1e-12 else "B" if share < 0.95 - 1e-12 else "C")
    return classes


def test_abc_on_cdnow_matches_an_independent_computation(cdnow: list[Purchase]) -> None:
    assert "lifetimes" not in sys.modules  # its data file is read, the library never imported
    found = totals(cdnow)
    assert len(found) == 23_570 and len(cdnow) == 69_659
    classes = abc_classes({c: t.revenue for c, t in found.items()})
    expected = independent_abc(cdnow)
    differ = [c for c in classes if classes[c] != expected[c]]
    assert len(differ) <= 2, differ[:5]  # at most the customers on a float-rounded boundary
    counts = Counter(classes.values())
    revenue = {c: t.revenue for c, t in found.items()}
    total = sum(revenue.values(), Decimal(0))
    share = {k: sum((revenue[c] for c in classes if classes[c] == k), Decimal(0)) / total
             for k in "ABC"}
    assert Decimal("0.80") <= share["A"] < Decimal("0.81")
    assert Decimal("0.14") < share["B"] <= Decimal("0.15") + Decimal("0.01")
    # the Pareto shape of real retail: a third of the customers make 80 % of the revenue
    # (CDNOW: A 7,695, B 8,044, C 7,763, and 68 customers with no revenue, P)
    assert 0.30 < counts["A"] / len(classes) < 0.35
    assert counts.get("P", 0) == sum(1 for t in found.values() if t.revenue <= 0)


def test_rfm_quintiles_on_cdnow_give_each_monetary_score_a_fifth(
        cdnow: list[Purchase]) -> None:
    found = totals(cdnow)
    scores = rfm_scores(found, dt.date(1998, 7, 1))
    monetary = Counter(s.m for s in scores.values())
    for value in range(1, 6):
        assert 0.17 < monetary[value] / len(scores) < 0.23, monetary
    # most CDNOW customers bought once: ties keep them together in the lowest frequency score
    frequency = Counter(s.f for s in scores.values())
    once = sum(1 for t in found.values() if t.count == 1)
    assert frequency[1] == once
    assert all(3 <= s.score <= 15 for s in scores.values())

