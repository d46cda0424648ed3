"""What every route may ask for: the runtime, a unit of work, the signed-in actor, paging. (What the
runtime holds is composed in app.py, of the types in runtime.py.)"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from shopfest.core.actor import Actor
from shopfest.core.errors import Unauthenticated
from shopfest.core.uow import UnitOfWork
from shopfest.runtime import Runtime

SESSION_COOKIE = "shopfest_session"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def runtime_of(request: Request) -> Runtime:
    return runtime_of_app(request.app)


def runtime_of_app(app: Any) -> Runtime:  # noqa: ANN401  # the ASGI app a scope names
    runtime: Runtime = app.state.runtime
    return runtime


# The dependencies below are async only so that FastAPI runs them on the event loop instead of
# sending each request to a worker thread for them: they do not wait on anything.
async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_uow(runtime: RuntimeDep) -> UnitOfWork:
    return runtime.uow()


async def get_read_uow(runtime: RuntimeDep) -> UnitOfWork:
    return runtime.uow(read_only=True)


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
ReadUowDep = Annotated[UnitOfWork, Depends(get_read_uow)]


# Declared so the OpenAPI document shows how to sign in; the header is read below.
bearer_scheme = HTTPBearer(auto_error=False, description="a token from POST /api/v1/auth/token")


def _bearer(request: Request) -> str | None:
    return bearer_secret(request.headers.get("authorization"))


def bearer_secret(header: str | None) -> str | None:
    """The token of an `Authorization` header; None without one. Raises Unauthenticated."""
    if not header:
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("use an `Authorization: Bearer <token>` header")
    return secret.strip()


def actor_of(request: Request, runtime: Runtime) -> Actor | None:
    """The actor behind the bearer token, or the pages' session cookie; None when anonymous."""
    secret = _bearer(request)
    if secret is not None:
        return runtime.ports.actor_for_token(runtime.uow(read_only=True), secret)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            return runtime.ports.actor_for_session(runtime.uow(read_only=True), cookie)
        except Unauthenticated:
            return None
    return None


async def optional_actor(
    request: Request, runtime: RuntimeDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> Actor | None:
    """`actor_of`, with the bearer tokens of the last few seconds remembered (see SignedIn); an API
    write without a bearer token is anonymous."""
    secret = _bearer(request)
    if secret is None:
        if request.method not in READ_METHODS:
            # The browser sends the pages' session cookie with any request, one another site makes
            # included, so the cookie alone signs in the API's reads only, never its writes.
            return None
        return await run_in_threadpool(actor_of, request, runtime)
    now = runtime.clock.now()
    actor = runtime.signed_in.get(secret, now=now)
    if actor is None:
        actor = await run_in_threadpool(actor_of, request, runtime)
        if actor is not None:
            runtime.signed_in.put(secret, actor, now=now)
    return actor


# Where AccountFirstRoute leaves the actor it resolved, for the route's own dependency to take.
_ACTOR_KEY = "shopfest.actor"


async def signed_in_actor(
    request: Request, runtime: RuntimeDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> Actor:
    """The signed-in actor, whatever their role. Raises Unauthenticated."""
    actor: Actor | None = request.scope.get(_ACTOR_KEY)
    if actor is None:
        actor = await optional_actor(request, runtime)
    if actor is None:
        raise Unauthenticated("sign in first")
    return actor


SignedInActor = Annotated[Actor, Depends(signed_in_actor)]


def account_first(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a route that reads its actor itself (`actor_resolved`) as one that needs an account."""
    endpoint.account_first = True  # type: ignore[attr-defined]  # a mark AccountFirstRoute reads
    return endpoint


def actor_resolved(request: Request) -> Actor | None:
    """The actor AccountFirstRoute resolved for this request."""
    actor: Actor | None = request.scope.get(_ACTOR_KEY)
    return actor


class AccountFirstRoute(APIRoute):
    """A route that needs an account (it takes a `SignedInActor`, or is marked `account_first`) tells
    an anonymous request 401 before it reads the body: who asks comes before what they ask, so a
    stranger learns nothing of a route's rules from its validation problems."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not (getattr(self.endpoint, "account_first", False)
                or any(d.call is signed_in_actor for d in self.dependant.dependencies)):
            return handler

        async def signed_in_first(request: Request) -> Response:
            request.scope[_ACTOR_KEY] = await signed_in_actor(request, runtime_of(request))
            return await handler(request)

        return signed_in_first


Cursor = Annotated[str | None, Query(description="the `next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=100, description="items per page, at most 100")]
