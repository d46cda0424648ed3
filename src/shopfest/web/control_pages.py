"""The festival control room for operators: calendar, brands and luxury approval, merchants and staff,
categories, platform campaigns, the overview."""

from __future__ import annotations

from fastapi import APIRouter

from shopfest.web.routing import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
