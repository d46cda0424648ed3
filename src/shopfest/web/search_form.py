"""The storefront search form: the query string as typed, and the catalog search it asks for."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from shopfest.catalog import service as catalog
from shopfest.catalog.model import BrandTier, Category, Fulfilment, ProductQuery, ProductSort
from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money
from shopfest.runtime import Runtime
from shopfest.web.prices import HOME_CURRENCY

PAGE_SIZE = 20
MAX_QUERY = 200
# The pages before this one, kept in the address so "previous page" needs no state on the server:
# their cursors, FIRST_PAGE for the first, at most BACK_PAGES of them (older ones fall off).
FIRST_PAGE = "_"
BACK_PAGES = 20
_CURSOR_TEXT = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")
TRUE_WORDS = ("1", "on", "true", "yes")
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class SearchForm:
    """What the shopper typed; an empty box or an untouched select is absent, not an error."""

    q: str | None = None
    category: str | None = None
    tier: str | None = None
    fulfilment: str | None = None
    new: str | None = None
    min_price: str | None = None
    max_price: str | None = None
    sort: str | None = None
    cursor: str | None = None
    back: str | None = None  # the cursors of the pages before, oldest first (see FIRST_PAGE)

    @classmethod
    def of(cls, params: QueryParams) -> SearchForm:
        values = {name: (params.get(name) or "").strip() or None for name in cls.__dataclass_fields__}
        return cls(**values)

    @property
    def only_new(self) -> bool:
        return (self.new or "").lower() in TRUE_WORDS

    def to_query(self, runtime: Runtime, *, limit: int = PAGE_SIZE) -> ProductQuery:
        """The catalog search; price bounds are in the catalog's currency. Raises InvalidInput."""
        if self.q and len(self.q) > MAX_QUERY:
            raise InvalidInput(f"the search text is at most {MAX_QUERY} characters")
        return catalog.product_query(
            runtime.uow(read_only=True), festival_start=runtime.ports.festival_start,
            q=self.q, category=self.category, brand_id=None,
            tier=_choice(BrandTier, self.tier, "brand tier"),
            fulfilment=_choice(Fulfilment, self.fulfilment, "fulfilment"),
            new=self.only_new, min_price=_price(self.min_price), max_price=_price(self.max_price),
            cursor=self.cursor, limit=limit,
            sort=_choice(ProductSort, self.sort, "sort order") or ProductSort.RELEVANCE,
        )

    @property
    def pages_before(self) -> list[str]:
        """The cursors of the pages before this one; a tampered list is forgotten, not an error."""
        if not self.cursor or not self.back:
            return []
        stack = self.back.split(",")
        return stack if all(_CURSOR_TEXT.match(c) for c in stack) else []

    def previous_url(self) -> str | None:
        """The page before this one, with the pages before that; None on the first page."""
        stack = self.pages_before
        if not self.cursor:
            return None
        if not stack or stack[-1] == FIRST_PAGE:
            return self.url(cursor=None, back=None)
        return self.url(cursor=stack[-1], back=",".join(stack[:-1]) or None)

    def next_url(self, cursor: str) -> str:
        """The page after this one, which remembers this one to come back to."""
        stack = [*self.pages_before, self.cursor or FIRST_PAGE][-BACK_PAGES:]
        return self.url(cursor=cursor, back=",".join(stack))

    def url(self, **changes: str | None) -> str:
        """/search with this form's values (and `changes`), leaving out the empty ones."""
        values = {k: v for k, v in asdict(replace(self, **changes)).items() if v}
        return "/search?" + urlencode(values) if values else "/search"


def _price(typed: str | None) -> Money | None:
    # A shopper types "100" or "99.5" in the box: the page reads it as they meant it.
    return Money.parse(typed, HOME_CURRENCY) if typed else None


def _choice(kind: type[E], value: str | None, what: str) -> E | None:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidInput(f"{value!r} is not a {what}; use one of {allowed}") from None


def category_tree(categories: list[Category]) -> list[tuple[Category, int]]:
    """Categories in tree order with their depth, so a select can indent the children."""
    children: dict[int | None, list[Category]] = {}
    for c in categories:
        children.setdefault(c.parent_id, []).append(c)
    ordered: list[tuple[Category, int]] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for category in children.get(parent_id, []):
            ordered.append((category, depth))
            if category.id is not None and depth < 10:  # a cycle in bad data must not hang a page
                walk(category.id, depth + 1)

    walk(None, 0)
    return ordered


def category_groups(categories: list[Category]) -> list[tuple[Category, list[Category]]]:
    """Each top-level category with everything below it, for the home page's category list."""
    groups: list[tuple[Category, list[Category]]] = []
    for category, depth in category_tree(categories):
        if depth == 0:
            groups.append((category, []))
        elif groups:
            groups[-1][1].append(category)
    return groups
