"""Coupons: put on within the festival, claimed into wallets under concurrency, never over-claimed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from shopfest.core.actor import Actor, Role
from shopfest.core.errors import DomainError, Forbidden, InvalidInput
from shopfest.festival import service as festival
from shopfest.promotions import service as promotions
from shopfest.promotions.offers import CouponIssue, GrantState, Period
from shopfest.runtime import Runtime

OPERATOR = Actor(1, Role.OPERATOR)


def platform_coupon(runtime: Runtime, *, quantity: int, per_shopper_limit: int = 1) -> CouponIssue:
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    now = runtime.clock.now()
    return promotions.put_on_coupon(runtime.uow(), OPERATOR, CouponIssue(
        "platform_coupon", None, "CNY", 30000, 3000, quantity, per_shopper_limit,
        Period(now - timedelta(hours=1), now + timedelta(hours=6))))


def claim(runtime: Runtime, shopper_id: int, coupon_id: int) -> str:
    try:
        promotions.claim_coupon(runtime.uow(), Actor(shopper_id, Role.SHOPPER), coupon_id)
    except DomainError as refusal:
        return refusal.code
    return "ok"


def test_concurrent_claims_never_exceed_the_quantity_or_a_shoppers_limit(runtime: Runtime) -> None:
    # given 25 coupons, at most 2 per shopper, and 30 shoppers each trying 4 times in a row, on 12 threads
    coupon = platform_coupon(runtime, quantity=25, per_shopper_limit=2)
    attempts = [100 + n // 4 for n in range(120)]
    with ThreadPoolExecutor(12) as pool:
        told = list(pool.map(lambda shopper: claim(runtime, shopper, coupon.id or 0), attempts))
    # then exactly 25 are claimed, nobody holds more than 2, and the others are told why
    assert told.count("ok") == 25
    assert set(told) == {"ok", "coupons-gone", "claim-limit-reached"}
    held = {s: len(promotions.wallet(runtime.uow(), Actor(s, Role.SHOPPER))) for s in set(attempts)}
    assert sum(held.values()) == 25 and max(held.values()) == 2
    assert promotions.coupon(runtime.uow(), coupon.id or 0).claimed == 25


def test_a_claim_lands_in_the_wallet_free_to_use(runtime: Runtime) -> None:
    coupon = platform_coupon(runtime, quantity=5)
    grant = promotions.claim_coupon(runtime.uow(), Actor(7, Role.SHOPPER), coupon.id or 0)
    [(held, what)] = promotions.wallet(runtime.uow(), Actor(7, Role.SHOPPER))
    assert held.id == grant.id and held.state is GrantState.CLAIMED and what.off == 3000
    assert claim(runtime, 7, coupon.id or 0) == "claim-limit-reached"
    assert claim(runtime, 8, 999_999) == "not-found"


def test_only_operators_put_on_platform_coupons_and_only_within_the_festival(runtime: Runtime) -> None:
    coupon = platform_coupon(runtime, quantity=5)
    staff = Actor(2, Role.MERCHANT, 1)
    with pytest.raises(Forbidden):
        promotions.put_on_coupon(runtime.uow(), staff, coupon)
    far = Period(coupon.window.starts_at + timedelta(days=400), coupon.window.ends_at + timedelta(days=400))
    with pytest.raises(InvalidInput, match="within"):
        promotions.put_on_coupon(runtime.uow(), OPERATOR, CouponIssue(
            "red_envelope", None, "CNY", 0, 500, 10, 1, far))
    with pytest.raises(InvalidInput, match="unknown kind"):
        promotions.put_on_coupon(runtime.uow(), OPERATOR, CouponIssue(
            "gift_card", None, "CNY", 0, 500, 10, 1, coupon.window))
