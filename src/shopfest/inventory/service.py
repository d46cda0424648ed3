"""Inventory use cases: take in listed stock, tell what is available, flash sales, sell and take back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shopfest.catalog.model import ProductQuery, SkuForSale
from shopfest.catalog.service import SkusListed, merchant_of_sku, search_products, skus_for_sale
from shopfest.core.actor import Actor, Role, require_merchant_staff, require_role
from shopfest.core.errors import Conflict, CurrencyMismatch, NotFound
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.inventory import store as store_lists
from shopfest.inventory.hot_path import StockGate, sku_qty
from shopfest.inventory.model import (
    Claim,
    FlashSale,
    Shortfall,
    StockFigures,
    StockLevel,
    correction_change,
    intake_change,
    shortfall,
)
from shopfest.inventory.store import AdjustmentStore, InventoryStore, flash_bought_by, flash_sales_ahead


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


def shortfalls(uow: UnitOfWork, claims: Sequence[Claim]) -> dict[int, Shortfall]:
    """Per SKU, what the stock gate would refuse now of each claim on its own: more units than are
    left, than its flash sale has left, or than the shopper may still take under the sale's limit.
    Nothing is locked or taken (inside the caller's transaction)."""
    flash_ids = sorted({c.flash_sale_id for c in claims if c.flash_sale_id is not None})
    shopper_ids = sorted({c.shopper_id for c in claims if c.flash_sale_id is not None})
    ledger = InventoryStore(uow.conn).ledger(sorted({c.sku_id for c in claims}), flash_ids, shopper_ids,
                                             lock=False)
    found = {}
    for claim in claims:
        if (short := shortfall(ledger, claim)) is not None:
            found[claim.sku_id] = short
    return found


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


def flash_sales_of(uow: UnitOfWork, sku_ids: Sequence[int]) -> dict[int, list[FlashSale]]:
    """Every flash sale, past, on or coming, of each SKU (inside the caller's transaction)."""
    found: dict[int, list[FlashSale]] = {sku_id: [] for sku_id in sku_ids}
    for sale in InventoryStore(uow.conn).flash_sales_of(sku_ids):
        found[sale.sku_id].append(sale)
    return found


def schedule_flash_sale(uow: UnitOfWork, actor: Actor | None, sale: FlashSale) -> FlashSale:
    """A merchant's staff put a flash slot on their own SKU, in its currency, overlapping no other.

    Raises Unauthenticated, Forbidden, NotFound, InvalidInput, Conflict.
    """
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        if merchant_of_sku(uow, sale.sku_id) != merchant_id:
            raise NotFound(f"no SKU {sale.sku_id}", sku_id=sale.sku_id)
        sku = skus_for_sale(uow, [sale.sku_id])[sale.sku_id]
        if sku.price.currency != sale.price.currency:
            raise CurrencyMismatch(f"SKU {sale.sku_id} sells in {sku.price.currency}")
        store = InventoryStore(uow.conn)
        if any(sale.overlaps(other) for other in store.flash_sales_of([sale.sku_id])):
            raise Conflict("this SKU already has a flash sale in that time", sku_id=sale.sku_id)
        scheduled = store.add_flash_sale(sale)
        uow.commit()
    return scheduled


def take_back(uow: UnitOfWork, claims: Sequence[Claim], *, back_on_shelf: bool) -> None:
    """Refunded units leave `sold`: back on the shelf, or written off when the merchant says so."""
    InventoryStore(uow.conn).take_back(sku_qty(claims), back_on_shelf=back_on_shelf)


def stock_figures(uow: UnitOfWork) -> StockFigures:
    """Every SKU's (on hand, reserved, sold), every flash sale's units taken, in all and per shopper,
    and the units each shopper holds unpaid of each SKU, inside the caller's transaction."""
    store = InventoryStore(uow.conn)
    taken, bought = store.flash_counts()
    return StockFigures(store.all_levels(), taken, bought, store.all_unpaid())


@dataclass(frozen=True)
class FlashZone:
    """The flash sales on now and coming, soonest first, with what a shopper weighs them by."""

    sales: list[FlashSale]
    skus: dict[int, SkuForSale]  # what each sale's SKU is, and its list price
    stock_left: dict[int, int]  # units each SKU has left to sell
    taken: dict[int, int]  # units the signed-in shopper already took of each sale (none signed in: empty)


def flash_zone(uow: UnitOfWork, *, shopper_id: int | None, limit: int = 100) -> FlashZone:
    """The flash sales on now and coming, soonest first, their SKUs and units left, and for a
    signed-in shopper the units they took of each."""
    with uow:
        sales = flash_sales_ahead(uow.conn, uow.clock.now(), limit=limit)
        sku_ids = sorted({sale.sku_id for sale in sales})
        taken = {} if shopper_id is None else flash_bought_by(uow.conn, shopper_id,
                                                               [sale.id or 0 for sale in sales])
        return FlashZone(sales, skus_for_sale(uow, sku_ids), available_stock(uow, sku_ids), taken)


def flash_sales_running(uow: UnitOfWork, actor: Actor | None, *, limit: int) -> list[FlashSale]:
    """Operators see the flash sales on now, ending soonest first. Raises Unauthenticated, Forbidden."""
    require_role(actor, Role.OPERATOR)
    with uow:
        return store_lists.flash_sales_running(uow.conn, uow.clock.now(), limit=limit)


def hottest_skus(uow: UnitOfWork, actor: Actor | None, *, limit: int) -> list[StockLevel]:
    """Operators see the SKUs that sold most, with what is left of each. Raises Unauthenticated,
    Forbidden."""
    require_role(actor, Role.OPERATOR)
    with uow:
        return store_lists.most_sold(uow.conn, limit=limit)


# --- a merchant's stock: intake and stock-take corrections --------------------------------------

LOW_STOCK = 5  # units available at or below which the seller centre calls a SKU low


def levels_of_merchant(uow: UnitOfWork, actor: Actor | None, sku_ids: Sequence[int]) -> dict[int, StockLevel]:
    """The stock of those of `sku_ids` the staff's own merchant sells (others are left out).

    Raises Unauthenticated, Forbidden.
    """
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        ours = [s for s in sku_ids if merchant_of_sku(uow, s) == merchant_id]
        return InventoryStore(uow.conn).levels(ours)


def low_on_stock(uow: UnitOfWork, sku_ids: Sequence[int], *, at_most: int = LOW_STOCK) -> int:
    """How many of `sku_ids` have `at_most` units or fewer left to sell."""
    with uow:
        levels = InventoryStore(uow.conn).levels(sku_ids)
    return sum(1 for level in levels.values() if level.available <= at_most)


def take_in(uow: UnitOfWork, gate: StockGate, actor: Actor | None, *, sku_id: int, units: int) -> StockLevel:
    """A merchant's staff receive `units` more of their own SKU: on hand grows, in the rows and in the
    stock gate alike. Raises Unauthenticated, Forbidden, NotFound, InvalidInput."""
    staff, merchant_id = require_merchant_staff(actor)
    return _adjust(uow, gate, merchant_id, sku_id, kind="intake", staff_id=staff.user_id, reason="",
                   change_of=lambda level: intake_change(level, units))


def correct_count(uow: UnitOfWork, gate: StockGate, actor: Actor | None, *, sku_id: int, counted: int,
                  reason: str) -> StockLevel:
    """A stock-take: on hand becomes the units counted, never below those reserved and sold, with the
    reason kept. Raises Unauthenticated, Forbidden, NotFound, InvalidInput, CountBelowHeld."""
    staff, merchant_id = require_merchant_staff(actor)
    return _adjust(uow, gate, merchant_id, sku_id, kind="correction", staff_id=staff.user_id,
                   reason=reason.strip(), change_of=lambda level: correction_change(level, counted, reason))


def _adjust(uow: UnitOfWork, gate: StockGate, merchant_id: int, sku_id: int, *, kind: str, staff_id: int,
            reason: str, change_of: Callable[[StockLevel], int]) -> StockLevel:
    with uow:
        # Locked (PostgreSQL; SQLite holds its write lock): no batch of orders reserves in between.
        level = InventoryStore(uow.conn).levels([sku_id], lock=True).get(sku_id)
        if level is None or merchant_of_sku(uow, sku_id) != merchant_id:
            raise NotFound(f"no SKU {sku_id}", sku_id=sku_id)
        change = change_of(level)
        after = StockLevel(sku_id, level.on_hand + change, level.reserved, level.sold)
        undo = gate.change_on_hand(uow, sku_id, change)
        try:
            AdjustmentStore(uow.conn).record(sku_id=sku_id, kind=kind, change=change, on_hand=after.on_hand,
                                             reason=reason, staff_id=staff_id, at=uow.clock.now())
            uow.commit()
        except BaseException:
            undo()
            raise
    return after


# --- the seller centre's festival tools (web/seller_desk.py) ---------------------------------

MERCHANT_SKUS_SHOWN = 100  # the newest products' SKUs a form offers to choose from


def merchant_skus(uow: UnitOfWork, actor: Actor | None) -> list[SkuForSale]:
    """The SKUs of the staff's merchant's newest products, newest first, for a form to choose
    from. Raises Unauthenticated, Forbidden."""
    _, merchant_id = require_merchant_staff(actor)
    found = search_products(uow, ProductQuery(merchant_id=merchant_id, limit=MERCHANT_SKUS_SHOWN))
    sku_ids = [sku.id or 0 for product in found.items for sku in product.skus]
    with uow:
        listed = skus_for_sale(uow, sku_ids)
    return [listed[sku_id] for sku_id in sku_ids if sku_id in listed]


def own_skus(uow: UnitOfWork, actor: Actor | None, sku_ids: Sequence[int]) -> dict[int, SkuForSale]:
    """The staff's own SKUs among `sku_ids`; another merchant's SKU, or an unknown one, is not
    found. Raises Unauthenticated, Forbidden, NotFound."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        listed = skus_for_sale(uow, sorted(set(sku_ids)))
    for sku_id in sku_ids:
        if sku_id not in listed or listed[sku_id].merchant_id != merchant_id:
            raise NotFound(f"no SKU {sku_id}", sku_id=sku_id, field="sku_id")
    return listed


def flash_sales_of_merchant(uow: UnitOfWork, actor: Actor | None) -> list[tuple[FlashSale, SkuForSale]]:
    """The flash sales on the staff's merchant's SKUs, latest start first. Raises Unauthenticated,
    Forbidden."""
    skus = {sku.sku_id: sku for sku in merchant_skus(uow, actor)}
    with uow:
        sales = [sale for found in flash_sales_of(uow, sorted(skus)).values() for sale in found]
    return [(sale, skus[sale.sku_id]) for sale in sorted(sales, key=lambda s: s.starts_at, reverse=True)]


@dataclass(frozen=True)
class FlashSampleLine:
    sku: SkuForSale
    qty: int
    at_flash_price: int  # units charged at the flash price (at most the per-shopper limit)
    total: Money


@dataclass(frozen=True)
class FlashPreview:
    """A sample cart at list prices, and at the flash price for the units one shopper may take."""

    lines: list[FlashSampleLine]
    without: Money
    with_sale: Money

    @property
    def saved(self) -> Money:
        return self.without - self.with_sale


def preview_flash_sale(uow: UnitOfWork, actor: Actor | None, sale: FlashSale,
                       sample: Sequence[tuple[int, int]]) -> FlashPreview:
    """What a flash sale not yet scheduled does to a sample cart of the staff's own SKUs, with the
    checks scheduling makes (owner, currency, no overlap); nothing is stored.
    Raises Unauthenticated, Forbidden, NotFound, CurrencyMismatch, Conflict."""
    skus = own_skus(uow, actor, [sale.sku_id, *(sku_id for sku_id, _ in sample)])
    if skus[sale.sku_id].price.currency != sale.price.currency:
        raise CurrencyMismatch(f"SKU {sale.sku_id} sells in {skus[sale.sku_id].price.currency}",
                               field="price")
    with uow:
        if any(sale.overlaps(other) for other in InventoryStore(uow.conn).flash_sales_of([sale.sku_id])):
            raise Conflict("this SKU already has a flash sale in that time", sku_id=sale.sku_id,
                           field="starts_at")
    lines = []
    for sku_id, qty in sample:
        sku = skus[sku_id]
        flash_units = min(qty, sale.per_shopper_limit) if sku_id == sale.sku_id else 0
        total = sale.price * flash_units + sku.price * (qty - flash_units)
        lines.append(FlashSampleLine(sku, qty, flash_units, total))
    currency = skus[sale.sku_id].price.currency
    without = sum((skus[sku_id].price * qty for sku_id, qty in sample), Money.zero(currency))
    with_sale = sum((line.total for line in lines), Money.zero(currency))
    return FlashPreview(lines, without, with_sale)


def flash_sale_left(uow: UnitOfWork, flash_sale_id: int) -> int | None:
    """Units a flash sale still has to sell, as the flash zone counts them: what its quantity has left,
    at most what its SKU has left (the gate writes both rows in every order's transaction, Redis or
    not). None: no such sale."""
    with uow:
        sale = store_lists.flash_sale_by_id(uow.conn, flash_sale_id)
        if sale is None:
            return None
        return max(0, min(sale.quantity - sale.taken, available_stock(uow, [sale.sku_id])[sale.sku_id]))
