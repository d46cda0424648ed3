"""Account use cases: register, create staff and operators, sign in, resolve a token to an actor,
verify an email or a phone."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shopfest.accounts.common_passwords import common_passwords
from shopfest.accounts.model import (
    SIGNED_IN_KINDS,
    BadCredentials,
    EmailTaken,
    Profile,
    Token,
    TokenKind,
    User,
    VerificationFailed,
    WrongPassword,
    check_password,
    normal_email,
    normal_phone,
    public_name,
    verification_mail,
)
from shopfest.accounts.store import AccountStore
from shopfest.accounts.store import staff_of as store_staff_of
from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import NotFound, Unauthenticated
from shopfest.core.events import DomainEvent
from shopfest.core.ids import digest, new_secret
from shopfest.core.rates import Lockout
from shopfest.core.uow import UnitOfWork

# argon2id with the library's defaults (RFC 9106 low-memory profile): slow to guess by design.
# SHOPFEST_PASSWORD_HASHING=cheap, for a test suite's processes only (tests/__init__.py sets it), hashes
# with one pass over 1 MiB instead, as Django's test settings swap in a fast hasher: the suite signs in
# thousands of accounts. Hashes carry their parameters, so either kind verifies the other's.
_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1) \
    if os.environ.get("SHOPFEST_PASSWORD_HASHING") == "cheap" else PasswordHasher()
# Verified against when the email is unknown, so a miss costs as long as a wrong password.
_DECOY = _hasher.hash("not-a-real-password")

TOKEN_LIFETIME = {TokenKind.API: timedelta(hours=24), TokenKind.SESSION: timedelta(days=7),
                  TokenKind.VERIFY_EMAIL: timedelta(hours=48)}


@dataclass(frozen=True)
class AccountOpened(DomainEvent):
    user_id: int
    role: str


@dataclass(frozen=True)
class IssuedToken:
    secret: str
    expires_at: datetime


def register_shopper(uow: UnitOfWork, *, email: str, password: str, profile: Profile) -> User:
    """Anyone may open a shopper account; a mail with a one-time link to verify its email goes to
    the outbox in the same transaction. Raises InvalidInput, EmailTaken."""
    return _open(uow, User(normal_email(email), Role.SHOPPER, profile), password, verify_by_mail=True)


def create_account(
    uow: UnitOfWork, actor: Actor | None, *, email: str, password: str, role: Role,
    merchant_id: int | None = None, profile: Profile | None = None,
) -> User:
    """Operators open staff and operator accounts. Raises Forbidden, InvalidInput, EmailTaken."""
    require_role(actor, Role.OPERATOR)
    return create_account_unchecked(uow, email=email, password=password, role=role,
                                    merchant_id=merchant_id, profile=profile)


def create_account_unchecked(
    uow: UnitOfWork, *, email: str, password: str, role: Role,
    merchant_id: int | None = None, profile: Profile | None = None, verified: bool = False,
) -> User:
    """The machine owner's path (CLI, seed): any role, no signed-in operator needed; `verified`
    vouches for the email (the demo's accounts)."""
    user = User(normal_email(email), role, profile or Profile(), merchant_id)
    return _open(uow, user, password, verified=verified)


def _open(uow: UnitOfWork, user: User, password: str, *, verify_by_mail: bool = False,
          verified: bool = False) -> User:
    password_hash = _hasher.hash(check_password(password, common=common_passwords()))
    with uow:
        store, now = AccountStore(uow.conn), uow.clock.now()
        if store.by_email(user.email) is not None:
            raise EmailTaken(f"an account for {user.email} exists already", email=user.email)
        saved = store.add(user, password_hash=password_hash, now=now)
        if verified:
            store.verify_email(saved.id or 0, at=now)
            saved = replace(saved, verified=True)
        elif verify_by_mail:
            _mail_verification(store, saved, now=now)
        uow.emit(AccountOpened(saved.id or 0, saved.role.value))
        uow.commit()
    return saved


def _mail_verification(store: AccountStore, user: User, *, now: datetime) -> None:
    """A one-time token (stored as its digest only) and the mail that carries it, to the outbox."""
    secret, lifetime = new_secret(), TOKEN_LIFETIME[TokenKind.VERIFY_EMAIL]
    store.add_token(Token(digest(secret), user.id or 0, TokenKind.VERIFY_EMAIL, now + lifetime))
    hours = int(lifetime.total_seconds()) // 3600
    subject, body = verification_mail(email=user.email, secret=secret, hours=hours)
    store.write_mail(to=user.email, subject=subject, body=body, at=now)


def verify_email(uow: UnitOfWork, token: str) -> User:
    """The account whose verification mail carried `token` has its email verified; the token is
    used up. Raises VerificationFailed."""
    with uow:
        store = AccountStore(uow.conn)
        found = store.token(digest(token)) if isinstance(token, str) and token else None
        if found is None or found.kind is not TokenKind.VERIFY_EMAIL or uow.clock.now() >= found.expires_at:
            raise VerificationFailed("this verification link is not valid or has expired; sign in and "
                                     "ask for a new one")
        store.drop_token(found.digest)
        store.verify_email(found.user_id, at=uow.clock.now())
        user = store.by_id(found.user_id)
        uow.commit()
    if user is None:
        raise VerificationFailed("the account of this verification link is gone")
    return user


def verify_phone(uow: UnitOfWork, actor: Actor | None, *, user_id: int, phone: str) -> User:
    """An operator who checked a shopper's phone (a call, a text) marks it verified.

    Raises Unauthenticated, Forbidden, InvalidInput, NotFound.
    """
    require_role(actor, Role.OPERATOR)
    number = normal_phone(phone)
    with uow:
        store = AccountStore(uow.conn)
        if store.by_id(user_id) is None:
            raise NotFound(f"no account {user_id}", user_id=user_id)
        store.verify_phone(user_id, number, at=uow.clock.now())
        user = store.by_id(user_id)
        uow.commit()
    assert user is not None
    return user


def mail_outbox(uow: UnitOfWork, actor: Actor | None, *, to: str | None = None,
                limit: int = 20) -> list[dict[str, Any]]:
    """The sandbox's outgoing mail, newest first (operators). Raises Unauthenticated, Forbidden."""
    require_role(actor, Role.OPERATOR)
    with uow:
        return AccountStore(uow.conn).outbox(to=to.strip().lower() if to else None, limit=limit)


def sign_in(uow: UnitOfWork, *, email: str, password: str, kind: TokenKind = TokenKind.API) -> IssuedToken:
    """A new token for the right email and password. Raises BadCredentials."""
    with uow:
        store = AccountStore(uow.conn)
        found = store.by_email(email.strip().lower()) if isinstance(email, str) else None
        if not _password_matches(found[1] if found else _DECOY, password) or found is None:
            raise BadCredentials("email or password is wrong")
        secret = new_secret()
        expires_at = uow.clock.now() + TOKEN_LIFETIME[kind]
        store.add_token(Token(digest(secret), found[0].id or 0, kind, expires_at))
        uow.commit()
    return IssuedToken(secret, expires_at)


def sign_in_watched(uow: UnitOfWork, *, email: str, password: str, kind: TokenKind,
                    lockout: Lockout) -> IssuedToken:
    """A new token for the right email and password, unless wrong passwords keep sign-in locked;
    each wrong one is counted. Unlike `sign_in`, the password is checked outside any transaction:
    argon2 takes a tenth of a second or more, and on SQLite a write transaction held that long
    stalls every writer and every page behind it. Raises SignInLocked, BadCredentials."""
    lockout.check(email)
    with uow:
        found = AccountStore(uow.conn).by_email(email.strip().lower()) if isinstance(email, str) else None
    if not _password_matches(found[1] if found else _DECOY, password) or found is None:
        lockout.failed(email)
        raise BadCredentials("email or password is wrong")
    secret = new_secret()
    with uow:
        expires_at = uow.clock.now() + TOKEN_LIFETIME[kind]
        AccountStore(uow.conn).add_token(Token(digest(secret), found[0].id or 0, kind, expires_at))
        uow.commit()
    lockout.succeeded(email)
    return IssuedToken(secret, expires_at)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError, TypeError):
        return False


