"""HTTP routes of orders: checkout, reading, paying, cancelling, shipping and refunding."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import InvalidInput
from shopfest.core.ids import decode_cursor, encode_cursor
from shopfest.core.money import minor_units
from shopfest.deps import (
    AccountFirstRoute,
    Cursor,
    Limit,
    ReadUowDep,
    RuntimeDep,
    SignedInActor,
    account_first,
    actor_resolved,
    runtime_of,
)
from shopfest.orders import service
from shopfest.orders.drafting import PlaceOrder, buyer_of, check_lines
from shopfest.orders.model import DeliveryAddress
from shopfest.payments import idempotency as keys
from shopfest.payments import service as payments
from shopfest.problems import problem_responses
from shopfest.rate_limits import client_address
from shopfest.runtime import Runtime
from shopfest.schemas import Id, IdParam, InputModel, MoneyJson

router = APIRouter(prefix="/api/v1", tags=["orders"], responses=problem_responses(401, 403, 404, 409, 422),
                   route_class=AccountFirstRoute)

# Where an order may say it was placed from: a live event's room (`live:<event id>`).
SOURCE_PATTERN = r"^live:[1-9][0-9]{0,17}$"

KeyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                         description="retries with the same key get the first answer")]


class LineIn(InputModel):
    sku_id: Id
    qty: int = Field(strict=True, ge=1, le=999)


class OrderIn(InputModel):
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    currency: str | None = Field(None, min_length=3, max_length=3, examples=["USD"],
                                 description="the currency the shopper pays in; the catalog's when left out")
    coupons: list[Id] = Field(default_factory=list, max_length=20, description=(
        "ids of coupons in the shopper's wallet to offer; pricing uses those that lower the total most"))
    address_id: Id | None = Field(None, description=(
        "one of the shopper's delivery addresses: the order keeps a copy of it for its shipped goods"))
    source: str | None = Field(None, max_length=40, pattern=SOURCE_PATTERN, examples=["live:12"],
                               description="where the order is placed from, for the sales attributed to "
                                           "it: `live:<event id>`, a live event's room")


class AdjustmentJson(BaseModel):
    source: str = Field(examples=["promotion:12"],
                        description="promotion:ID, coupon:ID, flash:ID or deposit:LINE")
    amount: MoneyJson


class LineJson(BaseModel):
    sku_id: int
    product_id: int
    title: str
    fulfilment: str
    qty: int
    unit_price: MoneyJson
    total: MoneyJson
    flash_sale_id: int | None
    refunded_qty: int
    refunded: MoneyJson | None = Field(None, description="what the refunded units gave back")
    adjustments: list[AdjustmentJson] = Field(
        default_factory=list, description="what each promotion, coupon or deposit took off the line")


class ReturnLineJson(BaseModel):
    sku_id: int
    qty: int


class ReturnJson(BaseModel):
    id: int
    status: str = Field(examples=["requested", "accepted", "rejected"])
    lines: list[ReturnLineJson]
    reason: str
    requested_at: str
    decided_at: str | None
    goods_back: bool | None = Field(description="accepted: whether the goods came back and went on sale")
    rejection: str | None = Field(description="rejected: the merchant's reason")
    refunded: MoneyJson | None = Field(description="accepted: what went back, in the shopper's currency")


class ChildJson(BaseModel):
    id: int
    merchant_id: int
    status: str
    total: MoneyJson
    settlement: MoneyJson
    lines: list[LineJson]
    vouchers: list[str]
    returns: list[ReturnJson] = Field(default_factory=list, description="returns the shopper asked for")


class OrderJson(BaseModel):
    id: int
    status: str
    total: MoneyJson
    to_pay: MoneyJson
    rate: str
    placed_at: str
    expires_at: str | None
    source: str | None = Field(None, examples=["live:12"], description="where the order was placed from")
    children: list[ChildJson]


class OrderPage(BaseModel):
    data: list[OrderJson]
    next_cursor: str | None


class PayIn(InputModel):
    method: str = Field("sandbox_ok", examples=["sandbox_ok", "sandbox_fail", "sandbox_delay"])


class RefundIn(InputModel):
    lines: list[LineIn] | None = Field(None, description="left out: everything not yet refunded")
    back_on_shelf: StrictBool = Field(True, description="merchant staff only: false writes the units off")


# Free text kept in the database: no NUL, which PostgreSQL cannot store.
Reason = Annotated[str, Field(strict=True, min_length=1, max_length=500, pattern=r"^[^\x00]*$")]


class ReturnLineIn(InputModel):
    sku_id: Id
    qty: int = Field(strict=True, ge=1, le=999)


class ReturnIn(InputModel):
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=100, description="shipped units to send back")
    reason: Reason


class AcceptReturnIn(InputModel):
    goods_back: StrictBool = Field(description="true: the goods came back and go on sale again; "
                                               "false: refund only, the units are written off")


class RejectReturnIn(InputModel):
    reason: Reason


class ShipmentIn(InputModel):
    carrier: str = Field(min_length=1, max_length=80)
    tracking: str = Field(min_length=1, max_length=80)


def _scope(actor: Actor) -> str:
    return f"user:{actor.user_id}"


def order_command(actor: Actor, body: OrderIn, key: str | None,
                  delivery: DeliveryAddress | None = None) -> PlaceOrder:
    """The checkout command of a shopper's order body and Idempotency-Key. Raises InvalidInput."""
    currency = body.currency.upper() if body.currency else None
    if currency is not None:
        minor_units(currency)
    lines = check_lines([(line.sku_id, line.qty) for line in body.lines])
    idempotency = None
    if key is not None:
        # Without an address or a source the body reads as it did before there were any: a retry
        # keeps its key. With a source, the key covers it: the same key from elsewhere is another order.
        unset = {name for name in ("address_id", "source") if getattr(body, name) is None}
        asked = body.model_dump(mode="json", exclude=unset)
        idempotency = keys.key_of(_scope(actor), key, "POST /orders", asked)
    return PlaceOrder(actor.user_id, lines, currency, idempotency, tuple(dict.fromkeys(body.coupons)),
                      buyer_of(actor), delivery, body.source)


