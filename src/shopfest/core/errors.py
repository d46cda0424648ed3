"""One base for every domain error; each carries a stable code the API turns into a problem type."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the festival was broken; `code` is stable and names the problem type. Which HTTP
    status answers it is the API edge's concern (shopfest.problems.status_of), not the domain's."""

    code = "domain-error"
    title = "The request breaks a rule of the festival"

    def __init__(self, detail: str, **data: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.data = data


class NotFound(DomainError):
    code = "not-found"
    title = "No such resource"


class Conflict(DomainError):
    code = "conflict"
    title = "The request conflicts with the current state"


class InvalidInput(DomainError):
    code = "invalid-input"
    title = "The request is not valid"


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "Sign-in needed"


class Forbidden(DomainError):
    code = "forbidden"
    title = "Not allowed for this account"


class UnknownCurrency(InvalidInput):
    code = "unknown-currency"
    title = "Unknown currency"


class InvalidAmount(InvalidInput):
    code = "invalid-amount"
    title = "The amount is not valid"


class CurrencyMismatch(InvalidInput):
    code = "currency-mismatch"
    title = "Amounts in different currencies"


class Unavailable(DomainError):
    """A store the server needs (the database, Redis) is out of reach for now: nothing was done, and
    the same request may be sent again shortly (`retry_after` seconds)."""

    code = "unavailable"
    title = "A store the server needs is unavailable; try again shortly"


class StorageFull(DomainError):
    """The database's disk is full: nothing was written, and nothing already written is lost."""

    code = "storage-full"
    title = "The database's disk is full; try again once space is freed"
