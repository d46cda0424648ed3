"""Words of the seller centre's frame and its products, images and stock (seller_pages.py)."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "seller.nav.home": ("Overview", "概览"),
    "seller.nav.products": ("Products", "商品"),
    "seller.nav.stock": ("Stock", "库存"),
    "seller.nav.flash_sales": ("Flash sales", "秒杀"),
    "seller.nav.presales": ("Pre-sales", "预售"),
    "seller.nav.promotions": ("Store promotions", "店铺活动"),
    "seller.nav.coupons": ("Store coupons", "店铺优惠券"),
    "seller.nav.orders": ("Orders to ship", "待发货订单"),
    "seller.nav.returns": ("Returns and refunds", "退货退款"),
}
