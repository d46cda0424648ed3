"""Insights as pure rules: the sales the event stream carries, in the operator's reporting currency,
and how they add up into figures. No I/O.

Every figure is a fold of `Sale`s. The stream folds them as their events arrive; `shopfest insights
rebuild` folds the same sales read back from the orders. Both go through the same functions, so a
figure recomputed equals the figure streamed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol

from shopfest.core.money import ExchangeRate, Money


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


# --- from a published event to the sale it counts as --------------------------------------------

# The outbox events that are sales, by name (insights/events.py defines them), and what each counts as.
SALE_KINDS: dict[str, SaleKind] = {
    "OrderPaidCounted": SaleKind.PAID,
    "OrderRefundCounted": SaleKind.REFUND,
    "InStorePaidCounted": SaleKind.INSTORE,
    "VoucherRedeemedCounted": SaleKind.REDEEMED,
}
LIVE_SOURCE = "live:"


def sale_of(published: Published) -> Sale | None:
    """The sale an event counts as, in the reporting currency at the rate its payload recorded; None
    for an event that is no sale. A refund line gives back its cumulative refunded amount converted
    after it, less converted before it, so the refunds of a line add up to exactly its whole refund."""
    kind = SALE_KINDS.get(published.name)
    if kind is None:
        return None
    facts = published.payload
    rate = (facts["currency"], facts["reporting"], facts["rate"])
    return Sale(event_id=published.event_id, kind=kind, at=datetime.fromisoformat(facts["at"]),
                currency=facts["reporting"], order_id=facts["order_id"], shopper_id=facts["shopper_id"],
                country=facts["country"] or "", source=facts["source"],
                lines=tuple(_sale_line(kind, rate, line) for line in facts["lines"]))


@lru_cache(maxsize=1 << 16)
def converted(base: str, quote: str, rate: str, minor: int) -> int:
    """`minor` units of `base` in `quote` at `rate`, as ExchangeRate converts them. Remembered: at the
    peak the same prices are converted at the same rates again and again."""
    return ExchangeRate(base, quote, Decimal(rate)).convert(Money(int(minor), base)).minor


def _sale_line(kind: SaleKind, rate: tuple[str, str, str], line: dict[str, Any]) -> SaleLine:
    promotions: tuple[tuple[str, int], ...] = ()
    if kind is SaleKind.REFUND:  # ExchangeRate.convert_part: after converted less before converted
        gmv = converted(*rate, line.get("before", 0)) - converted(*rate, line["total"])
        qty = -int(line["qty"])
    else:
        gmv, qty = converted(*rate, line["total"]), int(line["qty"])
        promotions = tuple((str(source), converted(*rate, minor))
                           for source, minor in line.get("adjustments", ()))
    return SaleLine(merchant_id=int(line["merchant"]), product_id=line.get("product"),
                    brand_id=line.get("brand"), brand=line.get("brand_name") or "",
                    category_id=line.get("category"), category=line.get("category_name") or "",
                    luxury=bool(line.get("luxury")), debut=bool(line.get("debut")), qty=qty, gmv_minor=gmv,
                    discount_minor=sum(minor for _, minor in promotions), promotions=promotions)


# --- the big screen's figures as a fold of sales ------------------------------------------------

BREAKDOWNS = ("brand", "category", "country")


@dataclass
class ScreenDelta:
    """What a batch of sales adds to the screen: running totals by name, per-second (orders, GMV)
    of paid orders by unix second, per breakdown key [name, GMV, orders], and the paying shoppers."""

    totals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[int, list[int]] = field(default_factory=dict)
    breakdowns: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    shoppers: set[int] = field(default_factory=set)

    def add(self, sale: Sale) -> None:
        """Refunds change totals and breakdowns, never a past second; a redemption only counts (its
        voucher's order counted the money when it was paid); an in-store payment is a local sale."""
        paid = sale.kind is SaleKind.PAID
        if sale.kind is SaleKind.REDEEMED:  # one unit redeemed, or minus one: a redemption undone
            self.totals["local_redemptions"] += sum(line.qty for line in sale.lines)
            return
        self.totals["gmv"] += sale.gmv_minor
        self._breakdown("country", sale.country, sale.country, sale.gmv_minor, orders=int(paid))
        if sale.kind is SaleKind.INSTORE:
            self.totals["local_gmv"] += sale.gmv_minor
            self.totals["local_payments"] += 1
            return
        self._online(sale, paid=paid)

    def _online(self, sale: Sale, *, paid: bool) -> None:
        if paid:
            self.totals["orders"] += 1
            second = self.seconds.setdefault(int(sale.at.timestamp()), [0, 0])
            second[0] += 1
            second[1] += sale.gmv_minor
            if sale.shopper_id is not None:
                self.shoppers.add(sale.shopper_id)
        else:
            self.totals["refunded"] -= sale.gmv_minor
        counted: set[tuple[str, str]] = set()
        for line in sale.lines:
            for dimension, key, name in (("brand", line.brand_id, line.brand),
                                         ("category", line.category_id, line.category)):
                if key is not None:
                    once = paid and (dimension, str(key)) not in counted
                    counted.add((dimension, str(key)))
                    self._breakdown(dimension, str(key), name, line.gmv_minor, orders=int(once))
        self._pavilions(sale, paid=paid)

    def _pavilions(self, sale: Sale, *, paid: bool) -> None:
        luxury = [line for line in sale.lines if line.luxury]
        self.totals["luxury_gmv"] += sum(line.gmv_minor for line in luxury)
        self.totals["luxury_orders"] += int(paid and bool(luxury))
        debuts = [line for line in sale.lines if line.debut]
        self.totals["debut_gmv"] += sum(line.gmv_minor for line in debuts)
        self.totals["debut_units"] += sum(line.qty for line in debuts)
        if (sale.source or "").startswith(LIVE_SOURCE):
            self.totals["live_gmv"] += sale.gmv_minor
            self.totals["live_orders"] += int(paid)

    def _breakdown(self, dimension: str, key: str, name: str, gmv_minor: int, *, orders: int) -> None:
        if not key:
            return
        entry = self.breakdowns.setdefault((dimension, key), [name, 0, 0])
        entry[0] = name or entry[0]
        entry[1] += gmv_minor
        entry[2] += orders


def screen_delta(sales: Sequence[Sale]) -> ScreenDelta:
    """The screen's figures that `sales` add, in one fold."""
    delta = ScreenDelta()
    for sale in sales:
        delta.add(sale)
    return delta
