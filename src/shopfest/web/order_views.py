"""The shopper's orders as their pages show them: what is due now, each part's lines and timeline, the
pre-sale's terms, in the viewer's language, money and time zone. Reading only: every rule is the
order's own (orders/model.py), asked here, never restated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shopfest.catalog import service as catalog
from shopfest.core.clock import HOME_ZONE
from shopfest.core.errors import NotFound
from shopfest.core.money import Money
from shopfest.orders.model import (
    PAID_FOR,
    RECEIVABLE,
    UNPAID,
    IllegalTransition,
    MerchantOrder,
    Order,
    OrderLine,
    OrderStatus,
    OutsideBalanceWindow,
    ReturnStatus,
)
from shopfest.orders.service import OrderFile, OrdersPage
from shopfest.payments.model import IntentStatus
from shopfest.runtime import Runtime
from shopfest.web.layout import current_festival, format_remaining
from shopfest.web.viewer import Viewer

PAGE_SIZE = 10
S = OrderStatus
# The states a part ends in (or passes, for partly refunded and completed ones): the timeline shows
# when each was reached, from the recorded changes; a part moved before they were recorded shows its
# state without a time.
ENDINGS = {S.COMPLETED: "completed", S.CANCELLED: "cancelled", S.REFUNDED: "refunded",
           S.PARTIALLY_REFUNDED: "partially_refunded", S.DEPOSIT_FORFEITED: "forfeited"}
REFUNDABLE_PARTS = frozenset({S.PAID, S.PARTIALLY_REFUNDED})


@dataclass(frozen=True)
class Countdown:
    """The markup countdown.js reads: the instant it reaches zero and the server's festival now."""

    label: str
    text: str
    target_ms: int
    now_ms: int
    speed: float


def zone_of(runtime: Runtime) -> str:
    festival = current_festival(runtime)
    return festival.timezone if festival else HOME_ZONE


def countdown(runtime: Runtime, viewer: Viewer, label: str, *, until: datetime,
              now: datetime) -> Countdown | None:
    if until <= now:
        return None
    return Countdown(label, format_remaining(until - now, viewer.t), int(until.timestamp() * 1000),
                     int(now.timestamp() * 1000), float(getattr(runtime.clock, "speed", 1.0)))


def status_label(status: OrderStatus, viewer: Viewer) -> str:
    return viewer.t(f"orders.status.{status.value}")


# --- the list ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderRow:
    id: int
    placed: str
    status: str
    status_key: str
    to_pay: str
    items: str
    pay_url: str | None


@dataclass(frozen=True)
class ListView:
    rows: list[OrderRow]
    newer_url: str | None
    older_url: str | None


def list_view(runtime: Runtime, page: OrdersPage, viewer: Viewer) -> ListView:
    zone = zone_of(runtime)
    rows = [OrderRow(o.id or 0, viewer.when(o.placed_at, zone), status_label(o.status, viewer),
                     o.status.value, viewer.money(o.to_pay), _items(o, viewer),
                     f"/account/orders/{o.id}/pay" if _payable_now(o, runtime.clock.now()) else None)
            for o in page.orders]
    first, last = (page.orders[0].id, page.orders[-1].id) if page.orders else (None, None)
    return ListView(rows, f"/account/orders?after={first}" if page.newer and first else None,
                    f"/account/orders?before={last}" if page.older and last else None)


def _items(order: Order, viewer: Viewer) -> str:
    lines = [line for child in order.children for line in child.lines]
    text = ", ".join(f"{line.title} × {line.qty}" for line in lines[:3])
    return text + (viewer.t("orders.and_more", count=len(lines) - 3) if len(lines) > 3 else "")


def _payable_now(order: Order, now: datetime) -> bool:
    if order.lapsed(now) is not None:
        return False
    try:
        order.amount_due(now)
    except (IllegalTransition, OutsideBalanceWindow):
        return False
    return True


# --- what is due now ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PresaleView:
    deposit: str
    balance: str
    window: str
    terms: str  # what paying the deposit commits to, and what forfeiting means
    countdown: Countdown | None


@dataclass(frozen=True)
class PayView:
    id: int
    state: str  # due, processing, paid, waiting (for the balance window), closed
    purpose: str | None  # full, deposit, balance
    amount: str | None
    to_pay: str
    presale: PresaleView | None
    countdown: Countdown | None
    last_declined: bool