def sign_out(uow: UnitOfWork, secret: str) -> None:
    with uow:
        AccountStore(uow.conn).drop_token(digest(secret))
        uow.commit()


def resolve(uow: UnitOfWork, secret: str, kind: TokenKind = TokenKind.API) -> User:
    """The account a live token belongs to. Raises Unauthenticated, TokenExpired."""
    with uow:
        store = AccountStore(uow.conn)
        token = store.token(digest(secret))
        if token is None or token.kind is not kind:
            raise Unauthenticated("the token is not valid")
        token.check_alive(uow.clock.now())
        user = store.by_id(token.user_id)
    if user is None:
        raise Unauthenticated("the token's account is gone")
    return user


def get_user(uow: UnitOfWork, user_id: int) -> User | None:
    with uow:
        return AccountStore(uow.conn).by_id(user_id)


def staff_of(uow: UnitOfWork, actor: Actor | None, merchant_id: int, *, limit: int) -> list[User]:
    """Operators see the staff accounts of any merchant. Raises Unauthenticated, Forbidden."""
    require_role(actor, Role.OPERATOR)
    with uow:
        return store_staff_of(uow.conn, merchant_id, limit=limit)


def sign_up(uow: UnitOfWork, *, email: str, password: str, profile: Profile) -> tuple[User, IssuedToken]:
    """A shopper opens an account on the sign-up page and is signed in at once, with a session; the
    verification mail goes to the outbox as for the API. Raises InvalidInput, CommonPassword,
    EmailTaken."""
    user = register_shopper(uow, email=email, password=password, profile=profile)
    with uow:
        expires_at = uow.clock.now() + TOKEN_LIFETIME[TokenKind.SESSION]
        secret = new_secret()
        AccountStore(uow.conn).add_token(Token(digest(secret), user.id or 0, TokenKind.SESSION, expires_at))
        uow.commit()
    return user, IssuedToken(secret, expires_at)


