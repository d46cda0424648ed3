"""The shopper's orders: paying after checkout, the list and each order's detail, cancelling, refunds and
returns, receipts, pre-sale balances."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import DomainError, InvalidInput, NotFound
from shopfest.deps import RuntimeDep, actor_of
from shopfest.orders import service as orders
from shopfest.orders.model import AlreadyReceived
from shopfest.orders.service import OrderFile
from shopfest.payments import idempotency as keys
from shopfest.payments import service as payments
from shopfest.payments.model import PaymentDeclined
from shopfest.payments.provider import SANDBOX_METHODS
from shopfest.problems import status_of
from shopfest.runtime import Runtime
from shopfest.web.forms import FormErrors
from shopfest.web.layout import render
from shopfest.web.order_views import (
    PAGE_SIZE,
    detail_view,
    done_holds,
    list_view,
    pay_view,
    receipt_view,
)
from shopfest.web.routing import PageRoute
from shopfest.web.viewer import viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)

Key = Annotated[str, Form(max_length=255)]
REASON_MAX = 500
DONE = frozenset({"cancelled", "refunded", "return_asked", "received"})


def _order_id(text: str) -> int:
    # Taken as text so /account/orders/abc is the same friendly 404 as an order that is not yours.
    if not text.isdigit() or len(text) > 18 or int(text) == 0:
        raise NotFound(f"no order {text}")
    return int(text)


def _cursor(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) <= 18 else None


def _shopper(request: Request, runtime: Runtime) -> Actor:
    return require_role(actor_of(request, runtime), Role.SHOPPER)


def _file(request: Request, runtime: Runtime, order_id: int) -> OrderFile:
    return orders.shopper_order(runtime.uow(read_only=True), actor_of(request, runtime), order_id)


def _once(runtime: Runtime, actor: Actor, key: str, request: tuple[Any, ...],
          run: Callable[[], dict[str, Any]]) -> None:
    """Move money once per form: the same form posted twice gets the first answer and runs nothing.
    Raises InvalidInput (no key), KeyInUse, KeyReused and what `run` raises."""
    if not key:
        raise InvalidInput("the form carries no key: reload the page and try again", field="")
    idempotency = keys.key_of(f"user:{actor.user_id}", key, "page", *request)
    payments.once(runtime.uow, key=idempotency, run=run)


def _fresh_key() -> str:
    return secrets.token_urlsafe(18)


# --- my orders ---------------------------------------------------------------------------------

@router.get("/account/orders", response_class=HTMLResponse)
def my_orders(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """Newest first, a page at a time, with links to the pages before and after."""
    page = orders.shopper_orders(runtime.uow(read_only=True), actor_of(request, runtime),
                                 before=_cursor(request.query_params.get("before")),
                                 after=_cursor(request.query_params.get("after")), limit=PAGE_SIZE)
    return render(request, runtime, "account/orders.html", section="orders",
                  page=list_view(runtime, page, viewer_of(request)))


@router.get("/account/orders/{order_id}", response_class=HTMLResponse)
def order_detail(request: Request, runtime: RuntimeDep, order_id: str) -> HTMLResponse:
    done = request.query_params.get("done")  # what a form just did, said once it redirected here
    return _detail(request, runtime, _order_id(order_id), done=done if done in DONE else None)


def _detail(request: Request, runtime: Runtime, order_id: int, *, errors: FormErrors | None = None,
            status: int = 200, done: str | None = None) -> HTMLResponse:
    file = _file(request, runtime, order_id)
    view = detail_view(runtime, file, viewer_of(request))
    said = viewer_of(request).t(f"orders.done.{done}") if done and done_holds(done, file) else None
    return render(request, runtime, "account/order.html", status=status, section="orders", order=view,
                  errors=errors or FormErrors(), done=said, new_key=_fresh_key)


# --- paying ------------------------------------------------------------------------------------

@router.get("/account/orders/{order_id}/pay", response_class=HTMLResponse)
def pay_page(request: Request, runtime: RuntimeDep, order_id: str) -> HTMLResponse:
    return _pay_page(request, runtime, _order_id(order_id))


def _pay_page(request: Request, runtime: Runtime, order_id: int, *, errors: FormErrors | None = None,
              status: int = 200, chosen: str = "sandbox_ok") -> HTMLResponse:
    view = pay_view(runtime, _file(request, runtime, order_id), viewer_of(request))
    return render(request, runtime, "account/pay.html", status=status, section="orders", pay=view,
                  errors=errors or FormErrors(), methods=SANDBOX_METHODS, chosen=chosen,
                  pay_key=_fresh_key())


@router.post("/account/orders/{order_id}/pay", response_class=HTMLResponse)
def pay(request: Request, runtime: RuntimeDep, order_id: str,
        method: Annotated[str, Form(max_length=40)] = "", pay_key: Key = "") -> Response:
    """Pay what is due now with the chosen method, once however often the form is posted; declined,
    the page says so and offers another try. A payment still with the gateway shows as processing."""
    number, actor, t = _order_id(order_id), _shopper(request, runtime), viewer_of(request).t
    errors = FormErrors()
    if method not in SANDBOX_METHODS:
        errors.by_field["method"] = t("pay.choose_method")
        return _pay_page(request, runtime, number, errors=errors, status=422)
    try:
        _once(runtime, actor, pay_key, ("pay", number, method),
              lambda: orders.pay_order(runtime.uow(), runtime.provider, actor, order_id=number,
                                       method=method))
    except PaymentDeclined:
        errors.by_field[""] = t("pay.declined")
        return _pay_page(request, runtime, number, errors=errors, status=402, chosen=method)
    except DomainError as refused:
        errors.add(refused, t, field_name="")
        return _pay_page(request, runtime, number, errors=errors, status=status_of(refused), chosen=method)
    return RedirectResponse(f"/account/orders/{number}/pay", status_code=303)


# --- cancelling, refunds, returns --------------------------------------------------------------

@router.post("/account/orders/{order_id}/cancel", response_class=HTMLResponse)
def cancel(request: Request, runtime: RuntimeDep, order_id: str) -> Response:
    """An unpaid order is cancelled and its units go back on sale."""
    number, actor = _order_id(order_id), _shopper(request, runtime)
    try:
        orders.cancel_order(runtime.uow(), runtime.gate, actor, number)
    except DomainError as refused:
        return _refused(request, runtime, number, refused, field="cancel")
    return RedirectResponse(f"/account/orders/{number}?done=cancelled", status_code=303)


@router.post("/account/orders/{order_id}/refund", response_class=HTMLResponse)
def refund(request: Request, runtime: RuntimeDep, order_id: str,
           part: Annotated[str, Form(max_length=18)] = "", refund_key: Key = "") -> Response:
    """One merchant's part, paid and not shipped yet, is refunded in full; once a form."""
    number, actor = _order_id(order_id), _shopper(request, runtime)
    part_id = _cursor(part)
    try:
        if part_id is None:
            raise NotFound(f"no part {part} in order {number}")
        key = f"refund:{keys.fingerprint(f'user:{actor.user_id}', number, refund_key)}"
        _once(runtime, actor, refund_key, ("refund", number, part_id),
              lambda: orders.refund_part(runtime.uow(), runtime.provider, actor, order_id=number,
                                         merchant_order_id=part_id, refund_key=key))
    except DomainError as refused:
        return _refused(request, runtime, number, refused, field=f"refund-{part}")
    return RedirectResponse(f"/account/orders/{number}?done=refunded", status_code=303)


