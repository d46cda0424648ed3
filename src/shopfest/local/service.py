"""Local use cases: merchants open shops and sell deals as vouchers; shoppers find what is near."""

from __future__ import annotations

import base64
import itertools
import math
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from shopfest.catalog import service as catalog
from shopfest.catalog.model import Fulfilment, MerchantKind
from shopfest.core.actor import Actor, Role, acts_for, require_acting_for, require_role
from shopfest.core.clock import local
from shopfest.core.errors import Conflict, InvalidInput, NotFound
from shopfest.core.ids import is_id_text
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.local import cells, cities
from shopfest.local.model import (
    Deal,
    DealKind,
    Point,
    Shop,
    ShopKind,
    deal_kind,
    distance_m,
    hours,
    point,
    radius_m,
    shop_kind,
    shop_name,
    validity_days,
)
from shopfest.local.store import LocalStore, week_of

PAY_TOKEN_BYTES = 16  # 128 bits: a counter's QR code cannot be guessed from another's
PAGE_MOST = 100
WEEKS_READ = 64  # open-now reads the hours of this many shops at a time, nearest first
DEALS_PER_SHOP = 5  # what a shop's line in a nearby list shows; the shop's page shows the rest
SHOP_MERCHANTS = (MerchantKind.LOCAL, MerchantKind.OFFLINE)


class UnknownShop(NotFound):
    code = "unknown-shop"
    title = "No such shop"


class NotALocalMerchant(InvalidInput):
    code = "not-a-local-merchant"
    title = "Only local and offline merchants have shops"


class NotAVoucher(InvalidInput):
    code = "not-a-voucher"
    title = "A local deal is a SKU sold as a service or deposit voucher"


class DealExists(Conflict):
    code = "deal-exists"
    title = "The SKU is a deal already"


class NoPlace(InvalidInput):
    code = "no-place"
    title = "A nearby search starts from a place or a city"


class BadCursor(InvalidInput):
    code = "bad-cursor"
    title = "The cursor is not one this search gave out"


# --- who may act for a merchant ---------------------------------------------------------------------

def _act_for(actor: Actor | None, merchant_id: int) -> Actor:
    """Raises Unauthenticated, Forbidden."""
    return require_acting_for(actor, merchant_id, why="staff act for their own merchant only")


# --- shops ------------------------------------------------------------------------------------------

def open_shop(uow: UnitOfWork, actor: Actor | None, *, merchant_id: int, name: str, kind: str, city_id: int,
              lat: float, lng: float, hours: dict[str, Any] | None = None, name_zh: str | None = None,
              category_id: int | None = None) -> Shop:
    """A local or offline merchant's staff (or an operator) open a shop in a city: its hours are read
    in the city's zone, its counter gets a QR token of its own, and it shows a festival deal when the
    merchant sells one. Raises Unauthenticated, Forbidden, NotFound, UnknownCity, InvalidInput."""
    _act_for(actor, merchant_id)
    shop = _shop_of(merchant_id=merchant_id, name=name, kind=kind, city_id=city_id, lat=lat, lng=lng,
                    week=hours, name_zh=name_zh, category_id=category_id)
    merchant = catalog.get_merchant(uow, merchant_id)
    if merchant.kind not in SHOP_MERCHANTS:
        raise NotALocalMerchant(f"{merchant.name} sells online only", merchant_id=merchant_id)
    if category_id is not None and category_id not in {c.id for c in catalog.all_categories(uow)}:
        raise InvalidInput(f"unknown category {category_id}", field="category_id")
    with uow:
        store = LocalStore(uow.conn)
        shop = replace(shop, festival_deal=store.has_festival_deal(merchant_id))
        shop_id = store.add_shop(shop, at=uow.clock.now())
        uow.commit()
    return replace(shop, id=shop_id)


def _shop_of(*, merchant_id: int, name: str, kind: str, city_id: int, lat: float, lng: float,
             week: dict[str, Any] | None, name_zh: str | None, category_id: int | None) -> Shop:
    """The shop as asked, every field checked. Raises UnknownCity, InvalidInput."""
    town = cities.city(city_id)
    return Shop(merchant_id=merchant_id, name=shop_name(name), kind=shop_kind(kind), city_id=town.id,
                place=point(lat, lng), zone=town.zone, hours=hours(week),
                name_zh=shop_name(name_zh, what="Chinese shop name") if name_zh is not None else None,
                category_id=category_id, pay_token=secrets.token_urlsafe(PAY_TOKEN_BYTES))