def _signed_in(actor: Actor | None) -> Actor:
    return require_role(actor, Role.SHOPPER, Role.MERCHANT, Role.OPERATOR)


def change_profile(uow: UnitOfWork, actor: Actor | None, *, profile: Profile) -> User:
    """The signed-in account's country, language and currency. Raises Unauthenticated."""
    account = _signed_in(actor)
    with uow:
        store = AccountStore(uow.conn)
        store.set_profile(account.user_id, profile)
        user = store.by_id(account.user_id)
        uow.commit()
    if user is None:
        raise Unauthenticated("the account is gone")
    return user


def change_password(uow: UnitOfWork, actor: Actor | None, *, current: str, new: str,
                    keep_session: str | None, lockout: Lockout) -> None:
    """A new password, for whoever knows the current one; the new one follows the sign-up rules.
    Every other session and API token of the account ends (someone who knew the old password is
    out); `keep_session`, the session asking, stays. Wrong guesses count as wrong sign-ins, and the
    hashes are checked outside any transaction (see `sign_in_watched`). Raises Unauthenticated,
    SignInLocked, WrongPassword, InvalidInput, CommonPassword."""
    account = _signed_in(actor)
    with uow:
        store = AccountStore(uow.conn)
        user, known_hash = store.by_id(account.user_id), store.password_hash(account.user_id)
    if user is None or known_hash is None:
        raise Unauthenticated("the account is gone")
    lockout.check(user.email)
    if not _password_matches(known_hash, current):
        lockout.failed(user.email)
        raise WrongPassword("the current password is wrong", field="current_password")
    new_hash = _hasher.hash(check_password(new, common=common_passwords()))
    with uow:
        store = AccountStore(uow.conn)
        store.set_password_hash(account.user_id, new_hash)
        keep = digest(keep_session) if keep_session else None
        store.drop_tokens(account.user_id, SIGNED_IN_KINDS, keep=keep)
        uow.commit()
    lockout.succeeded(user.email)


