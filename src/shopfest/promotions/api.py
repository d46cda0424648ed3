"""HTTP routes of promotions: pricing a cart, promotions, coupons and wallets, pre-sale offers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shopfest.core.errors import CurrencyMismatch
from shopfest.core.money import Money, minor_units
from shopfest.deps import AccountFirstRoute, ReadUowDep, RuntimeDep, SignedInActor, UowDep
from shopfest.problems import MalformedBody, problem_responses
from shopfest.promotions import service
from shopfest.promotions.offers import MAX_COUPONS, Campaign, CouponIssue, Period
from shopfest.rate_limits import client_address
from shopfest.schemas import Id, IdParam, InputModel, Instant, MoneyJson

router = APIRouter(prefix="/api/v1", tags=["promotions"], responses=problem_responses(401, 403, 404, 422),
                   route_class=AccountFirstRoute)


PRICE_EXAMPLE = {
    "currency": "CNY", "at": "2027-11-11T00:30:00+08:00", "shopper": "s1",
    "lines": [
        {"id": "l1", "sku": "k1", "merchant": "m1", "category": "apparel", "unit_price": "299.00", "qty": 2},
        {"id": "l2", "sku": "k2", "merchant": "m2", "category": "beauty", "unit_price": "150.00", "qty": 1},
    ],
    "promotions": [
        {"id": "p1", "kind": "store_threshold", "merchant": "m1",
         "tiers": [{"spend": "500.00", "off": "50.00"}]},
        {"id": "p2", "kind": "cross_store", "every": "300.00", "off": "40.00"},
    ],
    "coupons": [{"id": "c1", "kind": "platform_coupon", "min_spend": "400.00", "off": "20.00"}],
    "deposits": [],
}


# The body is read as bytes and parsed with the pricing, off the event loop; documented here.
PRICE_DOCS: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "additionalProperties": True, "title": "Cart"},
    "examples": {"festival cart": {"value": PRICE_EXAMPLE}}}}}}


@router.post("/price", openapi_extra=PRICE_DOCS, responses=problem_responses(413, 429))
async def price(request: Request, runtime: RuntimeDep) -> Response:
    """Price a cart with the festival's discounts, stacked in the festival's order (the pricing
    contract, docs/pricing.md). Anyone may ask; nothing is stored; at most 100 lines, as an order.
    Too many carts from one address are 429 `/problems/rate-limited`."""
    runtime.limiter.hit("price", address=client_address(request))
    body = await request.body()  # streamed under the body cap
    # Parsing, pricing and writing a large cart take milliseconds: in a thread, the event loop goes
    # on answering everyone else (it stalled /healthz for as long as a 4 MB cart took).
    return await run_in_threadpool(_quote, body, runtime.clock.now())


def _quote(body: bytes, now: datetime) -> Response:
    try:
        cart = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedBody(f"the body is not JSON: {error}") from None
    return Response(orjson.dumps(service.quote(cart, now=now)), media_type="application/json")


class PresaleIn(InputModel):
    sku_id: Id
    deposit: MoneyJson
    worth: MoneyJson | None = Field(None, description=(
        "what the deposit counts for against the price at checkout (e.g. pay 100, worth 200); "
        "the deposit itself when left out"))


@router.put("/presales", status_code=204)
def offer_presale(body: PresaleIn, uow: UowDep, actor: SignedInActor) -> Response:
    """Sell a SKU on pre-sale: in the festival's deposit windows a shopper pays `deposit` per unit to
    hold it and pays the balance in the wave's sale (merchant staff)."""
    service.offer_presale(uow, actor, sku_id=body.sku_id, deposit=body.deposit.to_money(),
                          worth=body.worth.to_money() if body.worth is not None else None)
    return Response(status_code=204)


class CouponIn(InputModel):
    kind: str = Field(examples=["store_coupon"],
                      description="store_coupon (merchant staff); platform_coupon, red_envelope (operators)")
    off: MoneyJson = Field(description="taken off the order; a red envelope's amount")
    min_spend: MoneyJson | None = Field(None, description="what the coupon's stage must reach; none: any")
    quantity: int = Field(strict=True, ge=1, le=MAX_COUPONS,
                          description="how many shoppers can claim, in all")
    per_shopper_limit: int = Field(1, strict=True, ge=1, le=MAX_COUPONS)
    starts_at: Instant
    ends_at: Instant


class CouponJson(BaseModel):
    id: int
    kind: str
    merchant_id: int | None
    off: MoneyJson
    min_spend: MoneyJson
    quantity: int
    claimed: int
    per_shopper_limit: int
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, c: CouponIssue) -> CouponJson:
        return cls(id=c.id or 0, kind=c.kind, merchant_id=c.merchant_id,
                   off=MoneyJson.of(Money(c.off, c.currency)),
                   min_spend=MoneyJson.of(Money(c.min_spend, c.currency)), quantity=c.quantity,
                   claimed=c.claimed, per_shopper_limit=c.per_shopper_limit,
                   starts_at=c.window.starts_at, ends_at=c.window.ends_at)


