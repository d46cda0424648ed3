"""What every route may ask for: the runtime, a unit of work, the signed-in actor, paging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from shopfest.core.actor import Actor
from shopfest.core.clock import Clock
from shopfest.core.errors import Unauthenticated
from shopfest.core.events import Bus
from shopfest.core.uow import UnitOfWork
from shopfest.inventory.hot_path import StockGate
from shopfest.orders.checkout import Checkout
from shopfest.payments.provider import Provider
from shopfest.settings import Settings

SESSION_COOKIE = "shopfest_session"


@dataclass
class Ports:
    """Answers one context needs from another, plugged in by the composition root (app.py)."""

    available_stock: Callable[[UnitOfWork, Sequence[int]], dict[int, int]]
    merchant_exists: Callable[[UnitOfWork, int], bool]
    festival_start: Callable[[UnitOfWork], datetime | None]
    actor_for_token: Callable[[UnitOfWork, str], Actor]
    actor_for_session: Callable[[UnitOfWork, str], Actor]


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    bus: Bus
    clock: Clock
    ports: Ports
    gate: StockGate
    provider: Provider
    checkout: Checkout

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, bus=self.bus, clock=self.clock, read_only=read_only)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_uow(runtime: RuntimeDep) -> UnitOfWork:
    return runtime.uow()


def get_read_uow(runtime: RuntimeDep) -> UnitOfWork:
    return runtime.uow(read_only=True)


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
ReadUowDep = Annotated[UnitOfWork, Depends(get_read_uow)]


# Declared so the OpenAPI document shows how to sign in; the header is read below.
bearer_scheme = HTTPBearer(auto_error=False, description="a token from POST /api/v1/auth/token")


def optional_actor(
    request: Request, runtime: RuntimeDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> Actor | None:
    """The actor behind the bearer token, or the pages' session cookie; None when anonymous."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("use an `Authorization: Bearer <token>` header")
        return runtime.ports.actor_for_token(runtime.uow(read_only=True), secret.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            return runtime.ports.actor_for_session(runtime.uow(read_only=True), cookie)
        except Unauthenticated:
            return None
    return None


MaybeActor = Annotated[Actor | None, Depends(optional_actor)]

Cursor = Annotated[str | None, Query(description="the `next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=100, description="items per page, at most 100")]
