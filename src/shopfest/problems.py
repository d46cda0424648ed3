"""RFC 9457 problem details: every error the API returns, with a stable `type` per problem."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from shopfest.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    StorageFull,
    Unauthenticated,
    Unavailable,
)
from shopfest.core.rates import Busy, RateLimited, SignInLocked
from shopfest.payments.model import PaymentDeclined

PROBLEM_BASE = "/problems/"
MEDIA_TYPE = "application/problem+json"


class MalformedBody(InvalidInput):
    code = "malformed-body"
    title = "The body cannot be read"


# The HTTP status of each kind of domain error; an error takes the entry of the nearest class in its
# MRO, so a context's errors follow their base (a SoldOut is a Conflict, 409) and only those outside
# the five bases need an entry of their own.
STATUSES: dict[type[DomainError], int] = {
    DomainError: 422, InvalidInput: 422, MalformedBody: 400,
    Unauthenticated: 401, Forbidden: 403, NotFound: 404, Conflict: 409,
    PaymentDeclined: 402, RateLimited: 429, SignInLocked: 429, Busy: 503,
}
# A store out of reach or out of space (shopfest.outages): the request may be sent again.
STATUSES.update({Unavailable: 503, StorageFull: 507})


def status_of(error: DomainError) -> int:
    """The HTTP status a domain error is answered with, on the API and on the pages alike."""
    return next(STATUSES[cls] for cls in type(error).__mro__ if cls in STATUSES)


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


def problem(status: int, code: str, title: str, detail: str,
            extra: dict[str, Any] | None = None) -> JSONResponse:
    """A problem response; `extra` members never replace the standard ones."""
    body: dict[str, Any] = {k: v for k, v in (extra or {}).items() if v is not None}
    body.update({"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entries for the problems a route can answer with."""
    return {
        s: {"description": HTTPStatus(s).phrase,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for s in statuses
    }


def document(app: FastAPI) -> None:
    """Put the Problem schema the error responses refer to into the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                Problem.model_json_schema())
            _document_body_cap(spec)
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    _document_refusals(operation)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it


def _document_body_cap(spec: dict[str, Any]) -> None:
    """Any operation taking a body may answer 413 `/problems/body-too-large` (body_cap.py)."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault("413", problem_responses(413)[413])


def _document_refusals(operation: dict[str, Any]) -> None:
    """Every route can answer 422 (text_guard refuses NUL anywhere); one with a body, 400 too
    (`malformed-body`: not UTF-8, not JSON, or nested too deep to read)."""
    responses = operation.setdefault("responses", {})
    statuses = (400, 422) if "requestBody" in operation else (422,)
    for status, entry in problem_responses(*statuses).items():
        found = responses.setdefault(str(status), entry)
        found.setdefault("content", entry["content"])


def install(app: FastAPI) -> None:
    document(app)
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]  # Starlette's handler type is too narrow
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]  # as above
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]  # as above


def refusal(error: DomainError) -> JSONResponse:
    """The problem a domain error is answered with."""
    extra = {k: v for k, v in error.data.items() if isinstance(v, str | int | float | list | bool)}
    response = problem(status_of(error), error.code, error.title, error.detail, extra)
    if isinstance(error.data.get("retry_after"), int):  # rate limits, locks and a busy server
        response.headers["Retry-After"] = str(error.data["retry_after"])
    return response


async def _domain_error(_request: Request, error: DomainError) -> JSONResponse:
    return refusal(error)


async def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in error.errors()
    ]
    first: dict[str, Any] = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    detail = f"{where}: {first['msg']}" if where else str(first["msg"])
    return problem(422, "validation", "The request is not valid", detail, {"errors": errors})


_HTTP_CODES = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated",
               413: "body-too-large"}


async def http_error(_request: Request, error: HTTPException) -> JSONResponse:
    if error.status_code == 400:  # FastAPI could not read the body (not UTF-8, not JSON, too deep)
        return refusal(MalformedBody(str(error.detail)))
    code = _HTTP_CODES.get(error.status_code, f"http-{error.status_code}")
    title = HTTPStatus(error.status_code).phrase
    response = problem(error.status_code, code, title, str(error.detail))
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response