class GrantJson(BaseModel):
    id: int
    coupon: CouponJson
    state: str
    order_id: int | None
    claimed_at: datetime


def _coupon_of(body: CouponIn) -> CouponIssue:
    off = body.off.to_money()
    min_spend = body.min_spend.to_money() if body.min_spend is not None else Money.zero(off.currency)
    if min_spend.currency != off.currency:
        raise CurrencyMismatch("off and min_spend are in one currency")
    return CouponIssue(body.kind, None, off.currency, min_spend.minor, off.minor, body.quantity,
                  body.per_shopper_limit, Period(body.starts_at, body.ends_at))


@router.post("/coupons", status_code=201, response_model=CouponJson)
def put_on_coupon(body: CouponIn, uow: UowDep, actor: SignedInActor) -> CouponJson:
    """Put on a coupon for shoppers to claim, within the festival: a store coupon (merchant staff,
    for their store), a platform coupon or a red envelope (operators)."""
    return CouponJson.of(service.put_on_coupon(uow, actor, _coupon_of(body)))


@router.get("/coupons", response_model=list[CouponJson])
def coupons_on(uow: ReadUowDep, merchant_id: IdParam | None = None) -> list[CouponJson]:
    """The coupons that can be claimed now: a merchant's, or without `merchant_id` the platform's."""
    return [CouponJson.of(c) for c in service.coupons_on(uow, merchant_id)]


@router.get("/coupons/mine", response_model=list[GrantJson])
def my_coupons(uow: ReadUowDep, actor: SignedInActor) -> list[GrantJson]:
    """The coupons in the signed-in shopper's wallet: claimed (free), held by an unpaid order, or spent."""
    return [GrantJson(id=g.id or 0, coupon=CouponJson.of(c), state=g.state.value, order_id=g.order_id,
                      claimed_at=g.claimed_at) for g, c in service.wallet(uow, actor)]


@router.post("/coupons/{coupon_id}/claim", status_code=201, response_model=GrantJson,
             responses=problem_responses(409, 429))
def claim_coupon(coupon_id: IdParam, request: Request, uow: UowDep, runtime: RuntimeDep,
                 actor: SignedInActor) -> GrantJson:
    """Put one of this coupon in the shopper's wallet; 409 `coupons-gone` when every one is claimed,
    409 `claim-limit-reached` when the shopper holds the most allowed; too many claims by the shopper or
    from the address, 429 `rate-limited`."""
    runtime.limiter.hit("claim", account=str(actor.user_id) if actor else None,
                        address=client_address(request))
    grant = service.claim_coupon(uow, actor, coupon_id)
    found = service.coupon(uow, coupon_id)
    return GrantJson(id=grant.id or 0, coupon=CouponJson.of(found), state=grant.state.value,
                     order_id=None, claimed_at=grant.claimed_at)


class PromotionIn(InputModel):
    kind: str = Field(examples=["store_threshold"], description=(
        "percent_off, multi_buy, store_threshold (merchant staff, for their store); cross_store (operators)"))
    currency: str = Field(examples=["CNY"], description="the currency of the rule's amounts")
    rule: dict[str, Any] = Field(
        examples=[{"tiers": [{"spend": "200.00", "off": "20.00"}, {"spend": "400.00", "off": "50.00"}]}],
        description="the kind's fields as in the pricing contract (docs/pricing.md), amounts as decimal "
                    "strings; a merchant's rule is always for their own store")
    starts_at: Instant
    ends_at: Instant


class PromotionJson(PromotionIn):
    id: int
    merchant_id: int | None
    source: str

    @classmethod
    def of(cls, c: Campaign) -> PromotionJson:
        return cls(id=c.id or 0, kind=c.kind, merchant_id=c.merchant_id, currency=c.currency, rule=c.rule,
                   starts_at=c.window.starts_at, ends_at=c.window.ends_at, source=c.source)


@router.post("/promotions", status_code=201, response_model=PromotionJson)
def put_on_promotion(body: PromotionIn, uow: UowDep, actor: SignedInActor) -> PromotionJson:
    """Put on a promotion within the festival: merchant staff for their own store, operators a
    cross-store promotion (choosing `exclude_tiers` and `exclude_categories`)."""
    currency = body.currency.upper()
    minor_units(currency)
    campaign = Campaign(body.kind, None, currency, body.rule, Period(body.starts_at, body.ends_at))
    return PromotionJson.of(service.put_on_promotion(uow, actor, campaign))


@router.get("/promotions", response_model=list[PromotionJson])
def promotions_of(uow: ReadUowDep, merchant_id: IdParam | None = None) -> list[PromotionJson]:
    """The promotions a merchant put on, or without `merchant_id` the platform's."""
    return [PromotionJson.of(c) for c in service.promotions_of(uow, merchant_id)]
