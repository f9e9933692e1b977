"""Labels an admin writes in the manifest, in both languages: sources, detail buttons and lines,
the coded values the sidebar names (`sidebar.values`); and detail values written by type."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connector.customer.details import DetailAnswer, DetailOffer
from connector.customer.timeline import TimelineEntry
from connector.manifest import ManifestError, load_manifest
from connector.models import CustomerProfile, Flag, Loyalty, Order, Status
from connector.sources.base import DetailField, DetailSpec
from connector.widgets.base import BlockSpec
from connector.widgets.details import detail_buttons, read_at, shown_fields, written
from connector.widgets.page import BLOCKS
from connector.widgets.timeline import entry_view
from tests.widgets.test_blocks import CTX_EN, CTX_FR

MANIFEST = """\
version: 1
sources:
  erp:
    type: rest
    base_url: https://erp.example.com
    label: {fr: Caisses magasins, en: Store tills}
    requests: [{name: c, path: /c, params: {email: "{email}"}}]
    sections: {identity: {path: c, fields: {last_name: name}}}
    details:
      tracking:
        label: {fr: Suivi du colis, en: Parcel tracking}
        of: orders
        key: number
        request: {name: t, path: "/t/{key}"}
        fields:
          Transporteur: carrier
          updated: {path: updated, label: {fr: Mis à jour, en: Updated}, format: date}
"""

VALUES = """\
sidebar:
  values:
    loyalty.tier: {Or: {fr: Or, en: Gold}, Argent: Argent}
    orders.status: {en_attente: {fr: En attente, en: Pending}}
"""

UNKNOWN_FIELD = """\
sidebar:
  values:
    loyalty.tiers: {Or: {fr: Or, en: Gold}}
"""
UNKNOWN_LANGUAGE = """\
sidebar:
  values:
    orders.status: {x: {de: Warten}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_labels_take_a_text_per_language_or_one_for_both(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, MANIFEST + VALUES), env={})
    erp = manifest.sources["erp"]
    assert (erp.label_in("fr"), erp.label_in("en")) == ("Caisses magasins", "Store tills")
    spec = erp.details["tracking"]  # type: ignore[attr-defined]
    assert spec.label == {"fr": "Suivi du colis", "en": "Parcel tracking"}
    assert spec.fields["Transporteur"] == DetailField(path="carrier")  # the shorthand
    assert manifest.sidebar.values["loyalty.tier"] == {
        "or": {"fr": "Or", "en": "Gold"}, "argent": {"fr": "Argent", "en": "Argent"}}


