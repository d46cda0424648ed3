"""The room's chat, its moderation and its reactions: the commands viewers send (docs/live.md), and
the hooks that keep every process's room current (slow mode, bans, the recent chat, reaction totals)."""

from __future__ import annotations

import math
import time
import weakref
from collections import Counter, deque
from dataclasses import replace
from functools import partial
from typing import Any

from anyio import to_thread

from shopfest.core.actor import Actor
from shopfest.core.clock import instant_text
from shopfest.core.errors import InvalidInput
from shopfest.live import service
from shopfest.live.api import ADMISSION_CHECKS, WELCOME_PARTS
from shopfest.live.hub import Hub, room_redis
from shopfest.live.model import (
    MUTE_MAX_SECONDS,
    REACTIONS,
    SLOW_MODE_MAX_SECONDS,
    Banned,
    ChatRules,
    RoomRole,
    SlowDown,
    banned_words,
    chat_rules,
    check_seconds,
    clean_chat,
    next_allowed,
)
from shopfest.live.room import CLOSE_BANNED, STICKY, TICKERS, WATCHERS, Connection, Room, command

TAPS_PER_SECOND = 20  # reactions counted per socket a second; more are ignored, silently
TOTALS_KEPT_SECONDS = 7 * 86_400  # a room's reaction totals in Redis, from its last tap
CHAT_TIMES_KEPT = 16  # an account's latest chat times, enough for the burst limit and slow mode

STICKY["slow_mode"] = "slow_mode"


# The process's Runtime is Any here, as in room.py: the room's rules stay out of the HTTP edge.
Runtime = Any


def _runtime(room: Room) -> Runtime:
    return room.rooms.runtime


def _id(frame: dict[str, Any], name: str) -> int:
    value = frame.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise InvalidInput(f"{name} is the id of one", field=name)
    return value


# --- chat ---------------------------------------------------------------------------------------

