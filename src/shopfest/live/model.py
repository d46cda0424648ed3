"""Live events and their rooms, as pure rules: the schedule (events, segments, who hosts), who may do
what in a room, and what a chat message must be. No I/O; the room's moving parts are in `room.py`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from shopfest.core.actor import Actor, Role
from shopfest.core.clock import instant_text
from shopfest.core.errors import Conflict, Forbidden, InvalidInput
from shopfest.core.money import Money
from shopfest.core.rates import RateLimited

TITLE_MAX = 140
LANGUAGES = frozenset({"en", "zh"})
LONGEST_EVENT = timedelta(hours=24)


class EventStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class SegmentKind(StrEnum):
    EXECUTIVE = "executive"
    BRAND_INTERVIEW = "brand_interview"
    EXPERT = "expert"
    CELEBRITY = "celebrity"
    BEHIND_THE_SCENES = "behind_the_scenes"
    SHOWCASE = "showcase"


@dataclass(frozen=True, slots=True)
class Segment:
    """A part of the show: what it is, when it starts (UTC), and the products it features."""

    kind: SegmentKind
    title: str
    starts_at: datetime
    product_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """A livestream on the schedule. `host_ids` are merchant staff (of a featured brand's merchant)
    or operators; `moderator_ids` may moderate besides the hosts and every operator. Times in UTC;
    `went_live_at` is when the host actually went live: replays count offsets from it."""

    title: str
    language: str
    starts_at: datetime
    ends_at: datetime
    brand_ids: tuple[int, ...] = ()
    host_ids: tuple[int, ...] = ()
    moderator_ids: tuple[int, ...] = ()
    segments: tuple[Segment, ...] = ()
    playback_url: str | None = None
    poster_url: str | None = None
    status: EventStatus = EventStatus.SCHEDULED
    went_live_at: datetime | None = None
    ended_at: datetime | None = None
    slow_mode_seconds: int = 0
    pinned_product_id: int | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        check_schedule(self.title, self.language, self.starts_at, self.ends_at)

    @property
    def product_ids(self) -> tuple[int, ...]:
        """Every product the show features, in the order its segments show them."""
        return tuple(dict.fromkeys(p for s in self.segments for p in s.product_ids))

    def go_live(self, now: datetime) -> LiveEvent:
        """Raises RoomClosed once the event has ended."""
        if self.status is EventStatus.ENDED:
            raise RoomClosed("this event has ended", event_id=self.id)
        if self.status is EventStatus.LIVE:
            return self
        return replace(self, status=EventStatus.LIVE, went_live_at=now)

    def end(self, now: datetime) -> LiveEvent:
        """Raises Conflict unless the event is live."""
        if self.status is not EventStatus.LIVE:
            raise Conflict(f"the event is {self.status.value}, not live", event_id=self.id)
        return replace(self, status=EventStatus.ENDED, ended_at=now)

    def offset_ms(self, at: datetime) -> int:
        """Milliseconds from going live (from the scheduled start before that) to `at`."""
        start = self.went_live_at or self.starts_at
        return max(0, int((at - start) / timedelta(milliseconds=1)))


def check_schedule(title: str, language: str, starts_at: datetime, ends_at: datetime) -> None:
    """Raises InvalidInput for an empty or long title, an unknown language, or a bad time span."""
    if not title.strip() or len(title) > TITLE_MAX:
        raise InvalidInput(f"a title has 1 to {TITLE_MAX} characters")
    if language not in LANGUAGES:
        raise InvalidInput(f"language is one of {', '.join(sorted(LANGUAGES))}", language=language)
    if not starts_at < ends_at <= starts_at + LONGEST_EVENT:
        raise InvalidInput("an event ends after it starts, within 24 hours")


class RoomRole(StrEnum):
    """What a connection may do in a room; each role may do what the ones before it may."""

    VIEWER = "viewer"  # anonymous: watches
    SHOPPER = "shopper"  # signed in: chats, reacts, claims coupons, buys
    MODERATOR = "moderator"  # hides messages, mutes and bans; exempt from slow mode
    HOST = "host"  # goes live and ends, pins, drops coupons, starts deals


_RANK = {RoomRole.VIEWER: 0, RoomRole.SHOPPER: 1, RoomRole.MODERATOR: 2, RoomRole.HOST: 3}


def role_in(event: LiveEvent, actor: Actor | None) -> RoomRole:
    """The room role of a signed-in account (or an anonymous viewer, None)."""
    if actor is None:
        return RoomRole.VIEWER
    if actor.user_id in event.host_ids:
        return RoomRole.HOST
    if actor.role is Role.OPERATOR or actor.user_id in event.moderator_ids:
        return RoomRole.MODERATOR
    return RoomRole.SHOPPER


def require_room_role(role: RoomRole, needed: RoomRole) -> None:
    """Raises NotAllowedHere unless `role` may do what `needed` may."""
    if _RANK[role] < _RANK[needed]:
        raise NotAllowedHere(f"this needs the room role {needed.value}", role=role.value, needs=needed.value)


# --- chat -------------------------------------------------------------------------------------

CHAT_MAX_CHARS = 200
SLOW_MODE_MAX_SECONDS = 600


@dataclass(frozen=True, slots=True)
class ChatRules:
    """A room's chat: `max_chars` a message, `burst` messages per viewer within `per_seconds`, slow
    mode (one message per `slow_mode_seconds`; moderators exempt), and words nobody may post."""

    max_chars: int = CHAT_MAX_CHARS
    burst: int = 5
    per_seconds: float = 10.0
    slow_mode_seconds: int = 0
    banned_words: frozenset[str] = field(default_factory=frozenset)


def clean_chat(text: object, rules: ChatRules) -> str:
    """The message as posted: NFC, surrounding space stripped, control characters refused.
    Raises ChatRefused (empty, too long, control characters, a banned word)."""
    if not isinstance(text, str):
        raise ChatRefused("a message is text", reason="not-text")
    cleaned = unicodedata.normalize("NFC", text).strip()
    if not cleaned:
        raise ChatRefused("a message is not empty", reason="empty")
    if len(cleaned) > rules.max_chars:
        raise MessageTooLong(f"a message has at most {rules.max_chars} characters", max_chars=rules.max_chars)
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co") and c not in "\n" for c in cleaned):
        raise ChatRefused("a message has no control characters", reason="control-characters")
    if banned_word_in(cleaned, rules.banned_words):
        raise BannedWords("the message holds a word this room does not allow")
    return cleaned


def banned_word_in(text: str, banned: Iterable[str]) -> str | None:
    """The first banned word in `text`, case- and width-blind (Ｓｐａｍ is spam); words of Latin
    letters match whole words only, words of Chinese characters anywhere (Chinese has no spaces)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    for word in banned:
        needle = unicodedata.normalize("NFKC", word).casefold().strip()
        if not needle:
            continue
        if needle.isascii():
            if re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", folded):
                return word
        elif needle in folded:
            return word
    return None


def next_allowed(sent: Sequence[float], *, now: float, role: RoomRole, rules: ChatRules) -> float | None:
    """When a viewer who posted at the monotonic times `sent` (oldest first) may post again; None: now.
    Moderators and hosts are exempt from slow mode, not from the burst limit."""
    waits = []
    recent = [t for t in sent if now - t < rules.per_seconds]
    if len(recent) >= rules.burst:
        waits.append(recent[-rules.burst] + rules.per_seconds)
    if rules.slow_mode_seconds and sent and _RANK[role] < _RANK[RoomRole.MODERATOR]:
        waits.append(sent[-1] + rules.slow_mode_seconds)
    later = max(waits, default=now)
    return later if later > now else None


REACTIONS = frozenset({"heart", "like", "fire", "clap", "wow", "laugh"})


# --- errors: each code is also an error frame's `code` (docs/live.md) --------------------------

class RoomClosed(Conflict):
    code = "room-closed"
    title = "The live event has ended"


class NotAllowedHere(Forbidden):
    code = "not-allowed"
    title = "Your role in this room may not do that"


class ChatRefused(InvalidInput):
    code = "chat-refused"
    title = "The chat message cannot be posted"


class MessageTooLong(ChatRefused):
    code = "message-too-long"
    title = "The chat message is too long"


class BannedWords(ChatRefused):
    code = "banned-words"
    title = "The chat message holds a word the room does not allow"


class SlowDown(RateLimited):
    code = "slow-down"
    title = "Too many messages: wait before the next"


class Muted(Forbidden):
    code = "muted"
    title = "A moderator muted you in this room"


class Banned(Forbidden):
    code = "banned"
    title = "A moderator banned you from this room"


# --- the chat's words, names and sanctions ------------------------------------------------------

# Words no room allows, whatever its setting adds (SHOPFEST_LIVE_BANNED_WORDS): insults and the
# scammer's bait, in English and Chinese.
DEFAULT_BANNED_WORDS = frozenset({"scam", "idiot", "moron", "骗子", "傻逼", "滚蛋"})
MUTE_MAX_SECONDS = 86_400


def banned_words(setting: str | None) -> frozenset[str]:
    """The defaults and the setting's comma-separated words (in either language)."""
    extra = (w.strip() for w in (setting or "").replace("，", ",").split(","))
    return DEFAULT_BANNED_WORDS | {w for w in extra if w}


def chat_rules(event: LiveEvent, words: frozenset[str]) -> ChatRules:
    """The room's chat rules as the event has them now (its slow mode)."""
    return ChatRules(slow_mode_seconds=event.slow_mode_seconds, banned_words=words)


def display_name(public: str, *, role: RoomRole, operator: bool) -> str:
    """How an author reads in the chat: hosts and the platform's operators say what they are."""
    if role is RoomRole.HOST:
        return f"{public} (host)"
    if operator:
        return f"{public} (operator)"
    return public


def check_not_sanctioned(sanctions: dict[str, datetime | None], *, now: datetime) -> None:
    """Raises Banned, or Muted with `until`, for the sanctions in force on a viewer (kind → until)."""
    if "ban" in sanctions:
        raise Banned("a moderator banned you from this room")
    until = sanctions.get("mute")
    if "mute" in sanctions and (until is None or until > now):
        raise Muted("a moderator muted you in this room",
                    until=None if until is None else instant_text(until))


def may_sanction(*, by: RoomRole, target: RoomRole, target_is_operator: bool) -> None:
    """Moderators mute and ban viewers below them, never a host nor an operator.
    Raises NotAllowedHere."""
    require_room_role(by, RoomRole.MODERATOR)
    if target_is_operator or _RANK[target] >= _RANK[by]:
        raise NotAllowedHere("moderators cannot mute or ban a host, an operator or a fellow moderator",
                             target=target.value)


def check_seconds(seconds: object, *, low: int, high: int, name: str) -> int:
    """A whole number of seconds within [low, high]. Raises InvalidInput."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not low <= seconds <= high:
        raise InvalidInput(f"{name} is a whole number of seconds from {low} to {high}", field=name)
    return seconds


# --- live coupons and flash deals (drops.py) --------------------------------------------------

DROP_QUANTITY = (1, 100_000)  # coupons a drop gives out
DROP_SECONDS = (10, 3_600)  # how long shoppers have to claim them
DEAL_QUANTITY = (1, 10_000_000)  # units a flash deal sells, as a flash sale may
DEAL_PER_SHOPPER = (1, 999)
DEAL_COUNTDOWN = (0, 600)  # seconds the room counts down before the deal opens
DEAL_MINUTES = (1, 120)
AMOUNT_MAX = 10_000_000  # an amount a host types, in major units: far above any price, well inside BIGINT


def count_in(frame: Mapping[str, object], name: str, *, within: tuple[int, int],
             default: int | None = None) -> int:
    """A whole number field of a command frame, `within` (low, high). Raises InvalidInput naming it."""
    value = frame.get(name, default)
    low, high = within
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name} is a whole number from {low:,} to {high:,}", field=name)
    return value


def amount_in(frame: Mapping[str, object], name: str, currency: str, *, above_zero: bool = False) -> Money:
    """An amount field of a command frame ("20.00"), in `currency`. Raises InvalidInput naming it."""
    value = frame.get(name)
    if not isinstance(value, str) or len(value) > 20:
        raise InvalidInput(f"{name} is an amount of {currency} written as text, e.g. \"20.00\"", field=name)
    try:
        amount = Money.parse(value, currency)
    except InvalidInput as refused:
        raise InvalidInput(f"{name}: {refused.detail}", field=name) from None
    if amount.minor < (1 if above_zero else 0) or amount.decimal > AMOUNT_MAX:
        least = "above zero" if above_zero else "at least zero"
        raise InvalidInput(f"{name} is {least} and at most {AMOUNT_MAX:,} {currency}", field=name)
    return amount


def host_skus(event: LiveEvent, actor: Actor | None,
              offered: Mapping[int, tuple[int, Sequence[int]]]) -> tuple[int, tuple[int, ...]]:
    """What a host's coupon or deal may cover: the host's merchant, and its SKUs among the event's
    products (`offered`: each product's merchant and SKUs). Raises NotAllowedHere for anyone but a
    host, or a host whose merchant sells none of the event's products; RoomClosed once it ended."""
    require_room_role(role_in(event, actor), RoomRole.HOST)
    merchant_id = None if actor is None else actor.merchant_id
    skus = tuple(sku_id for product_id in event.product_ids if product_id in offered
                 and offered[product_id][0] == merchant_id for sku_id in offered[product_id][1])
    if merchant_id is None or not skus:
        raise NotAllowedHere("your store sells none of this event's products", role=RoomRole.HOST.value)
    if event.status is EventStatus.ENDED:
        raise RoomClosed("this event has ended", event_id=event.id)
    return merchant_id, skus


# --- the schedule: what an operator may put on it ----------------------------------------------

SEGMENTS_MAX = 20
PRODUCTS_PER_SEGMENT_MAX = 20
PEOPLE_MAX = 20  # hosts, moderators, brands: each at most this many
URL_MAX = 500
LOCAL_MEDIA = ("/static/", "/media/")


def check_media_url(url: str | None, *, field_name: str) -> None:
    """A playback or poster URL: http(s) with a host, or a path of this site's own files
    (/static/..., /media/...). Raises InvalidInput."""
    if url is None:
        return
    if len(url) > URL_MAX or any(c.isspace() or c in "\\\"'<>" or ord(c) < 32 for c in url):
        raise InvalidInput(f"{field_name} is a URL of at most {URL_MAX} characters", field=field_name)
    scheme, _, rest = url.partition("://")
    if scheme.lower() in ("http", "https") and rest and not rest.startswith("/"):
        return
    if url.startswith(LOCAL_MEDIA) and ".." not in url and "//" not in url:
        return
    raise InvalidInput(f"{field_name} is an http(s) URL or a path under /static/ or /media/",
                       field=field_name)


def check_plan(event: LiveEvent) -> None:
    """What an event on the schedule must be besides its title and times: a few brands, hosts and
    moderators, segments of known kinds that start inside the event, each with a few products,
    and media URLs that lead somewhere safe. Raises InvalidInput."""
    for name, ids in (("brand_ids", event.brand_ids), ("host_ids", event.host_ids),
                      ("moderator_ids", event.moderator_ids)):
        if len(ids) > PEOPLE_MAX or len(set(ids)) != len(ids) or any(i <= 0 for i in ids):
            raise InvalidInput(f"{name} holds at most {PEOPLE_MAX} different ids", field=name)
    if not event.brand_ids:
        raise InvalidInput("an event features at least one brand", field="brand_ids")
    if len(event.segments) > SEGMENTS_MAX:
        raise InvalidInput(f"an event has at most {SEGMENTS_MAX} segments", field="segments")
    for segment in event.segments:
        _check_segment(segment, event)
    check_media_url(event.playback_url, field_name="playback_url")
    check_media_url(event.poster_url, field_name="poster_url")


def _check_segment(segment: Segment, event: LiveEvent) -> None:
    if not segment.title.strip() or len(segment.title) > TITLE_MAX:
        raise InvalidInput(f"a segment's title has 1 to {TITLE_MAX} characters", field="segments")
    if not event.starts_at <= segment.starts_at < event.ends_at:
        raise InvalidInput("a segment starts inside its event", field="segments", title=segment.title)
    if len(segment.product_ids) > PRODUCTS_PER_SEGMENT_MAX or any(p <= 0 for p in segment.product_ids):
        raise InvalidInput(f"a segment features at most {PRODUCTS_PER_SEGMENT_MAX} products",
                           field="segments")


def segment_kind(text: str) -> SegmentKind:
    """Raises InvalidInput for a kind of segment the schedule does not know."""
    try:
        return SegmentKind(text)
    except ValueError:
        kinds = ", ".join(k.value for k in SegmentKind)
        raise InvalidInput(f"a segment's kind is one of {kinds}", field="segments") from None


def room_path(event_id: int) -> str:
    """Where a viewer watches the event: its room page."""
    return f"/live/{event_id}"


def reminder_mail(title: str, event_id: int) -> dict[str, tuple[str, str]]:
    """The subject and body of the mail that says an event a shopper asked about has begun, in each
    language an account may read."""
    path = room_path(event_id)
    return {
        "en": (f"Live now: {title}", f"{title} has begun on ShopFest Live. Watch and shop at {path}"),
        "zh": (f"直播开始：{title}", f"{title} 已在 ShopFest 直播开播，点击 {path} 观看并购物"),
    }


# --- pins -------------------------------------------------------------------------------------

def features(event: LiveEvent, *, product_id: int, brand_id: int) -> bool:
    """Whether the host may pin a product in this event: one its segments feature, or any product of
    one of its brands (a brand's own stream shows what the audience asks about, not only the list)."""
    return product_id in event.product_ids or brand_id in event.brand_ids


def pin(event: LiveEvent, *, product_id: int, brand_id: int) -> LiveEvent:
    """The event with the product pinned. Raises RoomClosed once it has ended, InvalidInput."""
    if event.status is EventStatus.ENDED:
        raise RoomClosed("this event has ended", event_id=event.id)
    if not features(event, product_id=product_id, brand_id=brand_id):
        raise InvalidInput("the event neither features this product nor its brand", field="product_id",
                           product_id=product_id)
    return replace(event, pinned_product_id=product_id)


def unpin(event: LiveEvent) -> LiveEvent:
    """The event with nothing pinned. Raises RoomClosed once it has ended."""
    if event.status is EventStatus.ENDED:
        raise RoomClosed("this event has ended", event_id=event.id)
    return replace(event, pinned_product_id=None)


# --- the room's counter -------------------------------------------------------------------------

class Counter(Protocol):
    """What a room asks of the festival's checkout, which live does not depend on (DESIGN.md): the
    edge plugs it in (shopfest/live_counter.py, through the runtime's ports). Amounts are strings of
    the currency named beside them; each method raises the checkout's DomainErrors."""

    def price(self, sku_id: int, *, shopper: Actor | None) -> dict[str, Any] | None:
        """One unit priced as checkout would for `shopper` (None: anyone) now: `sku_id`, `list_price`,
        `price`, `currency`, `savings` [{`label`, `source`, `amount`}]; None when not for sale."""

    async def buy(self, shopper: Actor, order: dict[str, Any], *, key: str, source: str) -> dict[str, Any]:
        """Place `order` ({`lines`, `coupons`, `address_id`}) as POST /api/v1/orders does, `key` its
        Idempotency-Key: the order's receipt (the first answer for a retry)."""

    def pay(self, shopper: Actor, *, order_id: int, method: str, key: str) -> dict[str, Any]:
        """Pay the order as POST /api/v1/orders/{id}/pay does, once per `key`: its receipt."""

    def placed_from(self, source: str) -> tuple[int, int]:
        """Orders placed from `source` and their units."""

    def sales_from(self, source: str) -> dict[str, Any]:
        """The paid and the unpaid orders placed from `source`: orders, units, totals per currency."""
