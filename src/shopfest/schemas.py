"""JSON shapes shared by every context's API: money is always {amount, currency}."""

from __future__ import annotations

from pydantic import BaseModel, Field

from shopfest.core.money import Money


class MoneyJson(BaseModel):
    amount: str = Field(examples=["199.00"], description="a decimal string, never a float")
    currency: str = Field(examples=["CNY"], description="ISO 4217 code")

    def to_money(self) -> Money:
        return Money.parse(self.amount, self.currency.upper())

    @classmethod
    def of(cls, money: Money) -> MoneyJson:
        return cls(amount=money.amount, currency=money.currency)
