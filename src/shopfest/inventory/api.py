"""HTTP routes of inventory: what a merchant's staff see of their stock."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shopfest.core.clock import as_utc
from shopfest.core.errors import InvalidInput
from shopfest.deps import AccountFirstRoute, ReadUowDep, SignedInActor, UowDep
from shopfest.inventory import service
from shopfest.inventory.model import FlashSale
from shopfest.problems import problem_responses
from shopfest.schemas import MoneyJson

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
def get_stock(sku_id: int, uow: ReadUowDep, actor: SignedInActor) -> StockJson:
    """Units on hand, reserved by unpaid orders, sold, and still available (merchant staff)."""
    level = service.stock_level(uow, actor, sku_id)
    return StockJson(sku_id=sku_id, on_hand=level.on_hand, reserved=level.reserved,
                     sold=level.sold, available=level.available)


class FlashSaleIn(BaseModel):
    sku_id: int
    price: MoneyJson
    quantity: int = Field(ge=1, le=10_000_000)
    starts_at: datetime
    ends_at: datetime
    per_shopper_limit: int = Field(1, ge=1, le=999)


class FlashSaleJson(FlashSaleIn):
    id: int
    taken: int


@router.post("/flash-sales", status_code=201, response_model=FlashSaleJson)
def schedule_flash_sale(body: FlashSaleIn, uow: UowDep, actor: SignedInActor) -> FlashSaleJson:
    """Schedule a flash slot on one of the merchant's SKUs: `quantity` units at `price` between
    `starts_at` and `ends_at`, at most `per_shopper_limit` per shopper (merchant staff)."""
    if body.starts_at.tzinfo is None or body.ends_at.tzinfo is None:
        raise InvalidInput("give starts_at and ends_at with a UTC offset")
    sale = service.schedule_flash_sale(uow, actor, FlashSale(
        sku_id=body.sku_id, price=body.price.to_money(), quantity=body.quantity,
        starts_at=as_utc(body.starts_at), ends_at=as_utc(body.ends_at),
        per_shopper_limit=body.per_shopper_limit))
    return FlashSaleJson(id=sale.id or 0, taken=sale.taken, sku_id=sale.sku_id,
                         price=MoneyJson.of(sale.price), quantity=sale.quantity,
                         starts_at=sale.starts_at, ends_at=sale.ends_at,
                         per_shopper_limit=sale.per_shopper_limit)
