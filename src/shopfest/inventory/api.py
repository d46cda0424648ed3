"""HTTP routes of inventory: what a merchant's staff see of their stock."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool

from shopfest.deps import AccountFirstRoute, ReadUowDep, SignedInActor, UowDep
from shopfest.inventory import service
from shopfest.inventory.model import MAX_ACCOUNT_AGE_HOURS, FlashSale
from shopfest.problems import problem_responses
from shopfest.schemas import Id, IdParam, InputModel, Instant, MoneyJson

router = APIRouter(prefix="/api/v1", tags=["inventory"],
                   responses=problem_responses(401, 403, 404, 422),
                   route_class=AccountFirstRoute)


class StockJson(BaseModel):
    sku_id: int
    on_hand: int
    reserved: int
    sold: int
    available: int


@router.get("/skus/{sku_id}/stock", response_model=StockJson)
def get_stock(sku_id: IdParam, uow: ReadUowDep, actor: SignedInActor) -> StockJson:
    """Units on hand, reserved by unpaid orders, sold, and still available (merchant staff)."""
    level = service.stock_level(uow, actor, sku_id)
    return StockJson(sku_id=sku_id, on_hand=level.on_hand, reserved=level.reserved,
                     sold=level.sold, available=level.available)


class FlashSaleIn(InputModel):
    sku_id: Id
    price: MoneyJson
    quantity: int = Field(strict=True, ge=1, le=10_000_000)
    starts_at: Instant
    ends_at: Instant
    per_shopper_limit: int = Field(1, strict=True, ge=1, le=999)
    requires_verified: StrictBool = Field(False, description=(
        "sells only to accounts with a verified email or phone"))
    min_account_age_hours: int = Field(0, strict=True, ge=0, le=MAX_ACCOUNT_AGE_HOURS,
                                       description="sells only to accounts opened at least this long ago")


class FlashSaleJson(FlashSaleIn):
    id: int
    taken: int


@router.post("/flash-sales", status_code=201, response_model=FlashSaleJson)
def schedule_flash_sale(body: FlashSaleIn, uow: UowDep, actor: SignedInActor) -> FlashSaleJson:
    """Schedule a flash slot on one of the merchant's SKUs: `quantity` units at `price` between
    `starts_at` and `ends_at`, at most `per_shopper_limit` per shopper (merchant staff); against
    scalpers' fresh accounts, to verified accounts only and to accounts of a minimum age, if asked."""
    sale = service.schedule_flash_sale(uow, actor, FlashSale(
        sku_id=body.sku_id, price=body.price.to_money(), quantity=body.quantity,
        starts_at=body.starts_at, ends_at=body.ends_at,
        per_shopper_limit=body.per_shopper_limit, requires_verified=body.requires_verified,
        min_account_age_hours=body.min_account_age_hours))
    return FlashSaleJson(id=sale.id or 0, taken=sale.taken, sku_id=sale.sku_id,
                         price=MoneyJson.of(sale.price), quantity=sale.quantity,
                         starts_at=sale.starts_at, ends_at=sale.ends_at,
                         per_shopper_limit=sale.per_shopper_limit, requires_verified=sale.requires_verified,
                         min_account_age_hours=sale.min_account_age_hours)
