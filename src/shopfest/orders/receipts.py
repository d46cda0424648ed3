"""An order as its shopper and its merchants read it: plain JSON, remembered for idempotent replays."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from shopfest.core.money import Money
from shopfest.orders.model import Copies, MerchantOrder, Order, OrderLine, ReturnRequest


@lru_cache(maxsize=4096)
def money(amount: Money) -> dict[str, str]:
    """Shared between receipts: treat it as read-only."""
    return {"amount": amount.amount, "currency": amount.currency}


def receipt(order: Order, *, vouchers: dict[int, list[str]] | None = None, merchant_id: int | None = None,
            returns: dict[int, list[ReturnRequest]] | None = None) -> dict[str, Any]:
    """The whole order, or only `merchant_id`'s child when a merchant reads it: its money then is
    that part's, and the shopper's payment for it at the order's rate."""
    children = [c for c in order.children if merchant_id is None or c.merchant_id == merchant_id]
    total, to_pay = order.total, order.to_pay
    if merchant_id is not None:
        total = Money(sum(c.total.minor for c in children), order.total.currency)
        to_pay = order.pay_rate.convert(total)
    return {
        "id": order.id, "status": order.status.value, "total": money(total),
        "to_pay": money(to_pay), "rate": str(order.pay_rate.rate),
        "placed_at": order.placed_at.isoformat(),
        "expires_at": order.expires_at.isoformat() if order.expires_at else None,
        "source": order.source,
        "children": [_child(c, (vouchers or {}).get(c.id or 0, []), (returns or {}).get(c.id or 0, []))
                     for c in children],
    }


def _child(child: MerchantOrder, codes: list[str], returns: list[ReturnRequest]) -> dict[str, Any]:
    return {"id": child.id, "merchant_id": child.merchant_id, "status": child.status.value,
            "total": money(child.total), "settlement": money(child.settlement),
            "lines": _lines(child.lines), "vouchers": codes,
            "returns": [_return(r, child) for r in returns]}


def _return(request: ReturnRequest, child: MerchantOrder) -> dict[str, Any]:
    return {"id": request.id, "status": request.status.value,
            "lines": [{"sku_id": child.lines[j].sku_id, "qty": qty} for j, qty in request.lines],
            "reason": request.reason, "requested_at": request.requested_at.isoformat(),
            "decided_at": request.decided_at.isoformat() if request.decided_at else None,
            "goods_back": request.goods_back, "rejection": request.rejection,
            "refunded": None if request.refunded is None else money(request.refunded)}


@lru_cache(maxsize=4096)
def _lines(lines: tuple[OrderLine, ...]) -> list[dict[str, Any]]:
    # At the peak thousands of orders hold the very same lines: write them out once.
    return [_line(line) for line in lines]


def _line(line: OrderLine) -> dict[str, Any]:
    return {"sku_id": line.sku_id, "product_id": line.product_id, "title": line.title,
            "fulfilment": line.fulfilment, "qty": line.qty, "unit_price": money(line.unit_price),
            "total": money(line.total), "flash_sale_id": line.flash_sale_id,
            "refunded_qty": line.refunded_qty,
            "refunded": None if line.refunded is None else money(line.refunded),
            "adjustments": [{"source": source, "amount": money(Money(minor, line.total.currency))}
                            for source, minor in line.adjustments]}


class ReceiptsAlike:
    """The receipts of copies of one order, which differ only in their ids: each is written out when
    it is first read (at the peak by the request that placed it, outside the batch)."""

    __slots__ = ("_order", "_copies", "_base", "_written", "_sources")

    def __init__(self, order: Order, copies: Copies, sources: list[str | None] | None = None) -> None:
        self._order = order
        self._copies = copies
        self._sources = sources  # each copy's source, when one has any (most of the peak: None)
        self._base: dict[str, Any] | None = None
        self._written: dict[int, dict[str, Any]] = {}  # read twice when remembered for a replay

    def __getitem__(self, n: int) -> dict[str, Any]:
        if (written := self._written.get(n)) is not None:
            return written
        if self._base is None:
            self._base = receipt(self._order)
        base = self._base
        self._written[n] = written = {
            **base, "id": self._copies.order_ids[n],
            "children": [{**c, "id": cid}
                         for c, cid in zip(base["children"], self._copies.children_of(n), strict=True)]}
        if self._sources is not None:
            written["source"] = self._sources[n]
        return written
