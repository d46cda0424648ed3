"""Words of domain errors by code (problem.<code>), with the error's data as parameters, so pages translate
them. `{detail}` is the error's own English sentence: the general codes (invalid-input, conflict, ...) are
raised with many different reasons, which English keeps and Chinese says in general."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    # core
    "problem.domain-error": ("{detail}", "操作未能完成，请稍后重试。"),
    "problem.not-found": ("{detail}", "找不到您要的内容。"),
    "problem.conflict": ("{detail}", "与当前状态冲突：请刷新页面后重试。"),
    "problem.invalid-input": ("{detail}", "输入的内容有误，请检查。"),
    "problem.unauthenticated": ("Please sign in first.", "请先登录。"),
    "problem.forbidden": ("This account is not allowed to do that.", "此账户无权执行该操作。"),
    "problem.unknown-currency": (
        "ShopFest does not accept the currency {currency}.",
        "ShopFest 不支持币种 {currency}。"),
    "problem.invalid-amount": ("{detail}", "金额无效：请填写如 199.00 的数字。"),
    "problem.currency-mismatch": ("{detail}", "金额的币种不一致。"),
    "problem.rate-limited": (
        "Too many requests: try again in {retry_after} s.",
        "请求过于频繁：请 {retry_after} 秒后重试。"),
    "problem.sign-in-locked": (
        "Too many wrong passwords: sign-in is locked; try again in {retry_after} s.",
        "密码错误次数过多，登录已锁定：请 {retry_after} 秒后重试。"),
    "problem.busy": ("The server is busy: try again in a moment.", "服务器繁忙：请稍后重试。"),
    "problem.stock-counters-behind": (
        "Stock is being recounted: try again in a moment.", "库存正在重新核对：请稍后重试。"),
    "problem.malformed-body": ("The request could not be read.", "无法读取请求内容。"),
    "problem.unstorable-text": (
        "The text holds a character that cannot be stored: remove it and try again.",
        "文本中含有无法保存的字符：请删除后重试。"),
    "problem.cross-site-form": (
        "This form has expired or came from another site: reload the page and try again.",
        "表单已过期或来自其他网站：请刷新页面后重试。"),
    # accounts
    "problem.email-taken": ("An account with this email exists already.", "该邮箱已注册过账户。"),
    "problem.common-password": (
        "This password is one of the most commonly used, so it is guessed first: choose another.",
        "该密码过于常见，容易被猜中：请换一个。"),
    "problem.bad-credentials": ("That email and password do not match an account.", "邮箱与密码不匹配。"),
    "problem.token-expired": ("Your sign-in has expired: sign in again.", "登录已过期：请重新登录。"),
    "problem.verification-failed": (
        "This verification link is not valid or has expired: sign in and ask for a new one.",
        "该验证链接无效或已过期：请登录后重新获取。"),
    # catalog
    "problem.brand-not-approved": (
        "This luxury brand awaits an operator's approval.",
        "该奢品品牌尚待运营审核。"),
    "problem.brand-not-sold": ("This merchant does not sell that brand.", "该商家未经营此品牌。"),
    # inventory
    "problem.sold-out": ("Sold out: fewer units are left than asked for.", "已售罄：剩余数量不足。"),
    "problem.limit-exceeded": (
        "You have bought as many as the flash sale allows each shopper.",
        "您已买满秒杀每人限购数量。"),
    "problem.too-many-unpaid": (
        "You hold too many unpaid units of this item (at most {limit}): pay or cancel an order first.",
        "该商品未付款件数过多（最多 {limit} 件）：请先付款或取消订单。"),
    "problem.account-not-verified": (
        "This flash sale sells to verified accounts only: verify your email first.",
        "此秒杀仅限已验证的账户：请先验证邮箱。"),
    "problem.account-too-new": (
        "This flash sale sells to accounts at least {hours} hours old.",
        "此秒杀仅限注册满 {hours} 小时的账户。"),
    # promotions
    "problem.too-many-coupons": (
        "Too many coupons to choose among: offer fewer.",
        "可选优惠券过多：请减少。"),
    "problem.coupons-gone": ("Every coupon of this kind has been claimed.", "该优惠券已被领完。"),
    "problem.claim-limit-reached": (
        "You hold as many of this coupon as allowed ({limit} per shopper).",
        "您已领满该优惠券（每人限领 {limit} 张）。"),
    "problem.coupon-expired": ("The time to claim this coupon is over.", "该优惠券的领取时间已过。"),
    "problem.coupon-unavailable": (
        "The coupon is not in your wallet, or another order holds it.",
        "该优惠券不在您的卡券包中，或已被其他订单占用。"),
    # orders
    "problem.illegal-transition": (
        "This order cannot do that now: it is {status}.",
        "订单当前状态不允许此操作。"),
    "problem.outside-balance-window": (
        "A pre-sale balance is paid only in its balance window.",
        "预售尾款只能在尾款支付时段内支付。"),
    "problem.refund-too-large": (
        "That is more than is left to refund of this item.",
        "超出该商品可退款的数量。"),
    "problem.shipped-goods-come-back-by-return": (
        "This part has shipped: ask for a return instead.",
        "该商品已发货：请申请退货。"),
    "problem.return-not-shipped": (
        "This item has not shipped yet: ask for a refund instead.",
        "该商品尚未发货：请直接申请退款。"),
    "problem.return-too-large": ("That is more units than may be returned.", "退货数量超出可退数量。"),
    "problem.return-decided": ("This return was decided already.", "该退货申请已处理。"),
    "problem.order-expired": (
        "This order was not paid in time and has expired.",
        "该订单未按时付款，已失效。"),
    "problem.payment-in-flight": (
        "A payment of this order is being processed: try again once it is settled.",
        "该订单有一笔付款正在处理中：请稍后再试。"),
    # payments
    "problem.illegal-payment-transition": (
        "This payment cannot do that now.",
        "该付款当前状态不允许此操作。"),
    "problem.refund-exceeds-payment": ("That is more than is left to refund.", "超出可退款金额。"),
    "problem.already-paid": ("This is paid already.", "已付款。"),
    "problem.payment-declined": (
        "The payment was declined: try again or choose another way to pay.",
        "付款被拒绝：请重试或换一种支付方式。"),
    "problem.payment-amount-changed": (
        "This payment was opened for another amount: reload and pay again.",
        "付款金额已变化：请刷新后重新支付。"),
    "problem.refund-key-reused": ("This refund was made already.", "该退款已办理。"),
    "problem.idempotency-key-in-use": (
        "This request is still being processed: look again in a moment.",
        "该请求仍在处理中：请稍后查看。"),
    "problem.idempotency-key-reused": (
        "This form was sent before with other contents: reload the page and try again.",
        "该表单曾以其他内容提交：请刷新页面后重试。"),
    "problem.bad-signature": ("The webhook signature does not check out.", "Webhook 签名校验失败。"),
    "problem.outside-the-sale": ("A promotion runs within one sale of the festival: choose a window inside "
                                 "one of the sales.",
                                 "满减活动须在狂欢节的某一开售期内：请选择在某一开售期内的时间。"),
    "problem.outside-the-festival": ("A coupon runs within the festival: choose a window inside it.",
                                     "优惠券须在狂欢节期间内：请选择狂欢节期间内的时间。"),
    # the seller centre's pictures and stock (helper E)
    "problem.image-not-allowed": ("The file is not a JPEG, PNG or WebP picture",
                                  "文件不是 JPEG、PNG 或 WebP 图片"),
    "problem.image-too-heavy": ("The picture is over {most_mb} MB", "图片超过 {most_mb} MB"),
    "problem.image-too-small": ("The picture is {width}×{height}; it needs {least}×{least} pixels at least",
                                "图片为 {width}×{height}，至少需要 {least}×{least} 像素"),
    "problem.image-too-large": ("The picture is larger than {most}×{most} pixels",
                                "图片超过 {most}×{most} 像素"),
    "problem.count-below-held": ("{reserved} units are reserved and {sold} sold: count {least} or more",
                                 "已预留 {reserved} 件、已售 {sold} 件：盘点数量至少为 {least}"),
    # the shopper's account and addresses (helper B)
    "problem.bad-address": ("{detail}", "收货地址有一项需要修改，请检查标出的字段。"),
    "problem.address-needed": ("The cart holds goods to ship: choose the address they go to.",
                               "购物车中有需要寄送的商品：请选择收货地址。"),
    "problem.address-book-full": ("An address book holds {most} addresses; delete one first.",
                                  "地址簿最多保存 {most} 个地址：请先删除一个。"),
    "problem.wrong-password": ("The current password is wrong.", "当前密码不正确。"),
    "problem.part-not-receivable": (
        "Only a part that was shipped, and is not completed or refunded, can be confirmed as received.",
        "只有已发货且未完成、未退款的包裹才能确认收货。"),
    "problem.part-already-received": ("You confirmed receiving this part already.",
                                      "这个包裹已经确认收货了。"),
    # live rooms (issue 18); the room's page shows these for its error frames too
    "problem.room-closed": ("This live event has ended.", "本场直播已结束。"),
    "problem.not-allowed": ("Your role in this room may not do that.", "你在本直播间的身份不能进行此操作。"),
    "problem.chat-refused": ("That message cannot be posted.", "这条消息无法发送。"),
    "problem.message-too-long": ("A message has at most {max_chars} characters.",
                                 "消息最多 {max_chars} 个字符。"),
    "problem.banned-words": ("The message holds a word this room does not allow.",
                             "消息含有本直播间不允许的词语。"),
    "problem.slow-down": ("Slow down: wait a moment before your next message.", "发言太快了：请稍候再发。"),
    "problem.muted": ("A moderator muted you in this room for now.", "你已被房管暂时禁言。"),
    "problem.banned": ("A moderator banned you from this room.", "你已被房管移出本直播间。"),
    # the live room's own refusals of a frame (the room page shows them in words)
    "problem.malformed-frame": ("The room could not read that: reload the page.",
                                "直播间无法读取该请求：请刷新页面。"),
    "problem.frame-too-large": ("That was too long to send.", "内容过长，无法发送。"),
    "problem.unknown-type": ("The room does not know that action: reload the page.",
                             "直播间不支持该操作：请刷新页面。"),
    "problem.flood": ("Too many actions at once: slow down.", "操作过于频繁：请慢一点。"),
    "problem.internal-error": ("That did not work on our side: try again.", "我们这边出了点问题：请重试。"),
    # in-store QR pay (issue 19)
    "problem.bad-pay-amount": ("Type an amount more than nothing, at most 100,000, in the shop's currency.",
                               "请输入大于零、不超过 100,000 的金额（以店铺的币种计）。"),
    "problem.in-store-payment-closed": ("This payment failed or waited too long: start a new one.",
                                        "该笔付款已失败或等待过久：请重新发起付款。"),
    # vouchers redeemed in the shop (local/vouchers.py)
    "problem.bad-voucher-code": ("This is not a voucher code of the festival: scan it again or type it.",
                                 "这不是本活动的券码：请重新扫码或手动输入。"),
    "problem.voucher-already-redeemed": ("This voucher was redeemed at {shop_name} at {redeemed_at}.",
                                         "该券已于 {redeemed_at} 在 {shop_name} 核销。"),
    "problem.voucher-void": ("This voucher was refunded and can no longer be used.",
                             "该券已退款，无法使用。"),
    "problem.voucher-expired": ("This voucher is outside its validity.", "该券不在有效期内。"),
    "problem.undo-too-late": ("A redemption can be undone only within 15 minutes.",
                              "核销只能在 15 分钟内撤销。"),
    "problem.vouchers-redeemed": ("Redeemed vouchers cannot be refunded.", "已核销的券不能退款。"),
    # local services (issue 19): shops, deals, the nearby search
    "problem.unknown-city": ("{detail}", "找不到这个城市。"),
    "problem.unknown-shop": ("No such shop.", "找不到这家店铺。"),
    "problem.deal-exists": ("This product is a local deal already.", "该商品已是本地优惠。"),
    "problem.bad-place": ("{detail}", "位置无效：纬度为 -90 到 90 度，经度为 -180 到 180 度。"),
    "problem.bad-radius": ("{detail}", "搜索范围须大于 0 米且不超过 100 公里。"),
    "problem.bad-hours": ("{detail}", "营业时间无法识别：请按 09:00-21:00 的格式填写。"),
    "problem.bad-kind": ("{detail}", "类型无效：请从列表中选择。"),
    "problem.no-place": ("Choose a place or a city to search from.", "请选择位置或城市后再搜索。"),
    "problem.bad-cursor": ("{detail}", "翻页参数无效：请从第一页重新开始。"),
    "problem.not-a-local-merchant": ("Only local and offline merchants have shops.",
                                     "只有本地商家和线下商家可以开设门店。"),
    "problem.not-a-voucher": ("{detail}", "本地优惠须为服务券或定金券商品。"),
    # a store failing under the server (shopfest/outages.py)
    "problem.unavailable": ("The service is briefly unavailable: try again in a moment.",
                            "服务暂时不可用：请稍后重试。"),
    "problem.storage-full": ("The server's storage is full: nothing was saved; try again later.",
                             "服务器存储空间已满：本次操作未保存，请稍后重试。"),
}
