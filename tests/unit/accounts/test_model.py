from __future__ import annotations

from datetime import timedelta

import pytest

from shopfest.accounts.model import (
    CommonPassword,
    Profile,
    Token,
    TokenExpired,
    TokenKind,
    User,
    check_password,
    normal_email,
)
from shopfest.core.actor import Actor, Role, require_merchant_staff, require_role
from shopfest.core.clock import parse_instant
from shopfest.core.errors import Forbidden, InvalidInput, Unauthenticated


def test_emails_are_compared_trimmed_and_in_lower_case() -> None:
    assert normal_email("  Mei@Example.COM ") == "mei@example.com"
    for bad in ("mei", "mei@", "@example.com", "mei@example", "a b@example.com"):
        with pytest.raises(InvalidInput):
            normal_email(bad)


def test_passwords_are_ten_to_256_characters() -> None:
    assert check_password("eleven-chr") == "eleven-chr"
    for bad in ("short", "nine-char", "x" * 257):
        with pytest.raises(InvalidInput):
            check_password(bad)


def test_a_commonly_used_password_is_refused_whatever_its_case() -> None:
    common = frozenset({"qwertyuiop", "password123"})
    for guessed in ("qwertyuiop", "QwertyUIOP", "Password123"):
        with pytest.raises(CommonPassword):
            check_password(guessed, common=common)
    assert check_password("lantern-at-midnight", common=common) == "lantern-at-midnight"


@pytest.mark.parametrize("country, language, currency", [
    ("gb", "en", "GBP"), ("GB", "fr", "GBP"), ("GB", "en", "XXX"), ("GBR", "en", "GBP")])
def test_a_profile_has_a_country_language_and_currency_we_know(country: str, language: str,
                                                               currency: str) -> None:
    with pytest.raises(InvalidInput):
        Profile(country, language, currency)


def test_staff_and_only_staff_are_bound_to_a_merchant() -> None:
    User("s@x.co", Role.MERCHANT, Profile(), merchant_id=7)
    with pytest.raises(InvalidInput):
        User("s@x.co", Role.MERCHANT, Profile())
    with pytest.raises(InvalidInput):
        User("s@x.co", Role.SHOPPER, Profile(), merchant_id=7)


def test_a_token_works_until_it_expires() -> None:
    expires = parse_instant("2027-11-11T00:00:00+08:00")
    token = Token("d", 1, TokenKind.API, expires)
    token.check_alive(expires - timedelta(seconds=1))
    with pytest.raises(TokenExpired):
        token.check_alive(expires)


def test_roles_are_checked_before_anything_happens() -> None:
    staff = Actor(3, Role.MERCHANT, merchant_id=9)
    assert require_merchant_staff(staff) == (staff, 9)
    with pytest.raises(Unauthenticated):
        require_role(None, Role.OPERATOR)
    with pytest.raises(Forbidden):
        require_role(staff, Role.OPERATOR)
    with pytest.raises(Forbidden):
        require_merchant_staff(Actor(4, Role.SHOPPER))
