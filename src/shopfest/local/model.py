"""Local services as pure rules: where a shop stands and when it is open, what a nearby search may
ask, and how far apart two points on the Earth are; the deals a local merchant sells as vouchers,
and a voucher's life after the sale (valid when, redeemed once, undone within a window) with the port
to the orders context that keeps vouchers. No I/O; the geo cells are in `cells.py`, in-store pay and
settlement in `pay_rules.py`."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from shopfest.core.errors import Conflict, InvalidInput
from shopfest.core.money import Money

if TYPE_CHECKING:
    from shopfest.core.actor import Actor
    from shopfest.core.uow import UnitOfWork

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG), which great-circle distances use
LONGEST_RADIUS_M = 100_000  # a nearby search reaches at most 100 km: "near" ends somewhere
NAME_MAX = 80
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HH_MM = re.compile(r"^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$")  # 24:00: a day's end


class ShopKind(StrEnum):
    STREET_STALL = "street_stall"
    GROCERY = "grocery"
    RESTAURANT = "restaurant"
    SALON = "salon"
    CAR_DEALER = "car_dealer"
    PROPERTY_DEVELOPER = "property_developer"
    HOME_DECORATION = "home_decoration"
    OTHER_SERVICES = "other_services"


class BadPlace(InvalidInput):
    code = "bad-place"
    title = "The place is not on the map"


class BadRadius(InvalidInput):
    code = "bad-radius"
    title = "The search radius is out of range"


class BadHours(InvalidInput):
    code = "bad-hours"
    title = "The opening hours cannot be read"


@dataclass(frozen=True, slots=True)
class Point:
    """A place on the Earth in degrees (WGS 84), as a phone's location reports it."""

    lat: float
    lng: float


def point(lat: Any, lng: Any) -> Point:
    """The point, if both coordinates are finite numbers on the globe.

    Raises BadPlace."""
    if isinstance(lat, bool) or isinstance(lng, bool) or not isinstance(lat, (int, float)) \
            or not isinstance(lng, (int, float)):
        raise BadPlace("latitude and longitude are numbers in degrees", lat=str(lat)[:40], lng=str(lng)[:40])
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise BadPlace("latitude is from -90 to 90 degrees", lat=lat if math.isfinite(lat) else None)
    if not (math.isfinite(lng) and -180 <= lng <= 180):
        raise BadPlace("longitude is from -180 to 180 degrees", lng=lng if math.isfinite(lng) else None)
    return Point(float(lat), float(lng))


def radius_m(metres: Any) -> float:
    """A search radius: more than nothing, at most LONGEST_RADIUS_M.

    Raises BadRadius."""
    if isinstance(metres, bool) or not isinstance(metres, (int, float)) or not math.isfinite(metres) \
            or not 0 < metres <= LONGEST_RADIUS_M:
        raise BadRadius(f"the radius is more than 0 and at most {LONGEST_RADIUS_M // 1000} km, in metres",
                        longest_m=LONGEST_RADIUS_M)
    return float(metres)


def distance_m(a: Point, b: Point) -> float:
    """The great-circle distance (haversine), in metres."""
    phi_a, phi_b = math.radians(a.lat), math.radians(b.lat)
    d_phi, d_lambda = phi_b - phi_a, math.radians(b.lng - a.lng)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


# --- opening hours ------------------------------------------------------------------------------

# Minutes from the day's midnight: open, close; a close before the open is past midnight.
Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Hours:
    """A shop's week in its own time zone: for each day from Monday, the spans it is open."""

    week: tuple[tuple[Span, ...], ...]

    def open_at(self, local: datetime) -> bool:
        """Whether the shop is open at this wall-clock time of its zone (a night market's span that
        passes midnight counts on the day after too)."""
        minute, day = local.hour * 60 + local.minute, local.weekday()
        today = any(start <= minute < end if start < end else minute >= start
                    for start, end in self.week[day])
        yesterday = any(end < start and minute < end for start, end in self.week[day - 1])
        return today or yesterday

    def as_json(self) -> dict[str, list[str]]:
        return {name: [f"{_hh_mm(a)}-{_hh_mm(b)}" for a, b in spans]
                for name, spans in zip(DAYS, self.week, strict=True)}


