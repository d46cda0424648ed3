"""The rules of the room's live coupons and deals: what a host's drop may cover, and how its numbers
and amounts are read from a command frame."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shopfest.core.actor import Actor, Role
from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money
from shopfest.live.model import (
    DROP_SECONDS,
    EventStatus,
    LiveEvent,
    NotAllowedHere,
    RoomClosed,
    Segment,
    SegmentKind,
    amount_in,
    count_in,
    host_skus,
)

NOV_10 = datetime(2027, 11, 10, 15, 0, tzinfo=UTC)
HOST = Actor(7, Role.MERCHANT, merchant_id=70)
RIVAL = Actor(8, Role.MERCHANT, merchant_id=80)
SHOW = LiveEvent("Global Brands Night", "en", NOV_10, NOV_10 + timedelta(minutes=90), host_ids=(7, 8),
                 segments=(Segment(SegmentKind.SHOWCASE, "Scarves", NOV_10, (1, 2)),), id=5)
# product: (merchant, its SKUs); product 3 is the host's store's but not on the show
OFFERED = {1: (70, [11, 12]), 2: (90, [21]), 3: (70, [31])}


def test_a_drop_covers_the_shows_products_of_the_hosts_store_only() -> None:
    assert host_skus(SHOW, HOST, OFFERED) == (70, (11, 12))


@pytest.mark.parametrize("who", [None, Actor(9, Role.SHOPPER), Actor(1, Role.OPERATOR), RIVAL])
def test_anyone_but_a_host_selling_on_the_show_is_not_allowed(who: Actor | None) -> None:
    with pytest.raises(NotAllowedHere):
        host_skus(SHOW, who, OFFERED)


def test_an_ended_show_takes_no_more_drops() -> None:
    with pytest.raises(RoomClosed):
        host_skus(replace(SHOW, status=EventStatus.ENDED), HOST, OFFERED)


def test_numbers_are_whole_and_within_their_range() -> None:
    assert count_in({"seconds": 10}, "seconds", within=DROP_SECONDS) == 10
    assert count_in({}, "countdown", within=(0, 600), default=0) == 0
    for bad in [9, 3_601, 60.0, "60", True, None]:
        with pytest.raises(InvalidInput) as refused:
            count_in({"seconds": bad}, "seconds", within=DROP_SECONDS)
        assert refused.value.data["field"] == "seconds"


def test_amounts_are_text_in_the_currency_within_bounds() -> None:
    assert amount_in({"off": "20"}, "off", "CNY", above_zero=True) == Money(2_000, "CNY")
    assert amount_in({"min_spend": "0.00"}, "min_spend", "CNY") == Money(0, "CNY")
    for bad in ["0.00", "-5.00", "20.001", "twenty", 20, "99999999.00", "1" * 30]:
        with pytest.raises(InvalidInput) as refused:
            amount_in({"off": bad}, "off", "CNY", above_zero=True)
        assert refused.value.data["field"] == "off"
