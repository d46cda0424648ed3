"""Words of domain errors by code (problem.<code>), with the error's data as parameters, so pages translate
them."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
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