@router.post("/account/orders/{order_id}/returns", response_class=HTMLResponse)
async def ask_return(request: Request, runtime: RuntimeDep, order_id: str) -> Response:
    """Shipped units the shopper wants to send back, with a reason; the merchant decides."""
    number = _order_id(order_id)
    form = await request.form()
    fields = {name: str(value) for name, value in form.items()}
    return await run_in_threadpool(_ask_return, request, runtime, number, fields)


def _ask_return(request: Request, runtime: Runtime, number: int, form: dict[str, str]) -> Response:
    actor, t = _shopper(request, runtime), viewer_of(request).t
    part = form.get("part", "")
    errors = FormErrors()
    lines = _return_lines(form)
    reason = form.get("reason", "").strip()
    if not lines:
        errors.by_field[f"units-{part}"] = t("orders.return_none")
    if not reason or len(reason) > REASON_MAX or "\x00" in reason:
        errors.by_field[f"reason-{part}"] = t("orders.return_reason_needed", most=REASON_MAX)
    if errors:
        return _detail(request, runtime, number, errors=errors, status=422)
    try:
        _once(runtime, actor, form.get("return_key", ""), ("return", number, lines, reason),
              lambda: orders.ask_for_return(runtime.uow(), actor, order_id=number, lines=lines,
                                            reason=reason))
    except DomainError as refused:
        return _refused(request, runtime, number, refused, field=f"units-{part}")
    return RedirectResponse(f"/account/orders/{number}?done=return_asked", status_code=303)


@router.post("/account/orders/{order_id}/received", response_class=HTMLResponse)
def confirm_receipt(request: Request, runtime: RuntimeDep, order_id: str,
                    part: Annotated[str, Form(max_length=18)] = "") -> Response:
    """The shopper has received a shipped part: it is completed. Posted twice (a double click), the
    second finds it received already and shows the page as the first left it."""
    number, actor = _order_id(order_id), _shopper(request, runtime)
    part_id = _cursor(part)
    try:
        if part_id is None:
            raise NotFound(f"no part {part} in order {number}")
        orders.confirm_receipt(runtime.uow(), actor, order_id=number, merchant_order_id=part_id)
    except AlreadyReceived:
        pass
    except DomainError as refused:
        return _refused(request, runtime, number, refused, field=f"received-{part}")
    return RedirectResponse(f"/account/orders/{number}?done=received", status_code=303)


def _return_lines(form: dict[str, str]) -> list[tuple[int, int]]:
    """(SKU, units) of every units-<sku> field with units in it; malformed ones count as none."""
    lines = []
    for name, value in form.items():
        sku, units = name.removeprefix("units-"), value.strip()
        if name.startswith("units-") and sku.isdigit() and len(sku) <= 18 and units.isdigit() \
                and 0 < int(units) <= 999:
            lines.append((int(sku), int(units)))
    return lines


def _refused(request: Request, runtime: Runtime, number: int, refused: DomainError, *,
             field: str) -> HTMLResponse:
    """The order's page again, the reason beside the form that was refused; a refusal about the
    order itself (not found) is the error page."""
    if isinstance(refused, NotFound) and refused.data.get("order_id") is not None:
        raise refused
    errors = FormErrors()
    errors.add(refused, viewer_of(request).t, field_name=field)
    return _detail(request, runtime, number, errors=errors, status=status_of(refused))


# --- the receipt -------------------------------------------------------------------------------

@router.get("/account/orders/{order_id}/receipt", response_class=HTMLResponse)
def receipt(request: Request, runtime: RuntimeDep, order_id: str) -> HTMLResponse:
    view = receipt_view(runtime, _file(request, runtime, _order_id(order_id)), viewer_of(request))
    return render(request, runtime, "account/receipt.html", section="orders", receipt=view)
