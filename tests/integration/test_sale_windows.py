"""Festival prices only in the festival's sales: a promotion belongs to one sale phase, and the demo's
stack is on in each sale and not in the hours before it."""

from __future__ import annotations

import pytest

from shopfest.core.actor import MACHINE
from shopfest.core.clock import SetClock
from shopfest.core.errors import InvalidInput
from shopfest.demo import hot_item, seed_promotions
from shopfest.festival import service as festival
from shopfest.orders import service as orders
from shopfest.promotions import service as promotions
from shopfest.promotions.offers import Campaign, Period
from shopfest.runtime import Runtime
from tests.conftest import at

EVE_OF_THE_SALE = "2027-11-10T23:00:00+08:00"  # the wave-2 deposit window closed, 11.11 not yet open
IN_THE_SALE = "2027-11-11T00:30:00+08:00"
CROSS_STORE = {"every": "300.00", "off": "40.00"}


def test_the_demos_festival_prices_wait_for_the_sale(runtime: Runtime, clock: SetClock) -> None:
    # given the demo's promotions, and a phone at 5999.00 yuan
    clock.set(at(EVE_OF_THE_SALE))
    fest = festival.schedule_eleven_eleven(runtime.uow(), 2027)
    phone = hot_item(runtime, stock=5)
    seed_promotions(runtime, fest, [])
    # then on the eve of 11.11 it costs its list price
    eve = orders.quote_cart(runtime.uow(), [(phone.sku_id, 1)]).priced
    assert (eve.total, eve.applied) == (599900, ())
    # and once the sale opens the cross-store promotion takes 19 x 40.00 off
    clock.set(at(IN_THE_SALE))
    sale = orders.quote_cart(runtime.uow(), [(phone.sku_id, 1)]).priced
    assert sale.total == 599900 - 19 * 4000 and [a.kind for a in sale.applied] == ["cross_store"]


@pytest.mark.parametrize(("starts", "ends"), [
    (EVE_OF_THE_SALE, "2027-11-11T02:00:00+08:00"),  # opens before the sale
    ("2027-11-03T20:00:00+08:00", "2027-11-11T02:00:00+08:00"),  # spans the deposit window between
    ("2027-10-25T00:00:00+08:00", "2027-10-26T00:00:00+08:00"),  # inside a deposit window
])
def test_a_promotion_reaching_outside_a_sale_is_refused(runtime: Runtime, starts: str, ends: str) -> None:
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    with pytest.raises(InvalidInput, match="within one sale"):
        promotions.put_on_promotion(runtime.uow(), MACHINE, Campaign(
            "cross_store", None, "CNY", CROSS_STORE, Period(at(starts), at(ends))))
    assert promotions.promotions_of(runtime.uow(), None) == []


def test_a_promotion_within_a_sale_is_put_on(runtime: Runtime) -> None:
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    for starts, ends in [("2027-11-01T00:00:00+08:00", "2027-11-04T00:00:00+08:00"),
                         ("2027-11-11T00:00:00+08:00", "2027-11-11T02:00:00+08:00")]:
        promotions.put_on_promotion(runtime.uow(), MACHINE, Campaign(
            "cross_store", None, "CNY", CROSS_STORE, Period(at(starts), at(ends))))
    assert len(promotions.promotions_of(runtime.uow(), None)) == 2