def due_now(file: OrderFile) -> tuple[str, str | None, Money | None]:
    """What the pay page offers, by the order's own rules: (state, purpose, amount)."""
    order, now = file.order, file.now
    if order.status in (S.CANCELLED, S.DEPOSIT_FORFEITED) or order.lapsed(now) is not None:
        return "closed", None, None
    try:
        purpose, amount = order.amount_due(now)
    except OutsideBalanceWindow:
        return "waiting", "balance", _balance(order)
    except IllegalTransition:
        return "paid", None, None
    intent = file.payments.latest(purpose)
    if intent is not None and intent.status is IntentStatus.PROCESSING:
        return "processing", purpose, amount
    return "due", purpose, amount


def _balance(order: Order) -> Money:
    assert order.presale is not None
    return order.to_pay - order.pay_rate.convert(order.presale.deposit)


def pay_view(runtime: Runtime, file: OrderFile, viewer: Viewer) -> PayView:
    order = file.order
    state, purpose, amount = due_now(file)
    intent = file.payments.latest(purpose) if purpose else None
    return PayView(order.id or 0, state, purpose, viewer.money(amount) if amount else None,
                   viewer.money(order.to_pay), presale_view(runtime, file, viewer),
                   pay_countdown(runtime, file, viewer) if state in ("due", "processing") else None,
                   intent is not None and intent.status is IntentStatus.FAILED and state == "due")


def pay_countdown(runtime: Runtime, file: OrderFile, viewer: Viewer) -> Countdown | None:
    """While unpaid, the time left to pay before the units go back on sale."""
    order = file.order
    if order.status not in UNPAID or order.expires_at is None:
        return None
    return countdown(runtime, viewer, viewer.t("pay.within"), until=order.expires_at, now=file.now)


def presale_view(runtime: Runtime, file: OrderFile, viewer: Viewer) -> PresaleView | None:
    """A pre-sale's deposit, balance and window, and plainly what happens when the balance is not paid
    in it (Order.lapsed: the deposit is forfeited, kept, and the units go back on sale)."""
    order, now = file.order, file.now
    if order.presale is None:
        return None
    zone, t = zone_of(runtime), viewer.t
    deposit = viewer.money(order.pay_rate.convert(order.presale.deposit))
    balance = viewer.money(_balance(order))
    opens, closes = order.presale.balance_from, order.presale.balance_until
    window = viewer.span(opens, closes, zone)
    terms = t("presale.terms", balance=balance, opens=viewer.when(opens, zone),
              closes=viewer.when(closes, zone), deposit=deposit)
    clock = None
    if order.status in (S.AWAITING_DEPOSIT, S.DEPOSIT_PAID, S.AWAITING_BALANCE):
        clock = (countdown(runtime, viewer, t("presale.opens_in"), until=opens, now=now) if now < opens
                 else countdown(runtime, viewer, t("presale.closes_in"), until=closes, now=now))
    return PresaleView(deposit, balance, window, terms, clock)


# --- an order's detail -------------------------------------------------------------------------

@dataclass(frozen=True)
class Saving:
    label: str
    amount: str


@dataclass(frozen=True)
class LineView:
    sku_id: int
    title: str
    qty: int
    unit_price: str
    subtotal: str
    savings: list[Saving]
    total: str
    refunded: str | None


@dataclass(frozen=True)
class Step:
    label: str
    when: str | None  # None: no time is recorded for this step
    detail: str | None = None
    at: datetime | None = None  # the instant, to put the steps in the order they happened


@dataclass(frozen=True)
class PartView:
    id: int
    merchant: str
    status: str
    status_key: str
    lines: list[LineView]
    total: str
    steps: list[Step]
    vouchers: list[str]
    can_refund: bool
    can_return: bool
    returnable: list[tuple[int, str, int]]  # (SKU, title, units not refunded) for the return form
    can_confirm: bool = False  # shipped and open: the shopper may say they received it


@dataclass(frozen=True)
class DetailView:
    id: int
    placed: str
    status: str
    status_key: str
    subtotal: str
    discount: str
    total: str
    to_pay: str
    rate_note: str | None
    parts: list[PartView]
    presale: PresaleView | None
    countdown: Countdown | None
    pay_state: str
    can_cancel: bool
    refunds: list[Step]


