"""The in-memory hub: one order per room, history kept for resuming, and a gap when it is not."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from shopfest.live.hub import Gap, LocalHub, stamped


def test_a_frame_is_stamped_with_its_id_first() -> None:
    frame = orjson.loads(stamped("7", b'{"type":"chat","text":"hi"}'))
    assert frame == {"id": "7", "type": "chat", "text": "hi"}
    assert stamped("7", b'{"type":"chat"}').startswith('{"id":"7",')


def test_frames_reach_the_room_in_order_and_a_viewer_resumes_after_the_last_it_saw() -> None:
    async def story() -> None:
        hub, got = LocalHub(keep=3), []
        await hub.open(1, lambda frame_id, text: got.append(frame_id))
        for n in range(5):
            await hub.publish(1, {"type": "chat", "n": n})
        assert got == ["1", "2", "3", "4", "5"]
        assert [i for i, _ in await hub.history(1, after="3")] == ["4", "5"]
        assert [i for i, _ in await hub.history(1, after="2")] == ["3", "4", "5"]
        assert [i for i, _ in await hub.history(1, after=None)] == ["3", "4", "5"]
        for too_old_or_unknown in ("1", "6", "x", "-1"):
            with pytest.raises(Gap):
                await hub.history(1, after=too_old_or_unknown)
    asyncio.run(story())
