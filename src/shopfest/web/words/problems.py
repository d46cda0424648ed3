"""Words of domain errors by code (problem.<code>), with the error's data as parameters, so pages translate
them."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
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
}
