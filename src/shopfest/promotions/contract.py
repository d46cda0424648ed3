"""The pricing contract's JSON: a request read into a `PriceRequest`, a `Priced` written back out.

Amounts travel as decimal strings in the request's currency ("299.00"); inside they are minor units.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from shopfest.core.clock import as_utc, parse_instant
from shopfest.core.errors import CurrencyMismatch, InvalidAmount, InvalidInput, UnknownCurrency
from shopfest.core.money import MINOR_UNITS, Money, minor_units
from shopfest.promotions.model import (
    ALWAYS,
    Applied,
    Coupon,
    CrossStore,
    Deposit,
    FlashPrice,
    Hint,
    ItemDiscount,
    LineTotals,
    MerchantTotals,
    PlatformCoupon,
    Priced,
    PriceLine,
    PriceRequest,
    Promotion,
    RedEnvelope,
    StoreCoupon,
    StoreThreshold,
    Tier,
    Window,
)

MAX_QTY = 999
MAX_LINES = 100  # as an order takes (orders/api.py)
Fields = Mapping[str, object]
# An amount as a cart writes it: plain ASCII digits and places. Read in integer arithmetic; any other
# text is left to `Money.exact`, which accepts or refuses it with its own message.
_PLAIN_AMOUNT = re.compile(r"(\d{1,18})(?:\.(\d{1,4}))?", re.ASCII)
# Amounts written in integer arithmetic; past these, as `Money.amount` writes them (its decimal
# context rounds beyond 28 digits).
_WRITTEN_EXACTLY = 10**18
_new_tuple = tuple.__new__


def read_request(data: object, *, now: datetime) -> PriceRequest:
    """The request the JSON `data` asks to price, at its `at` or else `now`. Raises InvalidInput, or
    its kinds InvalidAmount, CurrencyMismatch, UnknownCurrency, naming the field at fault."""
    body = _fields(data, "the request")
    _check_known(body, "the request", _REQUEST_FIELDS)
    currency = _currency(body)
    at = _instant(body, "at", "at") or as_utc(now)
    items = _list(body, "lines", "lines")
    if not items:
        raise InvalidInput("lines must hold at least one line", field="lines")
    if len(items) > MAX_LINES:
        raise InvalidInput(f"lines must hold at most {MAX_LINES} lines, as an order", field="lines")
    lines = tuple([_line(item, f"lines[{n}]", currency) for n, item in enumerate(items)])
    _check_unique([line.id for line in lines], "lines")
    promotions = tuple([_promotion(item, f"promotions[{n}]", currency)
                        for n, item in enumerate(_list(body, "promotions", "promotions"))])
    coupons = tuple([_coupon(item, f"coupons[{n}]", currency)
                     for n, item in enumerate(_list(body, "coupons", "coupons"))])
    # One id names one source in `applied`, so a promotion and a coupon cannot share one either.
    _check_unique([offer.id for offer in (*promotions, *coupons)], "promotions and coupons")
    deposits = _deposits(body, currency, lines)
    return PriceRequest(currency, at, lines, promotions, coupons, deposits,
                        _maybe_text(body, "shopper", "shopper"))


def read_promotion(data: Mapping[str, object], *, currency: str, window: Window) -> Promotion:
    """One promotion as the contract writes it, on during `window` (its own `starts`/`ends` aside).
    Raises InvalidInput and its kinds."""
    return replace(_promotion(data, "rule", currency), window=window)


def write_result(priced: Priced) -> dict[str, object]:
    """The contract's JSON result: every amount a decimal string in the cart's currency."""
    cash = _cash(priced.currency)
    return {
        "currency": priced.currency, "subtotal": cash(priced.subtotal), "discount": cash(priced.discount),
        "total": cash(priced.total), "deposit_paid": cash(priced.deposit_paid),
        "balance_due": cash(priced.balance_due),
        "merchants": [_merchant_json(merchant, cash) for merchant in priced.merchants],
        "lines": [_line_json(line, cash) for line in priced.lines],
        "applied": [_applied_json(applied, cash) for applied in priced.applied],
        "hints": [_hint_json(hint, cash) for hint in priced.hints],
        "coupons_used": list(priced.coupons_used),
    }


# --- writing ------------------------------------------------------------------------------------


Cash = Callable[[int], str]


def _cash(currency: str) -> Cash:
    """What `Money(minor, currency).amount` writes, worked out in integer arithmetic: a cart writes a
    couple of hundred amounts. Raises UnknownCurrency."""
    places = minor_units(currency)
    unit: int = 10**places
    pattern = f"%d.%0{places}d"  # the whole units, then the places

    def cash(minor: int) -> str:
        if type(minor) is not int or not -_WRITTEN_EXACTLY < minor < _WRITTEN_EXACTLY:
            return Money(minor, currency).amount
        if not places:
            return str(minor)
        if minor < 0:
            return "-" + pattern % divmod(-minor, unit)
        return pattern % divmod(minor, unit)

    return cash


def _merchant_json(merchant: MerchantTotals, cash: Cash) -> dict[str, object]:
    return {"merchant": merchant.merchant, "subtotal": cash(merchant.subtotal),
            "discount": cash(merchant.discount), "total": cash(merchant.total)}


def _line_json(line: LineTotals, cash: Cash) -> dict[str, object]:
    return {"id": line.id, "subtotal": cash(line.subtotal), "discount": cash(line.discount),
            "total": cash(line.total),
            "adjustments": [{"source": a.source, "amount": cash(a.amount)} for a in line.adjustments]}


def _applied_json(applied: Applied, cash: Cash) -> dict[str, object]:
    return {"source": applied.source, "kind": applied.kind, "amount": cash(applied.amount),
            "funded_by": applied.funded_by}


def _hint_json(hint: Hint, cash: Cash) -> dict[str, object]:
    return {"source": hint.source, "missing": cash(hint.missing), "would_save": cash(hint.would_save)}


# --- reading the parts --------------------------------------------------------------------------


def _line(data: object, where: str, currency: str) -> PriceLine:
    item = _fields(data, where)
    _check_known(item, where, _LINE_FIELDS)
    _check_currency(item, where, currency)
    # Fields read in their order, so the first fault is the one named; the named tuple built by
    # tuple.__new__, without a Python frame for its own __new__.
    return _new_tuple(PriceLine, (
        _text(item, "id", where), _text(item, "sku", where), _text(item, "merchant", where),
        _amount(item, "unit_price", where, currency), _count(item, "qty", where, high=MAX_QTY),
        _maybe_text(item, "brand", where), _maybe_text(item, "category", where),
        _maybe_text(item, "tier", where) or "regular"))


def _promotion(data: object, where: str, currency: str) -> Promotion:
    item = _fields(data, where)
    _check_currency(item, where, currency)
    kind = _text(item, "kind", where)
    if kind not in _PROMOTIONS:
        raise InvalidInput(f"{where}.kind {kind!r} is not one of {', '.join(_PROMOTIONS)}",
                           field=f"{where}.kind")
    _check_known(item, where, _PROMOTION_FIELDS[kind])
    return _PROMOTIONS[kind](item, where, currency)


def _flash_price(item: Fields, where: str, currency: str) -> FlashPrice:
    limit = _count(item, "per_shopper_limit", where, required=False)
    return FlashPrice(_text(item, "id", where), _text(item, "sku", where),
                      _amount(item, "price", where, currency), limit or None, _window(item, where))


def _item_discount(item: Fields, where: str, currency: str) -> ItemDiscount:
    multi_buy = item.get("kind") == "multi_buy"
    return ItemDiscount(
        _text(item, "id", where), "multi_buy" if multi_buy else "percent_off", _percent(item, where),
        merchant=_maybe_text(item, "merchant", where),
        category=_maybe_text(item, "category", where), sku=_maybe_text(item, "sku", where),
        min_qty=_count(item, "min_qty", where) if multi_buy else 1, window=_window(item, where))


def _store_threshold(item: Fields, where: str, currency: str) -> StoreThreshold:
    tiers = tuple([_tier(tier, f"{where}.tiers[{n}]", currency)
                   for n, tier in enumerate(_list(item, "tiers", where, required=True))])
    if not tiers:
        raise InvalidInput(f"{where}.tiers must hold at least one tier", field=f"{where}.tiers")
    repeat = item.get("repeat", False)
    if not isinstance(repeat, bool):
        raise InvalidInput(f"{where}.repeat must be true or false", field=f"{where}.repeat")
    if repeat and len(tiers) > 1:
        raise InvalidInput(f"{where}.repeat takes exactly one tier", field=f"{where}.tiers")
    return StoreThreshold(_text(item, "id", where), _text(item, "merchant", where), tiers, repeat,
                          _window(item, where))


def _tier(data: object, where: str, currency: str) -> Tier:
    tier = _fields(data, where)
    _check_known(tier, where, _TIER_FIELDS)
    return Tier(_amount(tier, "spend", where, currency, above_zero=True),
                _amount(tier, "off", where, currency))


def _cross_store(item: Fields, where: str, currency: str) -> CrossStore:
    return CrossStore(_text(item, "id", where), _amount(item, "every", where, currency, above_zero=True),
                      _amount(item, "off", where, currency), _names(item, "exclude_tiers", where),
                      _names(item, "exclude_categories", where), _window(item, where))


_PROMOTIONS: dict[str, Callable[[Fields, str, str], Promotion]] = {
    "flash_price": _flash_price, "percent_off": _item_discount, "multi_buy": _item_discount,
    "store_threshold": _store_threshold, "cross_store": _cross_store,
}


def _coupon(data: object, where: str, currency: str) -> Coupon:
    item = _fields(data, where)
    _check_currency(item, where, currency)
    kind, coupon_id, window = _text(item, "kind", where), _text(item, "id", where), _window(item, where)
    if kind in _COUPON_FIELDS:
        _check_known(item, where, _COUPON_FIELDS[kind])
    if kind == "store_coupon":
        return StoreCoupon(coupon_id, _text(item, "merchant", where),
                           _amount(item, "min_spend", where, currency), _amount(item, "off", where, currency),
                           window, _scope(item, where))
    if kind == "platform_coupon":
        return PlatformCoupon(coupon_id, _amount(item, "min_spend", where, currency),
                              _amount(item, "off", where, currency), window)
    if kind == "red_envelope":
        return RedEnvelope(coupon_id, _amount(item, "amount", where, currency), window)
    raise InvalidInput(f"{where}.kind {kind!r} is not one of store_coupon, platform_coupon, red_envelope",
                       field=f"{where}.kind")


def _deposits(body: Fields, currency: str, lines: tuple[PriceLine, ...]) -> tuple[Deposit, ...]:
    """At most one deposit a line, each for a line of the cart."""
    line_ids, held = {line.id for line in lines}, set()
    deposits = []
    for n, data in enumerate(_list(body, "deposits", "deposits")):
        where = f"deposits[{n}]"
        deposit = _deposit(data, where, currency)
        if deposit.line not in line_ids:
            raise InvalidInput(f"{where}.line {deposit.line!r} is not a line of the cart",
                               field=f"{where}.line")
        if deposit.line in held:
            raise InvalidInput(f"{where}.line {deposit.line!r} already has a deposit", field=f"{where}.line")
        held.add(deposit.line)
        deposits.append(deposit)
    return tuple(deposits)


def _deposit(data: object, where: str, currency: str) -> Deposit:
    item = _fields(data, where)
    _check_known(item, where, _DEPOSIT_FIELDS)
    _check_currency(item, where, currency)
    paid, worth = _amount(item, "paid", where, currency), _amount(item, "worth", where, currency)
    if worth < paid:
        raise InvalidAmount(f"{where}.worth must be at least {where}.paid", field=f"{where}.worth")
    return Deposit(_text(item, "line", where), paid, worth)


# --- reading the fields -------------------------------------------------------------------------


def _fields(data: object, where: str) -> Fields:
    # `str.__instancecheck__` is `isinstance(key, str)`, asked key by key without a Python frame each.
    if not (type(data) is dict or isinstance(data, Mapping)) or not all(map(str.__instancecheck__, data)):
        raise InvalidInput(f"{where} must be a JSON object", field=where)
    return data


_REQUEST_FIELDS = frozenset({"currency", "at", "lines", "promotions", "coupons", "deposits", "shopper"})
_LINE_FIELDS = frozenset({"id", "sku", "merchant", "unit_price", "qty", "brand", "category", "tier",
                          "currency"})
_OFFER_FIELDS = frozenset({"id", "kind", "currency", "starts", "ends"})
_PROMOTION_FIELDS = {
    "flash_price": _OFFER_FIELDS | {"sku", "price", "per_shopper_limit"},
    "percent_off": _OFFER_FIELDS | {"merchant", "category", "sku", "percent"},
    "multi_buy": _OFFER_FIELDS | {"merchant", "category", "sku", "min_qty", "percent"},
    "store_threshold": _OFFER_FIELDS | {"merchant", "tiers", "repeat"},
    "cross_store": _OFFER_FIELDS | {"every", "off", "exclude_tiers", "exclude_categories"},
}
_TIER_FIELDS = frozenset({"spend", "off"})
_COUPON_FIELDS = {
    "store_coupon": _OFFER_FIELDS | {"merchant", "min_spend", "off", "skus"},
    "platform_coupon": _OFFER_FIELDS | {"min_spend", "off"},
    "red_envelope": _OFFER_FIELDS | {"amount"},
}
_DEPOSIT_FIELDS = frozenset({"line", "paid", "worth", "currency"})


def _check_known(item: Fields, where: str, known: frozenset[str]) -> None:
    """Every field is one the contract defines: a misspelt one is refused, never ignored."""
    if item.keys() <= known:
        return
    unknown = min(item.keys() - known)
    raise InvalidInput(f"{_path(where, unknown)} is not a field the pricing contract knows",
                       field=_path(where, unknown))


def _list(item: Fields, key: str, where: str, *, required: bool = False) -> list[object]:
    value = item.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{_path(where, key)} must be a JSON array", field=_path(where, key))
    return value


def _path(where: str, key: str) -> str:
    return key if where == key else f"{where}.{key}"


def _currency(body: Fields) -> str:
    currency = body.get("currency")
    if not isinstance(currency, str):
        raise InvalidInput("currency must be an ISO 4217 code such as \"CNY\"", field="currency")
    try:
        minor_units(currency)
    except UnknownCurrency:
        raise UnknownCurrency(f"currency {currency!r} is not one ShopFest accepts", field="currency",
                              currency=currency) from None
    return currency


def _check_currency(item: Fields, where: str, currency: str) -> None:
    given = item.get("currency")
    if given is not None and given != currency:
        raise CurrencyMismatch(f"{where}.currency {given!r} is not the request's {currency}",
                               field=f"{where}.currency", currencies=[currency, given])


def _text(item: Fields, key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{_path(where, key)} must be a non-empty string", field=_path(where, key))
    return value


def _maybe_text(item: Fields, key: str, where: str) -> str | None:
    value = item.get(key)
    if value is None or (isinstance(value, str) and value):
        return value
    return _text(item, key, where)  # refuses it


def _names(item: Fields, key: str, where: str) -> frozenset[str]:
    values = _list(item, key, where)
    if not all(isinstance(value, str) for value in values):
        raise InvalidInput(f"{where}.{key} must be a list of strings", field=f"{where}.{key}")
    return frozenset(str(value) for value in values)


def _amount(item: Fields, key: str, where: str, currency: str, *, above_zero: bool = False) -> int:
    """A decimal string in `currency`, as minor units; never negative (nor zero when `above_zero`)."""
    value = item.get(key)
    plain = _PLAIN_AMOUNT.fullmatch(value) if isinstance(value, str) else None
    minor = _plain_minor(plain, currency) if plain else None
    if minor is None:
        minor = _parsed_minor(value, f"{where}.{key}", currency)
    if minor < 0 or (above_zero and minor == 0):
        field = f"{where}.{key}"
        raise InvalidAmount(f"{field} must be {'above zero' if above_zero else 'zero or more'}", field=field)
    return minor


def _plain_minor(plain: re.Match[str], currency: str) -> int | None:
    """The minor units `Money.exact` reads in plain digits; None for other places than the
    currency's, or for a currency it does not know (it names the fault)."""
    whole, fraction = plain.groups("")
    places = MINOR_UNITS.get(currency)
    if places is None or len(fraction) != places:
        return None
    return int(whole + fraction)


