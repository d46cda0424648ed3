"""The room's chat, moderation, reactions and presence through real WebSocket clients, on one served
app over SQLite (the database's dialect does not matter here; the stores are tested on both)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shopfest.accounts import service as accounts
from shopfest.app import create_app, make_runtime
from shopfest.core.actor import MACHINE, Role
from shopfest.core.clock import SetClock
from shopfest.live import service as live
from shopfest.live.model import LiveEvent, Segment, SegmentKind
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.conftest import FESTIVAL_EVE
from tests.integration.live_helpers import Viewer, served

PEOPLE = ("ops", "host", "mod", "alice", "bob", "carol", "chen")


@dataclass
class Stage:
    """One served app, its people signed in (token and user id by name), and a fresh event per test."""

    address: str
    runtime: Runtime
    tokens: dict[str, str]
    ids: dict[str, int]

    def event(self) -> int:
        now = self.runtime.clock.now()
        event = live.schedule_event(self.runtime.uow(), MACHINE, LiveEvent(
            "Global Brands Night", "en", now, now + timedelta(minutes=90), host_ids=(self.ids["host"],),
            moderator_ids=(self.ids["mod"],), segments=(Segment(SegmentKind.SHOWCASE, "Showcase", now),)))
        assert event.id is not None
        return event.id

    def viewer(self, event_id: int, who: str | None = None, **kwargs: Any) -> Viewer:
        return Viewer(self.address, event_id, token=self.tokens[who] if who else None, **kwargs)


def sign_up_cast(runtime: Runtime) -> tuple[dict[str, str], dict[str, int]]:
    tokens, ids = {}, {}
    for name in PEOPLE:
        email = "陈晨@festival.test" if name == "chen" else f"{name}@festival.test"
        user = accounts.create_account_unchecked(
            runtime.uow(), email=email, password="room-secret-1",
            role=Role.OPERATOR if name == "ops" else Role.SHOPPER)
        ids[name] = user.id or 0
        tokens[name] = accounts.sign_in(runtime.uow(), email=email, password="room-secret-1").secret
    return tokens, ids


@pytest.fixture(scope="module")
def stage(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    path = tmp_path_factory.mktemp("chat") / "shop.db"
    shutil.copy(sqlite_template, path)
    runtime = make_runtime(Settings(database_url=f"sqlite:///{path}", pool_size=4,
                                    live_banned_words="knockoff, 假货"),
                           clock=SetClock(FESTIVAL_EVE, speed=0))
    tokens, ids = sign_up_cast(runtime)
    with served(create_app(runtime=runtime)) as address:
        yield Stage(address, runtime, tokens, ids)
    runtime.engine.dispose()


def error_to(viewer: Viewer, frame: dict[str, Any]) -> dict[str, Any]:
    viewer.send({**frame, "ref": "r"})
    return viewer.wait_for("error", where=lambda f: f.get("ref") == "r")


def test_shoppers_chat_in_english_and_chinese_and_bad_messages_are_refused(stage: Stage) -> None:
    event_id = stage.event()
    watcher = stage.viewer(event_id)
    alice, chen = stage.viewer(event_id, "alice"), stage.viewer(event_id, "chen")
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