ALWAYS_OPEN = Hours(tuple(((0, 24 * 60),) for _ in DAYS))


def hours(spec: Mapping[str, Sequence[str]] | None) -> Hours:
    """Opening hours from `{"mon": ["09:00-21:00"], "sat": ["18:00-02:00"], ...}`; a day left out is
    closed; None is always open.

    Raises BadHours."""
    if spec is None:
        return ALWAYS_OPEN
    if not isinstance(spec, Mapping) or set(spec) - set(DAYS):
        raise BadHours(f"opening hours are a map from {', '.join(DAYS)} to spans such as 09:00-21:00")
    return Hours(tuple(_spans(spec.get(day, ()), day) for day in DAYS))


def _spans(spans: Sequence[str], day: str) -> tuple[Span, ...]:
    if isinstance(spans, str) or not isinstance(spans, Sequence) or len(spans) > 4:
        raise BadHours(f"{day}: a list of at most 4 spans such as 09:00-21:00")
    return tuple(_span(text, day) for text in spans)


def _span(text: Any, day: str) -> Span:
    parts = text.split("-") if isinstance(text, str) else []
    ends = [_HH_MM.match(p.strip()) for p in parts]
    if len(ends) != 2 or not all(ends):
        raise BadHours(f"{day}: {str(text)[:20]!r} is not a span such as 09:00-21:00")
    start, end = (int(m.group(1) or m.group(3)) * 60 + int(m.group(2) or m.group(4)) for m in ends if m)
    if start >= 24 * 60:
        raise BadHours(f"{day}: a span opens before 24:00")
    if start == end:
        raise BadHours(f"{day}: a span opens and closes at different times")
    return start, (24 * 60 if end == 0 else end)


def _hh_mm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"  # the day's end reads 24:00


# --- shops --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Shop:
    """A local merchant's shop: where it stands (`city_id` is the GeoNames id of its city), its
    kind, its week, and the token of the static QR code on its counter that in-store payment reads."""

    merchant_id: int
    name: str
    kind: ShopKind
    city_id: int
    place: Point
    zone: str  # the IANA time zone of its city, in which its hours are read
    hours: Hours = ALWAYS_OPEN
    name_zh: str | None = None
    category_id: int | None = None
    festival_deal: bool = False
    pay_token: str | None = None
    id: int | None = None


def shop_name(name: Any, *, what: str = "shop name") -> str:
    """A shop's name: 1 to NAME_MAX characters once trimmed.

    Raises InvalidInput."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
        raise InvalidInput(f"the {what} is 1 to {NAME_MAX} characters")
    return " ".join(name.split())


# --- deals: what a local merchant sells online as vouchers ----------------------------------------

LONGEST_VALIDITY_DAYS = 366


class DealKind(StrEnum):
    CASH = "cash"  # pay 50, get 60 of value to spend in the shop
    SET_MEAL = "set_meal"
    SERVICE = "service"  # a haircut, a car wash, a design consultation
    DEPOSIT = "deposit"  # a deposit on a car or an apartment, the rest paid at the dealer


@dataclass(frozen=True, slots=True)
class Deal:
    """A local deal: one SKU of the catalog (fulfilled as a service or deposit voucher) sold by a
    local merchant. `face_value` is what a cash voucher is worth in the shop (None otherwise); each
    voucher is valid for `valid_days` from its issue, and never past `valid_until` when set."""

    merchant_id: int
    product_id: int
    sku_id: int
    kind: DealKind
    valid_days: int
    face_value: Money | None = None
    valid_until: datetime | None = None
    festival: bool = False  # a festival deal: the "has a festival deal" filter finds its shops
    id: int | None = None

    def voucher_valid_until(self, issued_at: datetime) -> datetime:
        """When a voucher issued at `issued_at` stops being redeemable."""
        ends = issued_at + timedelta(days=self.valid_days)
        return min(ends, self.valid_until) if self.valid_until is not None else ends


def validity_days(days: Any) -> int:
    """How long a deal's vouchers stay valid: 1 to LONGEST_VALIDITY_DAYS days.

    Raises InvalidInput."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= LONGEST_VALIDITY_DAYS:
        raise InvalidInput(f"a voucher is valid for 1 to {LONGEST_VALIDITY_DAYS} days")
    return days


