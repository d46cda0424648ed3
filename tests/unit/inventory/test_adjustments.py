"""A merchant's intake and stock-take: units received go on hand; a count never goes below what is
promised (reserved and sold) and says why."""

from __future__ import annotations

import pytest

from shopfest.core.errors import InvalidInput
from shopfest.inventory.model import MAX_ON_HAND, CountBelowHeld, StockLevel, correction_change, intake_change

SHELF = StockLevel(7, on_hand=10, reserved=3, sold=2)


def test_units_received_go_on_hand() -> None:
    assert intake_change(SHELF, 5) == 5
    for units in (0, -1, MAX_ON_HAND):
        with pytest.raises(InvalidInput):
            intake_change(SHELF, units)


def test_a_count_sets_on_hand_but_never_below_what_is_reserved_and_sold() -> None:
    assert correction_change(SHELF, 5, "stock-take") == -5
    assert correction_change(SHELF, 14, "found a carton") == 4
    with pytest.raises(CountBelowHeld) as refused:
        correction_change(SHELF, 4, "stock-take")
    assert refused.value.data["least"] == 5


def test_a_count_says_why() -> None:
    for reason in ("", "   ", "x" * 201):
        with pytest.raises(InvalidInput):
            correction_change(SHELF, 8, reason)
