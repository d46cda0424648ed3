"""One base for every domain error; each carries a stable code the API turns into a problem type."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the festival was broken; `code` is stable and names the problem type."""

    code = "domain-error"
    title = "The request breaks a rule of the festival"
    status = 422

    def __init__(self, detail: str, **data: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.data = data


class NotFound(DomainError):
    code = "not-found"
    title = "No such resource"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    title = "The request conflicts with the current state"
    status = 409


class InvalidInput(DomainError):
    code = "invalid-input"
    title = "The request is not valid"
    status = 422


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "Sign-in needed"
    status = 401


class Forbidden(DomainError):
    code = "forbidden"
    title = "Not allowed for this account"
    status = 403


class UnknownCurrency(InvalidInput):
    code = "unknown-currency"
    title = "Unknown currency"


class InvalidAmount(InvalidInput):
    code = "invalid-amount"
    title = "The amount is not valid"


class CurrencyMismatch(InvalidInput):
    code = "currency-mismatch"
    title = "Amounts in different currencies"
