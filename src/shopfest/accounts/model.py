"""Accounts: who can sign in, in which role, and the rules for their details and tokens."""

from __future__ import annotations

import re
from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shopfest.core.actor import Actor, Role
from shopfest.core.errors import Conflict, InvalidInput, Unauthenticated
from shopfest.core.money import minor_units

LANGUAGES = ("en", "zh")
PASSWORD_MIN, PASSWORD_MAX = 10, 256
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164


class EmailTaken(Conflict):
    code = "email-taken"
    title = "An account with this email exists already"


class CommonPassword(InvalidInput):
    code = "common-password"
    title = "The password is one of the most commonly used"


class BadCredentials(Unauthenticated):
    code = "bad-credentials"
    title = "Email or password is wrong"


class TokenExpired(Unauthenticated):
    code = "token-expired"
    title = "The token has expired; sign in again"


class TokenKind(StrEnum):
    API = "api"  # bearer tokens for the HTTP API
    SESSION = "session"  # the pages' session cookie
    VERIFY_EMAIL = "verify"  # the one-time link a verification mail carries


class VerificationFailed(InvalidInput):
    code = "verification-failed"
    title = "The verification link is not valid or has expired"


@dataclass(frozen=True, slots=True)
class Profile:
    """A shopper's home: where they are, what language they read, which currency they pay in."""

    country: str = "CN"
    language: str = "en"
    currency: str = "CNY"

    def __post_init__(self) -> None:
        if not _COUNTRY.match(self.country):
            raise InvalidInput(f"{self.country!r} is not an ISO 3166 country code like CN or GB")
        if self.language not in LANGUAGES:
            raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}")
        minor_units(self.currency)


@dataclass(frozen=True, slots=True)
class User:
    email: str
    role: Role
    profile: Profile
    merchant_id: int | None = None
    id: int | None = None
    verified: bool = False  # its email, or its phone (by an operator), is verified
    joined_at: datetime | None = None  # when the account was opened

    def __post_init__(self) -> None:
        if (self.role is Role.MERCHANT) != (self.merchant_id is not None):
            raise InvalidInput("merchant staff, and only they, are bound to a merchant")

    def as_actor(self) -> Actor:
        return Actor(self.id or 0, self.role, self.merchant_id, self.verified, self.joined_at)


def normal_email(email: str) -> str:
    """The email as stored and compared: trimmed, lower case. Raises InvalidInput."""
    cleaned = email.strip().lower() if isinstance(email, str) else ""
    if len(cleaned) > 254 or not _EMAIL.match(cleaned):
        raise InvalidInput(f"{email!r} is not an email address")
    return cleaned


def normal_phone(phone: str) -> str:
    """A phone number as stored: E.164, `+` and digits, spaces and dashes dropped. Raises InvalidInput."""
    cleaned = re.sub(r"[\s-]", "", phone) if isinstance(phone, str) else ""
    if not _PHONE.match(cleaned):
        raise InvalidInput(f"{phone!r} is not a phone number like +8613800138000")
    return cleaned


def verification_mail(*, email: str, secret: str, hours: int) -> tuple[str, str]:
    """The subject and body of the mail that verifies `email`."""
    body = (f"Welcome to ShopFest! To verify {email}, within {hours} hours POST "
            f'{{"token": "{secret}"}} to /api/v1/auth/verify-email.\n\n'
            "Some flash sales sell to verified accounts only.")
    return "Verify your ShopFest email", body


def check_password(password: str, *, common: Set[str] = frozenset()) -> str:
    """A password for a new account: long enough, and not one of `common` (lower case), the
    passwords guessers try first. Raises InvalidInput, CommonPassword."""
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(f"a password is {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    if password.lower() in common:
        raise CommonPassword("this password is one of the most commonly used, so it is guessed "
                             "first: choose another")
    return password


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer or session token as stored: only its digest, never the secret."""

    digest: str
    user_id: int
    kind: TokenKind
    expires_at: datetime

    def check_alive(self, now: datetime) -> None:
        if now >= self.expires_at:
            raise TokenExpired("the token has expired; sign in again")


class WrongPassword(InvalidInput):
    code = "wrong-password"
    title = "The current password is wrong"


# The tokens that let someone in: signing out everywhere ends them all (a verification link is not one).
SIGNED_IN_KINDS = (TokenKind.API, TokenKind.SESSION)


def public_name(user: User) -> str:
    """The name an account shows where others see it (a live room's chat): the first three characters
    of its email's local part and stars, so that an address is never shown whole."""
    return f"{user.email.partition('@')[0][:3]}***"
