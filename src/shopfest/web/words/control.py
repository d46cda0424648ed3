"""Words of the festival control room: calendar, brands, merchants, categories, campaigns, overview."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "control.nav.overview": ("Overview", "总览"),
    "control.nav.calendar": ("Festival calendar", "狂欢节日程"),
    "control.nav.brands": ("Brands", "品牌"),
    "control.nav.merchants": ("Merchants and staff", "商家与员工"),
    "control.nav.categories": ("Categories", "类目"),
    "control.nav.campaigns": ("Platform campaigns", "平台活动"),
}
