"""Settlement per merchant and day (UTC days): vouchers sold and redeemed, in-store payments, the
discounts the platform funded and owes the merchant, fees, and the payout; and its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from shopfest.catalog import service as catalog
from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import Forbidden, NotFound
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.local.pay_store import PayStore
from shopfest.local.rules import SettlementDay, VoucherSale, settle_day, settlement_days

# A merchant's voucher sales from `start` until before `end`, read from orders through the
# runtime's port (runtime.Ports.voucher_sales, orders.service.voucher_sales): (paid at, vouchers, amount).
VoucherSales = Callable[[UnitOfWork, int, datetime, datetime], list[tuple[datetime, int, Money]]]


def no_voucher_sales(uow: UnitOfWork, merchant_id: int, start: datetime,
                     end: datetime) -> list[tuple[datetime, int, Money]]:
    return []


def redeemed_vouchers(uow: UnitOfWork, merchant_id: int, *, start: datetime, end: datetime) -> list[datetime]:
    """HOOK for local-vouchers: when each of the merchant's vouchers was redeemed from `start` until
    before `end` (its `redemptions_of`). Until that branch merges, no redemption is read."""
    return []


def settlement(uow: UnitOfWork, actor: Actor | None, *, merchant_id: int, start: date, end: date,
               sales: VoucherSales = no_voucher_sales) -> list[SettlementDay]:
    """A merchant's settlement for each UTC day from `start` to `end` (both included), for that
    merchant's staff or an operator; pass `sales=runtime.ports.voucher_sales` to count voucher sales.

    Raises Unauthenticated, Forbidden, NotFound (an unknown merchant), InvalidInput (a bad range)."""
    viewer = require_role(actor, Role.MERCHANT, Role.OPERATOR)
    if not viewer.is_operator and viewer.merchant_id != merchant_id:
        raise Forbidden("a merchant's settlement is for its own staff and operators", merchant_id=merchant_id)
    days = settlement_days(start, end)
    since, until = _midnight(days[0]), _midnight(days[-1] + timedelta(days=1))
    with uow:
        currency = catalog.settlement_currency_of(uow, merchant_id)
        if currency is None:
            raise NotFound(f"no merchant {merchant_id}", merchant_id=merchant_id)
        paid = PayStore(uow.conn).paid_of(merchant_id, start=since, end=until)
        sold = [VoucherSale(at, count, amount) for at, count, amount in sales(uow, merchant_id, since, until)]
        redeemed = redeemed_vouchers(uow, merchant_id, start=since, end=until)
    return [settle_day(merchant_id=merchant_id, day=day, currency=currency,
                       sales=[s for s in sold if _day(s.paid_at) == day],
                       redeemed=sum(1 for at in redeemed if _day(at) == day),
                       payments=[p for p in paid if p.paid_at is not None and _day(p.paid_at) == day])
            for day in days]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _day(instant: datetime) -> date:
    return instant.astimezone(UTC).date()


CSV_COLUMNS = ("merchant_id", "day", "currency", "vouchers_sold", "vouchers_sold_amount", "vouchers_redeemed",
               "qr_payments", "qr_gross", "qr_paid_by_shoppers", "platform_discounts", "fees", "net_payout")


def settlement_csv(rows: Sequence[SettlementDay]) -> str:
    """The settlement as CSV: a header row, then a row per day; amounts as decimal strings with the
    currency's places ("1234.50")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = [getattr(row, name) for name in CSV_COLUMNS]
        writer.writerow([c.amount if isinstance(c, Money) else c.isoformat() if isinstance(c, date) else c
                         for c in cells])
    return out.getvalue()
