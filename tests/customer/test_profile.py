"""The assembler: sources in parallel, merged in manifest order; a failure never hides the rest."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from connector.customer.links import LinkStore
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolver
from connector.identifiers import Identifiers
from connector.manifest import Manifest, load_manifest
from connector.models import Identity, Loyalty, Order, SourceState, Status, SurveyAnswer
from connector.sources.base import SourceMisconfigured, SourceResult, SourceUnavailable
from connector.sources.cache import MemoryCache, SingleFlight

MANIFEST = """\
version: 1
sources:
  erp: {type: files, path: a.csv, match: {email: e}, timeout_s: 0.3,
        sections: {identity: {items: null, fields: {last_name: n}}}}
  pos: {type: files, path: b.csv, match: {email: e, card: c}, timeout_s: 0.3,
        sections: {store_purchases: {items: rows, fields: {number: n}}}}
  loyalty: {type: files, path: c.csv, match: {email: e}, timeout_s: 0.3,
            sections: {loyalty: {fields: {card: c}}}}
"""
EMAIL = Identifiers(emails=("p@x.fr",))


class Fake:
    """A source answering what the test says, after an optional delay."""

    def __init__(self, name: str, answer: SourceResult | Exception, delay: float = 0) -> None:
        self.name = name
        self.provides = frozenset()
        self.answer = answer
        self.delay = delay
        self.asked: list[Identifiers] = []

    def fetch(self, ids: Identifiers) -> SourceResult:
        self.asked.append(ids)
        time.sleep(self.delay)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    (tmp_path / "manifest.yaml").write_text(MANIFEST)
    return load_manifest(tmp_path / "manifest.yaml", env={})


def assemble(manifest: Manifest, *fakes: Fake) -> ProfileAssembler:
    return ProfileAssembler(manifest, {f.name: f for f in fakes}, SingleFlight(MemoryCache()),
                            ThreadPoolExecutor(8), Resolver(LinkStore("sqlite://"),
                                                            manifest.identity))


def found(**sections: object) -> SourceResult:
    return SourceResult(found=True, sections=dict(sections))


def test_failures_are_marked_and_the_rest_still_shows(manifest: Manifest) -> None:
    assembler = assemble(
        manifest,
        Fake("erp", found(identity=Identity(last_name="Denève"),
                          orders=[Order(number="1", total=Decimal(10), source="erp")])),
        Fake("pos", SourceUnavailable("server error (503)")),
        Fake("loyalty", SourceMisconfigured("refused our credentials (401)")),
    )
    result = assembler.lookup(EMAIL)
    assert result.profile is not None
    assert result.profile.identity.last_name == "Denève"
    assert result.profile.kpis.total_spend == Decimal("10.00")
    statuses = {n: (s.status, s.error) for n, s in result.sources.items()}
    assert statuses == {
        "erp": (SourceState.OK, None),
        "pos": (SourceState.ERROR, "server error (503)"),
        "loyalty": (SourceState.ERROR, "refused our credentials (401)"),
    }


def test_a_slow_source_times_out_without_holding_the_others(manifest: Manifest) -> None:
    assembler = assemble(
        manifest,
        Fake("erp", found(identity=Identity(last_name="Denève"))),
        Fake("pos", found(), delay=2),
        Fake("loyalty", found(loyalty=Loyalty(card="29")), delay=0.05),
    )
    started = time.monotonic()
    result = assembler.lookup(EMAIL)
    assert time.monotonic() - started < 1.0
    assert result.sources["pos"].status == SourceState.TIMEOUT
    assert result.sources["loyalty"].status == SourceState.OK


def test_sources_that_did_not_know_the_customer_are_asked_again_with_what_others_taught(
    manifest: Manifest,
) -> None:
    pos = Fake("pos", SourceResult(found=False))
    assembler = assemble(
        manifest,
        Fake("erp", found(identity=Identity(emails=["p@x.fr", "Pauline@Work.fr"]))),
        pos,
        Fake("loyalty", found(loyalty=Loyalty(card="2900 1"))),
    )
    assembler.lookup(EMAIL)
    assert pos.asked == [EMAIL, Identifiers(emails=("p@x.fr", "pauline@work.fr"),
                                            cards=("29001",))]


def test_nobody_knows_the_customer(manifest: Manifest) -> None:
    nobody = SourceResult(found=False)
    assembler = assemble(manifest, Fake("erp", nobody), Fake("pos", nobody),
                         Fake("loyalty", SourceUnavailable("unreachable")))
    result = assembler.lookup(EMAIL)
    assert result.profile is None
    assert result.sources["loyalty"].status == SourceState.ERROR


def test_merge_first_source_wins_lists_are_joined(manifest: Manifest) -> None:
    assembler = assemble(
        manifest,
        Fake("erp", found(identity=Identity(first_name="Pauline", phones=["06 53 88 88 90"]),
                          status=Status(segment="VIP", tags=["vip"]),
                          orders=[Order(number="1", total=Decimal("45.95"), status="returned",
                                        date="2017-08-05"),
                                  Order(number="2", total=Decimal("989"), date="2017-06-10"),
                                  Order(number="3", total=Decimal("500"), status="cancelled",
                                        date="2018-01-01")],
                          surveys=[SurveyAnswer(kind="csat", score=8, date="2018-06-01"),
                                   SurveyAnswer(kind="csat", score=9, date="2019-01-10"),
                                   SurveyAnswer(kind="nps", score=4, date="2019-01-10")])),
        Fake("pos", found(identity=Identity(first_name="P.", phones=["+33653888890"]),
                          store_purchases=[Order(number="T", total=Decimal("429.05"),
                                                 date="2016-11-25")])),
        Fake("loyalty", SourceResult(found=False)),
    )
    assembler.clock = lambda: dt.datetime(2019, 2, 1, 12, tzinfo=dt.UTC)  # the NPS is recent
    profile = assembler.lookup(EMAIL).profile
    assert profile is not None
    assert profile.identity.first_name == "Pauline"
    assert profile.identity.phones == ["+33653888890"]
    kpis = profile.kpis
    assert (kpis.total_spend, kpis.average_basket, kpis.orders_count) == (
        Decimal("1464.00"), Decimal("488.00"), 3)  # returned counts, cancelled does not
    assert str(kpis.last_order_date) == "2017-08-05"
    assert kpis.satisfaction == Decimal("8.5")
    assert profile.sentiment.nps is not None and profile.sentiment.nps.category == "detractor"
    # dormant since 2017 with 1,464 € spent: worth winning back
    assert [f.key for f in profile.flags] == ["detractor", "vip", "win_back"]
    assert [o.number for o in profile.orders] == ["3", "1", "2"]


def test_a_customer_just_learnt_is_served_from_the_cache_the_next_time(
    manifest: Manifest,
) -> None:
    erp = Fake("erp", SourceResult(found=True, external_id="C1", sections={
        "identity": Identity(last_name="Denève", emails=["p@x.fr"], phones=["+33611111111"]),
        "orders": [Order(number="1", total=Decimal(10))]}))
    pos = Fake("pos", SourceResult(found=False))
    loyalty = Fake("loyalty", found(loyalty=Loyalty(card="29"),  # her card: email and mobile
                                    identity=Identity(emails=["p@x.fr"],
                                                      phones=["+33611111111"])))
    assembler = assemble(manifest, erp, pos, loyalty)
    first = assembler.lookup(EMAIL)
    second = assembler.lookup(EMAIL)  # now resolved to the person: cached under their id
    assert first.profile is not None and second.profile is not None
    assert second.profile.customer_id == first.profile.customer_id
    assert (len(erp.asked), len(loyalty.asked)) == (1, 1)
    assert all(s.status == SourceState.OK for n, s in second.sources.items() if n != "pos")


def test_a_source_is_asked_with_the_email_domains_it_stores(tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text(MANIFEST.replace(
        "erp: {type: files,", "erp: {type: files, email_domains: unicode,"))
    unicode_manifest = load_manifest(tmp_path / "manifest.yaml", env={})
    erp = Fake("erp", SourceResult(found=False))
    pos = Fake("pos", SourceResult(found=False))
    assembler = assemble(unicode_manifest, erp, pos, Fake("loyalty", SourceResult(found=False)))
    assembler.lookup(Identifiers(emails=("hans@xn--strae-oqa.de",)))
    assert erp.asked[0].emails == ("hans@straße.de",)
    assert pos.asked[0].emails == ("hans@xn--strae-oqa.de",)
