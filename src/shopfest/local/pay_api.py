"""HTTP routes of in-store QR pay and settlement: the offer behind a counter's code, starting and
paying a payment, reading it, and a merchant's settlement as JSON or CSV."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shopfest.core.actor import Actor, shopper_id
from shopfest.core.clock import instant_text
from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money
from shopfest.deps import AccountFirstRoute, RuntimeDep, SignedInActor, optional_actor
from shopfest.local import instore
from shopfest.local.pay_rules import InStorePayment, PayOffer, SettlementDay, read_pay_amount
from shopfest.local.settlement import settlement, settlement_csv
from shopfest.payments import idempotency as keys
from shopfest.payments import service as payments
from shopfest.problems import problem_responses
from shopfest.runtime import Runtime
from shopfest.schemas import IdParam, InputModel, MoneyJson

router = APIRouter(prefix="/api/v1/local", tags=["local"],
                   responses=problem_responses(401, 403, 404, 409, 422), route_class=AccountFirstRoute)

AmountText = Annotated[str, Field(min_length=1, max_length=24, examples=["30.00"])]
KeyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                         description="retries with the same key get the first answer")]
MaybeActor = Annotated[Actor | None, Depends(optional_actor)]


class PayIn(InputModel):
    amount: AmountText


class MethodIn(InputModel):
    method: str = Field(min_length=1, max_length=40, examples=["sandbox_ok"])


class PaymentJson(BaseModel):
    id: int
    shop_id: int
    merchant_id: int
    shopper_id: int
    amount: MoneyJson
    discount: MoneyJson
    to_pay: MoneyJson
    status: str = Field(examples=["started", "processing", "paid", "failed", "abandoned"])
    created_at: str
    paid_at: str | None


def _instant(at: datetime | None) -> str | None:
    return instant_text(at) if at is not None else None


def _money(money: Money | None) -> dict[str, str] | None:
    return MoneyJson.of(money).model_dump() if money is not None else None


def payment_json(payment: InStorePayment) -> dict[str, Any]:
    return {"id": payment.id, "shop_id": payment.shop_id, "merchant_id": payment.merchant_id,
            "shopper_id": payment.shopper_id, "amount": _money(payment.amount),
            "discount": _money(payment.discount), "to_pay": _money(payment.to_pay),
            "status": payment.status.value, "created_at": _instant(payment.created_at),
            "paid_at": _instant(payment.paid_at)}


def offer_json(offer: PayOffer) -> dict[str, Any]:
    rule = offer.rule
    return {"shop": {"id": offer.shop_id, "name": offer.shop_name, "merchant_id": offer.merchant_id,
                     "kind": offer.kind.value},
            "currency": offer.currency, "amount": _money(offer.amount), "discount": _money(offer.discount),
            "to_pay": _money(offer.to_pay), "discount_uses_left": offer.discount_uses_left,
            "sale_open": offer.sale_open,
            "local_discount": None if rule is None else {
                "spend": _money(rule.spend), "save": _money(rule.save), "per_day": rule.per_day,
                "funded_by": rule.funded_by}}


def _offer(runtime: Runtime, actor: Actor | None, token: str, amount: str | None) -> PayOffer:
    """The offer, with `amount` read in the shop's currency."""
    money = None if amount is None else read_pay_amount(
        amount, instore.counter_currency(runtime.uow(read_only=True), token))
    return instore.pay_offer(runtime.uow(read_only=True), pay_token=token, shopper_id=shopper_id(actor),
                             amount=money, now=runtime.clock.now())


@router.get("/pay/{token}")
def get_pay_offer(token: str, runtime: RuntimeDep, actor: MaybeActor,
                  amount: Annotated[str | None, Query(max_length=24)] = None) -> dict[str, Any]:
    """The shop behind a counter's QR code, and for `amount` the festival's local discount that
    applies for the signed-in shopper today and what is left to pay."""
    return offer_json(_offer(runtime, actor, token, amount))


