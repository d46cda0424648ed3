"""Settlement per merchant and day (UTC days): vouchers sold and redeemed, in-store payments, the
discounts the platform funded and owes the merchant, fees, and the payout; and its CSV export."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from shopfest.catalog import service as catalog
from shopfest.core.actor import Actor, require_acting_for
from shopfest.core.errors import NotFound
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.local.pay_rules import InStorePayment, SettlementDay, VoucherSale, settle_day, settlement_days
from shopfest.local.pay_store import PayStore
from shopfest.local.voucher_store import RedemptionStore

# A merchant's voucher sales from `start` until before `end`, read from orders through the
# runtime's port (runtime.Ports.voucher_sales, orders.service.voucher_sales): (paid at, vouchers, amount).
VoucherSales = Callable[[UnitOfWork, int, datetime, datetime], list[tuple[datetime, int, Money]]]


def settlement(uow: UnitOfWork, actor: Actor | None, *, merchant_id: int, start: date, end: date,
               sales: VoucherSales) -> list[SettlementDay]:
    """A merchant's settlement for each UTC day from `start` to `end` (both included), for that
    merchant's staff or an operator; `sales` reads its voucher sales (runtime.ports.voucher_sales).

    Raises Unauthenticated, Forbidden, NotFound (an unknown merchant), InvalidInput (a bad range)."""
    require_acting_for(actor, merchant_id, why="a merchant's settlement is for its own staff and operators")
    days = settlement_days(start, end)
    since, until = _midnight(days[0]), _midnight(days[-1] + timedelta(days=1))
    with uow:
        currency = catalog.settlement_currency_of(uow, merchant_id)
        if currency is None:
            raise NotFound(f"no merchant {merchant_id}", merchant_id=merchant_id)
        paid = PayStore(uow.conn).paid_of(merchant_id, start=since, end=until)
        sold = [VoucherSale(at, count, amount) for at, count, amount in sales(uow, merchant_id, since, until)]
        redeemed = Counter(_day(at) for at in RedemptionStore(uow.conn).redeemed_times(
            merchant_id, since=since, before=until))
    sales_on: dict[date, list[VoucherSale]] = defaultdict(list)
    for sale in sold:
        sales_on[_day(sale.paid_at)].append(sale)
    payments_on: dict[date, list[InStorePayment]] = defaultdict(list)
    for payment in paid:
        if payment.paid_at is not None:
            payments_on[_day(payment.paid_at)].append(payment)
    return [settle_day(merchant_id=merchant_id, day=day, currency=currency, sales=sales_on[day],
                       redeemed=redeemed[day], payments=payments_on[day])
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
