"""The checkout lane: the festival's hottest request, an order from a signed-in shopper, answered
before FastAPI's routing, dependencies and exception middleware, which cost more than the order."""

from __future__ import annotations

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from shopfest.core.actor import Role
from shopfest.core.errors import DomainError
from shopfest.deps import bearer_secret, runtime_of_app
from shopfest.orders.api import OrderIn, order_command
from shopfest.orders.drafting import PlaceOrder
from shopfest.outages import OUTAGE_ERRORS, outage_of
from shopfest.problems import refusal
from shopfest.rate_limits import client_address
from shopfest.runtime import Runtime
from shopfest.text_guard import read_body, replay_body

ORDERS_PATH = "/api/v1/orders"
_LANE_HEADERS = (b"authorization", b"content-type", b"idempotency-key")


class CheckoutLane:
    """ASGI middleware: an order from a shopper signed in a moment ago, with a well-formed body, goes
    straight to the checkout, past FastAPI's routing, dependencies and exception middleware, which
    cost the server more than the order itself. Anything else (a shopper's first request, a body that
    does not validate, another role) takes `place_order` (orders/api.py), which answers it as before.
    The body it reads is capped by `BodyCap` outside it (app.py); its orders are rate-limited in memory."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != ORDERS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:  # the shopper hung up before sending the order: nothing to answer
            return
        runtime = runtime_of_app(scope["app"])
        command = lane_command(runtime, scope["headers"], body)
        if command is None:
            await self.app(scope, replay_body(body, receive), send)
            return
        try:
            # Counted in this process's memory: no database query and no Redis round trip here.
            runtime.limiter.hit("order", account=str(command.shopper_id), address=client_address(scope))
            answer = await runtime.checkout.place_async(command)
        except DomainError as refused:
            await refusal(refused)(scope, receive, send)
            return
        except OUTAGE_ERRORS as error:  # the database or Redis failed under the batch: 503, never 500
            outage = outage_of(error)
            if outage is None:
                raise
            await refusal(outage)(scope, receive, send)
            return
        receipt = orjson.dumps(answer.receipt)
        await send({"type": "http.response.start", "status": answer.status_code,
                    "headers": [(b"content-length", str(len(receipt)).encode()),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": receipt})


def lane_command(runtime: Runtime, headers: list[tuple[bytes, bytes]], body: bytes) -> PlaceOrder | None:
    """The order, if the lane can place it: None sends the request down the full route."""
    found: dict[bytes, str] = {}
    for name, value in headers:
        if name in _LANE_HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    if found.get(b"content-type", "").partition(";")[0].strip().lower() != "application/json":
        return None
    try:  # a malformed header is for the full route to refuse
        secret = bearer_secret(found.get(b"authorization"))
        shopper = runtime.signed_in.get(secret, now=runtime.clock.now()) if secret else None
        if shopper is None or shopper.role is not Role.SHOPPER:
            return None
        order = OrderIn.model_validate_json(body)
        if order.address_id is not None or order.source is not None:  # read from the database: the route's
            return None
        return order_command(shopper, order, found.get(b"idempotency-key"))
    except (ValidationError, DomainError):
        return None

