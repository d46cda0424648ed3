"""The orders context's vouchers as the local context redeems them: local depends on no orders
(DESIGN.md), so the composition root plugs this in as the runtime's `voucher_ledger` port
(local.model.VoucherLedger), and local's use cases (local/vouchers.py) reach it there."""

from __future__ import annotations

from shopfest.core.actor import Actor
from shopfest.core.uow import UnitOfWork
from shopfest.local.model import IssuedVoucher
from shopfest.orders import service as orders
from shopfest.orders.model import Voucher


class OrdersVoucherLedger:
    """Vouchers read and moved through orders' service functions, in the caller's transaction."""

    def find(self, uow: UnitOfWork, code: str) -> IssuedVoucher | None:
        found = orders.voucher_by_code(uow, code)
        return _issued(found) if found is not None else None

    def move(self, uow: UnitOfWork, code: str, *, was: str, to: str) -> bool:
        return orders.set_voucher_status(uow, code, was=was, to=to)

    def of_shopper(self, uow: UnitOfWork, shopper: Actor) -> list[IssuedVoucher]:
        return [_issued(v) for v in orders.shopper_vouchers_in(uow, shopper.user_id)]


def _issued(voucher: Voucher) -> IssuedVoucher:
    return IssuedVoucher(code=voucher.code, kind=voucher.kind, status=voucher.status,
                         issued_at=voucher.issued_at, merchant_id=voucher.merchant_id,
                         sku_id=voucher.sku_id, title=voucher.title, order_id=voucher.order_id)
