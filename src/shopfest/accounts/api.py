"""HTTP routes of accounts: register, sign in, who am I, merchant staff."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from shopfest.accounts import service
from shopfest.accounts.model import PASSWORD_MAX, PASSWORD_MIN, Profile, TokenKind, User
from shopfest.core.actor import Role, require_role
from shopfest.core.errors import NotFound, Unauthenticated
from shopfest.deps import (
    AccountFirstRoute,
    Limit,
    ReadUowDep,
    RuntimeDep,
    SignedInActor,
    UowDep,
    bearer_secret,
)
from shopfest.problems import problem_responses
from shopfest.rate_limits import client_address, email_key
from shopfest.schemas import IdParam, InputModel

router = APIRouter(prefix="/api/v1", tags=["accounts"], responses=problem_responses(422),
                   route_class=AccountFirstRoute)


class UserJson(BaseModel):
    id: int
    email: str
    role: Role
    merchant_id: int | None
    country: str
    language: str
    currency: str
    verified: bool = Field(description="its email, or its phone, is verified (some flash sales ask)")

    @classmethod
    def of(cls, user: User) -> UserJson:
        return cls(id=user.id or 0, email=user.email, role=user.role, merchant_id=user.merchant_id,
                   country=user.profile.country, language=user.profile.language,
                   currency=user.profile.currency, verified=user.verified)


class RegisterIn(InputModel):
    email: str = Field(max_length=254, examples=["mei@example.com"])
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    country: str = Field("CN", min_length=2, max_length=2, examples=["GB"])
    language: Literal["en", "zh"] = "en"
    currency: str = Field("CNY", min_length=3, max_length=3, examples=["GBP"])


@router.post("/auth/register", status_code=201, response_model=UserJson,
             responses=problem_responses(409, 429, 503))
async def register(body: RegisterIn, request: Request, runtime: RuntimeDep) -> UserJson:
    """Open a shopper account; a mail with a link to verify its email goes to the outbox. The password
    is 10 characters or more and not one of the most commonly used (422 `/problems/common-password`).
    A few from one address in a while (429 `/problems/rate-limited`); the password is hashed in the
    sign-in pool, 503 `/problems/busy` when it is full."""
    runtime.limiter.hit("register", address=client_address(request))
    profile = Profile(body.country.upper(), body.language, body.currency.upper())
    user = await runtime.hashing.run(service.register_shopper, runtime.uow(), email=body.email,
                                     password=body.password, profile=profile)
    return UserJson.of(user)


class TokenIn(InputModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)


class TokenJson(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


@router.post("/auth/token", response_model=TokenJson, responses=problem_responses(401, 429, 503))
async def issue_token(body: TokenIn, request: Request, runtime: RuntimeDep) -> TokenJson:
    """Exchange an email and password for a bearer token that lasts 24 hours. Too many tries for an
    account or from an address are 429 `/problems/rate-limited`; after wrong passwords sign-in locks
    for a while, 429 `/problems/sign-in-locked`; both say when to retry in `Retry-After`."""
    address = client_address(request)
    runtime.limiter.hit("login", account=email_key(body.email), address=address)
    issued = await runtime.hashing.run(service.sign_in_watched, runtime.uow(), email=body.email,
                                       password=body.password, kind=TokenKind.API,
                                       lockout=runtime.limiter.lockout(address))
    return TokenJson(access_token=issued.secret, expires_at=issued.expires_at)


@router.post("/auth/logout", status_code=204, responses=problem_responses(401))
def logout(request: Request, uow: UowDep, runtime: RuntimeDep, actor: SignedInActor) -> None:
    """Revoke the bearer token this request carries."""
    secret = bearer_secret(request.headers.get("authorization"))
    if secret is None:  # signed in by the pages' session cookie: it is not this route's to revoke
        raise Unauthenticated("sign out with the bearer token this request carries")
    service.sign_out(uow, secret)
    runtime.signed_in.forget(secret)


@router.get("/me", response_model=UserJson, responses=problem_responses(401))
def me(uow: ReadUowDep, actor: SignedInActor) -> UserJson:
    """The signed-in account."""
    user = service.get_user(uow, actor.user_id)
    if user is None:
        raise Unauthenticated("the account is gone")
    return UserJson.of(user)


class VerifyEmailIn(InputModel):
    token: str = Field(min_length=1, max_length=200, description="the token the verification mail carries")


@router.post("/auth/verify-email", response_model=UserJson)
def verify_email(body: VerifyEmailIn, uow: UowDep, runtime: RuntimeDep) -> UserJson:
    """Verify an account's email with the one-time token its verification mail carries; unknown,
    used or expired, it is 422 `/problems/verification-failed`."""
    user = service.verify_email(uow, body.token)
    runtime.signed_in.forget_account(user.id or 0)  # its next request carries the new standing
    return UserJson.of(user)


class PhoneIn(InputModel):
    phone: str = Field(min_length=1, max_length=40, examples=["+8613800138000"])


@router.post("/users/{user_id}/phone-verification", response_model=UserJson,
             responses=problem_responses(401, 403, 404))
def verify_phone(user_id: IdParam, body: PhoneIn, uow: UowDep, runtime: RuntimeDep,
                 actor: SignedInActor) -> UserJson:
    """An operator who checked a shopper's phone marks it verified (operators)."""
    user = service.verify_phone(uow, actor, user_id=user_id, phone=body.phone)
    runtime.signed_in.forget_account(user_id)
    return UserJson.of(user)


class MailJson(BaseModel):
    id: int
    to_address: str
    subject: str
    body: str
    written_at: datetime


@router.get("/mail/outbox", response_model=list[MailJson], responses=problem_responses(401, 403))
def mail_outbox(uow: ReadUowDep, actor: SignedInActor, limit: Limit = 20,
                to: Annotated[str | None, Query(max_length=254, description="one address only")] = None,
                ) -> list[MailJson]:
    """The sandbox's outgoing mail, newest first: what a real deployment would deliver (operators)."""
    return [MailJson(**mail) for mail in service.mail_outbox(uow, actor, to=to, limit=limit)]


class StaffIn(InputModel):
    email: str = Field(max_length=254)
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


@router.post("/merchants/{merchant_id}/staff", status_code=201, response_model=UserJson,
             responses=problem_responses(401, 403, 404, 409))
def add_staff(merchant_id: IdParam, body: StaffIn, runtime: RuntimeDep, actor: SignedInActor) -> UserJson:
    """Operators give a merchant a staff account, bound to that merchant only."""
    require_role(actor, Role.OPERATOR)
    if not runtime.ports.merchant_exists(runtime.uow(read_only=True), merchant_id):
        raise NotFound(f"no merchant {merchant_id}", merchant_id=merchant_id)
    user = service.create_account(runtime.uow(), actor, email=body.email, password=body.password,
                                  role=Role.MERCHANT, merchant_id=merchant_id)
    return UserJson.of(user)
