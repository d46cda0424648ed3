"""Words of the big screen."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "screen.title": ("Festival live", "狂欢节实时大屏"),
    "screen.gmv": ("Gross merchandise value", "成交总额"),
    "screen.orders": ("Orders", "订单数"),
    "screen.shoppers": ("Paying shoppers", "付款买家"),
    "screen.per_second": ("Orders a second", "每秒订单"),
    "screen.peak": ("Peak", "峰值"),
    "screen.line": ("Orders a second, last 5 minutes", "最近 5 分钟每秒订单"),
    "screen.no_line": ("The line appears once sales come in.", "有成交后显示曲线。"),
    "screen.countries": ("By shopper country", "按买家国家/地区"),
    "screen.brands": ("Top brands", "热销品牌"),
    "screen.categories": ("Top categories", "热销品类"),
    "screen.none_yet": ("No sales yet", "暂无成交"),
    "screen.luxury": ("Luxury pavilion", "奢品馆"),
    "screen.debuts": ("New-product debuts", "新品首发"),
    "screen.live": ("Livestream sales", "直播成交"),
    "screen.local": ("Local, in shops", "本地生活（到店）"),
    # Counts read "label: n", so that 1 and 5 read alike without plural rules on the page's script.
    "screen.orders_n": ("orders: {n}", "{n} 单"),
    "screen.units_n": ("units: {n}", "{n} 件"),
    "screen.local_n": ("payments: {payments} · vouchers redeemed: {redemptions}",
                       "{payments} 笔到店付款 · {redemptions} 张券核销"),
    "screen.live_state": ("Live", "实时"),
    "screen.reconnecting": ("Reconnecting…", "重新连接中…"),
    "screen.shared": ("Shared read-only view", "只读分享视图"),
    "screen.share": ("Share a read-only link", "分享只读链接"),
    "screen.share_rule": ("Anyone holding the link watches this screen for 7 days, without signing in, "
                          "until you revoke it.",
                          "持有链接者无需登录即可观看本大屏 7 天，撤销后失效。"),
    "screen.made": ("Copy this link now: it is shown only once.", "请立即复制此链接：它只显示这一次。"),
}
