"""The live room's core, through real WebSocket clients: the welcome, resuming, bad frames."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shopfest.app import create_app
from shopfest.core.actor import Role
from shopfest.runtime import Runtime
from tests.integration.live_helpers import Viewer, account, an_event, http, served

# The room's rules do not depend on the database: checkout and coupons are raced on PostgreSQL elsewhere.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def room(runtime: Runtime) -> Iterator[tuple[str, int, str]]:
    _, ops = account(runtime, "ops@festival.test", role=Role.OPERATOR)
    event = an_event(runtime)
    assert event.id is not None
    with served(create_app(runtime=runtime)) as address:
        yield address, event.id, ops


def test_an_anonymous_viewer_is_welcomed_as_a_viewer_with_the_event(room: tuple[str, int, str]) -> None:
    address, event_id, _ = room
    viewer = Viewer(address, event_id)
    assert viewer.welcome["you"]["role"] == "viewer"
    assert viewer.welcome["event"]["id"] == event_id
    viewer.send({"type": "ping", "ref": "p1"})
    assert viewer.wait_for("pong")["ref"] == "p1"
    viewer.close()


def test_bad_frames_get_error_frames_and_the_room_goes_on(room: tuple[str, int, str]) -> None:
    address, event_id, _ = room
    viewer = Viewer(address, event_id)
    viewer.ws.send("{not json")
    assert viewer.wait_for("error")["code"] == "malformed-frame"
    viewer.send({"type": "teleport"})
    assert viewer.wait_for("error")["code"] == "unknown-type"
    viewer.send({"type": "ping", "pad": "x" * 5000})
    assert viewer.wait_for("error")["code"] == "frame-too-large"
    viewer.send({"type": "ping", "ref": 7})
    assert viewer.wait_for("pong")["ref"] == 7
    viewer.close()


def test_a_viewer_resumes_after_the_last_frame_it_saw(room: tuple[str, int, str]) -> None:
    address, event_id, ops = room
    first = Viewer(address, event_id)
    with http(address, ops) as client:
        assert client.post(f"/api/v1/live/events/{event_id}/start").status_code == 200
        went_live = first.wait_for("status")
        first.close()
        assert client.post(f"/api/v1/live/events/{event_id}/end").status_code == 200
    again = Viewer(address, event_id, after=went_live["id"])
    assert again.welcome["resumed"] is True
    assert again.wait_for("status")["status"] == "ended"


def test_no_such_event_is_an_error_frame_then_closed(room: tuple[str, int, str]) -> None:
    address, event_id, _ = room
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    with connect(f"ws://{address}/api/v1/live/events/{event_id + 999}/ws") as ws:
        import json
        assert json.loads(ws.recv(timeout=5))[0]["code"] == "not-found"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
