"""Use cases of a voucher's life after the sale: the shopper's own with their signed codes, redeemed
exactly once at a shop of its merchant inside its validity, undone within a short window, queued
redemptions of an offline shop uploaded (a voucher redeemed twice is one redemption and one conflict),
and a merchant's redemptions of a day.

Vouchers live in the orders context; these reach them through the VoucherLedger port, plugged in
with the signing keys for each engine by the composition root (`plug`, called by app.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from shopfest.core.actor import Actor, Role, require_acting_for, require_merchant_staff, require_role
from shopfest.core.errors import DomainError, InvalidInput, NotFound
from shopfest.core.events import DomainEvent
from shopfest.core.uow import UnitOfWork
from shopfest.local.codes import (
    PREFIX,
    VOUCHER_ID,
    BadVoucherCode,
    SignedVoucher,
    VoucherKeys,
    read_code,
    sign_voucher,
)
from shopfest.local.model import (
    OFFLINE_ITEMS_MAX,
    IssuedVoucher,
    Shop,
    UndoTooLate,
    VoucherAlreadyRedeemed,
    VoucherLedger,
    VoucherVoid,
    check_redeemable,
    undo_until,
    valid_until,
)
from shopfest.local.store import LocalStore
from shopfest.local.voucher_store import RedemptionStore, standing_after

CLIENT_REF_MAX = 64
REDEMPTIONS_LISTED_MAX = 10_000
CLOCK_SKEW = timedelta(minutes=5)  # an offline console's clock may run this far ahead
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)  # days a redemption may be asked of


@dataclass(frozen=True)
class VoucherDesk:
    """What the use cases below need besides the unit of work: the orders' vouchers and the keys."""

    ledger: VoucherLedger
    keys: VoucherKeys


_desks: WeakKeyDictionary[Engine, VoucherDesk] = WeakKeyDictionary()


def plug(engine: Engine, desk: VoucherDesk) -> None:
    """Serve the vouchers of this engine's database through `desk` (the composition root's call)."""
    _desks[engine] = desk


def _desk(uow: UnitOfWork) -> VoucherDesk:
    desk = _desks.get(uow.engine)
    if desk is None:
        raise RuntimeError("no voucher ledger is plugged in for this database; app.make_runtime plugs it")
    return desk


@dataclass(frozen=True, slots=True)
class Redemption:
    id: int
    voucher_code: str
    shop_id: int
    merchant_id: int
    redeemed_at: datetime
    undo_until: datetime
    title: str


@dataclass(frozen=True, slots=True)
class VoucherView:
    """One of the shopper's vouchers as their account shows it."""

    code: str
    title: str
    kind: str
    status: str  # issued, redeemed, void or expired
    valid_until: datetime
    signed_code: str
    issued_at: datetime
    order_id: int
    redeemed_at: datetime | None = None
    shop_name: str | None = None


@dataclass(frozen=True, slots=True)
class OfflineItem:
    code: str
    redeemed_at: datetime
    client_ref: str


@dataclass(frozen=True)
class OfflineReport:
    """What each item of an upload came to, in the order sent: `outcome` redeemed or conflict."""

    shop_id: int
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def redeemed(self) -> int:
        return sum(1 for item in self.items if item["outcome"] == "redeemed")

    @property
    def conflicts(self) -> int:
        return len(self.items) - self.redeemed


@dataclass(frozen=True, slots=True)
class VoucherCheck:
    """What a code says and where its voucher stands, for the shop's staff before they redeem."""

    voucher_code: str
    merchant_id: int
    title: str
    status: str
    valid_until: datetime
    signed: bool
    redeemed_at: datetime | None = None
    shop_id: int | None = None


def voucher_id_of(code: str, keys: VoucherKeys) -> tuple[str, SignedVoucher | None]:
    """The voucher a scanned (signed) or typed (bare) code names. Raises BadVoucherCode."""
    if not isinstance(code, str) or not code.strip():
        raise BadVoucherCode("the voucher code is empty")
    text = "".join(code.split())
    if text.upper().startswith(PREFIX.upper()):
        signed = read_code(text, keys)
        return signed.voucher_id, signed
    if not VOUCHER_ID.match(text):  # a voucher's own code, typed by hand
        raise BadVoucherCode("this is neither a voucher's QR code nor its typed code")
    return text, None


# --- the shopper's own ----------------------------------------------------------------------------

