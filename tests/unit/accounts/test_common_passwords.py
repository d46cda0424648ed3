"""The common passwords come from zxcvbn's list, and the demo's own passwords are not among them."""

from __future__ import annotations

from shopfest.accounts.common_passwords import common_passwords
from shopfest.accounts.model import PASSWORD_MIN


def test_the_list_holds_the_passwords_guessers_try_first() -> None:
    common = common_passwords()
    assert len(common) >= 30_000 - 100  # zxcvbn's 30,000, less repeats
    assert {"password", "qwertyuiop", "1234567890", "password123", "1q2w3e4r5t"} <= common
    assert sum(len(p) >= PASSWORD_MIN for p in common) > 1000  # long is not enough to be safe
    assert all(p == p.lower() for p in common)


def test_the_demo_accounts_passwords_are_not_common() -> None:
    from shopfest.cli import DEMO_ACCOUNTS
    assert not {password for _, password, _ in DEMO_ACCOUNTS} & common_passwords()