def _next_steps(status: int, *steps: str) -> dict[str, Any]:
    """OpenAPI links from an answer holding an order to what may be done with it next: a client
    (and schemathesis' stateful phase) follows them from one order to its payment, shipment, refund."""
    operations = {"Pay": "pay_order_api_v1_orders__order_id__pay_post",
                  "Cancel": "cancel_order_api_v1_orders__order_id__cancel_post",
                  "Ship": "ship_order_api_v1_orders__order_id__shipments_post",
                  "Refund": "refund_order_api_v1_orders__order_id__refunds_post",
                  "Read": "get_order_api_v1_orders__order_id__get"}
    links = {step: {"operationId": operations[step], "parameters": {"order_id": "$response.body#/id"}}
             for step in steps}
    return {"responses": {str(status): {"links": links}}}


# The checkout route is the festival's hottest: it reads the token and the key itself rather than
# through FastAPI dependencies, which cost more per request than the rest of the route together. Once
# a shopper is signed in, `CheckoutLane` (orders/lane.py) answers their orders without the route at all.
HOT_ROUTE_DOCS: dict[str, Any] = {
    **_next_steps(201, "Pay", "Cancel", "Ship", "Refund", "Read"),
    "security": [{"HTTPBearer": []}],
    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                    "schema": {"type": "string", "maxLength": 255},
                    "description": "retries with the same key get the first answer"}],
}


@router.post("/orders", status_code=201, response_model=OrderJson, openapi_extra=HOT_ROUTE_DOCS,
             responses=problem_responses(413, 429))
@account_first
async def place_order(body: OrderIn, request: Request) -> Response:
    """Check out: one order, one child per merchant, units reserved until paid or expired (shopper).

    Sold out is 409 `/problems/sold-out`; over a flash sale's per-shopper limit, 409
    `/problems/limit-exceeded`; more unpaid units of one SKU than a shopper may hold
    (SHOPFEST_MAX_UNPAID_UNITS), 409 `/problems/too-many-unpaid`; a flash sale for verified or older
    accounts only, 403 `/problems/account-not-verified` or `/problems/account-too-new`; too many orders
    from the shopper or the address, 429 `/problems/rate-limited` with `Retry-After`.
    """
    runtime = runtime_of(request)
    shopper = require_role(actor_resolved(request), Role.SHOPPER)
    runtime.limiter.hit("order", account=str(shopper.user_id), address=client_address(request))
    key = request.headers.get("idempotency-key")
    delivery = None
    if body.address_id is not None:  # the shopper's own address, copied into the order
        delivery = await run_in_threadpool(service.delivery_address, runtime.uow(read_only=True), shopper,
                                           body.address_id)
    if body.source is not None:  # only orders placed from somewhere pay for this read
        await run_in_threadpool(check_source, runtime, body.source)
    answer = await runtime.checkout.place_async(order_command(shopper, body, key, delivery))
    return Response(orjson.dumps(answer.receipt), status_code=answer.status_code,
                    media_type="application/json")


