"""Insights as pure rules: the sales the event stream carries, in the operator's reporting currency,
and how they add up into figures. No I/O.

Every figure is a fold of `Sale`s. The stream folds them as their events arrive; `shopfest insights
rebuild` folds the same sales read back from the orders. Both go through the same functions, so a
figure recomputed equals the figure streamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Published:
    """An outbox row on its way to the consumers: `event_id` is the outbox id, unique for ever, and
    what consumers count each event once by."""

    event_id: int
    name: str
    payload: dict[str, Any]
    occurred_at: datetime


class SaleKind(StrEnum):
    PAID = "paid"  # an order paid in full (or its balance paid): the whole order counts
    REFUND = "refund"  # money given back on a counted order: amounts and units are negative
    INSTORE = "instore"  # a payment at a local shop's counter (QR code)
    REDEEMED = "redeemed"  # a local voucher redeemed in its shop


@dataclass(frozen=True, slots=True)
class SaleLine:
    """One line of a sale, in the reporting currency; negative in a refund. `promotions` names each
    discount the line got (promotion key, minor units given) so a merchant sees each one's effect."""

    merchant_id: int
    product_id: int | None
    brand_id: int | None
    brand: str
    category_id: int | None
    category: str
    luxury: bool
    debut: bool
    qty: int
    gmv_minor: int
    discount_minor: int = 0
    promotions: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Sale:
    """What one event adds to the figures, every amount already in `currency` (the reporting one)."""

    event_id: int
    kind: SaleKind
    at: datetime
    currency: str
    order_id: int | None
    shopper_id: int | None
    country: str  # the shopper's, ISO 3166 alpha-2; "" when unknown
    source: str | None  # where the order was placed from (`live:12`), for live-attributed sales
    lines: tuple[SaleLine, ...]

    @property
    def gmv_minor(self) -> int:
        return sum(line.gmv_minor for line in self.lines)


class Projection(Protocol):
    """A set of figures kept from the sales (the screen's, the merchants'): `project` adds a batch of
    sales not seen before, in the caller's transaction; `clear` forgets everything, for a rebuild."""

    def project(self, conn: Any, sales: Sequence[Sale]) -> None: ...

    def clear(self, conn: Any) -> None: ...