@router.post("/pay/{token}", status_code=201, response_model=PaymentJson)
def start_payment(token: str, body: PayIn, runtime: RuntimeDep, actor: SignedInActor,
                  idempotency_key: KeyHeader = None) -> JSONResponse:
    """Start paying `amount` at a shop's counter (shopper); the local discount is reserved for the
    payment. An Idempotency-Key is required: the same key answers the same payment."""
    if idempotency_key is None:
        raise InvalidInput("send an Idempotency-Key header with each new payment")
    currency = instore.counter_currency(runtime.uow(read_only=True), token)
    started = instore.start_payment(runtime.uow(), runtime.provider, actor, pay_token=token,
                                    amount=read_pay_amount(body.amount, currency), key=idempotency_key,
                                    now=runtime.clock.now())
    return JSONResponse(payment_json(started), status_code=201)


@router.post("/payments/{payment_id}/pay", response_model=PaymentJson, responses=problem_responses(402))
def pay_payment(payment_id: IdParam, body: MethodIn, runtime: RuntimeDep, actor: SignedInActor,
                idempotency_key: KeyHeader = None) -> JSONResponse:
    """Pay a started payment through the configured provider (its shopper); with the sandbox,
    `sandbox_ok` pays at once, `sandbox_fail` is declined (402), `sandbox_delay` is paid when its
    webhook arrives. A paid payment is never charged again."""
    def run() -> dict[str, Any]:
        return payment_json(instore.pay(runtime.uow(), runtime.provider, actor, payment_id=payment_id,
                                        method=body.method))
    key = None if idempotency_key is None else keys.key_of(f"user:{actor.user_id}", idempotency_key,
                                                            "local-pay", payment_id, body.method)
    answer = payments.once(runtime.uow, key=key, run=run)
    return JSONResponse(answer.response, status_code=answer.status_code)


@router.get("/payments/{payment_id}", response_model=PaymentJson)
def get_payment(payment_id: IdParam, runtime: RuntimeDep, actor: SignedInActor) -> dict[str, Any]:
    """An in-store payment, for its shopper, the shop's staff and operators."""
    return payment_json(instore.payment(runtime.uow(read_only=True), actor, payment_id=payment_id))


def _settlement(runtime: Runtime, actor: Actor, merchant_id: int, start: date,
                end: date) -> list[SettlementDay]:
    return settlement(runtime.uow(read_only=True), actor, merchant_id=merchant_id, start=start, end=end,
                      sales=runtime.ports.voucher_sales)


def day_json(row: SettlementDay) -> dict[str, Any]:
    return {"merchant_id": row.merchant_id, "day": row.day.isoformat(), "currency": row.currency,
            "vouchers_sold": row.vouchers_sold, "vouchers_sold_amount": _money(row.vouchers_sold_amount),
            "vouchers_redeemed": row.vouchers_redeemed, "qr_payments": row.qr_payments,
            "qr_gross": _money(row.qr_gross), "qr_paid_by_shoppers": _money(row.qr_paid_by_shoppers),
            "platform_discounts": _money(row.platform_discounts), "fees": _money(row.fees),
            "net_payout": _money(row.net_payout)}


MerchantQuery = Annotated[IdParam, Query()]
DayQuery = Annotated[date, Query(description="a UTC day, e.g. 2027-11-11")]


@router.get("/settlement")
def get_settlement(merchant_id: MerchantQuery, start: DayQuery, end: DayQuery, runtime: RuntimeDep,
                   actor: SignedInActor) -> dict[str, Any]:
    """A merchant's settlement per UTC day from `start` to `end` (at most 93 days), for its staff and
    operators: vouchers sold and redeemed, in-store payments, platform-funded discounts, fees
    (0.6 % of what shoppers paid, per payment), and the net payout."""
    return {"days": [day_json(row) for row in _settlement(runtime, actor, merchant_id, start, end)]}


@router.get("/settlement.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def get_settlement_csv(merchant_id: MerchantQuery, start: DayQuery, end: DayQuery, runtime: RuntimeDep,
                       actor: SignedInActor) -> Response:
    """The settlement as CSV, a row per day."""
    text = settlement_csv(_settlement(runtime, actor, merchant_id, start, end))
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="settlement-{merchant_id}-{start}-{end}.csv"'})
