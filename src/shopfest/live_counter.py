"""A live room's counter: what its shoppers price, buy and pay, through the very checkout, promotion
engine and payments that `POST /api/v1/orders` and its payment use. Live depends on neither orders nor
payments (DESIGN.md): the composition root plugs this in as the runtime's `live_counter` port
(live.model.Counter), and the room's commands (live/pins.py) reach it there."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from shopfest.accounts import service as accounts
from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.actor import shopper_id as shopper_of
from shopfest.core.errors import DomainError, InvalidInput
from shopfest.core.money import Money
from shopfest.orders import service as orders
from shopfest.orders.api import OrderIn, order_command, pay_once
from shopfest.orders.receipts import money
from shopfest.orders.service import SalesTally
from shopfest.payments import fx
from shopfest.runtime import Runtime


class LiveCounter:
    """The room's side of the checkout, for one process's runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def price(self, sku_id: int, *, shopper: Actor | None) -> dict[str, Any] | None:
        shopper_id = shopper_of(shopper)
        try:
            quote = orders.quote_cart(self.runtime.uow(read_only=True), [(sku_id, 1)], shopper_id=shopper_id)
        except DomainError:
            return None
        priced, sku = quote.priced, quote.skus[sku_id]
        rate = fx.rate(priced.currency, self._currency_of(shopper_id) or priced.currency)

        def amount(minor: int) -> str:
            return rate.convert(Money(minor, priced.currency)).amount
        return {"sku_id": sku_id, "list_price": amount(sku.price.minor), "price": amount(priced.total),
                "currency": rate.quote,
                "savings": [{"label": a.kind, "source": a.source, "amount": amount(a.amount)}
                            for a in priced.applied]}

    def _currency_of(self, shopper_id: int | None) -> str | None:
        """The currency the shopper pays in (their account's); None for anyone."""
        user = accounts.get_user(self.runtime.uow(read_only=True), shopper_id) if shopper_id else None
        return user.profile.currency if user is not None else None

    async def buy(self, shopper: Actor, order: dict[str, Any], *, key: str, source: str) -> dict[str, Any]:
        """Raises Unauthenticated, Forbidden, InvalidInput, RateLimited and the checkout's refusals."""
        shopper = require_role(shopper, Role.SHOPPER)
        try:
            body = OrderIn.model_validate({**order, "source": source})
        except ValidationError as wrong:
            problem = wrong.errors()[0]
            field = ".".join(str(part) for part in problem["loc"])
            raise InvalidInput(f"{field}: {problem['msg']}", field=field) from None
        self.runtime.limiter.hit("order", account=str(shopper.user_id))
        delivery = None
        if body.address_id is not None:  # the shopper's own address, copied into the order
            delivery = await run_in_threadpool(orders.delivery_address, self.runtime.uow(read_only=True),
                                               shopper, body.address_id)
        answer = await self.runtime.checkout.place_async(order_command(shopper, body, key, delivery))
        return answer.receipt

    def pay(self, shopper: Actor, *, order_id: int, method: str, key: str) -> dict[str, Any]:
        return pay_once(self.runtime, shopper, key, order_id=order_id, method=method)

    def placed_from(self, source: str) -> tuple[int, int]:
        return orders.placed_from(self.runtime.uow(read_only=True), source)

    def sales_from(self, source: str) -> dict[str, Any]:
        sales = orders.sales_from(self.runtime.uow(read_only=True), source)
        return {"source": source, "paid": _tally(sales.paid), "unpaid": _tally(sales.unpaid)}


def _tally(tally: SalesTally) -> dict[str, Any]:
    return {"orders": tally.orders, "units": tally.units,
            "totals": [money(total) for _, total in sorted(tally.totals.items())]}
