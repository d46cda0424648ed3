"""The shop console of a local merchant, in the seller centre: its shops with their counters' pay QR
codes (printable), the redeem screen (type or scan a voucher's code; offline, local.console.js checks
the signature in the browser and queues the redemption) and the settlement by day with its CSV."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from shopfest.core.actor import Actor, require_merchant_staff
from shopfest.core.errors import DomainError, InvalidInput
from shopfest.deps import RuntimeDep, actor_of
from shopfest.local import service as local
from shopfest.local import settlement as settling
from shopfest.local import vouchers
from shopfest.local.model import OFFLINE_ITEMS_MAX, Shop, VoucherAlreadyRedeemed, VoucherExpired, VoucherVoid
from shopfest.local.pay_rules import SettlementDay
from shopfest.payments import idempotency as keys
from shopfest.payments import service as payments
from shopfest.problems import status_of
from shopfest.rate_limits import client_address
from shopfest.runtime import Runtime
from shopfest.web.forms import problem_message
from shopfest.web.layout import render
from shopfest.web.routing import PageRoute
from shopfest.web.viewer import Viewer, viewer_of
from shopfest.web.wallet_pages import qr_svg

router = APIRouter(include_in_schema=False, route_class=PageRoute)

Code = Annotated[str, Form(max_length=600)]
Key = Annotated[str, Form(max_length=100)]
ShopId = Annotated[int, Form(ge=1, le=2**62)]
SETTLEMENT_DAYS = 31  # a month on one page; the CSV takes the same range


def _staff(request: Request, runtime: Runtime) -> tuple[Actor, int]:
    """The signed-in staff of a merchant and its id; anyone else signs in (GET) or is refused (403)."""
    return require_merchant_staff(actor_of(request, runtime))


def _shops(runtime: Runtime, staff: Actor, merchant_id: int) -> list[Shop]:
    return local.shops_of(runtime.uow(read_only=True), staff, merchant_id=merchant_id)


# --- the shops and their pay QR codes -------------------------------------------------------------

@dataclass(frozen=True)
class ShopPanel:
    id: int
    name: str
    kind: str
    pay_url: str
    qr: str


@router.get("/seller/local", response_class=HTMLResponse)
def shops(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The merchant's shops, each with the static QR code its counter shows for in-store pay."""
    staff, merchant_id = _staff(request, runtime)
    viewer, base = viewer_of(request), str(request.base_url).rstrip("/")
    panels = []
    for shop in _shops(runtime, staff, merchant_id):
        name, url = viewer.name(shop.name, shop.name_zh), f"{base}/pay/shop/{shop.pay_token}"
        panels.append(ShopPanel(shop.id or 0, name, viewer.t(f"local.kind.{shop.kind.value}"), url,
                                qr_svg(url, viewer.t("local.console.pay_qr", shop=name))))
    return render(request, runtime, "local/console_shops.html", section="local", panels=panels)


# --- the redeem screen ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What the screen says after a code is sent: redeemed (with its undo) or refused and why."""

    ok: bool
    text: str
    title: str | None = None
    when: str | None = None
    redemption_id: int | None = None
    undo_until: str | None = None


def _redeem_page(request: Request, runtime: Runtime, staff: Actor, merchant_id: int, *,
                 outcome: Outcome | None = None, shop_id: int | None = None,
                 shops: list[Shop] | None = None, status: int = 200) -> HTMLResponse:
    viewer = viewer_of(request)
    shops = shops if shops is not None else _shops(runtime, staff, merchant_id)
    choices = [(s.id or 0, viewer.name(s.name, s.name_zh)) for s in shops]
    return render(request, runtime, "local/console_redeem.html", status=status, section="local_redeem",
                  redeem_key=secrets.token_urlsafe(16),
                  shops=choices, shop_id=shop_id or (choices[0][0] if choices else None), outcome=outcome,
                  merchant_id=merchant_id, now_ms=int(runtime.clock.now().timestamp() * 1000))


