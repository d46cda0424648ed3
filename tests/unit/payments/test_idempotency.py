from __future__ import annotations

import pytest

from shopfest.payments.idempotency import fingerprint


@pytest.mark.parametrize("parts", [
    ("POST /orders", {"lines": [{"sku_id": 2**64, "qty": 1}]}),
    ("refund", 10**40, None),
    ({1: "a non-string key"},),
    (object,),
])
def test_a_fingerprint_is_made_of_whatever_it_is_given(parts: tuple[object, ...]) -> None:
    assert len(fingerprint(*parts)) == 64
    assert fingerprint(*parts) == fingerprint(*parts)


def test_equal_requests_share_a_fingerprint_and_others_do_not() -> None:
    assert fingerprint("pay", {"a": 1, "b": 2}) == fingerprint("pay", {"b": 2, "a": 1})
    assert fingerprint("pay", 2**64) != fingerprint("pay", 2**64 + 1)
    assert fingerprint("pay", 7) != fingerprint("pay", "7")
