"""The room's chat, moderation, reactions and presence through real WebSocket clients, on one served
app over SQLite (the database's dialect does not matter here; the stores are tested on both)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from shopfest.app import create_app, make_runtime
from shopfest.core.actor import MACHINE
from shopfest.core.clock import SetClock
from shopfest.live import service as live
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.conftest import FESTIVAL_EVE
from tests.integration.live_helpers import WAIT_S, Viewer, a_moderated_event, served, sign_up

PEOPLE = ("ops", "host", "mod", "alice", "bob", "carol", "陈晨")


@dataclass
class Stage:
    """One served app, its people signed in (token and user id by name), and a fresh event per test."""

    address: str
    runtime: Runtime
    tokens: dict[str, str]
    ids: dict[str, int]

    def event(self) -> int:
        return a_moderated_event(self.runtime, host_id=self.ids["host"], moderator_id=self.ids["mod"])

    def viewer(self, event_id: int, who: str | None = None, **kwargs: Any) -> Viewer:
        return Viewer(self.address, event_id, token=self.tokens[who] if who else None, **kwargs)


@pytest.fixture(scope="module")
def stage(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    path = tmp_path_factory.mktemp("chat") / "shop.db"
    shutil.copy(sqlite_template, path)
    runtime = make_runtime(Settings(database_url=f"sqlite:///{path}", pool_size=4,
                                    live_banned_words="knockoff, 假货"),
                           clock=SetClock(FESTIVAL_EVE, speed=0))
    tokens, ids = sign_up(runtime, PEOPLE, operators=("ops",))
    with served(create_app(runtime=runtime)) as address:
        yield Stage(address, runtime, tokens, ids)
    runtime.engine.dispose()


def closed_with(viewer: Viewer) -> int:
    """The close code of a viewer the server disconnects, the frames before it read and passed by."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            viewer.read()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def refused_at_the_door(stage: Stage, event_id: int, who: str) -> tuple[str, int]:
    """The error code and close code of a viewer the room does not let in."""
    with connect(f"ws://{stage.address}/api/v1/live/events/{event_id}/ws",
                 additional_headers={"Authorization": f"Bearer {stage.tokens[who]}"}) as ws:
        code = json.loads(ws.recv(timeout=WAIT_S))[0]["code"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT_S)
    assert closed.value.rcvd is not None
    return code, closed.value.rcvd.code


def error_to(viewer: Viewer, frame: dict[str, Any]) -> dict[str, Any]:
    viewer.send({**frame, "ref": "r"})
    return viewer.wait_for("error", where=lambda f: f.get("ref") == "r")


def test_shoppers_chat_in_english_and_chinese_and_bad_messages_are_refused(stage: Stage) -> None:
    event_id = stage.event()
    watcher = stage.viewer(event_id)
    alice, chen = stage.viewer(event_id, "alice"), stage.viewer(event_id, "陈晨")
    assert error_to(watcher, {"type": "chat", "text": "hello"})["code"] == "unauthenticated"
    alice.send({"type": "chat", "text": "  Hello from London!  "})
    chen.send({"type": "chat", "text": "大家好，这条围巾真好看"})
    english = watcher.wait_for("chat")
    chinese = watcher.wait_for("chat")
    assert english["text"] == "Hello from London!" and english["author"] == {
        "id": stage.ids["alice"], "name": "ali***", "role": "shopper"}
    assert chinese["text"] == "大家好，这条围巾真好看" and chinese["author"]["name"] == "陈晨***"
    assert english["message_id"] < chinese["message_id"] and english["at"].endswith("Z")
    assert english["offset_ms"] == 0  # the festival clock stands still in this test
    for text, code in [(5, "chat-refused"), ("   ", "chat-refused"), ("x" * 201, "message-too-long"),
                       ("what a ＳＣＡＭ", "banned-words"), ("你是骗子吧", "banned-words"),
                       ("a Knockoff bag", "banned-words"), ("这是假货", "banned-words"),
                       ("bell\x07", "chat-refused")]:
        assert error_to(alice, {"type": "chat", "text": text})["code"] == code, text
    alice.send({"type": "chat", "text": "好" * 200})
    assert watcher.wait_for("chat")["text"] == "好" * 200
    newcomer = stage.viewer(event_id, "host")
    assert [m["text"] for m in newcomer.welcome["chat"]] == [
        "Hello from London!", "大家好，这条围巾真好看", "好" * 200]
    assert newcomer.welcome["you"]["name"] == "hos*** (host)" and newcomer.welcome["reactions"] == {}
    for viewer in (watcher, alice, chen, newcomer):
        viewer.close()


