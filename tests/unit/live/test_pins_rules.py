"""The pins' pure rules: which products a host may pin in an event, and not once it has ended."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from shopfest.core.errors import InvalidInput
from shopfest.live.model import EventStatus, LiveEvent, RoomClosed, Segment, SegmentKind, features, pin, unpin
from tests.conftest import FESTIVAL_EVE

SCARVES = Segment(SegmentKind.SHOWCASE, "Scarves", FESTIVAL_EVE, (101, 102))
SHOW = LiveEvent("Aurora Brand Night", "en", FESTIVAL_EVE, FESTIVAL_EVE + timedelta(minutes=90),
                 brand_ids=(7,), segments=(SCARVES,), id=1)


def test_a_host_pins_a_featured_product_or_any_of_the_events_brands() -> None:
    assert features(SHOW, product_id=101, brand_id=99)  # featured by a segment, whatever its brand
    assert features(SHOW, product_id=555, brand_id=7)  # the event's brand's
    assert not features(SHOW, product_id=555, brand_id=8)
    assert pin(SHOW, product_id=102, brand_id=99).pinned_product_id == 102
    with pytest.raises(InvalidInput):
        pin(SHOW, product_id=555, brand_id=8)


def test_nothing_is_pinned_or_unpinned_once_the_event_has_ended() -> None:
    ended = replace(SHOW, status=EventStatus.ENDED, pinned_product_id=101)
    with pytest.raises(RoomClosed):
        pin(ended, product_id=102, brand_id=7)
    with pytest.raises(RoomClosed):
        unpin(ended)
    assert unpin(replace(SHOW, pinned_product_id=101)).pinned_product_id is None
