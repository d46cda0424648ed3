"""Who is looking: the language and currency they chose, kept in cookies, and how they read things."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_datetime
from fastapi import Request, Response

from shopfest.accounts.model import Profile
from shopfest.core.clock import local
from shopfest.core.money import Money
from shopfest.web import prices
from shopfest.web.i18n import DEFAULT_LANGUAGE, HTML_LANG, Translator, language_or_none, pick

LANG_COOKIE = "shopfest_lang"
CURRENCY_COOKIE = "shopfest_currency"
CHOICE_MAX_AGE = 365 * 24 * 3600  # a preference, not a secret: kept for a year
TIME_PATTERNS = {"en": "MMM d, y, HH:mm", "zh": "y年M月d日 HH:mm"}


@dataclass(frozen=True)
class Viewer:
    lang: str
    currency: str
    chosen: tuple[tuple[str, str], ...] = ()  # (cookie, value) the query string just set

    @property
    def t(self) -> Translator:
        return Translator(self.lang)

    @property
    def locale(self) -> str:
        return self.t.locale

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]

    def name(self, english: str, chinese: str | None) -> str:
        return pick(english, chinese, self.lang)

    def money(self, money: Money) -> str:
        return prices.format_money(money, self.locale)

    def approx(self, money: Money) -> str | None:
        return prices.approximately(money, currency=self.currency, locale=self.locale)

    def count(self, count: int) -> str:
        return prices.format_count(count, self.locale)

    def wall(self, instant: datetime, zone_name: str) -> str:
        """An instant on the wall clocks of `zone_name`, without naming the zone."""
        return format_datetime(local(instant, zone_name), TIME_PATTERNS[self.lang], locale=self.locale)

    def when(self, instant: datetime, zone_name: str) -> str:
        """An instant on the festival's wall clocks, with the zone named so nobody guesses."""
        return self.t("time.in_zone", time=self.wall(instant, zone_name), zone=zone_name)

    def span(self, start: datetime, end: datetime, zone_name: str) -> str:
        """From `start` to `end` on the wall clocks of `zone_name`, the zone named once."""
        text = f"{self.wall(start, zone_name)} – {self.wall(end, zone_name)}"
        return self.t("time.in_zone", time=text, zone=zone_name)


def viewer_of(request: Request) -> Viewer:
    """The query string's ?lang= and ?currency= win, then the cookies, then the browser's language."""
    lang_asked = language_or_none(request.query_params.get("lang"))
    currency_asked = prices.currency_or_none(request.query_params.get("currency"))
    lang = (lang_asked or language_or_none(request.cookies.get(LANG_COOKIE))
            or _browser_language(request) or DEFAULT_LANGUAGE)
    currency = (currency_asked or prices.currency_or_none(request.cookies.get(CURRENCY_COOKIE))
                or prices.HOME_CURRENCY)
    chosen = tuple((cookie, value) for cookie, value in
                   ((LANG_COOKIE, lang_asked), (CURRENCY_COOKIE, currency_asked)) if value)
    return Viewer(lang, currency, chosen)


def _browser_language(request: Request) -> str | None:
    first = request.headers.get("accept-language", "").split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else None


def remember_choices(response: Response, viewer: Viewer) -> None:
    for cookie, value in viewer.chosen:
        response.set_cookie(cookie, value, max_age=CHOICE_MAX_AGE, samesite="lax", path="/")


def follow_profile(response: Response, profile: Profile) -> None:
    """The pages follow the account's language and currency: the viewer's cookies are set to them
    (on signing in, and when the account's settings change)."""
    if language_or_none(profile.language):
        response.set_cookie(LANG_COOKIE, profile.language, max_age=CHOICE_MAX_AGE, samesite="lax", path="/")
    if prices.currency_or_none(profile.currency):
        response.set_cookie(CURRENCY_COOKIE, profile.currency, max_age=CHOICE_MAX_AGE, samesite="lax",
                            path="/")