def test_value_maps_are_checked_with_their_paths(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest(write(tmp_path, MANIFEST + UNKNOWN_FIELD), env={})
    assert caught.value.errors == [
        "sidebar.values: 'loyalty.tiers' has no coded values to name: give one of "
        "loyalty.tier, orders.status, contacts.status, status.segment, status.tags"]
    with pytest.raises(ManifestError) as caught:
        load_manifest(write(tmp_path, MANIFEST + UNKNOWN_LANGUAGE), env={})
    assert caught.value.errors == [
        "sidebar.values.orders.status.x: give a text, or a text per language (fr, en), "
        'e.g. {fr: "Pointure", en: "Shoe size"}']


def test_tiers_and_statuses_are_named_in_the_page_language() -> None:
    labels = {"loyalty.tier": {"or": {"fr": "Or", "en": "Gold"}},
              "orders.status": {"en_attente": {"fr": "En attente", "en": "Pending"}}}
    profile = CustomerProfile(customer_id="c1", loyalty=Loyalty(card="1", tier="Or"),
                              orders=[Order(number="1", status="en_attente",
                                            total=Decimal(10), date=dt.date(2024, 1, 2))])
    for ctx, tier, status in ((CTX_EN, "Gold", "Pending"), (CTX_FR, "Or", "En attente")):
        ctx = replace(ctx, value_labels=labels)
        assert f">{tier}<" in BLOCKS["loyalty"].render(profile, BlockSpec("loyalty"), ctx)
        assert f">{status}<" in BLOCKS["orders"].render(profile, BlockSpec("orders"), ctx)
    plain = BLOCKS["loyalty"].render(profile, BlockSpec("loyalty"), CTX_EN)
    assert ">Or<" in plain  # not named by the manifest: as the source wrote it


def test_detail_buttons_in_the_page_language() -> None:
    offers = {"orders": (DetailOffer("erp", "tracking",
                                     {"fr": "Suivi du colis", "en": "Parcel tracking"},
                                     "number"),)}
    order = Order(number="997890", source="erp")
    ctx = replace(CTX_EN, details=offers, detail_url="/d/{source}/{detail}?key=")
    assert [b.label for b in detail_buttons("orders", order, "o", ctx)] == ["Parcel tracking"]


def test_detail_lines_are_labelled_and_written_by_type() -> None:
    spec = DetailSpec(label={"fr": "Suivi", "en": "Tracking"}, fields={
        "carrier": DetailField(path="c", label={"fr": "Transporteur", "en": "Carrier"}),
        "updated": DetailField(path="u", label={"fr": "Mis à jour", "en": "Updated"}),
        "points": DetailField(path="p"),
        "tracking": DetailField(path="t", label={"fr": "N° de suivi", "en": "Tracking no."},
                                format="text"),
        "paid": DetailField(path="m", format="money"),
    })
    answer = DetailAnswer("erp", "tracking", "1", spec.label or {}, {
        "carrier": "Colissimo", "updated": "2017-08-14", "points": 1240, "tracking": "12345",
        "paid": "45.9"}, dt.datetime(2024, 3, 1, 12, 5, tzinfo=dt.UTC), False, spec)
    assert shown_fields(answer, "en", "EUR", "Europe/Paris") == {
        "Carrier": "Colissimo", "Updated": "14 Aug 2017", "points": "1,240",
        "Tracking no.": "12345", "paid": "€45.90"}
    assert shown_fields(answer, "fr", "EUR", "Europe/Paris")["Mis à jour"] == "14/08/2017"
    assert read_at(answer, "Europe/Paris") == "13:05"  # the brand's zone, not the browser's


def test_a_moment_is_written_in_the_brand_zone_and_odd_values_as_read() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert written("2024-03-01T11:00:00Z", None, "fr", "EUR", paris) == "01/03/2024 12:00"
    assert written("2024-03-01 11:00", None, "en", "EUR", paris) == "1 Mar 2024 11:00"
    assert written("not a date", DetailField(path="x", format="date"), "fr", "EUR",
                   paris) == "not a date"
    assert written(None, None, "fr", "EUR", paris) is None
    assert written(True, None, "fr", "EUR", paris) == "True"


def test_requests_orders_and_store_visits_in_the_timeline_take_their_names() -> None:
    names = {"contacts.status": {"en_cours": {"fr": "En cours", "en": "In progress"}},
             "orders.status": {"en_attente": {"fr": "En attente", "en": "Pending"}}}
    ctx = replace(CTX_EN, value_labels=names)
    entries = {"request": "en_cours", "order": "en_attente", "store_visit": "delivered",
               "agenda": "planned"}
    shown = {kind: entry_view(TimelineEntry(id=kind, kind=kind, status=status), ctx).status
             for kind, status in entries.items()}
    assert shown == {"request": "In progress", "order": "Pending", "store_visit": "Delivered",
                     "agenda": "Planned"}
    french = replace(CTX_FR, value_labels=names)
    assert entry_view(TimelineEntry(id="r", kind="request", status="en_cours"),
                      french).status == "En cours"
    assert entry_view(TimelineEntry(id="r", kind="request", status="resolved"),
                      french).status == "Résolue"
    assert entry_view(TimelineEntry(id="r", kind="request", status="escaladée"),
                      ctx).status == "escaladée"  # named by no one: as written


def test_a_coded_detail_value_is_named_by_its_field() -> None:
    spec = DetailSpec(fields={
        "tier": DetailField(path="t", label={"fr": "Palier", "en": "Tier"},
                            values="loyalty.tier"),
        "parcel": DetailField(path="p", label={"fr": "Colis", "en": "Parcel"},
                              values="orders.status"),
        "order": DetailField(path="o", values="orders.status"),
        "raw": DetailField(path="r"),
    })
    names = {"loyalty.tier": {"or": {"fr": "Or", "en": "Gold"}},
             "orders.status": {"livré": {"fr": "Livré", "en": "Delivered"}}}
    answer = DetailAnswer("loyalty", "balance", "1", {"fr": "Solde", "en": "Balance"},
                          {"tier": "Or", "parcel": "Livré", "order": "returned", "raw": "Or"},
                          dt.datetime(2024, 3, 1, 12, 5, tzinfo=dt.UTC), False, spec, names)
    assert shown_fields(answer, "en", "EUR", "Europe/Paris") == {
        "Tier": "Gold", "Parcel": "Delivered", "order": "Returned", "raw": "Or"}
    assert shown_fields(answer, "fr", "EUR", "Europe/Paris") == {
        "Palier": "Or", "Colis": "Livré", "order": "Retournée", "raw": "Or"}


SEGMENTS_AND_TAGS = {
    "status.segment": {"professionnel": {"fr": "Professionnel", "en": "Professional"},
                       "vip": {"fr": "VIP", "en": "Key customer"}},
    "status.tags": {"litige": {"fr": "litige", "en": "dispute"}},
}


def test_the_segment_and_tags_are_named_in_the_page_language() -> None:
    profile = CustomerProfile(customer_id="c1", status=Status(segment="Professionnel",
                                                              tags=["Litige", "b2b", " "]))
    for ctx, segment, tag in ((CTX_EN, "Professional", "dispute"),
                              (CTX_FR, "Professionnel", "litige")):
        ctx = replace(ctx, value_labels=SEGMENTS_AND_TAGS)
        badges = BLOCKS["badges"].render(profile, BlockSpec("badges"), ctx)
        assert badges is not None
        assert "badge--segment" in badges and f">{segment}<" in badges
        assert f">{tag}<" in badges and ">b2b<" in badges  # b2b: named by no one, as written
        summary = BLOCKS["summary"].render(profile, BlockSpec("summary"), ctx)
        assert summary is not None and f">{segment}<" in summary and f">{tag}<" in summary
    english = BLOCKS["badges"].render(profile, BlockSpec("badges"),
                                      replace(CTX_EN, value_labels=SEGMENTS_AND_TAGS))
    assert english is not None and "Professionnel" not in english and "itige" not in english
    unnamed = BLOCKS["badges"].render(profile, BlockSpec("badges"), CTX_EN)
    assert unnamed is not None and ">Professionnel<" in unnamed and ">Litige<" in unnamed


def test_the_vip_segment_stands_out_by_its_written_value_whatever_its_name() -> None:
    profile = CustomerProfile(customer_id="c1", status=Status(segment="VIP"))
    ctx = replace(CTX_EN, value_labels=SEGMENTS_AND_TAGS)
    badges = BLOCKS["badges"].render(profile, BlockSpec("badges"), ctx)
    assert badges is not None and "tone--vip" in badges and "Key customer</span>" in badges
    assert profile.status.segment == "VIP"  # the record (and the flag rules) keep the raw value
    profile.status.segment = "Professionnel"
    assert "tone--vip" not in (BLOCKS["badges"].render(profile, BlockSpec("badges"), ctx) or "")


def test_a_named_tag_the_ambassador_flag_says_already_is_shown_once() -> None:
    names = {"status.tags": {"ambassadeur": {"fr": "ambassadeur", "en": "ambassador"}}}
    profile = CustomerProfile(customer_id="c1", status=Status(tags=["ambassadeur"]),
                              flags=[Flag(key="ambassador", label="Ambassador", icon="heart",
                                          reason="Ambassador")])
    badges = BLOCKS["badges"].render(profile, BlockSpec("badges"),
                                     replace(CTX_EN, value_labels=names))
    assert badges is not None and badges.casefold().count(">ambassador<") == 1