def _parsed_minor(value: object, field: str, currency: str) -> int:
    """Minor units by `Money.exact`, which names what is wrong with any text it refuses."""
    if not isinstance(value, str):
        raise InvalidAmount(f"{field} must be a decimal string such as \"12.50\"", field=field)
    try:
        return Money.exact(value, currency).minor
    except InvalidAmount as error:
        raise InvalidAmount(f"{field}: {error.detail}", field=field) from None


def _count(item: Fields, key: str, where: str, *, high: int | None = None, required: bool = True) -> int:
    """A whole number from 1 (to `high`); 0 for an absent optional one."""
    value = item.get(key)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (high and value > high):
        field, limits = f"{where}.{key}", f"from 1 to {high}" if high else "of 1 or more"
        raise InvalidInput(f"{field} must be a whole number {limits}", field=field)
    return value


def _percent(item: Fields, where: str) -> Fraction:
    """A number or decimal string from 0 to 100, kept exact (12.5 stays 25/2)."""
    field, value = f"{where}.percent", item.get("percent")
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidOperation
        percent = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        raise InvalidInput(f"{field} must be a number between 0 and 100", field=field) from None
    if not percent.is_finite() or not 0 <= percent <= 100:
        raise InvalidInput(f"{field} must be between 0 and 100", field=field)
    return Fraction(percent)


