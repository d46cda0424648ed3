"""One room across two `shopfest serve` processes over a real Redis: every viewer sees the same frames in
the same order, the viewer count is the sum of both, a ban on one disconnects on the other, and a
viewer who reconnects to either resumes exactly where it was."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from shopfest.app import make_runtime
from shopfest.core.clock import SetClock
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.conftest import FESTIVAL_EVE
from tests.integration.live_helpers import Viewer, a_moderated_event, sign_up
from tests.servers import Server, start_server

PEOPLE = ("host", "mod", "alice", "bob", "carol")


@dataclass
class Pair:
    """Two server processes on one database and one Redis, and the people signed in."""

    one: str
    two: str
    runtime: Runtime
    tokens: dict[str, str]
    ids: dict[str, int]

    def event(self) -> int:
        return a_moderated_event(self.runtime, host_id=self.ids["host"], moderator_id=self.ids["mod"])

    def viewer(self, address: str, event_id: int, who: str | None = None, **kwargs: Any) -> Viewer:
        return Viewer(address, event_id, token=self.tokens[who] if who else None, **kwargs)


def _stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="module")
def pair(sqlite_template: Path, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("fanout")
    shutil.copy(sqlite_template, folder / "shop.db")
    database_url = f"sqlite:///{folder / 'shop.db'}"
    runtime = make_runtime(Settings(database_url=database_url, pool_size=2),
                           clock=SetClock(FESTIVAL_EVE, speed=0))
    tokens, ids = sign_up(runtime, PEOPLE)
    env = {"SHOPFEST_REDIS_URL": redis_url, "SHOPFEST_REDIS_PREFIX": f"shopfest-test-{uuid.uuid4().hex}:"}
    servers = [start_server(database_url, clock=FESTIVAL_EVE.isoformat(), log_dir=folder, env=env)
               for _ in range(2)]
    try:
        one, two = (s.base_url.removeprefix("http://") for s in servers)
        yield Pair(one, two, runtime, tokens, ids)
    finally:
        for server in servers:
            _stop(server)
        runtime.engine.dispose()


def chat_of(viewer: Viewer, count: int) -> list[tuple[str, int, str]]:
    """The next `count` chat frames: (frame id, message id, text)."""
    return [(f["id"], f["message_id"], f["text"]) for f in (viewer.wait_for("chat") for _ in range(count))]


def test_two_servers_show_one_room_in_one_order_and_a_ban_reaches_across(pair: Pair) -> None:
    event_id = pair.event()
    watcher_one, alice = pair.viewer(pair.one, event_id), pair.viewer(pair.one, event_id, "alice")
    watcher_two, bob = pair.viewer(pair.two, event_id), pair.viewer(pair.two, event_id, "bob")
    mod = pair.viewer(pair.two, event_id, "mod")
    for watcher in (watcher_one, watcher_two):
        assert watcher.wait_for("viewers", where=lambda f: f["count"] == 5, timeout=10)
    for n in range(3):
        alice.send({"type": "chat", "text": f"hello from London {n}"})
        bob.send({"type": "chat", "text": f"上海的朋友们好 {n}"})
    seen_one, seen_two = chat_of(watcher_one, 6), chat_of(watcher_two, 6)
    assert seen_one == seen_two
    assert sorted(text for _, _, text in seen_one) == sorted(
        [f"hello from London {n}" for n in range(3)] + [f"上海的朋友们好 {n}" for n in range(3)])

    bob_on_one = pair.viewer(pair.one, event_id, "bob")  # his chat limit counts across both servers
    for n in range(2):
        bob_on_one.send({"type": "chat", "text": f"from my laptop {n}"})
        assert watcher_two.wait_for("chat")["text"] == f"from my laptop {n}"
    bob_on_one.send({"type": "chat", "text": "one too many", "ref": 6})
    assert bob_on_one.wait_for("error")["code"] == "slow-down"

    watcher_one.send({"type": "react", "kind": "heart"})
    watcher_two.send({"type": "react", "kind": "fire"})
    assert watcher_one.wait_for("reactions", where=lambda f: f["totals"] == {"heart": 1, "fire": 1})

    mod.send({"type": "ban", "user_id": pair.ids["alice"]})
    assert watcher_one.wait_for("banned")["user_id"] == pair.ids["alice"]
    assert alice.wait_for("error", where=lambda f: f["code"] == "banned")
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            alice.read()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003
    assert watcher_two.wait_for("viewers", where=lambda f: f["count"] == 5, timeout=10)
    for viewer in (watcher_one, watcher_two, bob, bob_on_one, mod):
        viewer.close()


def test_a_viewer_resumes_over_redis_exactly_or_starts_afresh(pair: Pair) -> None:
    event_id = pair.event()
    carol, leaving = pair.viewer(pair.two, event_id, "carol"), pair.viewer(pair.one, event_id)
    for n in range(2):
        carol.send({"type": "chat", "text": f"before {n}"})
    before = chat_of(leaving, 2)
    leaving.close()
    for n in range(3):
        carol.send({"type": "chat", "text": f"while away {n}"})
    carol.wait_for("chat", where=lambda f: f["text"] == "while away 2")
    back = pair.viewer(pair.two, event_id, after=before[-1][0])
    assert back.welcome["resumed"] is True
    assert [text for _, _, text in chat_of(back, 3)] == [f"while away {n}" for n in range(3)]
    bob = pair.viewer(pair.one, event_id, "bob")  # carol has posted her five in ten seconds
    bob.send({"type": "chat", "text": "welcome back"})
    assert back.wait_for("chat")["text"] == "welcome back"  # nothing twice, nothing between
    for unknown in ("1-0", "99999999999999-0", "not-an-id"):
        afresh = pair.viewer(pair.one, event_id, after=unknown)
        assert afresh.welcome["resumed"] is False, unknown
        afresh.close()
    for viewer in (back, carol, bob):
        viewer.close()
