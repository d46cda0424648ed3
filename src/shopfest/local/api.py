"""HTTP routes of local services: shops, deals, the nearby search and the festival's cities."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from shopfest.core.actor import Actor, acts_for
from shopfest.core.clock import instant_text
from shopfest.deps import AccountFirstRoute, Cursor, Limit, RuntimeDep, SignedInActor, actor_of
from shopfest.local import cities, service
from shopfest.local.model import LONGEST_RADIUS_M, NAME_MAX, Deal, Point, Shop, shop_kind
from shopfest.local.service import DealOffer, NearbyPage, NearbyQuery
from shopfest.problems import problem_responses
from shopfest.rate_limits import client_address
from shopfest.schemas import Id, IdParam, InputModel, Instant, MoneyJson

router = APIRouter(prefix="/api/v1/local", tags=["local"],
                   responses=problem_responses(401, 403, 404, 409, 422), route_class=AccountFirstRoute)


class PlaceJson(BaseModel):
    lat: float
    lng: float


class ShopJson(BaseModel):
    id: int
    merchant_id: int
    name: str
    name_zh: str | None
    kind: str
    city_id: int
    place: PlaceJson
    zone: str
    hours: dict[str, list[str]] = Field(
        description="spans per day in the shop's zone; a day left out is closed")
    category_id: int | None
    festival_deal: bool
    pay_token: str | None = Field(
        None, description="the counter's QR token: shown to the merchant's staff only")


class ShopIn(InputModel):
    merchant_id: Id
    name: str = Field(max_length=NAME_MAX * 2)
    name_zh: str | None = Field(None, max_length=NAME_MAX * 2)
    kind: str = Field(max_length=40, examples=["restaurant"])
    city_id: Id = Field(description="the GeoNames id of its city (see /api/v1/local/cities)")
    lat: float
    lng: float
    hours: dict[str, list[str]] | None = Field(
        None, examples=[{"mon": ["09:00-21:00"], "sat": ["18:00-02:00"]}], description="none: always open")
    category_id: Id | None = None


class DealJson(BaseModel):
    id: int
    merchant_id: int
    product_id: int
    sku_id: int
    kind: str
    valid_days: int
    face_value: MoneyJson | None
    valid_until: str | None
    festival: bool


class DealIn(InputModel):
    sku_id: Id
    kind: str = Field(max_length=40, examples=["cash", "set_meal", "service", "deposit"])
    valid_days: int = Field(description="each voucher is valid this many days from its issue")
    face_value: MoneyJson | None = Field(None, description="what a cash voucher is worth in the shop")
    valid_until: Instant | None = None
    festival: bool = False


class OfferJson(BaseModel):
    deal: DealJson
    title: str
    title_zh: str | None
    price: MoneyJson
    product_id: int
    sku_id: int


class NearbyShopJson(BaseModel):
    shop: ShopJson
    distance_m: float
    open_now: bool
    deals: list[OfferJson]


class NearbyJson(BaseModel):
    centre: PlaceJson
    radius_m: float
    data: list[NearbyShopJson]
    next_cursor: str | None


class CityJson(BaseModel):
    id: int
    name: str
    name_zh: str | None
    country: str
    lat: float
    lng: float
    zone: str


def shop_json(shop: Shop, *, actor: Actor | None = None) -> dict[str, Any]:
    return {"id": shop.id, "merchant_id": shop.merchant_id, "name": shop.name, "name_zh": shop.name_zh,
            "kind": shop.kind.value, "city_id": shop.city_id,
            "place": {"lat": shop.place.lat, "lng": shop.place.lng}, "zone": shop.zone,
            "hours": shop.hours.as_json(), "category_id": shop.category_id,
            "festival_deal": shop.festival_deal,
            "pay_token": shop.pay_token if acts_for(actor, shop.merchant_id) else None}


def deal_json(deal: Deal) -> dict[str, Any]:
    return {"id": deal.id, "merchant_id": deal.merchant_id, "product_id": deal.product_id,
            "sku_id": deal.sku_id, "kind": deal.kind.value, "valid_days": deal.valid_days,
            "face_value": MoneyJson.of(deal.face_value) if deal.face_value else None,
            "valid_until": instant_text(deal.valid_until) if deal.valid_until else None,
            "festival": deal.festival}


def _offer_json(offer: DealOffer) -> dict[str, Any]:
    return {"deal": deal_json(offer.deal), "title": offer.title, "title_zh": offer.title_zh,
            "price": MoneyJson.of(offer.price), "product_id": offer.product_id, "sku_id": offer.sku_id}


def nearby_json(page: NearbyPage) -> dict[str, Any]:
    return {"centre": {"lat": page.centre.lat, "lng": page.centre.lng}, "radius_m": page.radius_m,
            "data": [{"shop": shop_json(s.shop), "distance_m": round(s.distance_m, 1), "open_now": s.open_now,
                      "deals": [_offer_json(o) for o in s.deals]} for s in page.shops],
            "next_cursor": page.next_cursor}


@router.post("/shops", status_code=201, response_model=ShopJson)
def open_shop(body: ShopIn, runtime: RuntimeDep, actor: SignedInActor) -> dict[str, Any]:
    """Open a shop (staff of a local or offline merchant, or an operator): in a city, at a place, with
    its kind and opening hours; the answer carries the counter's QR token."""
    shop = service.open_shop(runtime.uow(), actor, merchant_id=body.merchant_id, name=body.name,
                             kind=body.kind, city_id=body.city_id, lat=body.lat, lng=body.lng,
                             hours=body.hours, name_zh=body.name_zh, category_id=body.category_id)
    return shop_json(shop, actor=actor)


