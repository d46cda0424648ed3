"""Stock per SKU and the one rule it keeps: never sell what is not there."""

from __future__ import annotations

from dataclasses import dataclass

from shopfest.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class StockLevel:
    """Units of one SKU: on hand in all, reserved by unpaid orders, sold. reserved + sold ≤ on hand."""

    sku_id: int
    on_hand: int
    reserved: int = 0
    sold: int = 0

    def __post_init__(self) -> None:
        if min(self.on_hand, self.reserved, self.sold) < 0:
            raise InvalidInput("stock figures cannot be negative", sku_id=self.sku_id)
        if self.reserved + self.sold > self.on_hand:
            raise InvalidInput("reserved and sold units exceed the units on hand",
                               sku_id=self.sku_id)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.sold