def test_the_chat_limit_per_account_slow_mode_and_an_ended_room(stage: Stage) -> None:
    event_id = stage.event()
    watcher, bob, bob_again = (stage.viewer(event_id), stage.viewer(event_id, "bob"),
                               stage.viewer(event_id, "bob"))
    for n in range(5):
        bob.send({"type": "chat", "text": f"deal {n}"})
        watcher.wait_for("chat", where=lambda f, n=n: f["text"] == f"deal {n}")
    too_many = error_to(bob, {"type": "chat", "text": "deal 5"})
    assert too_many["code"] == "slow-down" and 1 <= too_many["retry_after"] <= 10
    assert error_to(bob_again, {"type": "chat", "text": "from my phone"})["code"] == "slow-down"

    host, mod, carol = (stage.viewer(event_id, who) for who in ("host", "mod", "carol"))
    assert error_to(carol, {"type": "slow_mode", "seconds": 30})["code"] == "not-allowed"
    for wrong in (601, -1, "30", True):
        assert error_to(host, {"type": "slow_mode", "seconds": wrong})["code"] == "invalid-input"
    host.send({"type": "slow_mode", "seconds": 30})
    assert watcher.wait_for("slow_mode")["seconds"] == 30
    assert {"type": "slow_mode", "seconds": 30}.items() <= stage.viewer(event_id).welcome["state"][-1].items()
    carol.send({"type": "chat", "text": "first"})
    watcher.wait_for("chat", where=lambda f: f["text"] == "first")
    slowed = error_to(carol, {"type": "chat", "text": "second"})
    assert slowed["code"] == "slow-down" and 29 <= slowed["retry_after"] <= 30
    for text in ("moderators are", "exempt"):  # from slow mode
        mod.send({"type": "chat", "text": text})
        assert watcher.wait_for("chat")["author"]["role"] == "moderator"

    live.go_live(stage.runtime.uow(), MACHINE, event_id)
    live.end_event(stage.runtime.uow(), MACHINE, event_id)
    assert error_to(mod, {"type": "chat", "text": "bye"})["code"] == "room-closed"
    for viewer in (watcher, bob, bob_again, host, mod, carol):
        viewer.close()


def test_moderators_hide_mute_and_ban_and_a_ban_disconnects_and_keeps_out(stage: Stage) -> None:
    event_id = stage.event()
    watcher, mod, bob = stage.viewer(event_id), stage.viewer(event_id, "mod"), stage.viewer(event_id, "bob")
    alice, alice_again = stage.viewer(event_id, "alice"), stage.viewer(event_id, "alice")
    alice.send({"type": "chat", "text": "buy followers at my site"})
    spam = watcher.wait_for("chat")["message_id"]
    alice.send({"type": "chat", "text": "really"})
    again = watcher.wait_for("chat")["message_id"]
    bob.send({"type": "chat", "text": "nice scarf"})
    nice = watcher.wait_for("chat")["message_id"]

    assert error_to(bob, {"type": "hide", "message_id": spam})["code"] == "not-allowed"
    assert error_to(bob, {"type": "ban", "user_id": stage.ids["alice"]})["code"] == "not-allowed"
    assert error_to(mod, {"type": "hide", "message_id": 10**9})["code"] == "not-found"
    assert error_to(mod, {"type": "hide", "message_id": "1"})["code"] == "invalid-input"
    mod.send({"type": "hide", "message_id": spam})
    assert watcher.wait_for("hidden")["message_ids"] == [spam]
    assert [m["message_id"] for m in stage.viewer(event_id).welcome["chat"]] == [again, nice]

    never = {"type": "mute", "user_id": stage.ids["bob"], "seconds": 0}
    assert error_to(mod, never)["code"] == "invalid-input"
    mod.send({"type": "mute", "user_id": stage.ids["bob"], "seconds": 60})
    muted = watcher.wait_for("muted")
    assert muted["user_id"] == stage.ids["bob"] and muted["until"].endswith("Z")
    refusal = error_to(bob, {"type": "chat", "text": "why"})
    assert refusal["code"] == "muted" and refusal["until"] == muted["until"]

    for untouchable in ("host", "ops"):
        assert error_to(mod, {"type": "ban", "user_id": stage.ids[untouchable]})["code"] == "not-allowed"
    assert error_to(mod, {"type": "ban", "user_id": 10**9})["code"] == "not-found"
    mod.send({"type": "ban", "user_id": stage.ids["alice"]})
    assert watcher.wait_for("hidden")["message_ids"] == [again]
    assert watcher.wait_for("banned")["user_id"] == stage.ids["alice"]
    for socket_of_alice in (alice, alice_again):
        assert socket_of_alice.wait_for("error", where=lambda f: f["code"] == "banned")
        assert closed_with(socket_of_alice) == 4003
    assert refused_at_the_door(stage, event_id, "alice") == ("banned", 4003)
    assert live.is_banned(stage.runtime.uow(), event_id, stage.ids["alice"])
    assert not live.is_banned(stage.runtime.uow(), event_id, stage.ids["bob"])
    assert [m["message_id"] for m in stage.viewer(event_id).welcome["chat"]] == [nice]
    operator = stage.viewer(event_id, "ops")  # operators moderate every room, listed or not
    assert operator.welcome["you"] == {"role": "moderator", "user_id": stage.ids["ops"],
                                       "name": "ops*** (operator)"}
    operator.send({"type": "hide", "message_id": nice})
    assert watcher.wait_for("hidden")["message_ids"] == [nice]
    operator.close()
    for viewer in (watcher, mod, bob):
        viewer.close()