def sign_out_everywhere(uow: UnitOfWork, actor: Actor | None) -> int:
    """End every session and API token of the signed-in account, this one too: a lost phone, a
    shared computer. How many ended. Raises Unauthenticated."""
    account = _signed_in(actor)
    with uow:
        ended = AccountStore(uow.conn).drop_tokens(account.user_id, SIGNED_IN_KINDS)
        uow.commit()
    return ended


def public_profile(uow: UnitOfWork, user_id: int) -> tuple[Actor, str] | None:
    """An account as others may know it: its actor (role, merchant) and its public name; None: no such
    account."""
    user = get_user(uow, user_id)
    if user is None:
        return None
    return user.as_actor(), public_name(user)


def mail_accounts(uow: UnitOfWork, *, user_ids: Sequence[int], mails: Mapping[str, tuple[str, str]]) -> int:
    """Write one mail to each account of `user_ids` to the outbox, in the language the account reads
    (`mails`: language → subject and body; English where its language is missing), inside the
    caller's transaction: another context's event handler sends notices through it. How many mails."""
    store, now, written = AccountStore(uow.conn), uow.clock.now(), 0
    ids = sorted(set(user_ids))
    for first in range(0, len(ids), 500):  # a bounded IN list, however many shoppers asked
        for email, language in store.mail_addresses(ids[first:first + 500]):
            subject, body = mails.get(language) or mails["en"]
            store.write_mail(to=email, subject=subject, body=body, at=now)
            written += 1
    return written


def open_shoppers_unchecked(uow: UnitOfWork, *, emails: Sequence[str], password: str) -> list[User]:
    """The machine owner's path for simulated shoppers (`shopfest simulate`): a verified shopper
    account for each email that has none, all under one password hashed once (a hash per account
    would cost a tenth of a second each); every account asked for, in order. Raises InvalidInput."""
    password_hash = _hasher.hash(check_password(password, common=common_passwords()))
    found: list[User] = []
    with uow:
        store, now = AccountStore(uow.conn), uow.clock.now()
        for email in emails:
            known = store.by_email(normal_email(email))
            if known is None:
                user = store.add(User(normal_email(email), Role.SHOPPER, Profile()),
                                 password_hash=password_hash, now=now)
                store.verify_email(user.id or 0, at=now)
                uow.emit(AccountOpened(user.id or 0, user.role.value))
                known = (replace(user, verified=True), password_hash)
            found.append(known[0])
        uow.commit()
    return found


def issue_tokens_unchecked(uow: UnitOfWork, *, user_ids: Sequence[int]) -> list[IssuedToken]:
    """The machine owner's path: a new API token for each account, no password asked (`shopfest
    simulate` signs its shoppers in without the sign-in rate limits and argon2 of each password)."""
    issued = []
    with uow:
        store, expires_at = AccountStore(uow.conn), uow.clock.now() + TOKEN_LIFETIME[TokenKind.API]
        for user_id in user_ids:
            secret = new_secret()
            store.add_token(Token(digest(secret), user_id, TokenKind.API, expires_at))
            issued.append(IssuedToken(secret, expires_at))
        uow.commit()
    return issued


def country_in(uow: UnitOfWork, user_id: int | None) -> str:
    """The account's country (ISO 3166 alpha-2), inside the caller's transaction; "" for no account."""
    user = AccountStore(uow.conn).by_id(user_id) if user_id is not None else None
    return user.profile.country if user is not None else ""