def _once(runtime: Runtime, actor: Actor | None, key: str | None, request: tuple[Any, ...],
          run: Callable[[], dict[str, Any]], *, status_code: int = 200) -> JSONResponse:
    """Run a money movement once per Idempotency-Key; a retry gets the first answer."""
    answer = _remembered(runtime, actor, key, request, run, status_code=status_code)
    return JSONResponse(answer.response, status_code=answer.status_code)


def _remembered(runtime: Runtime, actor: Actor | None, key: str | None, request: tuple[Any, ...],
                run: Callable[[], dict[str, Any]], *, status_code: int = 200) -> keys.Remembered:
    idempotency = None if key is None or actor is None else keys.key_of(_scope(actor), key, *request)
    return payments.once(runtime.uow, key=idempotency, run=run, status_code=status_code)


def _refund_key(actor: Actor | None, order_id: int, idempotency_key: str | None) -> str:
    """The key payments pays a refund once under: the caller's Idempotency-Key on this order, so a
    retry is the same refund; without one, each request is a refund of its own."""
    if idempotency_key is None or actor is None:
        return f"refund:{secrets.token_urlsafe(24)}"
    return f"refund:{keys.fingerprint(_scope(actor), order_id, idempotency_key)}"


@router.post("/orders/{order_id}/pay", response_model=OrderJson, responses=problem_responses(402),
             openapi_extra=_next_steps(200, "Ship", "Refund", "Cancel", "Read"))
def pay_order(order_id: IdParam, body: PayIn, runtime: RuntimeDep, actor: SignedInActor,
              idempotency_key: KeyHeader = None) -> JSONResponse:
    """Pay the whole order through the configured provider (shopper). With the sandbox, `sandbox_ok` pays at
    once, `sandbox_fail` is declined (402), `sandbox_delay` is paid when its webhook arrives."""
    return _once(runtime, actor, idempotency_key, ("pay", order_id, body.method),
                 lambda: service.pay_order(runtime.uow(), runtime.provider, actor, order_id=order_id,
                                           method=body.method))


@router.post("/orders/{order_id}/cancel", response_model=OrderJson)
def cancel_order(order_id: IdParam, runtime: RuntimeDep, actor: SignedInActor,
                 idempotency_key: KeyHeader = None) -> JSONResponse:
    """Cancel an unpaid order; its units go back on sale (shopper)."""
    return _once(runtime, actor, idempotency_key, ("cancel", order_id),
                 lambda: service.cancel_order(runtime.uow(), runtime.gate, actor, order_id))


@router.post("/orders/{order_id}/refunds", response_model=OrderJson)
def refund_order(order_id: IdParam, body: RefundIn, runtime: RuntimeDep, actor: SignedInActor,
                 idempotency_key: KeyHeader = None) -> JSONResponse:
    """Refund whole lines or units of them: what was paid for them after every discount (the shopper,
    or the merchant's staff for their part, who choose whether units go back on the shelf). Once a
    part is shipped, the shopper asks for a return instead (409)."""
    lines = None if body.lines is None else [(line.sku_id, line.qty) for line in body.lines]
    refund_key = _refund_key(actor, order_id, idempotency_key)
    return _once(runtime, actor, idempotency_key, ("refund", order_id, body.model_dump(mode="json")),
                 lambda: service.refund_order(runtime.uow(), runtime.provider, actor, order_id=order_id,
                                              lines=lines, back_on_shelf=body.back_on_shelf,
                                              refund_key=refund_key))


OrderId = IdParam
ReturnId = IdParam


@router.post("/orders/{order_id}/returns", status_code=201, response_model=OrderJson)
def ask_for_return(order_id: OrderId, body: ReturnIn, runtime: RuntimeDep, actor: SignedInActor,
                   idempotency_key: KeyHeader = None) -> JSONResponse:
    """Ask to send shipped units back, with a reason (shopper): one return per merchant part, which
    its staff accept or reject; no money moves until then. Units not shipped yet are refunded instead."""
    lines = [(line.sku_id, line.qty) for line in body.lines]
    return _once(runtime, actor, idempotency_key, ("return", order_id, body.model_dump(mode="json")),
                 lambda: service.ask_for_return(runtime.uow(), actor, order_id=order_id, lines=lines,
                                                reason=body.reason), status_code=201)


