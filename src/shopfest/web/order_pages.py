"""The shopper's orders: paying after checkout, the list and each order's detail, cancelling, refunds and
returns, receipts, pre-sale balances."""

from __future__ import annotations

from fastapi import APIRouter

from shopfest.web.routing import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
