"""Words of domain errors by code (problem.<code>), with the error's data as parameters, so pages translate
them."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "problem.outside-the-sale": ("A promotion runs within one sale of the festival: choose a window inside "
                                 "one of the sales.",
                                 "满减活动须在狂欢节的某一开售期内：请选择在某一开售期内的时间。"),
    "problem.outside-the-festival": ("A coupon runs within the festival: choose a window inside it.",
                                     "优惠券须在狂欢节期间内：请选择狂欢节期间内的时间。"),
}
