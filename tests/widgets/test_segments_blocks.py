"""The computed segments in the sidebar (docs/segments.md): the lifecycle, win-back and
ambassador badges, the lifetime value line, in both languages, with the age of the sources
they are computed from."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from decimal import Decimal

from connector.models import CustomerProfile, Flag, RfmScores, SourceState, SourceStatus
from connector.widgets.base import BlockSpec
from connector.widgets.page import BLOCKS, render_block

from .test_sidebar import CTX_EN, CTX_FR, pauline, plain


def segmented() -> CustomerProfile:
    """Pauline as the demo computes her today: lost, worth winning back, an ambassador too."""
    profile = pauline()
    profile.status.lifecycle = "lost"
    profile.status.win_back = True
    profile.status.ambassador = True
    profile.kpis.lifetime_value = Decimal("439.20")
    return profile


def html(block: str, profile: CustomerProfile, ctx: object = CTX_FR) -> str:
    rendered = render_block(BLOCKS[block], profile, BlockSpec(block), ctx)  # type: ignore[arg-type]
    assert rendered is not None
    return plain(str(rendered))


def test_badges_show_the_stage_win_back_and_ambassador_in_french() -> None:
    badges = html("badges", segmented())
    assert '<li class="badge badge--lifecycle"><span class="tone tone--warn" ' \
           'title="Cycle de vie">Perdu</span></li>' in badges
    assert ('<li class="badge badge--win_back"><span class="tone tone--warn" title="Calculé : '
            'client de valeur, sans commande depuis le 05/08/2017"><span class="icon" '
            'aria-hidden="true">↺</span>À reconquérir</span></li>') in badges
    assert ('<li class="badge badge--ambassador"><span class="tone tone--good" title="Calculé : '
            'avis positifs, et contacts fréquents ou remarques constructives"><span '
            'class="icon" aria-hidden="true">♥</span>Ambassadeur</span></li>') in badges
    assert badges.index("Perdu") < badges.index("À reconquérir") < badges.index("Ambassadeur")


def test_badges_in_english() -> None:
    badges = html("badges", segmented(), CTX_EN)
    assert ">Lost</span>" in badges and ">Win back</span>" in badges
    assert 'title="Computed: a valuable customer who has not ordered since 5 Aug 2017"' in badges
    assert ">Ambassador</span>" in badges


def test_win_back_without_a_dated_order_says_so() -> None:
    profile = segmented()
    profile.kpis.last_order_date = None
    assert 'title="Calculé : client de valeur qui ne commande plus"' in html("badges", profile)


def test_no_segment_no_badge() -> None:
    badges = html("badges", pauline())
    assert "badge--win_back" not in badges and "badge--ambassador" not in badges
    assert "badge--lifecycle" not in badges


def test_the_lifetime_value_is_a_line_of_the_activity_block() -> None:
    kpis = html("kpis", segmented())
    assert re.search(r'<div class="field field--lifetime_value">\s*<dt>Valeur à vie</dt>\s*'
                     r'<dd><span class="line"><span title="Calculée : total des achats × marge '
                     r'− coûts \(acquisition, par commande, par contact\)">439,20 €</span>', kpis)
    english = html("kpis", segmented(), CTX_EN)
    assert "<dt>Lifetime value</dt>" in english and "€439.20" in english
    assert "field--lifetime_value" not in html("kpis", pauline())


def test_the_badges_age_counts_the_purchases_they_are_computed_from() -> None:
    profile = segmented()
    profile.sources = {"erp": SourceStatus(status=SourceState.OK, age_s=60),
                       "pos": SourceStatus(status=SourceState.STALE, age_s=7200)}
    ctx = replace(CTX_FR, source_sections={"erp": frozenset({"identity", "status"}),
                                           "pos": frozenset({"store_purchases"})},
                  source_labels={"erp": "ERP", "pos": "Caisses"})
    head = html("badges", profile, ctx).split("</div>")[0]
    assert "age age--stale" in head and "copie ancienne · il y a 2 h" in head
    assert "Caisses : copie ancienne · il y a 2 h" in head


def test_a_flag_of_the_same_segment_says_it_once_with_its_reason() -> None:
    profile = segmented()
    profile.flags = [Flag(key="win_back", label="À reconquérir", icon="↺", tone="info",
                          reason="Client de valeur, dernière commande 05/08/2017")]
    badges = html("badges", profile)
    assert badges.count("À reconquérir") == 1 and "badge--win_back" not in badges
    assert ('<span class="flag__why">Client de valeur, dernière commande 05/08/2017</span>'
            in badges)
    assert "badge--ambassador" in badges  # no ambassador flag: the status badge stays


def test_the_rfm_scores_and_the_classes_date_show_as_badges() -> None:
    profile = segmented()
    profile.status.abc_class = "A"
    profile.status.rfm = RfmScores(r=2, f=4, m=5, score=11)
    profile.status.classes_at = dt.datetime(2026, 11, 30, 4, tzinfo=dt.UTC)
    badges = html("badges", profile)
    assert ('title="Récence 2, fréquence 4, montant 5 (de 1 à 5 dans la clientèle) · calculé '
            'le 30/11/2026">RFM 2-4-5</span>') in badges
    assert 'title="Matrice ABC (chiffre d&#39;affaires) · calculé le 30/11/2026">Classe A' \
        in badges
    english = html("badges", profile, CTX_EN)
    assert "Recency 2, frequency 4, monetary 5" in english and "computed on 30 Nov 2026" \
        in english


def test_a_class_an_admin_set_says_so() -> None:
    profile = segmented()
    profile.status.abc_class, profile.status.abc_overridden = "A", True
    profile.status.classes_at = dt.datetime(2026, 11, 30, 4, tzinfo=dt.UTC)
    assert 'title="Matrice ABC : classe fixée par un administrateur">Classe A' in html(
        "badges", profile)
    assert 'title="ABC matrix: class set by an admin">Class A' in html("badges", profile, CTX_EN)
