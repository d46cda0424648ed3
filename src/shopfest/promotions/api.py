"""HTTP routes of promotions: pre-sale offers, for now."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from shopfest.deps import MaybeActor, UowDep
from shopfest.problems import problem_responses
from shopfest.promotions import service
from shopfest.schemas import MoneyJson

router = APIRouter(prefix="/api/v1", tags=["promotions"], responses=problem_responses(401, 403, 404, 422))


class PresaleIn(BaseModel):
    sku_id: int
    deposit: MoneyJson


@router.put("/presales", status_code=204)
def offer_presale(body: PresaleIn, uow: UowDep, actor: MaybeActor) -> Response:
    """Sell a SKU on pre-sale: in the festival's deposit windows a shopper pays `deposit` per unit to
    hold it and pays the balance in the wave's sale (merchant staff)."""
    service.offer_presale(uow, actor, sku_id=body.sku_id, deposit=body.deposit.to_money())
    return Response(status_code=204)