@router.get("/seller/local/redeem", response_class=HTMLResponse)
def redeem_screen(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """Choose the shop, type or scan the code."""
    staff, merchant_id = _staff(request, runtime)
    return _redeem_page(request, runtime, staff, merchant_id)


def _redeemed(found: dict[str, Any], viewer: Viewer, zone_name: str) -> Outcome:
    """A redemption as the screen says it (from what `once` remembered of it)."""
    return Outcome(True, viewer.t("local.console.redeemed"), title=str(found["title"]),
                   when=viewer.when(datetime.fromisoformat(found["redeemed_at"]), zone_name),
                   redemption_id=int(found["id"]),
                   undo_until=viewer.wall(datetime.fromisoformat(found["undo_until"]), zone_name))


def _refused(error: DomainError, viewer: Viewer, zone_name: str) -> Outcome:
    """The refusal in the staff's words: where and when a voucher went, or why it cannot go."""
    t, data = viewer.t, error.data
    if isinstance(error, VoucherAlreadyRedeemed):
        # (local.vouchers says when, as ISO text, and at which shop, whenever it finds the redemption)
        at = data.get("redeemed_at")
        when = viewer.when(datetime.fromisoformat(at), zone_name) if at else ""
        return Outcome(False, t("local.console.already", shop=data.get("shop_name", "?"), when=when))
    if isinstance(error, VoucherVoid):
        return Outcome(False, t("local.console.void"))
    if isinstance(error, VoucherExpired):
        return Outcome(False, t("local.console.expired"))
    if status_of(error) == 404:
        return Outcome(False, t("local.console.not_ours"))
    return Outcome(False, problem_message(error, t))


def _zone_of(shops_found: list[Shop], shop_id: int) -> str:
    return next((s.zone for s in shops_found if s.id == shop_id), "UTC")


@router.post("/seller/local/redeem", response_class=HTMLResponse)
def redeem(request: Request, runtime: RuntimeDep, shop_id: ShopId, code: Code = "",
           redeem_key: Key = "") -> HTMLResponse:
    """Redeem the code at the shop once; a refusal says why (409/404/422), nothing redeemed. The
    form's key makes a second press (or a resend after a dropped answer) show the first result, not
    "already redeemed" at this very counter."""
    staff, merchant_id = _staff(request, runtime)
    shops = _shops(runtime, staff, merchant_id)
    viewer, zone_name = viewer_of(request), _zone_of(shops, shop_id)
    _count_attempt(runtime, request, shop_id)
    try:
        if not code.strip():
            raise InvalidInput("type the voucher's code", field="code")
        key = (keys.key_of(f"user:{staff.user_id}", redeem_key, "redeem-page", code.strip(), shop_id)
               if redeem_key else None)
        answer = payments.once(runtime.uow, key=key, run=lambda: _remembered(
            vouchers.redeem(runtime.uow(), staff, code=code.strip(), shop_id=shop_id)))
    except DomainError as refused:
        return _redeem_page(request, runtime, staff, merchant_id, shop_id=shop_id, shops=shops,
                            outcome=_refused(refused, viewer, zone_name), status=status_of(refused))
    return _redeem_page(request, runtime, staff, merchant_id, shop_id=shop_id, shops=shops,
                        outcome=_redeemed(answer.response, viewer, zone_name))


def _remembered(found: vouchers.Redemption) -> dict[str, Any]:
    return {"id": found.id, "title": found.title, "redeemed_at": found.redeemed_at.isoformat(),
            "undo_until": found.undo_until.isoformat()}


def _count_attempt(runtime: Runtime, request: Request, shop_id: int) -> None:
    """One redemption attempt at a shop's counter and from the client's address, on the same budget
    as the API's (a page is no way around it). Raises RateLimited."""
    runtime.limiter.hit("redeem", account=f"shop:{shop_id}", address=client_address(request))


@router.post("/seller/local/redemptions/{redemption_id}/undo", response_class=HTMLResponse)
def undo(request: Request, runtime: RuntimeDep, redemption_id: int) -> HTMLResponse:
    """Give the voucher back within the undo window; later, the screen says it is too late."""
    staff, merchant_id = _staff(request, runtime)
    viewer = viewer_of(request)
    try:
        done = vouchers.undo_redemption(runtime.uow(), staff, redemption_id=max(0, min(redemption_id, 2**62)))
    except DomainError as refused:
        return _redeem_page(request, runtime, staff, merchant_id,
                            outcome=Outcome(False, problem_message(refused, viewer.t)),
                            status=status_of(refused))
    return _redeem_page(request, runtime, staff, merchant_id, shop_id=done.shop_id,
                        outcome=Outcome(True, viewer.t("local.console.undone"), title=done.title))


# --- settlement -----------------------------------------------------------------------------------

def _day(text: str | None, default: date, what: str) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise InvalidInput(f"the {what} day is written like 2026-11-11", field=what) from None


def _range(request: Request, runtime: Runtime) -> tuple[date, date]:
    today = runtime.clock.now().date()
    end = _day(request.query_params.get("end"), today, "end")
    start = _day(request.query_params.get("start"), end - timedelta(days=6), "start")
    if start > end or (end - start).days >= SETTLEMENT_DAYS:
        raise InvalidInput(f"the start is on or before the end, at most {SETTLEMENT_DAYS} days apart")
    return start, end


def _days(runtime: Runtime, staff: Actor, merchant_id: int, start: date, end: date) -> list[SettlementDay]:
    return settling.settlement(runtime.uow(read_only=True), staff, merchant_id=merchant_id, start=start,
                               end=end, sales=runtime.ports.voucher_sales)


@router.get("/seller/local/settlement", response_class=HTMLResponse)
def settlement(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The merchant's settlement by day: vouchers sold and redeemed, QR payments, discounts owed, fees."""
    staff, merchant_id = _staff(request, runtime)
    viewer, error = viewer_of(request), None
    try:
        start, end = _range(request, runtime)
    except InvalidInput as refused:
        error, (start, end) = problem_message(refused, viewer.t), _range_default(runtime)
    days = _days(runtime, staff, merchant_id, start, end)
    return render(request, runtime, "local/console_settlement.html", status=422 if error else 200,
                  section="local_settlement", error=error, start=start.isoformat(), end=end.isoformat(),
                  rows=[_settlement_row(d, viewer) for d in days],
                  csv_url=f"/seller/local/settlement.csv?start={start.isoformat()}&end={end.isoformat()}")


def _range_default(runtime: Runtime) -> tuple[date, date]:
    today = runtime.clock.now().date()
    return today - timedelta(days=6), today


@router.get("/seller/local/settlement.csv")
def settlement_csv(request: Request, runtime: RuntimeDep) -> Response:
    """The same days as CSV, for the merchant's books."""
    staff, merchant_id = _staff(request, runtime)
    start, end = _range(request, runtime)
    days = _days(runtime, staff, merchant_id, start, end)
    name = f"shopfest-local-settlement-{merchant_id}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(settling.settlement_csv(days), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@dataclass(frozen=True)
class SettlementRow:
    day: str
    sold: str
    redeemed: str
    payments: str
    gross: str
    discounts: str
    fees: str
    payout: str


def _settlement_row(day: SettlementDay, viewer: Viewer) -> SettlementRow:
    count, money = viewer.count, viewer.money
    return SettlementRow(
        day=day.day.isoformat(), sold=f"{count(day.vouchers_sold)} · {money(day.vouchers_sold_amount)}",
        redeemed=count(day.vouchers_redeemed), payments=count(day.qr_payments), gross=money(day.qr_gross),
        discounts=money(day.platform_discounts), fees=money(day.fees), payout=money(day.net_payout))


# --- the offline queue's upload -------------------------------------------------------------------

Batch = Annotated[str, Form(max_length=OFFLINE_ITEMS_MAX * 700)]


def _offline_items(batch: str) -> list[vouchers.OfflineItem]:
    """The queue as local-console.js sends it: a JSON list of {code, redeemed_at, client_ref}.

    Raises InvalidInput."""
    try:
        raw = json.loads(batch)
        if not isinstance(raw, list) or len(raw) > OFFLINE_ITEMS_MAX:
            raise ValueError
        return [vouchers.OfflineItem(str(i["code"])[:600], datetime.fromisoformat(str(i["redeemed_at"])),
                                     str(i["client_ref"])) for i in raw]
    except (ValueError, TypeError, KeyError):
        raise InvalidInput(f"the upload is a list of at most {OFFLINE_ITEMS_MAX} queued redemptions "
                           "with their code, redeemed_at and client_ref") from None


@router.post("/seller/local/redemptions/offline")
def upload_offline(request: Request, runtime: RuntimeDep, shop_id: ShopId,
                   items: Batch = "[]") -> JSONResponse:
    """The console's queue of redemptions made offline, sent with the page's session and form token:
    each redeemed, or a conflict (redeemed already, online or earlier in the queue), as the API says."""
    staff, _ = _staff(request, runtime)
    _count_attempt(runtime, request, shop_id)
    report = vouchers.upload_offline(runtime.uow(), staff, shop_id=shop_id, items=_offline_items(items))
    return JSONResponse({"shop_id": report.shop_id, "redeemed": report.redeemed,
                         "conflicts": report.conflicts, "items": report.items})
