"""The seller centre's products and stock: a merchant's own products, their SKUs and images, stock intake
and corrections."""

from __future__ import annotations

from fastapi import APIRouter

from shopfest.web.routing import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