def detail_view(runtime: Runtime, file: OrderFile, viewer: Viewer) -> DetailView:
    order, zone = file.order, zone_of(runtime)
    lines = [line for child in order.children for line in child.lines]
    subtotal = Money(sum(line.unit_price.minor * line.qty for line in lines), order.total.currency)
    rate_note = None
    if order.to_pay.currency != order.total.currency:
        rate_note = viewer.t("orders.paid_in", amount=viewer.money(order.to_pay),
                             rate=str(order.pay_rate.rate))
    return DetailView(
        id=order.id or 0, placed=viewer.when(order.placed_at, zone),
        status=status_label(order.status, viewer), status_key=order.status.value,
        subtotal=viewer.money(subtotal), discount=viewer.money(subtotal - order.total),
        total=viewer.money(order.total), to_pay=viewer.money(order.to_pay), rate_note=rate_note,
        parts=[_part(runtime, file, child, viewer, zone) for child in order.children],
        presale=presale_view(runtime, file, viewer), countdown=pay_countdown(runtime, file, viewer),
        pay_state=due_now(file)[0], can_cancel=order.status in UNPAID and order.lapsed(file.now) is None,
        refunds=[Step(viewer.t("orders.step.money_back"), viewer.when(at, zone), viewer.money(amount))
                 for at, amount in file.payments.refunds])


def merchant_name(runtime: Runtime, merchant_id: int, viewer: Viewer) -> str:
    try:
        merchant = catalog.get_merchant(runtime.uow(read_only=True), merchant_id)
    except NotFound:
        return viewer.t("orders.merchant_gone", id=merchant_id)
    return merchant.name


def _part(runtime: Runtime, file: OrderFile, child: MerchantOrder, viewer: Viewer, zone: str) -> PartView:
    shipped = bool(file.shipments.get(child.id or 0))
    unrefunded = any(line.qty > line.refunded_qty for line in child.lines)
    return PartView(
        id=child.id or 0, merchant=merchant_name(runtime, child.merchant_id, viewer),
        status=status_label(child.status, viewer), status_key=child.status.value,
        lines=[_line(line, viewer) for line in child.lines], total=viewer.money(child.total),
        steps=timeline(file, child, viewer, zone), vouchers=file.vouchers.get(child.id or 0, []),
        can_refund=child.status in REFUNDABLE_PARTS and not shipped and unrefunded,
        can_return=shipped and unrefunded and child.status is not S.REFUNDED, returnable=_returnable(child),
        can_confirm=shipped and child.status in RECEIVABLE)


def _returnable(child: MerchantOrder) -> list[tuple[int, str, int]]:
    """Units not refunded per SKU: a SKU may sit on two lines (a flash unit and full-price ones)."""
    left: dict[int, tuple[str, int]] = {}
    for line in child.lines:
        if line.qty > line.refunded_qty:
            title, units = left.get(line.sku_id, (line.title, 0))
            left[line.sku_id] = (title, units + line.qty - line.refunded_qty)
    return [(sku_id, title, units) for sku_id, (title, units) in left.items()]


def done_holds(done: str, file: OrderFile) -> bool:
    """Whether what a form says it did (?done=) is so: a link cannot make the page claim otherwise."""
    return {"cancelled": file.order.status is S.CANCELLED, "refunded": bool(file.payments.refunds),
            "return_asked": any(file.returns.values()),
            "received": any(c.status is S.COMPLETED for c in file.order.children)}.get(done, False)


def _line(line: OrderLine, viewer: Viewer) -> LineView:
    currency = line.total.currency
    savings = [Saving(_saving_label(source, viewer), viewer.money(Money(minor, currency)))
               for source, minor in line.adjustments]
    return LineView(line.sku_id, line.title, line.qty, viewer.money(line.unit_price),
                    viewer.money(Money(line.unit_price.minor * line.qty, currency)), savings,
                    viewer.money(line.total), viewer.money(line.refunded) if line.refunded else None)


def _saving_label(source: str, viewer: Viewer) -> str:
    key = f"orders.saving.{source.split(':', 1)[0]}"
    return viewer.t(key) if viewer.t.has(key) else source


