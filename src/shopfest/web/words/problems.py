"""Words of domain errors by code (problem.<code>), with the error's data as parameters, so pages translate
them."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "problem.part-not-receivable": (
        "Only a part that was shipped, and is not completed or refunded, can be confirmed as received.",
        "只有已发货且未完成、未退款的包裹才能确认收货。"),
    "problem.part-already-received": ("You confirmed receiving this part already.",
                                      "这个包裹已经确认收货了。"),
}
