"""Where a coupon sits in the shopper's wallet: held and spent by what its order did, a free one by
how soon its window closes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopfest.core.clock import parse_instant
from shopfest.promotions.offers import CouponIssue, Grant, GrantState, Period, WalletShelf, shelf_of

MIDNIGHT = parse_instant("2027-11-11T00:00:00+08:00")


def envelope(hours_left: float) -> CouponIssue:
    return CouponIssue("red_envelope", None, "CNY", 0, 1111, 100, 1,
                       Period(MIDNIGHT - timedelta(days=1), MIDNIGHT + timedelta(hours=hours_left)), id=7)


def grant(state: GrantState) -> Grant:
    return Grant(7, 42, state, MIDNIGHT - timedelta(hours=1), None if state is GrantState.CLAIMED else 9)


@pytest.mark.parametrize(("hours_left", "shelf"), [
    (48, WalletShelf.FREE),
    (24.01, WalletShelf.FREE),
    (24, WalletShelf.EXPIRING),  # the rule: its window closes within 24 hours
    (0.5, WalletShelf.EXPIRING),
    (0, WalletShelf.EXPIRED),
    (-3, WalletShelf.EXPIRED),
])
def test_a_free_coupon_is_shelved_by_how_soon_its_window_closes(hours_left: float,
                                                                 shelf: WalletShelf) -> None:
    assert shelf_of(grant(GrantState.CLAIMED), envelope(hours_left), now=MIDNIGHT) is shelf


@pytest.mark.parametrize("hours_left", [48, 1, -3])
def test_held_and_spent_coupons_stay_on_their_shelves_whatever_their_window(hours_left: float) -> None:
    assert shelf_of(grant(GrantState.HELD), envelope(hours_left), now=MIDNIGHT) is WalletShelf.HELD
    assert shelf_of(grant(GrantState.SPENT), envelope(hours_left), now=MIDNIGHT) is WalletShelf.SPENT