# --- vouchers after the sale: redeemed once in a shop of their merchant ------------------------------

UNDO_WINDOW = timedelta(minutes=15)  # how long a shop may take a redemption back (a wrong scan)
VALID_WITHOUT_DEAL = timedelta(days=365)  # a voucher no local deal describes
OFFLINE_ITEMS_MAX = 500  # redemptions per offline upload


class VoucherAlreadyRedeemed(Conflict):
    code = "voucher-already-redeemed"
    title = "The voucher is redeemed already"


class VoucherVoid(Conflict):
    code = "voucher-void"
    title = "The voucher was refunded and is void"


class VoucherExpired(Conflict):
    code = "voucher-expired"
    title = "The voucher is outside its validity"


class UndoTooLate(Conflict):
    code = "undo-too-late"
    title = "The redemption is too old to undo"


@dataclass(frozen=True, slots=True)
class IssuedVoucher:
    """A voucher as the orders context issued it for one unit of a paid voucher line: `code` is its id,
    `status` issued, redeemed or void (refunded)."""

    code: str
    kind: str
    status: str
    issued_at: datetime
    merchant_id: int
    sku_id: int
    title: str
    order_id: int


class VoucherLedger(Protocol):
    """What local asks of the orders context, where vouchers live (DESIGN.md): the edge plugs it in
    (shopfest/voucher_ledger.py, through the runtime's ports); each works in the caller's transaction."""

    def find(self, uow: UnitOfWork, code: str) -> IssuedVoucher | None:
        """The voucher of this code, None when there is none."""

    def move(self, uow: UnitOfWork, code: str, *, was: str, to: str) -> bool:
        """Move the voucher from status `was` to `to` unless another transaction did first."""

    def of_shopper(self, uow: UnitOfWork, shopper: Actor) -> list[IssuedVoucher]:
        """The shopper's own vouchers, newest first."""


def valid_until(voucher: IssuedVoucher, deal: Deal | None) -> datetime:
    """When a voucher stops being redeemable: its deal's rule, else a year after its issue."""
    return deal.voucher_valid_until(voucher.issued_at) if deal else voucher.issued_at + VALID_WITHOUT_DEAL


def check_redeemable(voucher: IssuedVoucher, *, until: datetime, at: datetime) -> None:
    """A voucher is redeemable while issued, not refunded, and inside its validity.

    Raises VoucherVoid, VoucherExpired (already redeemed is the caller's, who knows when and where)."""
    if voucher.status == "void":
        raise VoucherVoid("this voucher was refunded and cannot be redeemed", code=voucher.code)
    if not voucher.issued_at <= at < until:
        raise VoucherExpired(f"this voucher was valid until {until.isoformat()}", code=voucher.code,
                             valid_until=until.isoformat())


def undo_until(redeemed_at: datetime) -> datetime:
    return redeemed_at + UNDO_WINDOW


class BadKind(InvalidInput):
    code = "bad-kind"
    title = "No such kind"


K = TypeVar("K", ShopKind, DealKind)


def shop_kind(kind: Any) -> ShopKind:
    """The shop kind named `kind`. Raises BadKind."""
    return _kind(ShopKind, kind, "a shop's")


def deal_kind(kind: Any) -> DealKind:
    """The deal kind named `kind`. Raises BadKind."""
    return _kind(DealKind, kind, "a deal's")


def _kind(kinds: type[K], kind: Any, whose: str) -> K:
    if isinstance(kind, kinds):
        return kind
    # (`in` on the enum itself raises TypeError for a non-member on Python 3.11: ask its values)
    if not isinstance(kind, str) or kind not in kinds.__members__.values():
        raise BadKind(f"{whose} kind is one of {', '.join(kinds)}", kind=str(kind)[:40])
    return kinds(kind)