def _instant(item: Fields, key: str, field: str) -> datetime | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be an ISO 8601 time with a UTC offset", field=field)
    try:
        return parse_instant(value)
    except InvalidInput as error:
        raise InvalidInput(f"{field}: {error.detail}", field=field) from None


def _window(item: Fields, where: str) -> Window:
    if item.get("starts") is None and item.get("ends") is None:
        return ALWAYS  # the same window, shared: the engine asks no time of it
    starts = _instant(item, "starts", f"{where}.starts")
    ends = _instant(item, "ends", f"{where}.ends")
    if starts and ends and ends <= starts:
        raise InvalidInput(f"{where}.ends must come after {where}.starts", field=f"{where}.ends")
    return Window(starts, ends)


def _check_unique(ids: list[str], where: str) -> None:
    if len(set(ids)) == len(ids):
        return
    seen: set[str] = set()  # the first id given twice, to name it
    for value in ids:
        if value in seen:
            raise InvalidInput(f"{where} use the id {value!r} twice; each id is unique",
                               field=where, id=value)
        seen.add(value)


def _scope(item: Fields, where: str) -> frozenset[str] | None:
    """A store coupon's `skus`: the SKUs it covers (absent or null: every line of its merchant)."""
    if item.get("skus") is None:
        return None
    skus = _names(item, "skus", where)
    if not skus or not all(skus):
        raise InvalidInput(f"{where}.skus must name at least one SKU, each a non-empty string",
                           field=f"{where}.skus")
    return skus
