"""The sales the insights context counts, as events written to the outbox in the transaction that
makes each fact. Their payloads carry raw facts (amounts in the order's currency, the rate to the
reporting one), so `shopfest insights rebuild` makes the very same payloads again from the rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shopfest.core.events import DomainEvent


@dataclass(frozen=True)
class SaleCounted(DomainEvent):
    """A sale: `lines` are dicts (merchant, product, brand, brand_name, category, category_name,
    luxury, debut, qty, total, adjustments; a refund's `before` and `total` are the line's cumulative
    refunded minor units before and after it), every amount in minor units of `currency`; one unit of
    `currency` is `rate` of `reporting`."""

    at: datetime
    order_id: int | None
    shopper_id: int | None
    country: str
    source: str | None
    currency: str
    reporting: str
    rate: str
    lines: tuple[dict[str, Any], ...]


class OrderPaidCounted(SaleCounted):
    """An order paid in full (or its balance paid), at the instant its payment succeeded."""


class OrderRefundCounted(SaleCounted):
    """Money given back on a counted order."""


class InStorePaidCounted(SaleCounted):
    """A payment at a local shop's counter."""


class VoucherRedeemedCounted(SaleCounted):
    """A local voucher redeemed in its shop."""


SALE_EVENTS: tuple[type[SaleCounted], ...] = (OrderPaidCounted, OrderRefundCounted, InStorePaidCounted,
                                             VoucherRedeemedCounted)
