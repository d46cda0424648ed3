"""The one door through which checkout, pages and refunds learn what a cart costs and what a
pre-sale deposit holds."""

from __future__ import annotations

from collections.abc import Sequence

from shopfest.catalog.service import merchant_of_sku, skus_for_sale
from shopfest.core.actor import Actor, require_merchant_staff
from shopfest.core.errors import NotFound
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.festival import service as festival
from shopfest.promotions.model import CartLine, DepositTerms, PricedCart, check_deposit
from shopfest.promotions.model import price_cart as _price
from shopfest.promotions.store import PromotionStore


def price_cart(lines: tuple[CartLine, ...]) -> PricedCart:
    """What the shopper pays for each line. Raises InvalidInput, CurrencyMismatch."""
    return _price(lines)


def offer_presale(uow: UnitOfWork, actor: Actor | None, *, sku_id: int, deposit: Money) -> None:
    """A merchant's staff put one of their SKUs on pre-sale: in a deposit window, `deposit` holds a
    unit until the balance window. Raises Unauthenticated, Forbidden, NotFound, InvalidInput."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        if merchant_of_sku(uow, sku_id) != merchant_id:
            raise NotFound(f"no SKU {sku_id}", sku_id=sku_id)
        check_deposit(deposit, skus_for_sale(uow, [sku_id])[sku_id].price)
        PromotionStore(uow.conn).offer_presale(sku_id, deposit)
        uow.commit()


def deposit_terms(uow: UnitOfWork, sku_ids: Sequence[int]) -> dict[int, DepositTerms]:
    """In a deposit window, the terms of each SKU among `sku_ids` that is on pre-sale; none outside
    deposit windows (inside the caller's transaction)."""
    window = festival.balance_window_now(uow)
    if window is None:
        return {}
    deposits = PromotionStore(uow.conn).deposits(sku_ids)
    return {sku_id: DepositTerms(d, window.starts_at, window.ends_at) for sku_id, d in deposits.items()}