@command("chat")
async def chat(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    """A signed-in viewer's message: cleaned, paced, kept, then to everyone in every process."""
    runtime = _runtime(room)
    author = service.require_signed_in(viewer.actor)
    rules = chat_rules(room.event, banned_words(runtime.settings.live_banned_words))
    text = clean_chat(frame.get("text"), rules)
    await _pace(room, viewer, author, rules=rules)
    posted = await to_thread.run_sync(partial(
        service.post_message, runtime.uow(), author, event_id=room.event_id, name=viewer.name, text=text))
    await room.publish(posted)


async def _pace(room: Room, viewer: Connection, author: Actor, *, rules: ChatRules) -> None:
    """The chat limit and slow mode, counted per account across its sockets: in every process through
    Redis when there is one, else in this one. Raises SlowDown with `retry_after`."""
    shared = room_redis(room.rooms.hub)
    if shared is None:
        sent: deque[float] = room.state.setdefault("chat_sent", {}).setdefault(
            author.user_id, deque(maxlen=CHAT_TIMES_KEPT))
        now = time.monotonic()
        _check_pace(list(sent), now=now, role=viewer.role, rules=rules)
        sent.append(now)
        return
    # Wall-clock times, read by every process: two posts at the very same moment in two processes
    # may both pass, which costs one message, not a flood.
    client, prefix = shared
    key, now = f"{prefix}live:{{{room.event_id}}}:chat:{author.user_id}", time.time()
    _check_pace([float(t) for t in await client.lrange(key, -CHAT_TIMES_KEPT, -1)], now=now,
                role=viewer.role, rules=rules)
    async with client.pipeline(transaction=False) as pipe:
        pipe.rpush(key, f"{now:.3f}")
        pipe.ltrim(key, -CHAT_TIMES_KEPT, -1)
        pipe.expire(key, SLOW_MODE_MAX_SECONDS + 60)
        await pipe.execute()


def _check_pace(sent: list[float], *, now: float, role: RoomRole, rules: ChatRules) -> None:
    later = next_allowed(sent, now=now, role=role, rules=rules)
    if later is not None:
        wait = max(1, math.ceil(later - now))
        raise SlowDown(f"wait {wait} s before your next message", retry_after=wait)


# --- moderation ---------------------------------------------------------------------------------

@command("hide")
async def hide(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    runtime, message_id = _runtime(room), _id(frame, "message_id")
    await to_thread.run_sync(partial(service.hide_message, runtime.uow(), viewer.actor,
                                     event_id=room.event_id, message_id=message_id))
    await room.publish({"type": "hidden", "message_ids": [message_id]})


def _profile(runtime: Runtime, user_id: int) -> tuple[Actor, str] | None:
    found: tuple[Actor, str] | None = runtime.ports.public_profile(runtime.uow(read_only=True), user_id)
    return found


@command("mute")
async def mute(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    runtime, user_id = _runtime(room), _id(frame, "user_id")
    seconds = check_seconds(frame.get("seconds"), low=1, high=MUTE_MAX_SECONDS, name="seconds")
    service.require_signed_in(viewer.actor)

    def muting() -> str:
        until = service.mute(runtime.uow(), viewer.actor, event_id=room.event_id,
                             target=_profile(runtime, user_id), seconds=seconds)
        return instant_text(until)

    until = await to_thread.run_sync(muting)
    await room.publish({"type": "muted", "user_id": user_id, "until": until})


@command("ban")
async def ban(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    """Every process closes the banned account's sockets when the `banned` frame reaches it."""
    runtime, user_id = _runtime(room), _id(frame, "user_id")
    service.require_signed_in(viewer.actor)

    def banning() -> list[int]:
        return service.ban(runtime.uow(), viewer.actor, event_id=room.event_id,
                           target=_profile(runtime, user_id))

    hidden = await to_thread.run_sync(banning)
    if hidden:
        await room.publish({"type": "hidden", "message_ids": hidden})
    await room.publish({"type": "banned", "user_id": user_id})


@command("slow_mode")
async def slow_mode(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    runtime = _runtime(room)
    seconds = await to_thread.run_sync(partial(service.set_slow_mode, runtime.uow(), viewer.actor,
                                               event_id=room.event_id, seconds=frame.get("seconds")))
    await room.publish({"type": "slow_mode", "seconds": seconds})


def refuse_banned(runtime: Runtime, room: Room, actor: Actor | None) -> None:
    """A banned account is not let back in. Raises Banned."""
    if actor is not None and service.is_banned(runtime.uow(read_only=True), room.event_id, actor.user_id):
        raise Banned("a moderator banned you from this room")


ADMISSION_CHECKS.append(refuse_banned)


# --- what every process's room keeps current ------------------------------------------------------

def keep_current(room: Room, frame: dict[str, Any]) -> None:
    """Slow mode and bans take effect here as their frames arrive; the welcome's recent chat follows."""
    kind = frame.get("type")
    if kind == "slow_mode":
        room.event = replace(room.event, slow_mode_seconds=int(frame["seconds"]))
    elif kind == "banned":
        room.close_user(int(frame["user_id"]), CLOSE_BANNED, "banned")
    elif kind == "hidden":
        room.state.setdefault("hidden_ids", set()).update(frame["message_ids"])
    elif kind == "chat" and "recent_chat" in room.state:
        room.state["recent_chat"].append({k: v for k, v in frame.items() if k != "id"})


WATCHERS.append(keep_current)


async def welcome_chat(room: Room, viewer: Connection) -> dict[str, Any]:
    """The recent visible chat (read once a room, then kept from the frames) and the reaction totals."""
    recent = room.state.get("recent_chat")
    if recent is None:
        runtime = _runtime(room)
        loaded = await to_thread.run_sync(service.recent_chat, runtime.uow(read_only=True), room.event_id)
        recent = room.state.setdefault("recent_chat", deque(loaded, maxlen=service.RECENT_CHAT))
    hidden = room.state.get("hidden_ids", ())
    return {"chat": [m for m in recent if m["message_id"] not in hidden],
            "reactions": await _totals(room, Counter())}


WELCOME_PARTS.append(welcome_chat)


# --- reactions ----------------------------------------------------------------------------------

# Totals of rooms without Redis (one process), kept past a room closing while nobody watches.
_TOTALS: weakref.WeakKeyDictionary[Hub, dict[int, Counter[str]]] = weakref.WeakKeyDictionary()


@command("react")
async def react(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    """A tap, counted here; the room hears the counts once a second (never one frame a tap)."""
    kind = frame.get("kind")
    if not isinstance(kind, str) or kind not in REACTIONS:
        raise InvalidInput(f"kind is one of {', '.join(sorted(REACTIONS))}", field="kind")
    caps: weakref.WeakKeyDictionary[Connection, list[int]] = room.state.setdefault(
        "tap_caps", weakref.WeakKeyDictionary())
    second = int(time.monotonic())
    cap = caps.setdefault(viewer, [second, 0])
    if cap[0] != second:
        cap[:] = [second, 0]
    if cap[1] >= TAPS_PER_SECOND:
        return
    cap[1] += 1
    room.state.setdefault("taps", Counter())[kind] += 1


async def send_reactions(room: Room) -> None:
    """Once a tick, when there were taps: this interval's counts and the room's totals."""
    taps: Counter[str] | None = room.state.get("taps")
    if not taps:
        return
    room.state["taps"] = Counter()
    await room.publish({"type": "reactions", "counts": dict(taps), "totals": await _totals(room, taps)})


TICKERS.append(send_reactions)


async def _totals(room: Room, taps: Counter[str]) -> dict[str, int]:
    """The room's totals with `taps` added: a Redis hash every process adds to, else this memory."""
    shared = room_redis(room.rooms.hub)
    if shared is None:
        totals = _TOTALS.setdefault(room.rooms.hub, {}).setdefault(room.event_id, Counter())
        totals.update(taps)
        return dict(totals)
    client, prefix = shared
    key = f"{prefix}live:{{{room.event_id}}}:reactions"
    async with client.pipeline(transaction=False) as pipe:
        for kind, count in taps.items():
            pipe.hincrby(key, kind, count)
        if taps:
            pipe.expire(key, TOTALS_KEPT_SECONDS)  # past the show and its replay week, not for ever
        pipe.hgetall(key)
        *_, found = await pipe.execute()
    return {k.decode(): int(v) for k, v in found.items()}
