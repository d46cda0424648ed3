"""Money as integer minor units of an ISO 4217 currency; never a float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from shopfest.core.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency

# ISO 4217 minor units of the currencies ShopFest accepts.
MINOR_UNITS: dict[str, int] = {
    "CNY": 2, "USD": 2, "EUR": 2, "GBP": 2, "HKD": 2, "SGD": 2, "AUD": 2, "CAD": 2,
    "CHF": 2, "NZD": 2, "MYR": 2, "THB": 2, "AED": 2, "INR": 2, "RUB": 2, "BRL": 2,
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0,
    "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3,
}

_DECIMAL = re.compile(r"^-?\d{1,18}(\.\d{1,4})?$")
# An amount as the API takes it: ASCII digits, exactly the currency's places (see `Money.exact`).
_EXACT = {places: re.compile(r"-?\d{1,18}" + (rf"\.\d{{{places}}}" if places else ""), re.ASCII)
          for places in set(MINOR_UNITS.values())}


def minor_units(currency: str) -> int:
    """Decimal places of `currency`. Raises UnknownCurrency."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {currency!r}", currency=currency) from None


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount: `minor` units (cents, fen, yen) of `currency`."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        minor_units(self.currency)
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidAmount(f"minor units must be an integer, got {self.minor!r}")

    @classmethod
    def parse(cls, amount: str, currency: str) -> Money:
        """Read a decimal string such as "199.00". Raises InvalidAmount, UnknownCurrency."""
        places = minor_units(currency)
        text = amount.strip() if isinstance(amount, str) else ""
        if not _DECIMAL.match(text):
            raise InvalidAmount(f"{amount!r} is not a decimal amount", amount=amount)
        value = Decimal(text)
        scaled = value.scaleb(places)
        if scaled != scaled.to_integral_value():
            raise InvalidAmount(
                f"{amount} has more than {places} decimal places for {currency}", amount=amount
            )
        return cls(int(scaled), currency)

    @classmethod
    def exact(cls, amount: str, currency: str) -> Money:
        """Read an amount as the API takes it: what `amount` writes, ASCII digits with exactly the
        currency's places ("199.00", "1500", "1.250"), no spaces. Raises InvalidAmount, UnknownCurrency."""
        places = minor_units(currency)
        if not isinstance(amount, str) or not _EXACT[places].fullmatch(amount):
            shape = f"with exactly {places} decimal places" if places else "without decimal places"
            raise InvalidAmount(f"{amount!r} is not an amount of {currency}: write ASCII digits {shape}, "
                                f"e.g. {cls(19900 * 10**places // 100, currency).amount}", amount=amount)
        return cls(int(amount.replace(".", "")), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-minor_units(self.currency))

    @property
    def amount(self) -> str:
        """The decimal string with exactly the currency's places: "199.00", "1500", "1.250"."""
        places = minor_units(self.currency)
        return f"{self.decimal:.{places}f}"

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency} with {other.currency}",
                currencies=[self.currency, other.currency],
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise InvalidAmount("money multiplies by whole numbers only")
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    @property
    def is_negative(self) -> bool:
        return self.minor < 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    """One unit of `base` buys `rate` units of `quote`, as recorded at a moment."""

    base: str
    quote: str
    rate: Decimal

    def __post_init__(self) -> None:
        minor_units(self.base)
        minor_units(self.quote)
        if not isinstance(self.rate, Decimal) or not self.rate.is_finite() or self.rate <= 0:
            raise InvalidAmount(f"an exchange rate must be a positive decimal, got {self.rate!r}")

    def convert(self, money: Money) -> Money:
        """The amount in `quote`, rounded half up to its minor unit. Raises CurrencyMismatch."""
        if money.currency != self.base:
            raise CurrencyMismatch(f"rate is for {self.base}, amount is in {money.currency}")
        if self.base == self.quote and self.rate == 1:
            return money
        exact = money.decimal * self.rate
        places = minor_units(self.quote)
        rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        return Money(int(rounded.scaleb(places)), self.quote)

    def convert_part(self, *, before: Money, after: Money) -> Money:
        """What one part of a running total comes to in `quote`: the total converted after it, less
        the total converted before it. Parts converted so add up to exactly the whole converted at
        once, whatever the steps; one converted and rounded on its own would drift by the rounding.
        Raises CurrencyMismatch."""
        return self.convert(after) - self.convert(before)
