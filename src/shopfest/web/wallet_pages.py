"""The shopper's wallet and the deals: coupons and red envelopes held, vouchers with QR codes, the coupon
centre and the flash-sale zone."""

from __future__ import annotations

from fastapi import APIRouter

from shopfest.web.routing import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