@router.post("/orders/{order_id}/returns/{return_id}/accept", response_model=OrderJson)
def accept_return(order_id: OrderId, return_id: ReturnId, body: AcceptReturnIn, runtime: RuntimeDep,
                  actor: SignedInActor, idempotency_key: KeyHeader = None) -> JSONResponse:
    """Accept a return of your part, once (merchant staff): what the units cost goes back to the shopper;
    with `goods_back` they go on sale again, without they are written off."""
    return _once(runtime, actor, idempotency_key, ("accept-return", order_id, return_id, body.goods_back),
                 lambda: service.accept_return(runtime.uow(), runtime.provider, actor, order_id=order_id,
                                               return_id=return_id, goods_back=body.goods_back))


@router.post("/orders/{order_id}/returns/{return_id}/reject", response_model=OrderJson)
def reject_return(order_id: OrderId, return_id: ReturnId, body: RejectReturnIn, runtime: RuntimeDep,
                  actor: SignedInActor, idempotency_key: KeyHeader = None) -> JSONResponse:
    """Turn down a return of your part, saying why (merchant staff); nothing moves."""
    return _once(runtime, actor, idempotency_key, ("reject-return", order_id, return_id, body.reason),
                 lambda: service.reject_return(runtime.uow(), actor, order_id=order_id, return_id=return_id,
                                               reason=body.reason))


@router.post("/orders/{order_id}/shipments", response_model=OrderJson,
             openapi_extra=_next_steps(200, "Refund", "Read"))
def ship_order(order_id: IdParam, body: ShipmentIn, runtime: RuntimeDep,
               actor: SignedInActor) -> JSONResponse:
    """Record the shipment of a merchant's paid part of the order; it becomes fulfilled (merchant staff)."""
    return JSONResponse(service.ship(runtime.uow(), actor, order_id=order_id, carrier=body.carrier,
                                     tracking=body.tracking))


@router.get("/orders/{order_id}", response_model=OrderJson)
def get_order(order_id: IdParam, uow: ReadUowDep, actor: SignedInActor) -> JSONResponse:
    """One order: the shopper's own, or a merchant's part of it (merchant staff)."""
    return JSONResponse(service.get_order(uow, actor, order_id))


@router.get("/orders", response_model=OrderPage)
def list_orders(uow: ReadUowDep, actor: SignedInActor, cursor: Cursor = None,
                limit: Limit = 20) -> JSONResponse:
    """A shopper's own orders, or the orders holding a merchant's part (merchant staff); newest first."""
    found = service.list_orders(uow, actor, after_id=decode_cursor(cursor), limit=limit)
    more = len(found) == limit
    return JSONResponse({"data": found, "next_cursor": encode_cursor(found[-1]["id"]) if more else None})


@router.post("/orders/{order_id}/parts/{part_id}/receipt", response_model=OrderJson)
def confirm_receipt(order_id: OrderId, part_id: IdParam, runtime: RuntimeDep,
                    actor: SignedInActor) -> JSONResponse:
    """Say you have received a shipped part of your order (shopper): it is completed, once. A part not
    shipped, refunded or already received is 409 (`/problems/part-not-receivable`,
    `/problems/part-already-received`); a completed part may still be returned."""
    return JSONResponse(service.confirm_receipt(runtime.uow(), actor, order_id=order_id,
                                                merchant_order_id=part_id))


def check_source(runtime: Runtime, source: str) -> None:
    """Raises InvalidInput when the source names no live event (through the live context's port)."""
    event_id = int(source.removeprefix("live:"))
    if not runtime.ports.live_event_exists(runtime.uow(read_only=True), event_id):
        raise InvalidInput(f"no live event {event_id} to place an order from", field="source")


def pay_once(runtime: Runtime, actor: Actor | None, key: str | None, *, order_id: int,
             method: str) -> dict[str, Any]:
    """Pay an order as `POST /orders/{id}/pay` does, once per key (the same key there and here is the
    same payment): the order's receipt. Raises what pay_order raises, KeyReused, KeyInUse."""
    return _remembered(runtime, actor, key, ("pay", order_id, method),
                       lambda: service.pay_order(runtime.uow(), runtime.provider, actor, order_id=order_id,
                                                 method=method)).response
