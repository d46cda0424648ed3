"""Every string the pages show, in English and Chinese, and the rule for picking a name's language."""

from __future__ import annotations

from dataclasses import dataclass

from shopfest.web.words import (
    account,
    control,
    deals,
    desk,
    live,
    live_room,
    local,
    orders,
    problems,
    screen,
    seller,
)

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
# Babel locales: "en_001" (international English) writes US$ and CN¥, which a global
# audience needs where plain "en" would print a bare "$" for US dollars.
LOCALES = {"en": "en_001", "zh": "zh_CN"}
HTML_LANG = {"en": "en", "zh": "zh-CN"}

STRINGS: dict[str, tuple[str, str]] = {
    # layout
    "site.tagline": ("The 11.11 Global Shopping Festival", "双十一全球狂欢节"),
    "nav.search": ("Search", "搜索"),
    "nav.sign_in": ("Sign in", "登录"),
    "nav.sign_out": ("Sign out", "退出"),
    "nav.language": ("Language", "语言"),
    "nav.currency": ("Currency", "币种"),
    "nav.account": ("Your account", "我的账户"),
    "nav.orders": ("My orders", "我的订单"),
    "nav.wallet": ("Wallet", "卡券包"),
    "nav.settings": ("Settings", "账户设置"),
    "nav.deals": ("Deals", "优惠"),
    "nav.seller": ("Seller centre", "商家中心"),
    "nav.control": ("Control room", "狂欢节控制台"),
    "nav.sign_up": ("Sign up", "注册"),
    "phase.now": ("Now", "当前"),
    "phase.between": ("Between phases", "阶段间歇"),
    "phase.before": ("The festival has not begun", "狂欢节尚未开始"),
    "phase.over": ("The festival is over — see you next year", "本届狂欢节已结束，明年再会"),
    "phase.none": ("No festival is scheduled yet", "尚未安排狂欢节"),
    "countdown.starts": ("{phase} starts in", "距{phase}开始"),
    "countdown.ends": ("{phase} ends in", "距{phase}结束"),
    "countdown.starts.wave2-sale": ("11.11 starts in", "距双十一开场"),
    "countdown.ends.wave2-sale": ("Wave 2 sale ends in", "距第二波开售结束"),
    "countdown.days": ("{days}d", "{days}天"),
    "footer.about": ("ShopFest — an open-source platform for 11.11-style shopping festivals. "
                     "Every brand and product here is fictional.",
                     "ShopFest —— 开源的双十一式购物节平台。此处所有品牌和商品均为虚构。"),
    "prices.indicative": ("Figures marked ≈ are at the exchange rate checkout charges today; an order "
                          "keeps the rate of the moment it is placed.",
                          "带“≈”的金额按结算时采用的今日汇率换算；订单按下单时的汇率结算。"),
    "time.in_zone": ("{time} ({zone} time)", "{time}（{zone} 时间）"),
    # phases of the 11.11 calendar, by key; other festivals fall back to their own names
    "phase.wave1-deposit": ("Wave 1 pre-sale deposits", "第一波预售定金"),
    "phase.wave1-sale": ("Wave 1 sales (Nov 1–3)", "第一波开售（11月1日–3日）"),
    "phase.wave2-deposit": ("Wave 2 pre-sale deposits", "第二波预售定金"),
    "phase.wave2-sale": ("11.11 Global Shopping Festival", "双十一全球狂欢节"),
    "short.wave1-deposit": ("Wave 1 deposit window", "第一波定金"),
    "short.wave1-sale": ("Wave 1 sale", "第一波开售"),
    "short.wave2-deposit": ("Wave 2 deposit window", "第二波定金"),
    "short.wave2-sale": ("Wave 2 sale", "第二波开售"),
    # home
    "home.calendar": ("Festival calendar", "狂欢节日程"),
    "home.phase": ("Phase", "阶段"),
    "home.starts": ("Starts", "开始"),
    "home.ends": ("Ends", "结束"),
    "home.on_now": ("On now", "进行中"),
    "home.done": ("Over", "已结束"),
    "home.coming": ("Coming", "即将开始"),
    "home.new_arrivals": ("New arrivals", "新品首发"),
    "home.new_count": ("{count} new this festival", "本届已首发 {count} 件新品"),
    "home.see_new": ("See all new arrivals", "查看全部新品"),
    "home.luxury": ("Luxury pavilion", "奢品馆"),
    "home.luxury_empty": ("The luxury pavilion opens soon.", "奢品馆即将开馆。"),
    "home.see_luxury": ("Visit the pavilion", "逛奢品馆"),
    "home.categories": ("Shop by category", "按分类选购"),
    "home.nothing_new": ("No debuts yet — the first arrive when the festival opens.",
                         "暂无新品，狂欢节开幕时首发。"),
    # search
    "search.title": ("Search the festival", "搜索狂欢节"),
    "search.placeholder": ("Products, brands, categories…", "商品、品牌、分类……"),
    "search.submit": ("Search", "搜索"),
    "search.any": ("Any", "不限"),
    "search.category": ("Category", "分类"),
    "search.tier": ("Brand tier", "品牌等级"),
    "search.fulfilment": ("How you get it", "交付方式"),
    "search.new": ("New this festival only", "只看本届新品"),
    "search.min_price": ("Price from ({currency})", "最低价（{currency}）"),
    "search.max_price": ("Price up to ({currency})", "最高价（{currency}）"),
    "search.results": ("Results", "搜索结果"),
    "search.none": ("Nothing matches. Try fewer words or filters.",
                    "没有匹配的商品，请减少关键词或筛选条件。"),
    "search.next": ("Next page →", "下一页 →"),
    "search.previous": ("← Previous page", "← 上一页"),
    "search.pages": ("Pages of results", "结果分页"),
    "search.sort": ("Sort by", "排序"),
    "sort.relevance": ("Best match", "综合"),
    "sort.newest": ("Newest debut", "最新首发"),
    "sort.price_up": ("Price: low to high", "价格从低到高"),
    "sort.price_down": ("Price: high to low", "价格从高到低"),
    "search.found": ("{count} found", "共找到 {count} 件"),
    "search.found_over": ("More than {count} found", "找到超过 {count} 件"),
    "search.first": ("← First page", "← 第一页"),
    "search.error": ("Please check the search: {detail}", "请检查搜索条件（{detail}）"),
    "tier.regular": ("Regular", "普通品牌"),
    "tier.luxury": ("Luxury", "奢品"),
    "fulfilment.shipped": ("Shipped", "快递配送"),
    "fulfilment.deposit_voucher": ("Deposit voucher", "定金券"),
    "fulfilment.service_voucher": ("Service voucher", "服务券"),
    # product
    "product.brand": ("Brand", "品牌"),
    "product.category": ("Category", "分类"),
    "product.fulfilment": ("How you get it", "交付方式"),
    "product.debut": ("Debut", "首发时间"),
    "product.options": ("Options", "规格"),
    "product.option": ("Option", "规格"),
    "product.price": ("Price", "价格"),
    "product.stock": ("Available", "库存"),
    "product.in_stock": ("{count} left", "剩余 {count} 件"),
    "product.sold_out": ("Sold out", "已售罄"),
    "product.from": ("from {price}", "{price} 起"),
    "product.seller": ("Sold by", "卖家"),
    "product.list_price": ("List price {price}", "原价 {price}"),
    "shop.in_city": ("a shop in {city}", "门店位于{city}"),
    "shop.no_city": ("a shop whose city is not on record", "门店所在城市未登记"),
    "explain.shipped": ("delivered to your door once you pay online.", "在线付款后快递送货上门。"),
    "explain.deposit_voucher": ("a voucher bought online, which you take to the dealer to finish the "
                                "purchase; what is paid online, and when, is written by each option.",
                                "在线购买凭证，凭券到经销商处完成购买；在线支付的金额与时间见各规格说明。"),
    "explain.service_voucher": ("buy it online, then redeem it in the shop.", "在线购买，到店核销使用。"),
    "product.how": ("{kind}: {how}", "{kind}：{how}"),
    "badge.new": ("New this festival", "本届新品"),
    "badge.luxury": ("Luxury pavilion", "奢品馆"),
    # deals and the cart
    "deal.festival_price": ("Festival price", "狂欢价"),
    "deal.you_save": ("you save {amount}", "立省 {amount}"),
    "deal.flash_price": ("Flash price", "秒杀价"),
    "deal.percent_off": ("Store discount", "店铺折扣"),
    "deal.multi_buy": ("Multi-buy discount", "多件优惠"),
    "deal.store_threshold": ("Store promotion", "店铺满减"),
    "deal.store_coupon": ("Store coupon", "店铺优惠券"),
    "deal.cross_store": ("Across stores", "跨店满减"),
    "deal.platform_coupon": ("Platform coupon", "平台优惠券"),
    "deal.red_envelope": ("Red envelope", "红包"),
    "deal.deposit": ("Deposit bonus", "定金膨胀"),
    "deal.by_merchant": ("from the store", "商家承担"),
    "deal.by_platform": ("from the platform", "平台承担"),
    "deal.none.sold-out": ("Sold out", "已售罄"),
    "deal.none.flash-sold-out": ("The flash sale is sold out", "秒杀已抢光"),
    "deal.none.limit-exceeded": ("You have bought as many as the flash sale allows each shopper",
                                 "您已买满秒杀每人限购数量"),
    "deal.hint": ("Add {missing} more to save {save} more", "再买 {missing}，可再省 {save}"),
    "cart.title": ("Your cart", "购物车"),
    "cart.add": ("Add to cart", "加入购物车"),
    "cart.qty": ("Quantity", "数量"),
    "cart.empty": ("Your cart is empty.", "购物车是空的。"),
    "cart.item": ("Item", "商品"),
    "cart.unit_price": ("Unit price", "单价"),
    "cart.line_total": ("After discounts", "优惠后"),
    "cart.remove": ("Remove", "删除"),
    "cart.update": ("Update", "更新"),
    "cart.qty_of": ("Quantity of {item}", "{item}的数量"),
    "cart.remove_item": ("Remove {item}", "删除{item}"),
    "cart.sold_by": ("Sold by {seller}", "卖家：{seller}"),
    "cart.bad_qty": ("Enter a whole number of units from 0 to {most}; 0 takes the item out.",
                     "请输入 0 到 {most} 之间的整数；0 表示删除该商品。"),
    "cart.subtotal": ("Subtotal", "商品总额"),
    "cart.discount": ("Discounts", "优惠合计"),
    "cart.total": ("Total", "合计"),
    "cart.savings": ("How the festival priced it", "优惠明细"),
    "cart.checkout": ("Check out", "去结算"),
    "cart.sign_in": ("Sign in as a shopper to check out and use your coupons.",
                     "请以买家身份登录后结算并使用优惠券。"),
    "cart.none.sold-out": ("Sold out: remove it to check out.", "已售罄：请删除后结算。"),
    "cart.none.flash-sold-out": ("The flash sale is sold out: remove it to check out.",
                                 "秒杀已抢光：请删除后结算。"),
    "cart.none.limit-exceeded": ("You have bought as many as the flash sale allows each shopper; while it "
                                 "is on, it sells only at the flash price.",
                                 "您已买满秒杀每人限购数量；秒杀期间此商品仅以秒杀价出售。"),
    "cart.most.sold-out": ("Only {most} left: lower the quantity to check out.",
                           "仅剩 {most} 件：请减少数量后结算。"),
    "cart.most.flash-sold-out": ("Only {most} left at the flash price: lower the quantity to check out.",
                                 "秒杀价仅剩 {most} 件：请减少数量后结算。"),
    "cart.most.limit-exceeded": ("At the flash price you may take {most} more: lower the quantity to "
                                 "check out.",
                                 "秒杀价每人限购，您还可买 {most} 件：请减少数量后结算。"),
    "cart.blocked": ("Fix the flagged lines to check out.", "请先处理标出的商品再结算。"),
    "cart.not_placed": ("The order was not placed: see the flagged lines.", "订单未提交：请查看标出的商品。"),
    "cart.stale": ("This cart page is out of date: check the cart and check out again.",
                   "购物车页面已过期：请核对后重新结算。"),
    "cart.placing": ("This checkout is still being placed: see your orders in a moment.",
                     "该订单仍在提交中：请稍后查看您的订单。"),
    "pay.now_whole": ("Paid now: {amount}, the whole price", "现在支付：{amount}（全款）"),
    "pay.now_deposit": ("Paid now: the deposit, {amount}", "现在支付：定金 {amount}"),
    "pay.later_balance": ("Paid later: the balance, {amount}, {when}", "稍后支付：尾款 {amount}，{when}"),
    "cart.placed_presale": ("Order {id} is placed: {total}. Pay the deposit, {deposit}, within {minutes} "
                            "minutes to hold it; the balance, {balance}, is paid {when}.",
                            "订单 {id} 已提交：{total}。请在 {minutes} 分钟内支付定金 {deposit} 以锁定商品；"
                            "尾款 {balance} 于 {when} 支付。"),
    "cart.placed": ("Order {id} is placed: {total}. Pay within {minutes} minutes to keep it.",
                    "订单 {id} 已提交：{total}。请在 {minutes} 分钟内付款。"),
    # sign-in
    "login.title": ("Sign in", "登录"),
    "login.email": ("Email", "邮箱"),
    "login.password": ("Password", "密码"),
    "login.submit": ("Sign in", "登录"),
    "login.failed": ("That email and password do not match an account.", "邮箱与密码不匹配。"),
    # errors
    "error.401": ("Please sign in", "请先登录"),
    "error.403": ("Not allowed", "无权访问"),
    "error.404": ("Not found", "未找到"),
    "error.409": ("That clashes with what is there", "操作冲突"),
    "error.422": ("Please check your request", "请检查您的请求"),
    "error.other": ("Something went wrong", "出错了"),
    "error.back": ("Back to the festival", "返回狂欢节首页"),
    "error.http.404": ("There is no page at this address.", "此网址没有页面。"),
    "error.http.405": ("This address does not take that kind of request.", "此网址不接受这种请求。"),
    "error.malformed": ("The address has a malformed value.", "网址中有格式不正确的值。"),
}

for area in (account, orders, deals, seller, desk, control, problems, live, live_room, local, screen):
    twice = STRINGS.keys() & area.WORDS.keys()
    if twice:
        raise RuntimeError(f"words defined twice: {sorted(twice)}")
    STRINGS.update(area.WORDS)


@dataclass(frozen=True)
class Translator:
    """The UI strings of one language; a missing key shows itself so it is noticed, not hidden."""

    lang: str

    def __call__(self, key: str, **values: object) -> str:
        pair = STRINGS.get(key)
        if pair is None:
            return key.format(**values) if values else key
        text = pair[LANGUAGES.index(self.lang)]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in STRINGS

    @property
    def locale(self) -> str:
        return LOCALES[self.lang]


def pick(english: str, chinese: str | None, lang: str) -> str:
    """A catalog name in the viewer's language: the *_zh field for Chinese when it is set."""
    return chinese if lang == "zh" and chinese else english


def language_or_none(value: str | None) -> str | None:
    cleaned = (value or "").strip().lower()
    return cleaned if cleaned in LANGUAGES else None
