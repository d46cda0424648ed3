"""HTTP routes of accounts: register, sign in, who am I, merchant staff."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from shopfest.accounts import service
from shopfest.accounts.model import Profile, User
from shopfest.core.actor import Role, require_role
from shopfest.core.errors import NotFound, Unauthenticated
from shopfest.deps import AccountFirstRoute, ReadUowDep, RuntimeDep, SignedInActor, UowDep, bearer_secret
from shopfest.problems import problem_responses

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

    @classmethod
    def of(cls, user: User) -> UserJson:
        return cls(id=user.id or 0, email=user.email, role=user.role, merchant_id=user.merchant_id,
                   country=user.profile.country, language=user.profile.language,
                   currency=user.profile.currency)


class RegisterIn(BaseModel):
    email: str = Field(max_length=254, examples=["mei@example.com"])
    password: str = Field(min_length=8, max_length=256)
    country: str = Field("CN", min_length=2, max_length=2, examples=["GB"])
    language: Literal["en", "zh"] = "en"
    currency: str = Field("CNY", min_length=3, max_length=3, examples=["GBP"])


@router.post("/auth/register", status_code=201, response_model=UserJson,
             responses=problem_responses(409))
def register(body: RegisterIn, uow: UowDep) -> UserJson:
    """Open a shopper account."""
    profile = Profile(body.country.upper(), body.language, body.currency.upper())
    user = service.register_shopper(uow, email=body.email, password=body.password, profile=profile)
    return UserJson.of(user)


class TokenIn(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)


class TokenJson(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


@router.post("/auth/token", response_model=TokenJson, responses=problem_responses(401))
def issue_token(body: TokenIn, uow: UowDep) -> TokenJson:
    """Exchange an email and password for a bearer token that lasts 24 hours."""
    issued = service.sign_in(uow, email=body.email, password=body.password)
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


class StaffIn(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(min_length=8, max_length=256)


@router.post("/merchants/{merchant_id}/staff", status_code=201, response_model=UserJson,
             responses=problem_responses(401, 403, 404, 409))
def add_staff(merchant_id: int, body: StaffIn, runtime: RuntimeDep, actor: SignedInActor) -> UserJson:
    """Operators give a merchant a staff account, bound to that merchant only."""
    require_role(actor, Role.OPERATOR)
    if not runtime.ports.merchant_exists(runtime.uow(read_only=True), merchant_id):
        raise NotFound(f"no merchant {merchant_id}", merchant_id=merchant_id)
    user = service.create_account(runtime.uow(), actor, email=body.email, password=body.password,
                                  role=Role.MERCHANT, merchant_id=merchant_id)
    return UserJson.of(user)
