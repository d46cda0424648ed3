"""In-store QR pay and settlement as pure rules: the festival's local discount ("spend 30 save 5",
funded by the platform for small merchants, a few times per shopper per day), what a payment comes
to, the payment fee, and a merchant's settlement day whose parts add up to its totals. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from shopfest.core.errors import Conflict, InvalidAmount, InvalidInput
from shopfest.core.money import Money, minor_units
from shopfest.local.model import ShopKind

# The shops the platform funds the local discount for: the small ones.
SMALL_KINDS = frozenset({ShopKind.STREET_STALL, ShopKind.GROCERY, ShopKind.RESTAURANT, ShopKind.SALON})
# What one in-store payment may be at most, in the currency's major units: a counter, not a car.
LARGEST_PAYMENT = 100_000
# The payment fee on what the shopper paid, per payment, rounded half-even to the minor unit.
FEE_RATE = Decimal("0.006")
# A settlement asks for at most this many days at once.
LONGEST_SETTLEMENT_DAYS = 93


@dataclass(frozen=True, slots=True)
class LocalDiscount:
    """The festival's local discount: `save` off a payment of at least `spend`, in their currency,
    at most `per_day` times per shopper per day of the shop's zone, while a sale period is open."""

    spend: Money
    save: Money
    per_day: int
    funded_by: str = "platform"  # who pays for what it takes off (promotions' Funder): owed to the shop

    def off(self, amount: Money, *, kind: ShopKind, uses_today: int, sale_open: bool) -> Money:
        """What the rule takes off `amount` at a shop of `kind` for a shopper who used it
        `uses_today` times today; nothing where it does not apply."""
        applies = (sale_open and kind in SMALL_KINDS and uses_today < self.per_day
                   and amount.currency == self.spend.currency and amount >= self.spend)
        return self.save if applies else Money.zero(amount.currency)


# A festival rule, kept as a constant: the platform's budget decides it, not each operator's whim.
LOCAL_DISCOUNT = LocalDiscount(spend=Money(3000, "CNY"), save=Money(500, "CNY"), per_day=3)


class BadPayAmount(InvalidAmount):
    code = "bad-pay-amount"
    title = "The amount to pay is not valid"


class PaymentClosed(Conflict):
    code = "in-store-payment-closed"
    title = "The payment failed or was abandoned; start a new one"


class PayStatus(StrEnum):
    STARTED = "started"  # the discount is reserved; nothing charged yet
    PROCESSING = "processing"  # the gateway is still deciding
    PAID = "paid"
    FAILED = "failed"  # declined: its discount use is given back
    ABANDONED = "abandoned"  # never paid in time: its discount use is given back


OPEN = frozenset({PayStatus.STARTED, PayStatus.PROCESSING})


def pay_amount(amount: Money, currency: str) -> Money:
    """An amount a shopper may pay at a counter: in the shop's settlement currency, more than
    nothing, at most LARGEST_PAYMENT.

    Raises BadPayAmount."""
    largest = Money(LARGEST_PAYMENT * 10 ** minor_units(currency), currency)
    if amount.currency != currency:
        raise BadPayAmount(f"this shop takes {currency}", currency=currency)
    if amount.minor <= 0 or amount > largest:
        raise BadPayAmount(f"pay more than nothing and at most {largest}", largest=largest.amount)
    return amount


def read_pay_amount(text: str, currency: str) -> Money:
    """An amount as a shopper types it ("30", "30.5", "30.00") in the shop's currency.

    Raises BadPayAmount."""
    try:
        if not isinstance(text, str) or not text.isascii():
            raise InvalidInput("an amount is written in ASCII digits")
        amount = Money.parse(text, currency)
    except InvalidInput:
        raise BadPayAmount(f"{str(text)[:20]!r} is not an amount of {currency}", currency=currency) from None
    return pay_amount(amount, currency)


@dataclass(frozen=True, slots=True)
class PayOffer:
    """What a shopper sees after scanning a shop's code: the shop, and for `amount` (when typed) the
    discount that applies today and what is left to pay."""

    shop_id: int
    shop_name: str
    merchant_id: int
    kind: ShopKind
    currency: str
    amount: Money | None
    discount: Money
    to_pay: Money | None
    discount_uses_left: int  # today, for this shopper (all of them for someone not signed in)
    sale_open: bool
    rule: LocalDiscount | None  # the discount this shop offers; None: none here or not now


@dataclass(frozen=True, slots=True)
class InStorePayment:
    """A shopper's payment at a shop's counter: `amount` rung up, `discount` the platform funds,
    `to_pay` what the shopper is charged."""

    id: int
    shop_id: int
    merchant_id: int
    shopper_id: int
    amount: Money
    discount: Money
    to_pay: Money
    status: PayStatus
    created_at: datetime
    paid_at: datetime | None = None


def payment_fee(to_pay: Money) -> Money:
    """The fee on what the shopper paid: FEE_RATE of it, rounded half-even to the minor unit."""
    fee = (Decimal(to_pay.minor) * FEE_RATE).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return Money(int(fee), to_pay.currency)


@dataclass(frozen=True, slots=True)
class VoucherSale:
    """A merchant's voucher sale: `vouchers` issued at `paid_at` for `amount` in its settlement currency."""

    paid_at: datetime
    vouchers: int
    amount: Money


@dataclass(frozen=True, slots=True)
class SettlementDay:
    """One merchant's day: vouchers sold and redeemed, in-store payments (gross = what shoppers paid
    + the discounts the platform funded and owes), fees, and the payout:
    net_payout = vouchers_sold_amount + qr_gross - fees."""

    merchant_id: int
    day: date
    currency: str
    vouchers_sold: int
    vouchers_sold_amount: Money
    vouchers_redeemed: int
    qr_payments: int
    qr_gross: Money
    qr_paid_by_shoppers: Money
    platform_discounts: Money
    fees: Money
    net_payout: Money


def settle_day(*, merchant_id: int, day: date, currency: str, sales: Sequence[VoucherSale],
               redeemed: int, payments: Sequence[InStorePayment]) -> SettlementDay:
    """The day's settlement from its sales and paid payments; fees are taken per sale and payment,
    so each part is exact in the minor unit and the parts add up to the totals."""
    zero = Money.zero(currency)
    sold = sum((s.amount for s in sales), zero)
    paid = sum((p.to_pay for p in payments), zero)
    discounts = sum((p.discount for p in payments), zero)
    fees = sum((payment_fee(s.amount) for s in sales), zero) + sum((payment_fee(p.to_pay) for p in payments),
                                                                  zero)
    gross = paid + discounts
    return SettlementDay(merchant_id=merchant_id, day=day, currency=currency,
                         vouchers_sold=sum(s.vouchers for s in sales), vouchers_sold_amount=sold,
                         vouchers_redeemed=redeemed, qr_payments=len(payments), qr_gross=gross,
                         qr_paid_by_shoppers=paid, platform_discounts=discounts, fees=fees,
                         net_payout=sold + gross - fees)


def settlement_days(start: date, end: date) -> list[date]:
    """The days from `start` to `end`, both included.

    Raises InvalidInput (end before start, or more than LONGEST_SETTLEMENT_DAYS)."""
    count = (end - start).days + 1
    if count < 1 or count > LONGEST_SETTLEMENT_DAYS:
        raise InvalidInput(f"a settlement runs from a start to an end day at most {LONGEST_SETTLEMENT_DAYS} "
                           "days later", start=start.isoformat(), end=end.isoformat())
    return [date.fromordinal(start.toordinal() + i) for i in range(count)]
