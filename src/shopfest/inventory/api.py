"""HTTP routes of inventory: what a merchant's staff see of their stock."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from shopfest.deps import MaybeActor, ReadUowDep
from shopfest.inventory import service
from shopfest.problems import problem_responses

router = APIRouter(prefix="/api/v1", tags=["inventory"],
                   responses=problem_responses(401, 403, 404, 422))


class StockJson(BaseModel):
    sku_id: int
    on_hand: int
    reserved: int
    sold: int
    available: int


@router.get("/skus/{sku_id}/stock", response_model=StockJson)
def get_stock(sku_id: int, uow: ReadUowDep, actor: MaybeActor) -> StockJson:
    """Units on hand, reserved by unpaid orders, sold, and still available (merchant staff)."""
    level = service.stock_level(uow, actor, sku_id)
    return StockJson(sku_id=sku_id, on_hand=level.on_hand, reserved=level.reserved,
                     sold=level.sold, available=level.available)
