from __future__ import annotations

from datetime import timedelta

import pytest

from shopfest.catalog.model import BrandTier, Fulfilment, SkuForSale
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import parse_instant
from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money
from shopfest.inventory.model import Buyer, Claim, FlashSale
from shopfest.orders.drafting import MAX_LINES, PlaceOrder, Shelf, buyer_of, check_lines, draft_order
from shopfest.orders.model import OrderStatus, Presale
from shopfest.promotions.model import DepositTerms

EVE = parse_instant("2027-11-10T23:00:00+08:00")
TEA, KETTLE, CAR = 11, 12, 21  # the tea house sells tea and kettles; the dealer sells a car on pre-sale


def cny(amount: str) -> Money:
    return Money.parse(amount, "CNY")


def sku(sku_id: int, merchant_id: int, price: str, *, settles_in: str = "CNY") -> SkuForSale:
    return SkuForSale(sku_id=sku_id, product_id=sku_id * 10, merchant_id=merchant_id,
                      settlement_currency=settles_in, brand_id=1, brand_tier=BrandTier.REGULAR,
                      category_id=1, title=f"SKU {sku_id}", fulfilment=Fulfilment.SHIPPED, price=cny(price))


SKUS = {TEA: sku(TEA, 1, "88.00"), KETTLE: sku(KETTLE, 1, "199.00"),
        CAR: sku(CAR, 2, "150000.00", settles_in="USD")}
DEPOSIT = DepositTerms(deposit=cny("5000.00"), balance_from=EVE + timedelta(hours=1),
                       balance_until=EVE + timedelta(days=3), worth=cny("8000.00"))


def shelf(car_presale: DepositTerms | None = None) -> Shelf:
    return Shelf(skus=SKUS, flash={}, presales={CAR: car_presale} if car_presale is not None else {})


def test_repeated_skus_are_added_up_in_one_line_each() -> None:
    assert check_lines([(TEA, 2), (KETTLE, 1), (TEA, 3)]) == ((TEA, 5), (KETTLE, 1))


@pytest.mark.parametrize("lines", [[], [(sku_id, 1) for sku_id in range(1, MAX_LINES + 2)]])
def test_an_order_holds_one_to_a_hundred_lines(lines: list[tuple[int, int]]) -> None:
    with pytest.raises(InvalidInput):
        check_lines(lines)


def test_a_hundred_lines_are_an_order() -> None:
    assert len(check_lines([(sku_id, 1) for sku_id in range(1, MAX_LINES + 1)])) == MAX_LINES


@pytest.mark.parametrize("lines", [[(TEA, 0)], [(TEA, -1)], [(TEA, 1000)], [(TEA, 500), (TEA, 500)]])
def test_each_line_and_each_sku_orders_1_to_999_units(lines: list[tuple[int, int]]) -> None:
    with pytest.raises(InvalidInput):
        check_lines(lines)


def test_an_order_is_split_by_merchant_and_waits_for_payment() -> None:
    draft = draft_order(PlaceOrder(7, ((TEA, 2), (CAR, 1))), shelf=shelf(), now=EVE, minutes=30)
    order = draft.order
    assert order.status is OrderStatus.AWAITING_PAYMENT
    assert [c.merchant_id for c in order.children] == [1, 2]
    assert order.total == cny("150176.00")
    assert order.children[1].settlement.currency == "USD"  # the dealer settles in dollars
    assert order.expires_at == EVE + timedelta(minutes=30)
    assert draft.claims == (Claim(TEA, 2, 7, None), Claim(CAR, 1, 7, None))
    assert draft.anyones


def test_a_presale_item_ordered_alone_waits_for_its_deposit() -> None:
    draft = draft_order(PlaceOrder(7, ((CAR, 2),)), shelf=shelf(DEPOSIT), now=EVE, minutes=30)
    assert draft.order.status is OrderStatus.AWAITING_DEPOSIT
    assert draft.order.presale == Presale(cny("10000.00"), DEPOSIT.balance_from, DEPOSIT.balance_until)


def test_a_presale_item_is_not_ordered_with_other_goods() -> None:
    with pytest.raises(InvalidInput, match="on its own"):
        draft_order(PlaceOrder(7, ((CAR, 1), (TEA, 1))), shelf=shelf(DEPOSIT), now=EVE, minutes=30)


def test_a_sku_not_for_sale_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no SKU 99"):
        draft_order(PlaceOrder(7, ((99, 1),)), shelf=shelf(), now=EVE, minutes=30)


def test_a_flash_line_sells_at_the_flash_price_and_is_held_for_less_time() -> None:
    sale = FlashSale(sku_id=TEA, price=cny("8.80"), quantity=100, starts_at=EVE,
                     ends_at=EVE + timedelta(hours=1), per_shopper_limit=2, id=5)
    on_flash = Shelf(skus=SKUS, flash={TEA: sale}, presales={})
    draft = draft_order(PlaceOrder(7, ((TEA, 1),)), shelf=on_flash, now=EVE, minutes=30, flash_minutes=5)
    assert draft.order.children[0].lines[0].unit_price == cny("8.80")
    assert draft.order.expires_at == EVE + timedelta(minutes=5)
    assert draft.claims == (Claim(TEA, 1, 7, 5),)
    assert not draft.anyones  # a flash sale's limit asks who claims


def test_a_shopper_pays_in_their_currency_at_the_reference_rate() -> None:
    draft = draft_order(PlaceOrder(7, ((TEA, 1),), currency="USD"), shelf=shelf(), now=EVE, minutes=30)
    assert draft.order.to_pay.currency == "USD"


def test_a_flash_sale_knows_a_shopper_only_when_their_sign_in_says_when_they_joined() -> None:
    assert buyer_of(Actor(7, Role.SHOPPER, verified=True)) is None
    assert buyer_of(Actor(7, Role.SHOPPER, verified=True, joined_at=EVE)) == Buyer(True, EVE)
