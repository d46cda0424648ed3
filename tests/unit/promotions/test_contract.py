"""The pricing contract's JSON: a full request read, priced and written back; every bad input refused
with an error naming the field."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfest.core.errors import CurrencyMismatch, InvalidAmount, InvalidInput, UnknownCurrency
from shopfest.core.money import Money
from shopfest.problems import status_of
from shopfest.promotions.contract import read_request, write_result
from shopfest.promotions.model import Applied, Hint, LineAdjustment, LineTotals, MerchantTotals, Priced
from shopfest.promotions.stages import price

NOW = datetime(2026, 11, 10, 16, 30, tzinfo=UTC)

FESTIVAL_CART: dict[str, Any] = {
    "currency": "CNY", "at": "2026-11-11T00:30:00+08:00", "shopper": "s1",
    "lines": [
        {"id": "l1", "sku": "k1", "merchant": "m1", "brand": "b1", "category": "apparel", "tier": "regular",
         "unit_price": "299.00", "qty": 2},
        {"id": "l2", "sku": "k2", "merchant": "m2", "category": "beauty", "unit_price": "150.00", "qty": 1,
         "currency": "CNY"},
    ],
    "promotions": [
        {"id": "p1", "kind": "store_threshold", "merchant": "m1",
         "tiers": [{"spend": "800.00", "off": "100.00"}, {"spend": "500.00", "off": "50.00"}]},
        {"id": "p2", "kind": "cross_store", "every": "300.00", "off": "40.00", "exclude_tiers": ["import"]},
        {"id": "p3", "kind": "percent_off", "merchant": "m2", "percent": "10"},
        {"id": "p4", "kind": "flash_price", "sku": "k1", "price": "199.00",
         "starts": "2026-11-11T01:00:00+08:00"},
    ],
    "coupons": [
        {"id": "c1", "kind": "platform_coupon", "min_spend": "400.00", "off": "20.00"},
        {"id": "c2", "kind": "store_coupon", "merchant": "m1", "min_spend": "100.00", "off": "10.00"},
        {"id": "c3", "kind": "red_envelope", "amount": "5.00"},
        {"id": "c4", "kind": "store_coupon", "merchant": "m2", "min_spend": "200.00", "off": "30.00"},
    ],
    "deposits": [{"line": "l1", "paid": "50.00", "worth": "100.00"}],
}

# Worked on paper: l2 135.00 after p3; m1 548.00 after p1 (p4 starts at 01:00), 538.00 after c2 (c4
# needs 200.00 of m2); cross-store on 673.00 takes 80.00 as 63.95/16.05; c1 takes 20.00 of 593.00 as
# 15.99/4.01; c3 5.00 of 573.00 as 4.00/1.00; the deposit swells by 50.00 on l1.
PRICED_CART = {
    "currency": "CNY", "subtotal": "748.00", "discount": "230.00", "total": "518.00",
    "deposit_paid": "50.00", "balance_due": "468.00",
    "merchants": [
        {"merchant": "m1", "subtotal": "598.00", "discount": "193.94", "total": "404.06"},
        {"merchant": "m2", "subtotal": "150.00", "discount": "36.06", "total": "113.94"},
    ],
    "lines": [
        {"id": "l1", "subtotal": "598.00", "discount": "193.94", "total": "404.06",
         "adjustments": [{"source": "p1", "amount": "50.00"}, {"source": "c2", "amount": "10.00"},
                         {"source": "p2", "amount": "63.95"}, {"source": "c1", "amount": "15.99"},
                         {"source": "c3", "amount": "4.00"}, {"source": "deposit:l1", "amount": "50.00"}]},
        {"id": "l2", "subtotal": "150.00", "discount": "36.06", "total": "113.94",
         "adjustments": [{"source": "p3", "amount": "15.00"}, {"source": "p2", "amount": "16.05"},
                         {"source": "c1", "amount": "4.01"}, {"source": "c3", "amount": "1.00"}]},
    ],
    "applied": [
        {"source": "p3", "kind": "percent_off", "amount": "15.00", "funded_by": "merchant"},
        {"source": "p1", "kind": "store_threshold", "amount": "50.00", "funded_by": "merchant"},
        {"source": "c2", "kind": "store_coupon", "amount": "10.00", "funded_by": "merchant"},
        {"source": "p2", "kind": "cross_store", "amount": "80.00", "funded_by": "merchant"},
        {"source": "c1", "kind": "platform_coupon", "amount": "20.00", "funded_by": "platform"},
        {"source": "c3", "kind": "red_envelope", "amount": "5.00", "funded_by": "platform"},
        {"source": "deposit:l1", "kind": "deposit", "amount": "50.00", "funded_by": "merchant"},
    ],
    "hints": [{"source": "p1", "missing": "202.00", "would_save": "50.00"},
              {"source": "p2", "missing": "227.00", "would_save": "40.00"}],
    "coupons_used": ["c1", "c2", "c3"],
}


def a_cart() -> dict[str, Any]:
    return copy.deepcopy(FESTIVAL_CART)


def quoted(request: object) -> dict[str, object]:
    return write_result(price(read_request(request, now=NOW)))


def test_a_full_festival_cart_reads_prices_and_writes_back() -> None:
    assert quoted(a_cart()) == PRICED_CART


def test_without_at_the_cart_is_priced_now() -> None:
    request = a_cart()
    del request["at"]
    assert read_request(request, now=NOW).at == NOW
    later = read_request(request, now=datetime(2026, 11, 10, 17, 0, tzinfo=UTC))
    # At 01:00 the flash price p4 is on: l1 398.00, under p1's tiers; 388.00 after c2; cross-store
    # 40.00 on 523.00; c1 20.00; c3 5.00; the deposit 50.00: 533.00 - 125.00.
    assert write_result(price(later))["total"] == "408.00"


def test_a_percent_stays_exact_and_a_tier_defaults_to_regular() -> None:
    request = {"currency": "CNY", "lines": [{"id": "l1", "sku": "k1", "merchant": "m1", "unit_price": "1.00",
                                             "qty": 1}],
               "promotions": [{"id": "p1", "kind": "percent_off", "percent": 12.5}]}
    read = read_request(request, now=NOW)
    assert read.lines[0].tier == "regular"
    assert quoted(request)["total"] == "0.87"  # 12.5% of 1.00 is 0.125, half up 0.13


def test_amounts_are_written_in_the_currencys_own_places() -> None:
    request = {"currency": "JPY", "lines": [{"id": "l1", "sku": "k1", "merchant": "m1", "unit_price": "1500",
                                             "qty": 1}],
               "deposits": [{"line": "l1", "paid": "2000", "worth": "2000"}]}
    result = quoted(request)
    assert (result["total"], result["balance_due"]) == ("1500", "-500")


Change = Callable[[dict[str, Any]], object]


def setting(path: str, value: object) -> Change:
    """Set `path` ("lines.0.qty") in the request to `value`."""
    def change(request: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        place: Any = request
        for key in parents:
            place = place[int(key)] if key.isdigit() else place[key]
        place[int(last) if last.isdigit() else last] = value
    return change


def appending(path: str, value: object) -> Change:
    return lambda request: request[path].append(value)


BAD_INPUTS: list[tuple[str, Change, type[InvalidInput], str]] = [
    ("no currency", lambda request: request.pop("currency"), InvalidInput, "currency must be"),
    ("unknown currency", setting("currency", "XXX"), UnknownCurrency, "currency 'XXX'"),
    ("a line in another currency", setting("lines.1.currency", "USD"), CurrencyMismatch, "lines[1].currency"),
    ("a promotion in another currency", setting("promotions.0.currency", "USD"), CurrencyMismatch,
     "promotions[0].currency"),
    ("a coupon in another currency", setting("coupons.1.currency", "EUR"), CurrencyMismatch,
     "coupons[1].currency"),
    ("a deposit in another currency", setting("deposits.0.currency", "JPY"), CurrencyMismatch,
     "deposits[0].currency"),
    ("unknown promotion kind", setting("promotions.1.kind", "buy_one_get_one"), InvalidInput,
     "promotions[1].kind 'buy_one_get_one'"),
    ("unknown coupon kind", setting("coupons.0.kind", "voucher"), InvalidInput, "coupons[0].kind 'voucher'"),
    ("a negative price", setting("lines.0.unit_price", "-1.00"), InvalidAmount, "lines[0].unit_price"),
    ("a price past the fen", setting("lines.0.unit_price", "12.345"), InvalidAmount, "lines[0].unit_price"),
    ("a price that is no number", setting("lines.0.unit_price", "twelve"), InvalidAmount,
     "lines[0].unit_price"),
    ("a price as a JSON number", setting("lines.0.unit_price", 12.5), InvalidAmount, "lines[0].unit_price"),
    ("a negative off", setting("coupons.0.off", "-5.00"), InvalidAmount, "coupons[0].off"),
    ("a tier with no spend", setting("promotions.0.tiers.1.spend", "0.00"), InvalidAmount,
     "promotions[0].tiers[1].spend"),
    ("cross-store every zero", setting("promotions.1.every", "0"), InvalidAmount, "promotions[1].every"),
    ("percent above 100", setting("promotions.2.percent", 101), InvalidInput,
     "promotions[2].percent must be between 0 and 100"),
    ("percent below 0", setting("promotions.2.percent", "-0.5"), InvalidInput,
     "promotions[2].percent must be between 0 and 100"),
    ("percent not a number", setting("promotions.2.percent", "ten"), InvalidInput, "promotions[2].percent"),
    ("percent a boolean", setting("promotions.2.percent", True), InvalidInput, "promotions[2].percent"),
    ("qty zero", setting("lines.0.qty", 0), InvalidInput, "lines[0].qty"),
    ("qty above 999", setting("lines.0.qty", 1000), InvalidInput, "lines[0].qty"),
    ("qty a boolean", setting("lines.0.qty", True), InvalidInput, "lines[0].qty"),
    ("qty a float", setting("lines.0.qty", 2.0), InvalidInput, "lines[0].qty"),
    ("multi-buy min_qty zero", setting("promotions.2", {"id": "p3", "kind": "multi_buy", "percent": 5,
                                                        "min_qty": 0}),
     InvalidInput, "promotions[2].min_qty"),
    ("flash limit zero", setting("promotions.3.per_shopper_limit", 0), InvalidInput,
     "promotions[3].per_shopper_limit"),
    ("repeat with two tiers", setting("promotions.0.repeat", True), InvalidInput, "promotions[0].repeat"),
    ("no tiers", setting("promotions.0.tiers", []), InvalidInput, "promotions[0].tiers"),
    ("duplicate line ids", setting("lines.1.id", "l1"), InvalidInput, "lines use the id 'l1' twice"),
    ("duplicate promotion ids", setting("promotions.1.id", "p1"), InvalidInput, "'p1' twice"),
    ("duplicate coupon ids", setting("coupons.1.id", "c1"), InvalidInput, "'c1' twice"),
    ("a coupon with a promotion's id", setting("coupons.1.id", "p1"), InvalidInput, "'p1' twice"),
    ("a deposit worth less than paid", setting("deposits.0.worth", "40.00"), InvalidInput,
     "deposits[0].worth must be at least deposits[0].paid"),
    ("a deposit for an unknown line", setting("deposits.0.line", "l9"), InvalidInput,
     "deposits[0].line 'l9' is not a line"),
    ("two deposits for a line", appending("deposits", {"line": "l1", "paid": "1.00", "worth": "2.00"}),
     InvalidInput, "deposits[1].line 'l1' already has a deposit"),
    ("at without an offset", setting("at", "2026-11-11T00:30:00"), InvalidInput, "at:"),
    ("at that is no time", setting("at", "midnight"), InvalidInput, "at:"),
    ("starts without an offset", setting("promotions.3.starts", "2026-11-11T01:00:00"), InvalidInput,
     "promotions[3].starts"),
    ("ends before starts", setting("promotions.3.ends", "2026-11-11T00:00:00+08:00"), InvalidInput,
     "promotions[3].ends must come after"),
    ("no lines", setting("lines", []), InvalidInput, "lines must hold at least one line"),
    ("a line without an id", setting("lines.0.id", ""), InvalidInput, "lines[0].id"),
    ("a line without a merchant", lambda request: request["lines"][0].pop("merchant"), InvalidInput,
     "lines[0].merchant"),
    ("lines not a list", setting("lines", {"id": "l1"}), InvalidInput, "lines must be a JSON array"),
    ("a promotion not an object", setting("promotions.0", "p1"), InvalidInput, "promotions[0] must be"),
]


@pytest.mark.parametrize(("change", "error", "names"), [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_a_bad_request_is_refused_naming_the_field(change: Change, error: type[InvalidInput],
                                                   names: str) -> None:
    request = a_cart()
    change(request)
    with pytest.raises(error, match=re.escape(names)) as refused:
        read_request(request, now=NOW)
    assert status_of(refused.value) == 422


def test_a_request_that_is_no_json_object_is_refused() -> None:
    with pytest.raises(InvalidInput, match="the request must be a JSON object"):
        read_request(["not", "an", "object"], now=NOW)


# --- amounts read and written in integer arithmetic, exactly as Money reads and writes them ------


AMOUNT_TEXTS = st.one_of(
    st.from_regex(r"\A-?\d{1,20}(\.\d{0,5})?\Z"),
    st.text(alphabet="0123456789.-+ e\u0661\uff12", max_size=14),
    st.sampled_from(["12.50", " 12.50 ", "12.345", "12.3400", "-0.00", "\uff11\uff12.50", "1e3", ".5", "5."]))
CURRENCIES = st.sampled_from(["CNY", "JPY", "KWD"])


@settings(max_examples=400, deadline=None)
@given(AMOUNT_TEXTS, CURRENCIES)
def test_an_amount_reads_as_money_reads_an_exact_amount(text: str, currency: str) -> None:
    request = {"currency": currency,
               "lines": [{"id": "l1", "sku": "k1", "merchant": "m1", "unit_price": text, "qty": 1}]}
    try:
        expected = Money.exact(text, currency).minor
    except InvalidAmount as refused:
        with pytest.raises(InvalidAmount, match=re.escape(f"lines[0].unit_price: {refused.detail}")):
            read_request(request, now=NOW)
        return
    if expected < 0:
        with pytest.raises(InvalidAmount, match=re.escape("lines[0].unit_price must be zero or more")):
            read_request(request, now=NOW)
    else:
        assert read_request(request, now=NOW).lines[0].unit_price == expected


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.integers(-10**6, 10**6), st.integers(-10**30, 10**30)), CURRENCIES)
def test_every_amount_is_written_as_money_writes_it(minor: int, currency: str) -> None:
    line = LineTotals("l1", "m1", minor, 0, (LineAdjustment("p1", minor),))
    applied = Applied("p1", "percent_off", minor, "merchant")
    written = write_result(Priced(currency, minor, 0, minor, (line,), (MerchantTotals("m1", minor, 0),),
                                  (applied,), (Hint("p1", minor, -minor),)))
    shown, negated, zero = (Money(amount, currency).amount for amount in (minor, -minor, 0))
    assert (written["subtotal"], written["discount"], written["deposit_paid"]) == (shown, shown, shown)
    assert written["balance_due"] == negated
    assert written["lines"] == [{"id": "l1", "subtotal": shown, "discount": shown, "total": zero,
                                 "adjustments": [{"source": "p1", "amount": shown}]}]
    assert written["applied"] == [{"source": "p1", "kind": "percent_off", "amount": shown,
                                   "funded_by": "merchant"}]
    assert written["hints"] == [{"source": "p1", "missing": shown, "would_save": negated}]


LINE = {"id": "l1", "sku": "k1", "merchant": "m1", "unit_price": "1.00", "qty": 1}


@pytest.mark.parametrize(("change", "field"), [
    ({"discount": "100.00"}, "discount"),
    ({"lines": [{**LINE, "colour": "red"}]}, "lines[0].colour"),
    ({"promotions": [{"id": "p1", "kind": "percent_off", "percent": 5, "min_qty": 2}]},
     "promotions[0].min_qty"),
    ({"promotions": [{"id": "p1", "kind": "store_threshold", "merchant": "m1",
                      "tiers": [{"spend": "10.00", "off": "1.00", "max": "5.00"}]}]},
     "promotions[0].tiers[0].max"),
    ({"coupons": [{"id": "c1", "kind": "red_envelope", "amount": "5.00", "stack": True}]},
     "coupons[0].stack"),
    ({"deposits": [{"line": "l1", "paid": "1.00", "worth": "2.00", "due": "1.00"}]}, "deposits[0].due"),
])
def test_a_field_the_contract_does_not_know_is_refused_not_ignored(change: dict[str, object],
                                                                   field: str) -> None:
    request = {"currency": "CNY", "lines": [LINE], **change}
    with pytest.raises(InvalidInput, match=re.escape(f"{field} is not a field the pricing contract knows")):
        read_request(request, now=NOW)
