"""The seller centre's festival tools and orders: flash sales, pre-sales, store promotions and coupons with
a preview, parts to ship, returns to decide, the CSV export."""

from __future__ import annotations

from fastapi import APIRouter

from shopfest.web.routing import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
