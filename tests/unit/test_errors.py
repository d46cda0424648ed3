"""Every domain error names one problem type: a code of its own, with a title to describe it, and
the HTTP status the API edge answers it with, as docs/api.md lists it."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import Counter
from pathlib import Path

import shopfest
from shopfest.core.errors import DomainError
from shopfest.problems import status_of


def every_error() -> list[type[DomainError]]:
    """DomainError and all its subclasses, once every module of shopfest is imported (the
    migrations aside: they are scripts Alembic loads, not modules)."""
    for module in pkgutil.walk_packages(shopfest.__path__, "shopfest."):
        if not module.name.startswith("shopfest.migrations"):
            importlib.import_module(module.name)
    found, frontier = [], [DomainError]
    while frontier:
        cls = frontier.pop()
        found.append(cls)
        frontier.extend(cls.__subclasses__())
    return [cls for cls in found if cls.__module__.startswith("shopfest.")]


def test_every_error_code_names_one_error_only() -> None:
    counts = Counter(cls.code for cls in every_error())
    assert [code for code, n in counts.items() if n > 1] == []


def test_every_error_code_has_a_title_of_its_own_class() -> None:
    for cls in every_error():
        assert "code" in vars(cls) and cls.code, f"{cls.__qualname__} inherits its code"
        assert "title" in vars(cls) and cls.title.strip(), f"{cls.__qualname__} has no title"


# Each error's HTTP status as the classes set it before statuses moved to the API edge.
EXPECTED_STATUS = {
    400: {"malformed-body"},
    401: {"bad-credentials", "bad-signature", "token-expired", "unauthenticated"},
    402: {"payment-declined"},
    403: {"account-not-verified", "account-too-new", "cross-site-form", "forbidden"},
    404: {"not-found"},
    409: {"already-paid", "brand-not-approved", "claim-limit-reached", "conflict", "coupon-unavailable",
          "coupons-gone", "email-taken", "idempotency-key-in-use", "illegal-payment-transition",
          "illegal-transition", "limit-exceeded", "order-expired", "outside-balance-window",
          "payment-amount-changed", "payment-in-flight", "refund-key-reused", "return-decided",
          "return-not-shipped", "shipped-goods-come-back-by-return", "sold-out", "too-many-unpaid",
          "count-below-held", "part-not-receivable", "part-already-received"},
    422: {"brand-not-sold", "common-password", "currency-mismatch", "domain-error",
          "idempotency-key-reused", "invalid-amount", "invalid-input", "outside-the-festival",
          "outside-the-sale", "refund-exceeds-payment", "refund-too-large", "return-too-large",
          "too-many-coupons", "unknown-currency", "unstorable-text", "verification-failed",
          "image-not-allowed", "image-too-heavy", "image-too-small", "image-too-large"},
    429: {"rate-limited", "sign-in-locked"},
    503: {"busy", "stock-counters-behind"},
}
# The shopper's account and delivery addresses (issue 17).
EXPECTED_STATUS[409] |= {"address-book-full"}
EXPECTED_STATUS[422] |= {"address-needed", "bad-address", "wrong-password"}
# Live rooms (issue 18): also the `code` of a room's error frames (docs/live.md).
EXPECTED_STATUS[409] |= {"room-closed"}
EXPECTED_STATUS[403] |= {"not-allowed", "muted", "banned"}
EXPECTED_STATUS[422] |= {"chat-refused", "message-too-long", "banned-words"}
EXPECTED_STATUS[429] |= {"slow-down"}
EXPECTED_STATUS[409] |= {"coupon-expired"}  # a live coupon claimed after its time
# Local services (issue 19): shops, deals, the nearby search.
EXPECTED_STATUS[404] |= {"unknown-city", "unknown-shop"}
EXPECTED_STATUS[409] |= {"deal-exists"}
EXPECTED_STATUS[422] |= {"bad-place", "bad-radius", "bad-hours", "bad-kind", "no-place", "bad-cursor",
                         "not-a-local-merchant", "not-a-voucher"}
# In-store QR pay (issue 19).
EXPECTED_STATUS[409] |= {"in-store-payment-closed"}
EXPECTED_STATUS[422] |= {"bad-pay-amount"}
# Local vouchers redeemed in the shop (issue 19).
EXPECTED_STATUS[409] |= {"voucher-already-redeemed", "voucher-void", "voucher-expired", "undo-too-late",
                         "vouchers-redeemed"}
EXPECTED_STATUS[422] |= {"bad-voucher-code"}
# A store failing under the server (issue 20, shopfest/outages.py).
EXPECTED_STATUS[503] |= {"unavailable"}
EXPECTED_STATUS[507] = {"storage-full"}


def test_every_error_is_answered_with_its_status() -> None:
    expected = {code: status for status, codes in EXPECTED_STATUS.items() for code in codes}
    told = {cls.code: status_of(cls("refused")) for cls in every_error()}
    assert told == expected


def test_the_status_is_the_edges_business_not_the_domains() -> None:
    assert [cls.__qualname__ for cls in every_error() if hasattr(cls, "status")] == []


def test_every_error_is_in_the_apis_table_of_problems_with_its_status() -> None:
    table = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    documented = {code: int(status) for status, codes in re.findall(r"^\| (\d{3}) \| ([^|]+) \|", table, re.M)
                  for code in re.findall(r"`([a-z0-9-]+)`", codes)}
    told = {cls.code: status_of(cls("refused")) for cls in every_error() if cls is not DomainError}
    assert {code: documented.get(code) for code in told} == told
