"""JSON shapes shared by every context's API: money is always {amount, currency}; ids, instants and
request bodies are read by the same rules on every route."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from shopfest.core.clock import INSTANT_RULE, check_instant, parse_instant
from shopfest.core.errors import InvalidAmount, InvalidInput
from shopfest.core.ids import MAX_ID, is_id_text
from shopfest.core.money import Money

# The largest amount the API takes, in minor units: a line of 999 units and an order of 100 lines
# at this price still fit the databases' 64-bit integers, in any currency they are converted to.
MAX_MINOR = 10**13 - 1


class InputModel(BaseModel):
    """A request body: a field the API does not know is refused, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


# An id in a JSON body: a JSON integer from 1 to 2^63 - 1; "7" and true are not ids.
Id = Annotated[int, Strict(), Ge(1), Le(MAX_ID)]


def _id_text(value: object) -> object:
    if isinstance(value, str) and not is_id_text(value):
        raise ValueError(f"an id is written in the digits 0-9 only, from 1 to {MAX_ID}")
    return value


# An id in a path or a query string, which are text by nature: digits only, from 1 to 2^63 - 1.
IdParam = Annotated[int, BeforeValidator(_id_text), Ge(1), Le(MAX_ID)]


def _instant(value: object) -> datetime:
    try:
        if isinstance(value, str):
            return parse_instant(value)
        if isinstance(value, datetime):
            return check_instant(value)
    except InvalidInput as error:
        raise ValueError(error.detail) from None
    raise ValueError(f"give {INSTANT_RULE}, as a string")


# An instant the API takes, in UTC once read (core.clock.parse_instant is the rule).
Instant = Annotated[datetime, BeforeValidator(_instant),
                    Field(description=INSTANT_RULE, examples=["2027-11-11T00:00:00+08:00"])]


class MoneyJson(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: str = Field(examples=["199.00"], description=(
        "a decimal string in ASCII digits with exactly the currency's places (JPY none, KWD three), "
        "never a float"))
    currency: str = Field(examples=["CNY"], description="ISO 4217 code")

    def to_money(self) -> Money:
        """The amount, read as written (Money.exact), up to MAX_MINOR. Raises InvalidAmount,
        UnknownCurrency."""
        money = Money.exact(self.amount, self.currency.upper())
        if abs(money.minor) > MAX_MINOR:
            raise InvalidAmount(f"{self.amount} {money.currency} is more than the API takes",
                                amount=self.amount)
        return money

    @classmethod
    def of(cls, money: Money) -> MoneyJson:
        return cls(amount=money.amount, currency=money.currency)