def my_vouchers(uow: UnitOfWork, actor: Actor | None, *, signer: VoucherKeys) -> list[VoucherView]:
    """The signed-in shopper's vouchers, newest first, each with the signed code its QR code shows.

    Raises Unauthenticated, Forbidden."""
    shopper = require_role(actor, Role.SHOPPER)
    ledger = _desk(uow).ledger
    with uow:
        held = ledger.of_shopper(uow, shopper)
        local = LocalStore(uow.conn)
        deals = {sku: local.deal_of_sku(sku) for sku in {v.sku_id for v in held}}
        standing = RedemptionStore(uow.conn).standing_of([v.code for v in held])
        shops = {r.shop_id: local.shop(r.shop_id) for r in standing.values()}
        now = uow.clock.now()
        return [_view(v, valid_until(v, deals[v.sku_id]), standing.get(v.code), shops, signer, now)
                for v in held]


def _view(voucher: IssuedVoucher, until: datetime, redeemed: Any,  # noqa: ANN401  # a redemption row or None
          shops: dict[int, Shop | None], signer: VoucherKeys, now: datetime) -> VoucherView:
    status = "expired" if voucher.status == "issued" and now >= until else voucher.status
    redeemed = redeemed if voucher.status == "redeemed" else None
    shop = shops.get(redeemed.shop_id) if redeemed is not None else None
    return VoucherView(
        code=voucher.code, title=voucher.title, kind=voucher.kind, status=status, valid_until=until,
        signed_code=sign_voucher(signer, voucher_id=voucher.code, merchant_id=voucher.merchant_id,
                                 last_day=last_day(until)),
        issued_at=voucher.issued_at, order_id=voucher.order_id,
        redeemed_at=redeemed.redeemed_at if redeemed is not None else None,
        shop_name=shop.name if shop is not None else None)


def last_day(until: datetime) -> date:
    """The last UTC day a voucher valid until `until` (exclusive) may be redeemed on."""
    return (until.astimezone(UTC) - timedelta(microseconds=1)).date()


# --- redeeming, exactly once ------------------------------------------------------------------------

def redeem(uow: UnitOfWork, actor: Actor | None, *, code: str, shop_id: int,
           at: datetime | None = None) -> Redemption:
    """The voucher's merchant's staff redeem it at one of that merchant's shops, once ever: a second
    redemption, anywhere, at once or later, is refused with when and where the first was.

    Raises Unauthenticated, Forbidden, BadVoucherCode, NotFound (another merchant's voucher or shop),
    VoucherAlreadyRedeemed, VoucherVoid, VoucherExpired."""
    staff, merchant_id = require_merchant_staff(actor)
    desk = _desk(uow)
    voucher_code, _ = voucher_id_of(code, desk.keys)
    with uow:
        shop = _own_shop(uow, merchant_id, shop_id)
        now = uow.clock.now()
        redemption = _redeem(uow, desk.ledger, staff, voucher_code=voucher_code, shop=shop, at=at or now,
                             now=now)
        uow.commit()
        return redemption


def _own_shop(uow: UnitOfWork, merchant_id: int, shop_id: int) -> Shop:
    shop = LocalStore(uow.conn).shop(shop_id)
    if shop is None or shop.merchant_id != merchant_id:
        raise NotFound(f"no shop {shop_id} of your merchant", shop_id=shop_id)
    return shop


def _redeem(uow: UnitOfWork, ledger: VoucherLedger, staff: Actor, *, voucher_code: str, shop: Shop,
            at: datetime, now: datetime) -> Redemption:
    """Redeem in the caller's transaction; the voucher's status moves only if nobody moved it first."""
    voucher = ledger.find(uow, voucher_code)
    if voucher is None or voucher.merchant_id != shop.merchant_id:
        raise NotFound("no voucher with this code at your merchant")  # never say whose it is
    store = RedemptionStore(uow.conn)
    if voucher.status == "redeemed":
        raise _already(uow, store, voucher_code)
    check_redeemable(voucher, until=valid_until(voucher, LocalStore(uow.conn).deal_of_sku(voucher.sku_id)),
                     at=at)
    if not ledger.move(uow, voucher_code, was="issued", to="redeemed"):
        again = ledger.find(uow, voucher_code)
        if again is not None and again.status == "void":
            raise VoucherVoid("this voucher was refunded and cannot be redeemed", code=voucher_code)
        raise _already(uow, store, voucher_code)
    row = {"voucher_code": voucher_code, "merchant_id": shop.merchant_id, "shop_id": shop.id,
           "staff_id": staff.user_id, "redeemed_at": at, "recorded_at": now, "undone_at": None,
           "title": voucher.title[:200]}
    redemption_id = store.add(row)
    uow.emit(VoucherRedeemed(redemption_id, shop.merchant_id, shop.id or 0, at, 1))
    return Redemption(redemption_id, voucher_code, shop.id or 0, shop.merchant_id, at, undo_until(now),
                      voucher.title)