def import_shops(uow: UnitOfWork, shops: Iterable[Shop]) -> int:
    """Load shops as they are (the demo's and the benchmark's data, checked by whoever made them),
    many to a statement; how many."""
    with uow:
        count = LocalStore(uow.conn).add_shops(shops, at=uow.clock.now())
        uow.commit()
    return count


def find_shop(uow: UnitOfWork, shop_id: int) -> Shop:
    """Raises UnknownShop."""
    with uow:
        found = LocalStore(uow.conn).shop(shop_id)
    if found is None:
        raise UnknownShop(f"no shop {shop_id}", shop_id=shop_id)
    return found


def shops_of(uow: UnitOfWork, actor: Actor | None, *, merchant_id: int) -> list[Shop]:
    """A merchant's shops, with their counters' QR tokens, for its staff and operators.
    Raises Unauthenticated, Forbidden."""
    _act_for(actor, merchant_id)
    with uow:
        return LocalStore(uow.conn).shops_of(merchant_id)


def shop_by_pay_token(uow: UnitOfWork, token: str) -> Shop:
    """The shop whose counter shows this QR token. Raises UnknownShop."""
    with uow:
        found = LocalStore(uow.conn).shop_by_pay_token(token)
    if found is None:
        raise UnknownShop("no shop shows this code at its counter")
    return found


# --- deals ------------------------------------------------------------------------------------------

def add_deal(uow: UnitOfWork, actor: Actor | None, *, sku_id: int, kind: str, valid_days: int,
             face_value: Money | None = None, valid_until: datetime | None = None,
             festival: bool = False) -> Deal:
    """Staff make one of their merchant's voucher SKUs a local deal (an operator, anyone's); a cash
    deal says what its voucher is worth, in the SKU's currency; a festival deal marks the merchant's
    shops. Raises Unauthenticated, Forbidden, NotFound, NotAVoucher, DealExists, InvalidInput."""
    staff = require_role(actor, Role.MERCHANT, Role.OPERATOR)
    kind_of, days = deal_kind(kind), validity_days(valid_days)
    with uow:
        sku = catalog.skus_for_sale(uow, [sku_id]).get(sku_id)
        if sku is None or not acts_for(staff, sku.merchant_id):
            raise NotFound(f"no SKU {sku_id} of yours", sku_id=sku_id)
        _check_voucher(sku.fulfilment, kind_of, face_value, sku.price)
        if valid_until is not None and (valid_until.tzinfo is None or valid_until <= uow.clock.now()):
            raise InvalidInput("a deal's last day is an instant still to come", field="valid_until")
        deal = Deal(sku.merchant_id, sku.product_id, sku_id, kind_of, days, face_value, valid_until, festival)
        deal = replace(deal, id=_add_deal(uow, deal))
        uow.commit()
    return deal


def _add_deal(uow: UnitOfWork, deal: Deal) -> int:
    store = LocalStore(uow.conn)
    if store.deal_of_sku(deal.sku_id) is not None:
        raise DealExists(f"SKU {deal.sku_id} is a deal already", sku_id=deal.sku_id)
    try:
        deal_id = store.add_deal(deal, at=uow.clock.now())
    except IntegrityError:  # the same SKU made a deal at the same moment elsewhere
        raise DealExists(f"SKU {deal.sku_id} is a deal already", sku_id=deal.sku_id) from None
    if deal.festival:
        store.mark_festival_deal(deal.merchant_id)
    return deal_id


