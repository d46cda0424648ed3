"""What checkout knows of the SKUs a batch sells, remembered for a moment: at the peak every batch
asks about the same few SKUs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from shopfest.catalog import service as catalog
from shopfest.catalog.model import SkuForSale
from shopfest.core.uow import UnitOfWork
from shopfest.inventory import service as inventory
from shopfest.inventory.model import FlashSale
from shopfest.orders.drafting import Shelf
from shopfest.promotions import service as promotions
from shopfest.promotions.model import DepositTerms, OnOffer

SHELF_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Shelved:
    """What the checkout remembers of one SKU for a moment: it, its flash sales, its pre-sale terms."""

    until: float
    sku: SkuForSale | None
    flash_sales: tuple[FlashSale, ...]
    presale: DepositTerms | None


class ShelfMemory:
    """At the peak every batch asks about the same few SKUs: remember the answers for a second, so a
    batch reads only the counters. A price or flash sale a merchant changes reaches checkout within
    `SHELF_SECONDS`; flash sales start and end on time (their windows are checked per batch)."""

    def __init__(self) -> None:
        self._shelved: dict[int, Shelved] = {}
        # merchant (None: the platform) -> until when, and the promotions it has on
        self._promotions: dict[int | None, tuple[float, tuple[OnOffer, ...]]] = {}
        self._lock = threading.Lock()  # checkout lanes share the memory

    def shelf(self, uow: UnitOfWork, sku_ids: list[int], now: datetime) -> Shelf:
        with self._lock:
            return self._shelf(uow, sku_ids, now)

    def _shelf(self, uow: UnitOfWork, sku_ids: list[int], now: datetime) -> Shelf:
        clock = time.monotonic()
        missing = [s for s in sku_ids if s not in self._shelved or self._shelved[s].until < clock]
        if missing:
            self._fetch(uow, missing, clock + SHELF_SECONDS)
        shelved = [self._shelved[s] for s in sku_ids]
        merchants = sorted({e.sku.merchant_id for e in shelved if e.sku is not None})
        return Shelf(
            skus={e.sku.sku_id: e.sku for e in shelved if e.sku is not None},
            flash={sale.sku_id: sale for e in shelved for sale in e.flash_sales if sale.is_on(now)},
            presales={sku_id: e.presale for sku_id, e in zip(sku_ids, shelved, strict=True)
                      if e.presale is not None},
            promotions=self._promotions_of(uow, merchants, clock),
        )

    def _promotions_of(self, uow: UnitOfWork, merchant_ids: list[int], clock: float) -> tuple[OnOffer, ...]:
        owners: list[int | None] = [None, *merchant_ids]
        if any(o not in self._promotions or self._promotions[o][0] < clock for o in owners):
            if len(self._promotions) > 100_000:
                self._promotions.clear()
            fetched: dict[int | None, list[OnOffer]] = {owner: [] for owner in owners}
            for offer in promotions.campaigns_on(uow, merchant_ids):
                fetched.setdefault(offer.merchant_id, []).append(offer)
            for owner, offers in fetched.items():
                self._promotions[owner] = (clock + SHELF_SECONDS, tuple(offers))
        return tuple(sorted((o for owner in owners for o in self._promotions[owner][1]),
                            key=lambda offer: offer.rank))

    def _fetch(self, uow: UnitOfWork, sku_ids: list[int], until: float) -> None:
        if len(self._shelved) > 100_000:
            self._shelved.clear()
        skus = catalog.skus_for_sale(uow, sku_ids)
        flash = inventory.flash_sales_of(uow, sku_ids)
        presales = promotions.deposit_terms(uow, sku_ids)
        for sku_id in sku_ids:
            self._shelved[sku_id] = Shelved(until, skus.get(sku_id), tuple(flash.get(sku_id, ())),
                                            presales.get(sku_id))
