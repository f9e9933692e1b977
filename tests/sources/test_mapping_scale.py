"""`scale` on a mapped field: amounts an API gives in minor units (cents) read as money."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector.sources.base import SourceConfig
from connector.sources.mapping import map_sections


def config(total: Any) -> SourceConfig:
    return SourceConfig.model_validate({
        "type": "rest",
        "sections": {"orders": {"items": "orders", "fields": {"number": "id", "total": total}}},
    })


@pytest.mark.parametrize(("amount", "scale", "expected"), [
    (4595, -2, Decimal("45.95")),          # cents, as Square and Stripe write them
    ("4595", -2, Decimal("45.95")),
    (1200, 0, Decimal("1200")),            # yen have no minor unit
    (12345, -3, Decimal("12.345")),        # three-decimal currencies (KWD, BHD)
    ("1,5", 3, Decimal("1500")),           # the source's decimal comma is still honoured
])
def test_scale_moves_the_decimal_point(amount: Any, scale: int, expected: Decimal) -> None:
    source = config({"path": "amount", "scale": scale})
    comma = source.model_copy(update={"decimal_comma": True})
    mapped = map_sections({"orders": [{"id": "A", "amount": amount}]}, comma, "pos")
    assert mapped.sections["orders"][0].total == expected
    assert mapped.dropped == 0


def test_a_value_that_is_not_a_number_is_dropped_not_the_item() -> None:
    mapped = map_sections({"orders": [{"id": "A", "amount": "n/a"}, {"id": "B"}]},
                          config({"path": "amount", "scale": -2}), "pos")
    assert [(o.number, o.total) for o in mapped.sections["orders"]] == [("A", None), ("B", None)]
    assert mapped.dropped == 1


def test_scale_is_bounded_and_defaults_to_none() -> None:
    assert config("amount").sections["orders"].fields["total"].scale == 0
    with pytest.raises(ValueError, match="scale"):
        config({"path": "amount", "scale": 40})