@router.get("/shops/{shop_id}", response_model=ShopJson)
def get_shop(shop_id: IdParam, request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """One shop; its counter's QR token for its merchant's staff only."""
    # The account is read here, not declared: a shop is public (see live's schedule).
    shop = service.find_shop(runtime.uow(read_only=True), shop_id)
    return shop_json(shop, actor=actor_of(request, runtime))


@router.get("/merchants/{merchant_id}/shops", response_model=list[ShopJson])
def merchant_shops(merchant_id: IdParam, runtime: RuntimeDep, actor: SignedInActor) -> list[dict[str, Any]]:
    """A merchant's shops with their QR tokens (its staff, or an operator)."""
    return [shop_json(s, actor=actor)
            for s in service.shops_of(runtime.uow(read_only=True), actor, merchant_id=merchant_id)]


@router.post("/deals", status_code=201, response_model=DealJson)
def add_deal(body: DealIn, runtime: RuntimeDep, actor: SignedInActor) -> dict[str, Any]:
    """Make one of the merchant's voucher SKUs a local deal (its staff, or an operator): cash (with the
    voucher's face value), set meal, service, or deposit; a festival deal marks the merchant's shops."""
    deal = service.add_deal(runtime.uow(), actor, sku_id=body.sku_id, kind=body.kind,
                            valid_days=body.valid_days,
                            face_value=body.face_value.to_money() if body.face_value else None,
                            valid_until=body.valid_until, festival=body.festival)
    return deal_json(deal)


@router.get("/nearby", response_model=NearbyJson, responses=problem_responses(429))
def find_nearby(
    request: Request,
    runtime: RuntimeDep,
    lat: Annotated[float | None, Query(description="degrees, with lng; else `city`")] = None,
    lng: Annotated[float | None, Query(description="degrees")] = None,
    city: Annotated[IdParam | None, Query(description="a GeoNames city id: search from its centre")] = None,
    radius_m: Annotated[float, Query(description=f"metres, more than 0, at most {LONGEST_RADIUS_M}")] = 3000,
    kind: Annotated[str | None, Query(max_length=40, examples=["restaurant"])] = None,
    category: Annotated[IdParam | None, Query(description="a category id")] = None,
    open_now: bool = False,
    festival_deal: Annotated[bool, Query(description="only shops of merchants with a festival deal")] = False,
    after: Cursor = None,
    limit: Limit = 20,
) -> dict[str, Any]:
    """The shops within `radius_m` of a place (or a city's centre), nearest first, great-circle
    distances, each with its merchant's deals; cursor paged. Anonymous searches are welcome; too many
    from one address are 429 `/problems/rate-limited`."""
    runtime.limiter.hit("nearby", address=client_address(request))
    place = None
    if lat is not None or lng is not None:
        place = Point(lat, lng)  # type: ignore[arg-type]  # one missing is refused by point() in the service
    query = NearbyQuery(place=place, city_id=city, radius_m=radius_m,
                        kind=shop_kind(kind) if kind is not None else None, category_id=category,
                        open_now=open_now, festival_deal=festival_deal, after=after, limit=limit)
    return nearby_json(service.nearby(runtime.uow(read_only=True), query, now=runtime.clock.now()))


@router.get("/cities", response_model=list[CityJson])
def festival_cities() -> list[dict[str, Any]]:
    """The festival's cities (GeoNames ids), biggest first: where a search or a shop may start."""
    return [{"id": c.id, "name": c.name, "name_zh": c.name_zh, "country": c.country,
             "lat": c.centre.lat, "lng": c.centre.lng, "zone": c.zone} for c in cities.festival_cities()]
