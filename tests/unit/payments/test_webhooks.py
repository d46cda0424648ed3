from __future__ import annotations

import json

import pytest

from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money
from shopfest.payments.webhooks import BadSignature, event_body, read_event, sign, verify
from shopfest.problems import status_of

SECRET = "whsec_double-eleven"
SIGNED_AT = 1_826_034_900  # 2027-11-11T00:35:00+08:00
BODY = event_body("payment.succeeded", provider_ref="sbx_pi_1111", amount=Money(111100, "CNY"),
                  created=SIGNED_AT)


def test_a_signed_event_checks_out_and_reads_back() -> None:
    header = sign(BODY, secret=SECRET, at=SIGNED_AT)
    event = read_event(verify(BODY, header, secret=SECRET, now=SIGNED_AT + 299))
    assert (event.type, event.provider_ref, event.amount) == ("payment.succeeded", "sbx_pi_1111",
                                                              Money(111100, "CNY"))
    assert event.id.startswith("evt_") and len(event.id) == 4 + 24


def test_the_header_has_the_stripe_shape() -> None:
    # HMAC-SHA256(key "k", message b"5.{}"), as Stripe's libraries compute it.
    expected = "d066254199a6f40d63f96c33c549959d7a371ef849d13d2a85811237089b2d00"
    assert sign(b"{}", secret="k", at=5) == f"t=5,v1={expected}"


def test_an_edited_body_is_refused() -> None:
    header = sign(BODY, secret=SECRET, at=SIGNED_AT)
    edited = BODY.replace(b"111100", b"1")
    with pytest.raises(BadSignature) as refused:
        verify(edited, header, secret=SECRET, now=SIGNED_AT)
    assert (refused.value.code, status_of(refused.value)) == ("bad-signature", 401)


def test_a_signature_made_with_another_secret_is_refused() -> None:
    header = sign(BODY, secret="whsec_someone-else", at=SIGNED_AT)
    with pytest.raises(BadSignature):
        verify(BODY, header, secret=SECRET, now=SIGNED_AT)


def test_an_old_event_replayed_is_refused_even_with_its_own_valid_signature() -> None:
    header = sign(BODY, secret=SECRET, at=SIGNED_AT)
    with pytest.raises(BadSignature):
        verify(BODY, header, secret=SECRET, now=SIGNED_AT + 301)
    with pytest.raises(BadSignature):
        verify(BODY, header, secret=SECRET, now=SIGNED_AT + 3600, tolerance=600)


def test_the_timestamp_is_part_of_what_is_signed() -> None:
    header = sign(BODY, secret=SECRET, at=SIGNED_AT)
    moved = header.replace(f"t={SIGNED_AT}", f"t={SIGNED_AT + 1000}")
    with pytest.raises(BadSignature):
        verify(BODY, moved, secret=SECRET, now=SIGNED_AT + 1000)


@pytest.mark.parametrize("header", ["", "garbage", "t=abc,v1=00", "v1=00", f"t={SIGNED_AT}",
                                    f"t={SIGNED_AT},v0=00"])
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(BadSignature):
        verify(BODY, header, secret=SECRET, now=SIGNED_AT)


def test_during_a_secret_rotation_either_signature_may_match() -> None:
    old = sign(BODY, secret="whsec_old", at=SIGNED_AT).split(",")[1]
    header = sign(BODY, secret=SECRET, at=SIGNED_AT) + "," + old
    assert verify(BODY, header, secret="whsec_old", now=SIGNED_AT)["type"] == "payment.succeeded"


def test_a_signed_body_that_is_not_an_event_is_invalid_input() -> None:
    for body in (b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 10_000 + b"]" * 10_000):
        with pytest.raises(InvalidInput):
            verify(body, sign(body, secret=SECRET, at=SIGNED_AT), secret=SECRET, now=SIGNED_AT)
    unknown = json.loads(BODY) | {"type": "payment.teleported"}
    with pytest.raises(InvalidInput):
        read_event(unknown)
    with pytest.raises(InvalidInput):
        read_event({"id": "evt_1", "type": "payment.succeeded", "created": 1, "data": {}})


def test_a_refund_event_carries_its_refund_ref() -> None:
    body = event_body("refund.succeeded", provider_ref="sbx_pi_1", amount=Money(500, "CNY"),
                      created=SIGNED_AT, refund_ref="sbx_re_1")
    assert read_event(json.loads(body)).refund_ref == "sbx_re_1"
    assert json.loads(body)["data"] == {"provider_ref": "sbx_pi_1", "amount_minor": 500,
                                        "currency": "CNY", "refund_ref": "sbx_re_1"}