def _check_voucher(fulfilment: Fulfilment, kind: DealKind, face_value: Money | None, price: Money) -> None:
    """A deposit deal is a deposit voucher, the others service vouchers; only cash has a face value,
    worth something, in the price's currency. Raises NotAVoucher, InvalidInput."""
    wanted = Fulfilment.DEPOSIT_VOUCHER if kind is DealKind.DEPOSIT else Fulfilment.SERVICE_VOUCHER
    if fulfilment is not wanted:
        raise NotAVoucher(f"a {kind.value} deal is a SKU fulfilled as {wanted.value}, not {fulfilment.value}",
                          fulfilment=fulfilment.value)
    if kind is not DealKind.CASH and face_value is not None:
        raise InvalidInput("only a cash deal has a face value", field="face_value")
    if kind is DealKind.CASH and (face_value is None or face_value.currency != price.currency
                                  or face_value.minor <= 0):
        raise InvalidInput(f"a cash deal says what its voucher is worth in {price.currency}",
                           field="face_value")


def import_deals(uow: UnitOfWork, deals: Sequence[Deal]) -> int:
    """Load deals as they are (the demo's, checked by whoever made them) in one transaction; a
    festival deal marks its merchant's shops. How many."""
    with uow:
        store = LocalStore(uow.conn)
        for deal in deals:
            store.add_deal(deal, at=uow.clock.now())
        for merchant_id in sorted({d.merchant_id for d in deals if d.festival}):
            store.mark_festival_deal(merchant_id)
        uow.commit()
    return len(deals)


def deal_of_sku(uow: UnitOfWork, sku_id: int) -> Deal | None:
    """The deal a SKU is sold as, if it is one."""
    with uow:
        return LocalStore(uow.conn).deal_of_sku(sku_id)


def deals_of(uow: UnitOfWork, *, merchant_ids: Sequence[int]) -> list[Deal]:
    """The deals of these merchants, oldest first."""
    with uow:
        return LocalStore(uow.conn).deals_of(merchant_ids)


# --- the nearby search ------------------------------------------------------------------------------

@dataclass(frozen=True)
class NearbyQuery:
    place: Point | None = None
    city_id: int | None = None  # its centre, when no place is given
    radius_m: float = 3000
    kind: ShopKind | None = None
    category_id: int | None = None
    open_now: bool = False
    festival_deal: bool = False
    after: str | None = None  # the cursor of the page before
    limit: int = 20


@dataclass(frozen=True)
class DealOffer:
    deal: Deal
    title: str
    title_zh: str | None
    price: Money
    product_id: int
    sku_id: int


@dataclass(frozen=True)
class NearbyShop:
    shop: Shop
    distance_m: float
    open_now: bool
    deals: list[DealOffer]


@dataclass(frozen=True)
class NearbyPage:
    centre: Point
    radius_m: float
    shops: list[NearbyShop]
    next_cursor: str | None


def nearby(uow: UnitOfWork, query: NearbyQuery, *, now: datetime) -> NearbyPage:
    """The shops within the radius of a place (or a city's centre) that pass the filters, nearest
    first (then by id), a page at a time; each with its distance, whether it is open now in its own
    zone, and its merchant's deals. Reads only the rows of the H3 cells around the place.
    Raises NoPlace, UnknownCity, BadPlace, BadRadius, BadKind, BadCursor, InvalidInput."""
    centre, reach = _centre(query), radius_m(query.radius_m)
    kind = shop_kind(query.kind) if query.kind is not None else None
    limit, after = _limit(query.limit), _after(query.after)
    if query.category_id is not None and (isinstance(query.category_id, bool)
                                          or not isinstance(query.category_id, int)):
        raise InvalidInput("a category is named by its id", field="category")
    with uow:
        store = LocalStore(uow.conn)
        page, more = _nearest(store, replace(query, kind=kind, limit=limit), centre=centre, reach=reach,
                              after=after, now=now)
        shops = store.shops_by_id([i for _, i in page])
        offers = _offers(uow, store, {s.merchant_id for s in shops.values()})
    found = [NearbyShop(shops[i], d, shops[i].hours.open_at(local(now, shops[i].zone)),
                        offers.get(shops[i].merchant_id, [])) for d, i in page]
    return NearbyPage(centre, reach, found, encode_after(*page[-1]) if more and page else None)


