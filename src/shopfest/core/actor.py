"""Who is asking: the one fact every service checks before it reads or changes anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shopfest.core.errors import Forbidden, Unauthenticated


class Role(StrEnum):
    SHOPPER = "shopper"
    MERCHANT = "merchant"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    role: Role
    merchant_id: int | None = None
    # The account's standing, carried with the sign-in so that checkout reads no account row:
    # an email or phone verified, and when the account was opened (None: not known here).
    verified: bool = False
    joined_at: datetime | None = None

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


def shopper_id(actor: Actor | None) -> int | None:
    """Whom prices, limits and coupons are for: the actor's account if a shopper, else nobody."""
    return actor.user_id if actor is not None and actor.role is Role.SHOPPER else None


# The machine owner, acting as operator through the CLI (seed, demo, users create).
MACHINE = Actor(0, Role.OPERATOR)


def require_role(actor: Actor | None, *roles: Role) -> Actor:
    """The actor, if signed in with one of `roles`. Raises Unauthenticated, Forbidden."""
    if actor is None:
        raise Unauthenticated("sign in first")
    if actor.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"this needs the role {allowed}", role=actor.role.value)
    return actor


def acts_for(actor: Actor | None, merchant_id: int) -> bool:
    """Whether `actor` works for the merchant, or is an operator (who act for any)."""
    return actor is not None and (actor.is_operator or (actor.role is Role.MERCHANT
                                                        and actor.merchant_id == merchant_id))


def require_acting_for(actor: Actor | None, merchant_id: int, *, why: str) -> Actor:
    """The merchant's staff member or an operator. Raises Unauthenticated, Forbidden (saying `why`)."""
    who = require_role(actor, Role.MERCHANT, Role.OPERATOR)
    if not acts_for(who, merchant_id):
        raise Forbidden(why, merchant_id=merchant_id)
    return who


def require_merchant_staff(actor: Actor | None) -> tuple[Actor, int]:
    """The actor and the merchant they work for. Raises Unauthenticated, Forbidden."""
    staff = require_role(actor, Role.MERCHANT)
    if staff.merchant_id is None:
        raise Forbidden("this staff account is not bound to a merchant")
    return staff, staff.merchant_id
