"""The demo ERP keeps what its customers agreed to, in its own words (`opt_in`, `opt_out` and
the day), and the demo manifest maps it into the record's `consent`: Pauline gave both
marketing consents when her account was opened; the others show every value."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

from connector.manifest import load_manifest
from connector.models import ConsentValue
from connector.sources.mapping import map_sections
from demo import generate as gen
from tests.conftest import MANIFEST


def customers(demo_data: Path) -> list[dict[str, Any]]:
    erp = json.loads((demo_data / "erp.json").read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = erp["customers"]
    return found


def mapped(customer: dict[str, Any], demo_data: Path) -> Any:
    """The customer's consent as the demo manifest's ERP mapping reads the ERP's answer."""
    manifest = load_manifest(MANIFEST, env={"CONNECTOR_DEMO_DIR": str(demo_data)})
    answer = {"customer": {"customers": [customer]}, "orders": {"orders": []}}
    result = map_sections(answer, manifest.sources["erp"], "erp")
    assert result.problems == []
    return result.sections["consent"]


def test_pauline_gave_her_marketing_consents_when_she_became_a_customer(
        demo_data: Path) -> None:
    pauline = next(c for c in customers(demo_data) if c["id"] == gen.SAMPLE_ID)
    consent = mapped(pauline, demo_data)
    assert (consent.email_marketing.value, consent.email_marketing.date) == (
        "given", dt.date(2014, 3, 12))
    assert (consent.sms.value, consent.sms.date) == ("given", dt.date(2014, 3, 12))
    assert consent.publish_reviews.value == "unknown"  # the ERP does not know: shown "?"


def test_the_generated_customers_show_every_value_each_dated(demo_data: Path) -> None:
    values: Counter[tuple[str, str]] = Counter()
    people = customers(demo_data)
    for customer in people[1:60]:
        consent = mapped(customer, demo_data)
        for kind in ("email_marketing", "sms", "publish_reviews"):
            entry = getattr(consent, kind)
            values[kind, entry.value] += 1
            since = dt.date.fromisoformat(customer["created_at"])
            assert entry.value == "unknown" or (entry.date is not None and entry.date >= since)
    for kind in ("email_marketing", "sms", "publish_reviews"):
        assert all(values[kind, value] for value in ConsentValue), (kind, values)
    subscribers = [c for c in people if "newsletter" in c["tags"]]
    assert subscribers and all(c["consents"]["newsletter"] == "opt_in" for c in subscribers)