def _nearest(store: LocalStore, query: NearbyQuery, *, centre: Point, reach: float,
             after: tuple[float, int] | None, now: datetime) -> tuple[list[tuple[float, int]], bool]:
    """The page's (distance, id) pairs and whether more follow. Disks of cells grow around the
    centre until one holds a page and one more within the distance it covers (then no shop outside
    it can come before them), or the radius is covered."""
    for resolution, cell_ids, covered in cells.growing_disks(centre, reach,
                                                             nearest_m=after[0] if after else 0.0):
        reached = min(covered, reach)
        rows = store.candidates(resolution, cell_ids, kind=query.kind, category_id=query.category_id,
                                festival_deal=query.festival_deal, within=cells.box(centre, reached))
        ranked = _ranked(rows, centre, reached, after)
        if query.open_now:
            ranked = _open_ones(store, ranked, now)
        picked = [(d, i) for d, i, _ in _first(ranked, query.limit + 1)]
        if len(picked) > query.limit or covered >= reach:
            return picked[:query.limit], len(picked) > query.limit
    raise AssertionError("unreachable: the last disk covers the radius")


def _centre(query: NearbyQuery) -> Point:
    """Raises NoPlace, UnknownCity, BadPlace."""
    if query.place is not None:
        return point(query.place.lat, query.place.lng)
    if query.city_id is not None:
        return cities.city(query.city_id).centre
    raise NoPlace("give a place (lat and lng) or a city")


def _limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_MOST:
        raise InvalidInput(f"a page holds 1 to {PAGE_MOST} shops", field="limit")
    return limit


def _ranked(rows: Iterable[Any], centre: Point, reach: float,
            after: tuple[float, int] | None) -> Iterable[tuple[float, int, Any]]:
    """The rows within reach, past the cursor, nearest first (then by id)."""
    within = ((distance_m(centre, Point(r.lat, r.lng)), r.id, r) for r in rows)
    kept = [t for t in within if t[0] <= reach and (after is None or (t[0], t[1]) > after)]
    kept.sort(key=lambda t: (t[0], t[1]))
    return kept


def _first(ranked: Iterable[tuple[float, int, Any]], count: int) -> list[tuple[float, int, Any]]:
    return list(itertools.islice(ranked, count))


def _open_ones(store: LocalStore, ranked: Iterable[tuple[float, int, Any]],
               now: datetime) -> Iterator[tuple[float, int, Any]]:
    """The ranked shops open now in their zones; their weeks read a few dozen at a time, as the page
    needs them, not for every shop in the disk."""
    ranked = list(ranked)
    for start in range(0, len(ranked), WEEKS_READ):
        part = ranked[start:start + WEEKS_READ]
        weeks = store.weeks([i for _, i, _ in part])
        yield from (found for found in part
                    if week_of(weeks[found[1]][1]).open_at(local(now, weeks[found[1]][0])))


def _offers(uow: UnitOfWork, store: LocalStore, merchant_ids: set[int]) -> dict[int, list[DealOffer]]:
    """The deals of these merchants with their catalog titles and prices, read in one batch;
    festival deals first."""
    deals = store.deals_of(sorted(merchant_ids)) if merchant_ids else []
    skus = catalog.skus_for_sale(uow, [d.sku_id for d in deals]) if deals else {}
    offers: dict[int, list[DealOffer]] = {}
    for deal in sorted(deals, key=lambda d: (not d.festival, d.id or 0)):
        sku = skus.get(deal.sku_id)
        shown = offers.setdefault(deal.merchant_id, [])
        if sku is not None and len(shown) < DEALS_PER_SHOP:
            shown.append(DealOffer(deal, sku.title, sku.title_zh, sku.price, sku.product_id, sku.sku_id))
    return offers


# A cursor names the last shop of a page by its distance and id; the next page starts past both.
_CURSOR_PREFIX = "near"


def encode_after(distance: float, shop_id: int) -> str:
    text = f"{_CURSOR_PREFIX}:{distance!r}:{shop_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _after(cursor: str | None) -> tuple[float, int] | None:
    """Raises BadCursor."""
    if not cursor:
        return None
    try:
        if len(cursor) > 120:
            raise ValueError(cursor)
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        prefix, distance, shop_id = text.split(":")
        metres = float(distance)
        if prefix != _CURSOR_PREFIX or not math.isfinite(metres) or metres < 0 or not is_id_text(shop_id):
            raise ValueError(text)
    except (ValueError, UnicodeDecodeError):
        raise BadCursor(f"{cursor[:60]!r} is not a cursor this search gave out") from None
    return metres, int(shop_id)
