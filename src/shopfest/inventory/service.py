"""Inventory use cases: take in listed stock, tell what is available."""

from __future__ import annotations

from collections.abc import Sequence

from shopfest.catalog.service import SkusListed, merchant_of_sku
from shopfest.core.actor import Actor, require_merchant_staff
from shopfest.core.errors import NotFound
from shopfest.core.uow import UnitOfWork
from shopfest.inventory.model import StockLevel
from shopfest.inventory.store import InventoryStore


def receive_listed_stock(uow: UnitOfWork, event: SkusListed) -> None:
    """New SKUs arrive with the stock their merchant listed, in the listing's transaction."""
    for sku_id, on_hand in event.stock.items():
        StockLevel(sku_id, on_hand)  # the rule holds before anything is written
    InventoryStore(uow.conn).receive(event.stock)


def available_stock(uow: UnitOfWork, sku_ids: Sequence[int]) -> dict[int, int]:
    """Units each SKU can still sell; a SKU with no stock record has none."""
    levels = InventoryStore(uow.conn).levels(sku_ids)
    return {sku_id: levels[sku_id].available if sku_id in levels else 0 for sku_id in sku_ids}


def available_stock_in(uow: UnitOfWork, sku_ids: Sequence[int]) -> dict[int, int]:
    """available_stock in a read transaction of its own."""
    with uow:
        return available_stock(uow, sku_ids)


def stock_level(uow: UnitOfWork, actor: Actor | None, sku_id: int) -> StockLevel:
    """A merchant's staff see their own SKUs' stock; another merchant's SKU is not found.

    Raises Unauthenticated, Forbidden, NotFound.
    """
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        level = InventoryStore(uow.conn).levels([sku_id]).get(sku_id)
        if level is None or merchant_of_sku(uow, sku_id) != merchant_id:
            raise NotFound(f"no SKU {sku_id}", sku_id=sku_id)
    return level