def _already(uow: UnitOfWork, store: RedemptionStore, voucher_code: str) -> VoucherAlreadyRedeemed:
    first = store.standing(voucher_code)
    if first is None:
        return VoucherAlreadyRedeemed("this voucher is redeemed already", code=voucher_code)
    shop = LocalStore(uow.conn).shop(first.shop_id)
    where = shop.name if shop else f"shop {first.shop_id}"
    return VoucherAlreadyRedeemed(
        f"this voucher was redeemed at {where} at {first.redeemed_at.isoformat()}", code=voucher_code,
        redeemed_at=first.redeemed_at.isoformat(), shop_id=first.shop_id, shop_name=where,
        redemption_id=first.id)


def undo_redemption(uow: UnitOfWork, actor: Actor | None, *, redemption_id: int) -> Redemption:
    """The redeeming merchant's staff take a redemption back within UNDO_WINDOW of recording it: the
    voucher is redeemable again. Undoing it twice changes nothing more.

    Raises Unauthenticated, Forbidden, NotFound, UndoTooLate."""
    _, merchant_id = require_merchant_staff(actor)
    ledger = _desk(uow).ledger
    with uow:
        store = RedemptionStore(uow.conn)
        row = store.get(redemption_id)
        if row is None or row.merchant_id != merchant_id:
            raise NotFound(f"no redemption {redemption_id} at your merchant", redemption_id=redemption_id)
        until = undo_until(row.recorded_at)
        if row.undone_at is None and uow.clock.now() > until:
            raise UndoTooLate(f"a redemption can be undone until {until.isoformat()}",
                              undo_until=until.isoformat(), redemption_id=redemption_id)
        if row.undone_at is None and store.undo(redemption_id, at=uow.clock.now()):
            ledger.move(uow, row.voucher_code, was="redeemed", to="issued")
            uow.emit(VoucherRedeemed(row.id, row.merchant_id, row.shop_id, row.redeemed_at, -1))
            uow.commit()
        return _redemption(row)


def _redemption(row: Any) -> Redemption:  # noqa: ANN401  # a row of local_redemptions
    return Redemption(row.id, row.voucher_code, row.shop_id, row.merchant_id, row.redeemed_at,
                      undo_until(row.recorded_at), row.title)


# --- a shop's offline redemptions, uploaded -----------------------------------------------------------

def upload_offline(uow: UnitOfWork, actor: Actor | None, *, shop_id: int,
                   items: list[OfflineItem]) -> OfflineReport:
    """Redemptions a shop's console made offline (signed codes, checked there): each is redeemed if
    the voucher still may be, else reported as a conflict; sending the same items (client_refs) again
    changes nothing and answers the same report.

    Raises Unauthenticated, Forbidden, InvalidInput, NotFound (another merchant's shop)."""
    staff, merchant_id = require_merchant_staff(actor)
    _check_items(items)
    desk = _desk(uow)
    try:
        return _upload(uow, desk, staff, merchant_id=merchant_id, shop_id=shop_id, items=items)
    except (IntegrityError, OperationalError):
        # The same items sent again at the same moment were recorded first there, or two uploads
        # locked the same vouchers in opposite orders (PostgreSQL let one go): once more, afresh.
        return _upload(uow, desk, staff, merchant_id=merchant_id, shop_id=shop_id, items=items)


def _check_items(items: Sequence[OfflineItem]) -> None:
    if len(items) > OFFLINE_ITEMS_MAX:
        raise InvalidInput(f"an upload holds at most {OFFLINE_ITEMS_MAX} redemptions; send the rest after",
                           most=OFFLINE_ITEMS_MAX)
    for item in items:
        if not isinstance(item.client_ref, str) or not 1 <= len(item.client_ref) <= CLIENT_REF_MAX:
            raise InvalidInput(f"each item's client_ref is 1 to {CLIENT_REF_MAX} characters")
        if item.redeemed_at.tzinfo is None:
            raise InvalidInput("each item's redeemed_at carries its time zone")