def test_reactions_are_counted_and_sent_as_totals_and_the_count_follows_viewers(stage: Stage) -> None:
    event_id = stage.event()
    watcher, tapper, bob = stage.viewer(event_id), stage.viewer(event_id), stage.viewer(event_id, "bob")
    assert watcher.wait_for("viewers", where=lambda f: f["count"] == 3)
    assert error_to(tapper, {"type": "react", "kind": "kiss"})["code"] == "invalid-input"
    for _ in range(25):  # anonymous viewers react too; past 20 a second a socket's taps are not counted
        tapper.send({"type": "react", "kind": "heart"})
    bob.send({"type": "react", "kind": "like"})
    bob.send({"type": "react", "kind": "like"})
    frames = [watcher.wait_for("reactions")]
    while frames[-1]["totals"].get("like", 0) < 2 or sum(frames[-1]["totals"].values()) < 22:
        frames.append(watcher.wait_for("reactions"))
    totals = frames[-1]["totals"]
    assert 20 <= totals["heart"] <= 25 and totals["like"] == 2 and len(frames) <= 3  # not a frame a tap
    assert sum(sum(f["counts"].values()) for f in frames) == sum(totals.values())
    assert stage.viewer(event_id).welcome["reactions"] == totals
    bob.close()
    assert watcher.wait_for("viewers", where=lambda f: f["count"] == 3)  # bob gone, the newcomer in
    tapper.close()
    assert watcher.wait_for("viewers", where=lambda f: f["count"] == 2)
    watcher.close()


def test_a_flood_from_one_socket_is_refused_then_closed_while_the_room_chats_on(stage: Stage) -> None:
    event_id = stage.event()
    watcher, carol, flooder = stage.viewer(event_id), stage.viewer(event_id, "carol"), stage.viewer(event_id)
    for n in range(40):  # 30 at once pass, the next are refused
        flooder.ws.send(json.dumps({"type": "ping", "ref": n}))
    assert flooder.wait_for("error")["code"] == "flood"
    with contextlib.suppress(ConnectionClosed):  # refused 100 in a row (a few let in as time passes)
        for n in range(150):
            flooder.ws.send(json.dumps({"type": "ping", "ref": n}))
    assert closed_with(flooder) == 4029
    carol.send({"type": "chat", "text": "still here"})
    assert watcher.wait_for("chat")["text"] == "still here"
    watcher.close()
    carol.close()


def publish(stage: Stage, event_id: int, frames: list[dict[str, Any]]) -> None:
    """Frames into the room from the server's own loop, as a command handler would publish them."""
    rooms = stage.runtime.live()
    loop = rooms._clock.get_loop()  # type: ignore[union-attr]  # noqa: SLF001  # open while a room is
    for frame in frames:
        asyncio.run_coroutine_threadsafe(rooms.publish(event_id, frame), loop).result(WAIT_S)


def test_a_viewer_who_stops_reading_is_dropped_and_resumes_while_others_get_every_frame(stage: Stage) -> None:
    event_id = stage.event()
    rooms = stage.runtime.live()
    rooms.queue_frames = 50
    try:
        keeping_up = stage.viewer(event_id)
        host, port = stage.address.split(":")
        tiny = socket.socket()
        tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting, to take effect
        tiny.connect((host, int(port)))
        stalled = connect(f"ws://{stage.address}/api/v1/live/events/{event_id}/ws", sock=tiny,
                          max_queue=1, max_size=None).__enter__()  # left by being dropped
        room = rooms.here(event_id)
        assert room is not None
        sent = 0
        # Frames the socket's compression cannot shrink, until the server's send buffer (a few MB) is
        # full and the stalled viewer falls 50 frames behind.
        while len(room.viewers) == 2 and sent < 2000:
            publish(stage, event_id, [{"type": "burst", "n": sent + k, "pad": secrets.token_urlsafe(9000)}
                                      for k in range(25)])
            sent += 25
            assert keeping_up.wait_for("burst", where=lambda f, last=sent - 1: f["n"] == last)
    finally:
        rooms.queue_frames = 1000
    assert len(room.viewers) == 1
    seen: list[dict[str, Any]] = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            seen.extend(json.loads(stalled.recv(timeout=WAIT_S)))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
    bursts = [f["n"] for f in seen if f["type"] == "burst"]
    assert bursts == list(range(len(bursts)))
    publish(stage, event_id, [{"type": "burst", "n": sent, "pad": ""}])
    resumed = stage.viewer(event_id, after=[f for f in seen if "id" in f][-1]["id"])
    assert resumed.welcome["resumed"] is True
    missed = [resumed.wait_for("burst")["n"] for _ in range(sent + 1 - len(bursts))]
    assert missed == list(range(len(bursts), sent + 1))
    keeping_up.close()
    resumed.close()
