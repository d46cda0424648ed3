"""An offer not yet put on, tried on a sample cart: priced as checkout would price it when the offer
starts, with and without it, and nothing stored; only those who may put the offer on may preview it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock
from shopfest.core.errors import Forbidden, InvalidInput
from shopfest.demo import hot_item
from shopfest.festival import service as festival
from shopfest.orders.preview import preview_offer
from shopfest.promotions.offers import Campaign, CouponIssue, Period
from shopfest.promotions.store import promotions as promotions_table
from shopfest.runtime import Runtime
from tests.conftest import at

OPERATOR = Actor(1, Role.OPERATOR)


@pytest.fixture
def eleven_eleven(runtime: Runtime, clock: SetClock) -> Runtime:
    clock.set(at("2027-11-11T01:00:00+08:00"))
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    return runtime


def hour_from_now(runtime: Runtime) -> Period:
    now = runtime.clock.now()
    return Period(now + timedelta(hours=1), now + timedelta(hours=5))


def every_300_off_40(runtime: Runtime) -> Campaign:
    return Campaign("cross_store", None, "CNY", {"every": "300.00", "off": "40.00"}, hour_from_now(runtime))


def test_a_cross_store_promotion_shows_what_it_takes_off_when_it_starts(eleven_eleven: Runtime) -> None:
    # given a phone of 5999.00 and an operator's draft "every 300.00 off 40.00" starting in an hour
    phone = hot_item(eleven_eleven, stock=10)
    draft = every_300_off_40(eleven_eleven)

    # when the operator previews it on two phones
    preview = preview_offer(eleven_eleven.uow(), OPERATOR, sample=[(phone.sku_id, 2)], campaign=draft)

    # then 11998.00 holds 39 times 300.00: 1560.00 off, priced at the moment it starts
    assert preview.without.total == 1_199_800
    assert preview.saved == 156_000
    assert preview.at == draft.window.starts_at
    assert "promotion:0" in {a.source for a in preview.with_offer.applied}
    with eleven_eleven.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(promotions_table)).scalar_one() == 0


def test_a_store_coupon_is_tried_as_if_the_shopper_held_it(eleven_eleven: Runtime) -> None:
    phone = hot_item(eleven_eleven, stock=10)
    staff = Actor(2, Role.MERCHANT, phone.merchant_id)
    coupon = CouponIssue("store_coupon", None, "CNY", min_spend=500_000, off=30_000, quantity=100,
                         per_shopper_limit=1, window=hour_from_now(eleven_eleven))

    preview = preview_offer(eleven_eleven.uow(), staff, sample=[(phone.sku_id, 1)], coupon=coupon)

    assert preview.saved == 30_000
    assert preview.with_offer.total == 599_900 - 30_000


def test_merchant_staff_may_not_preview_the_platforms_offers(eleven_eleven: Runtime) -> None:
    phone = hot_item(eleven_eleven, stock=10)
    staff = Actor(2, Role.MERCHANT, phone.merchant_id)
    draft = every_300_off_40(eleven_eleven)
    with pytest.raises(Forbidden):
        preview_offer(eleven_eleven.uow(), staff, sample=[(phone.sku_id, 1)], campaign=draft)


def test_a_sample_of_unknown_skus_or_a_broken_rule_is_refused(eleven_eleven: Runtime) -> None:
    phone = hot_item(eleven_eleven, stock=10)
    draft = every_300_off_40(eleven_eleven)
    with pytest.raises(InvalidInput):
        preview_offer(eleven_eleven.uow(), OPERATOR, sample=[(999_999, 1)], campaign=draft)
    broken = Campaign("cross_store", None, "CNY", {"every": "-3"}, hour_from_now(eleven_eleven))
    with pytest.raises(InvalidInput):
        preview_offer(eleven_eleven.uow(), OPERATOR, sample=[(phone.sku_id, 1)], campaign=broken)
