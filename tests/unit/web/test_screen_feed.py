"""The screen feed: however many screens watch, the figures are loaded once per change, every screen
gets each load, a slow screen skips to the newest instead of holding anyone up, and closing the feed
ends every screen's stream."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from shopfest.core.rates import Busy
from shopfest.core.uow import UnitOfWork
from shopfest.web.screen_feed import RETRY_SCREEN_SECONDS, ScreenFeed, Watcher

BOUND_S = 5.0  # a bound on each wait, not a speed


class Figures:
    """Figures moved by hand, counting how often they are loaded."""

    def __init__(self) -> None:
        self.version = 1
        self.loads = 0

    def version_of(self, uow: UnitOfWork) -> int:
        return self.version

    def load(self, uow: UnitOfWork) -> dict[str, Any]:
        self.loads += 1
        return {"version": self.version, "gmv_minor": 100 * self.version}


async def versions(screens: list[Watcher]) -> set[int | None]:
    taken = await asyncio.wait_for(asyncio.gather(*(s.next() for s in screens)), BOUND_S)
    return {None if snapshot is None else snapshot.version for snapshot in taken}


async def watch_a_festival() -> None:
    figures = Figures()
    # a refresh period longer than the test: every load here is a change
    feed = ScreenFeed(lambda: cast(UnitOfWork, None), poll=0.01, refresh=600,
                      version=figures.version_of, figures=figures.load)
    loop = asyncio.get_running_loop()
    slow, *screens = [feed.watch(loop) for _ in range(200)]
    assert await versions(screens) == {1}
    for version in (2, 3):
        figures.version = version
        assert await versions(screens) == {version}
    # the slow screen took nothing so far: it gets the newest figures, not the ones it missed
    assert await versions([slow]) == {3}
    assert figures.loads == 3
    late = feed.watch(loop)  # a screen joining gets the figures at once, without another load
    assert await versions([late]) == {3} and figures.loads == 3
    await asyncio.to_thread(feed.close)
    assert await versions([slow, *screens, late]) == {None}


def test_two_hundred_screens_cost_one_load_per_change_and_a_slow_one_skips_to_the_newest() -> None:
    asyncio.run(watch_a_festival())


async def watch_a_full_room() -> None:
    figures = Figures()
    feed = ScreenFeed(lambda: cast(UnitOfWork, None), poll=0.01, refresh=600,
                      version=figures.version_of, figures=figures.load, most=2)
    loop = asyncio.get_running_loop()
    first, second = feed.watch(loop), feed.watch(loop)
    for refused in (feed.require_room, lambda: feed.watch(loop)):
        with pytest.raises(Busy) as busy:
            refused()
        assert busy.value.data["retry_after"] == RETRY_SCREEN_SECONDS
    feed.leave(first)  # a screen that goes makes room for the next
    assert await versions([second, feed.watch(loop)]) == {1}
    await asyncio.to_thread(feed.close)


def test_a_server_feeds_so_many_screens_and_refuses_the_next_until_one_leaves() -> None:
    asyncio.run(watch_a_full_room())