def _upload(uow: UnitOfWork, desk: VoucherDesk, staff: Actor, *, merchant_id: int, shop_id: int,
            items: Sequence[OfflineItem]) -> OfflineReport:
    with uow:
        shop = _own_shop(uow, merchant_id, shop_id)
        store, now = RedemptionStore(uow.conn), uow.clock.now()
        known = store.offline_outcomes(shop_id, [item.client_ref for item in items])
        report = OfflineReport(shop_id)
        for item in items:
            if item.client_ref not in known:
                known[item.client_ref] = _offline_item(uow, desk, staff, shop=shop, item=item, now=now)
                store.add_offline_outcome(shop_id, item.client_ref, known[item.client_ref], at=now)
            report.items.append(known[item.client_ref])
        uow.commit()
        return report


def _offline_item(uow: UnitOfWork, desk: VoucherDesk, staff: Actor, *, shop: Shop, item: OfflineItem,
                  now: datetime) -> dict[str, Any]:
    """One queued redemption's outcome, as its report line."""
    line: dict[str, Any] = {"client_ref": item.client_ref, "voucher_code": None}
    try:
        signed = read_code(item.code, desk.keys)  # offline consoles scan signed codes only
        line["voucher_code"] = signed.voucher_id
        if item.redeemed_at > now + CLOCK_SKEW:
            raise InvalidInput("this redemption is dated in the future",
                               redeemed_at=item.redeemed_at.isoformat())
        done = _redeem(uow, desk.ledger, staff, voucher_code=signed.voucher_id, shop=shop,
                       at=item.redeemed_at, now=now)
    except DomainError as refused:
        where = {k: v for k, v in refused.data.items() if k in ("redeemed_at", "shop_id", "shop_name")}
        return {**line, "outcome": "conflict", "reason": refused.code, "detail": refused.detail, **where}
    return {**line, "outcome": "redeemed", "redemption_id": done.id,
            "redeemed_at": done.redeemed_at.isoformat()}


# --- for the console and settlement ---------------------------------------------------------------------

def redemptions_of(uow: UnitOfWork, actor: Actor | None, *, merchant_id: int,
                   day: date | None = None) -> list[Redemption]:
    """A merchant's standing redemptions (of one UTC day, when given), oldest first: its own staff
    and the festival's operators see them.

    Raises Unauthenticated, Forbidden."""
    require_acting_for(actor, merchant_id, why="staff see their own merchant's redemptions only")
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"the day is from {FIRST_DAY} to {LAST_DAY}", day=day.isoformat())
    since = datetime.combine(day, time(), tzinfo=UTC) if day is not None else None
    with uow:
        rows = RedemptionStore(uow.conn).of_merchant(
            merchant_id, since=since, before=since + timedelta(days=1) if since else None,
            limit=REDEMPTIONS_LISTED_MAX)
        return [_redemption(r) for r in rows]


def check_code(uow: UnitOfWork, actor: Actor | None, *, code: str) -> VoucherCheck:
    """What a code says and where its voucher stands, without redeeming it: its merchant's staff only.

    Raises Unauthenticated, Forbidden, BadVoucherCode, NotFound (another merchant's voucher)."""
    _, merchant_id = require_merchant_staff(actor)
    desk = _desk(uow)
    voucher_code, signed = voucher_id_of(code, desk.keys)
    with uow:
        voucher = desk.ledger.find(uow, voucher_code)
        if voucher is None or voucher.merchant_id != merchant_id:
            raise NotFound("no voucher with this code at your merchant")
        until = valid_until(voucher, LocalStore(uow.conn).deal_of_sku(voucher.sku_id))
        first = RedemptionStore(uow.conn).standing(voucher_code) if voucher.status == "redeemed" else None
        status = "expired" if voucher.status == "issued" and uow.clock.now() >= until else voucher.status
        return VoucherCheck(voucher_code, merchant_id, voucher.title, status, until, signed is not None,
                            first.redeemed_at if first else None, first.shop_id if first else None)


# --- what the insights context counts (sales_feed.py turns it into a sale event) -------------------

@dataclass(frozen=True)
class VoucherRedeemed(DomainEvent):
    """A voucher was redeemed in a shop (`units` 1), or its redemption undone (`units` -1)."""

    redemption_id: int
    merchant_id: int
    shop_id: int
    at: datetime
    units: int


def standing_redemptions(uow: UnitOfWork, *, after_id: int, limit: int) -> list[VoucherRedeemed]:
    """The redemptions not undone after `after_id`, by id, inside the caller's transaction."""
    return [VoucherRedeemed(r.id, r.merchant_id, r.shop_id, r.redeemed_at, 1)
            for r in standing_after(uow.conn, after_id, limit=limit)]
