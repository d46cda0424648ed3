"""The shopper's account: signing up, settings (country, language, currency, password, signing out
everywhere) and delivery addresses."""

from __future__ import annotations

from fastapi import APIRouter

from shopfest.web.routing import PageRoute

router = APIRouter(include_in_schema=False, route_class=PageRoute)