def timeline(file: OrderFile, child: MerchantOrder, viewer: Viewer, zone: str) -> list[Step]:
    """A part's road from placed to its last state, each step with the time the rooms recorded."""
    order, t, paid = file.order, viewer.t, file.payments.paid_at

    def step(label: str, at: datetime | None, detail: str | None = None) -> Step:
        return Step(label, viewer.when(at, zone) if at else None, detail, at)

    steps = [step(t("orders.step.placed"), order.placed_at)]
    deposit_passed = order.presale is not None and child.status not in (S.AWAITING_DEPOSIT, S.CANCELLED)
    if "deposit" in paid or deposit_passed:
        steps.append(step(t("orders.step.deposit_paid"), paid.get("deposit")))
    if child.status in PAID_FOR:
        steps.append(step(t("orders.step.paid"), paid.get("balance") or paid.get("full")
                          or _reached(file, child, S.PAID)))
    for shipment in file.shipments.get(child.id or 0, []):
        steps.append(step(t("orders.step.shipped"), shipment.shipped_at,
                          t("orders.step.shipped_by", carrier=shipment.carrier, tracking=shipment.tracking)))
    for request in file.returns.get(child.id or 0, []):
        units = ", ".join(f"{child.lines[j].title} × {qty}" for j, qty in request.lines)
        steps.append(step(t("orders.step.return_asked"), request.requested_at,
                          t("orders.step.return_what", units=units, reason=request.reason)))
        if request.status is ReturnStatus.ACCEPTED:
            back = viewer.money(request.refunded or Money.zero(order.to_pay.currency))
            steps.append(step(t("orders.step.return_accepted"), request.decided_at,
                              t("orders.step.refunded_amount", amount=back)))
        elif request.status is ReturnStatus.REJECTED:
            steps.append(step(t("orders.step.return_rejected"), request.decided_at, request.rejection))
    return in_time_order(steps + _endings(file, child, viewer, zone))


def _endings(file: OrderFile, child: MerchantOrder, viewer: Viewer, zone: str) -> list[Step]:
    """A step for each ending state the part reached, at the last time it did; the part's present
    state with no time when none was recorded for it."""
    reached: dict[OrderStatus, datetime] = {}
    for change in file.changes.get(child.id or 0, []):
        if change.status in ENDINGS:
            reached[change.status] = change.at
    if child.status in ENDINGS and child.status not in reached:
        return [*_ending_steps(reached, viewer, zone), Step(viewer.t(f"orders.step.{ENDINGS[child.status]}"),
                                                            None)]
    return _ending_steps(reached, viewer, zone)


def _ending_steps(reached: dict[OrderStatus, datetime], viewer: Viewer, zone: str) -> list[Step]:
    return [Step(viewer.t(f"orders.step.{ENDINGS[status]}"), viewer.when(at, zone), at=at)
            for status, at in sorted(reached.items(), key=lambda item: item[1])]


def _reached(file: OrderFile, child: MerchantOrder, status: OrderStatus) -> datetime | None:
    """When the part last moved to `status`, if that was recorded."""
    return next((c.at for c in reversed(file.changes.get(child.id or 0, [])) if c.status is status), None)


def in_time_order(steps: list[Step]) -> list[Step]:
    """The steps by the time they happened; a step without a time stays after the one before it."""
    keyed, last = [], None
    for step in steps:
        last = step.at or last
        keyed.append((last, step))
    first = min((at for at, _ in keyed if at is not None), default=None)
    return [step for _, step in sorted(keyed, key=lambda pair: pair[0] or first or datetime.min)]


# --- the receipt -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PaymentRow:
    purpose: str
    amount: str
    when: str | None
    status: str


@dataclass(frozen=True)
class ReceiptView:
    order: DetailView
    payments: list[PaymentRow]
    printed: str


def receipt_view(runtime: Runtime, file: OrderFile, viewer: Viewer) -> ReceiptView:
    zone = zone_of(runtime)
    rows = [PaymentRow(viewer.t(f"pay.purpose.{i.purpose}"), viewer.money(i.amount),
                       _when(file.payments.paid_at.get(i.purpose), viewer, zone),
                       viewer.t(f"pay.intent.{i.status.value}"))
            for i in file.payments.intents]
    return ReceiptView(detail_view(runtime, file, viewer), rows, viewer.when(file.now, zone))


def _when(at: datetime | None, viewer: Viewer, zone: str) -> str | None:
    return viewer.when(at, zone) if at else None
