from __future__ import annotations

import pytest

from shopfest.catalog.model import (
    Brand,
    BrandNotApproved,
    BrandNotSold,
    BrandTier,
    Category,
    Fulfilment,
    Merchant,
    MerchantKind,
    ProductDraft,
    ProductQuery,
    SkuDraft,
    check_listing,
    descendants,
    new_brand,
    search_text,
    search_tokens,
)
from shopfest.core.clock import parse_instant
from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money

DEBUT = parse_instant("2027-11-11T00:00:00+08:00")


def sku(code: str = "std", price: str = "199.00", stock: int = 5, currency: str = "CNY") -> SkuDraft:
    return SkuDraft(code, Money.parse(price, currency), stock)


def draft(*skus: SkuDraft, title: str = "Aurora Silk Scarf") -> ProductDraft:
    return ProductDraft(title, brand_id=1, category_id=1, fulfilment=Fulfilment.SHIPPED,
                        debut_at=DEBUT, skus=skus or (sku(),))


def test_a_luxury_brand_waits_for_approval_and_a_regular_one_does_not() -> None:
    assert new_brand("Orchid Maison", BrandTier.LUXURY).approved is False
    assert new_brand("Lumen", BrandTier.REGULAR).approved is True


def test_a_merchant_lists_only_approved_brands_it_sells() -> None:
    lumen = Merchant("Lumen Flagship", MerchantKind.ONLINE, "CNY", frozenset({1, 2}))
    check_listing(lumen, Brand("Lumen", BrandTier.REGULAR, True, id=1))
    with pytest.raises(BrandNotSold):
        check_listing(lumen, Brand("Kestrel", BrandTier.REGULAR, True, id=3))
    with pytest.raises(BrandNotApproved):
        check_listing(lumen, Brand("Orchid", BrandTier.LUXURY, False, id=2))


@pytest.mark.parametrize("skus", [
    (),
    (sku("a"), sku("a")),
    (sku(price="-0.01"),),
    (sku(stock=-1),),
    (sku(stock=10**9 + 1),),
    (sku("a"), sku("b", currency="USD")),
    (sku(code=" "),),
    tuple(sku(str(i)) for i in range(51)),
])
def test_bad_skus_are_refused(skus: tuple[SkuDraft, ...]) -> None:
    with pytest.raises(InvalidInput):
        ProductDraft("T", 1, 1, Fulfilment.SHIPPED, DEBUT, skus)


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_a_title_is_needed(title: str) -> None:
    with pytest.raises(InvalidInput):
        draft(title=title)


def test_titles_are_tidied() -> None:
    assert draft(title="  Aurora   Silk\tScarf ").title == "Aurora Silk Scarf"


def test_search_words_fold_case_and_split_chinese_into_characters() -> None:
    assert search_tokens("Aurora SILK-Scarf") == ("aurora", "silk", "scarf")
    assert search_tokens("极光真丝围巾 Pro") == ("极", "光", "真", "丝", "围", "巾", "pro")
    assert search_tokens("ＡＢＣ") == ("abc",)  # full-width letters fold to plain ones
    assert search_text("Aurora", None, "极光") == "aurora 极 光"


def test_the_tree_below_a_category_includes_every_level() -> None:
    tree = [Category("apparel", "Apparel", id=1), Category("women", "Women", parent_id=1, id=2),
            Category("dresses", "Dresses", parent_id=2, id=3), Category("cars", "Cars", id=4)]
    assert descendants(tree, 1) == {1, 2, 3}
    assert descendants(tree, 4) == {4}


@pytest.mark.parametrize("fields", [
    {"limit": 0}, {"limit": 101},
    {"min_price": Money(500, "CNY"), "max_price": Money(100, "CNY")},
    {"words": tuple("abcdefghi")},
])
def test_a_search_is_bounded(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        ProductQuery(**fields)  # type: ignore[arg-type]  # fields vary by case


def test_new_this_festival_means_debuted_between_its_start_and_now() -> None:
    product = draft()
    start = parse_instant("2027-10-21T00:00:00+08:00")
    from shopfest.catalog.model import Product, Sku
    listed = Product(1, 1, 1, product.title, product.fulfilment, DEBUT,
                     (Sku("std", Money(19900, "CNY")),))
    assert listed.is_new(since=start, now=DEBUT)
    assert not listed.is_new(since=start, now=parse_instant("2027-11-10T23:59:59+08:00"))
    assert not listed.is_new(since=parse_instant("2027-11-11T00:00:01+08:00"),
                             now=parse_instant("2027-11-12T00:00:00+08:00"))
