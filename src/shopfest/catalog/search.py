"""Product search on either database: SQLite through its FTS5 index (`product_search`), PostgreSQL
through the products' text search vector; every word and filter must match, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, literal_column, select, text, tuple_

from shopfest.catalog.model import Page, ProductQuery, ProductSort
from shopfest.catalog.store import CatalogStore, products

# How many of the newest products a PostgreSQL text search reads before it takes a word for rare.
NEWEST_WINDOW = 20_000


def search(conn: Connection, query: ProductQuery) -> Page:
    """Products matching every word and filter, newest id first, one page after the cursor."""
    if query.sort is not ProductSort.RELEVANCE:
        return _sorted_search(conn, query)
    if query.words and conn.dialect.name == "postgresql":
        ids = _postgres_text_search(conn, query)
    else:
        ids = list(conn.scalars(_search_statement(conn.dialect.name, query)))
    more = len(ids) > query.limit
    ids = ids[: query.limit]
    return Page(CatalogStore(conn).products_by_id(ids), ids[-1] if more else None)


def _postgres_text_search(conn: Connection, query: ProductQuery) -> list[int]:
    """PostgreSQL cannot tell a rare word from a common one before it looks: walking the
    newest-first index for a rare word reads the whole table, and gathering every match of a
    common word from the full-text index reads most of it. So look at the newest
    NEWEST_WINDOW products that pass the filters first; a common word fills a page there.
    Otherwise the word is rare, and its matches from the full-text index are few to sort."""
    page = query.limit + 1
    newest = (
        select(products.c.id, literal_column("products.search_vector").label("words"))
        .where(*filters(query)).order_by(products.c.id.desc()).limit(NEWEST_WINDOW)
        .subquery("newest")
    )
    ids = list(conn.scalars(
        select(newest.c.id).where(_postgres_match(query.words, "newest.words"))
        .order_by(newest.c.id.desc()).limit(page)
    ))
    if len(ids) == page:
        return ids
    matches = (
        select(products.c.id).where(*filters(query), _postgres_match(query.words))
        .cte("matches").prefix_with("MATERIALIZED")
    )
    return list(conn.scalars(
        select(matches.c.id).order_by(matches.c.id.desc()).limit(page)))


def _search_statement(dialect: str, query: ProductQuery) -> Any:
    conditions = filters(query)
    if query.words and dialect == "sqlite":
        # Drive the search from the full-text index, newest first, and stop at one page.
        fts_rowid: Any = literal_column("product_search.rowid")
        return (
            select(products.c.id)
            .select_from(products.join(text("product_search"), fts_rowid == products.c.id))
            .where(text("product_search MATCH :match").bindparams(match=_fts5_match(query.words)))
            .where(*conditions)
            .order_by(fts_rowid.desc())
            .limit(query.limit + 1)
        )
    if query.words:
        conditions.append(_postgres_match(query.words))
    return (
        select(products.c.id).where(*conditions)
        .order_by(products.c.id.desc()).limit(query.limit + 1)
    )


def filters(query: ProductQuery) -> list[Any]:
    """The query's filters other than its words, as conditions on the products table."""
    c = products.c
    conditions: list[Any] = []
    if query.after_id is not None:
        conditions.append(c.id < query.after_id)
    if query.category_ids is not None:
        conditions.append(c.category_id.in_(sorted(query.category_ids)))
    if query.brand_id is not None:
        conditions.append(c.brand_id == query.brand_id)
    if query.merchant_id is not None:
        conditions.append(c.merchant_id == query.merchant_id)
    if query.tier is not None:
        conditions.append(c.brand_tier == query.tier.value)
    if query.fulfilment is not None:
        conditions.append(c.fulfilment == query.fulfilment.value)
    if query.debuted_between is not None:
        since, until = query.debuted_between
        conditions.append(and_(c.debut_at >= since, c.debut_at <= until))
    if query.price_currency is not None:
        conditions.append(c.currency == query.price_currency)
    if query.min_price is not None:
        conditions.append(c.price_minor >= query.min_price.minor)
    if query.max_price is not None:
        conditions.append(c.price_minor <= query.max_price.minor)
    return conditions


def _postgres_match(words: Sequence[str], vector: str = "products.search_vector") -> Any:
    return text(f"{vector} @@ to_tsquery('simple', :tsq)").bindparams(
        bindparam("tsq", _tsquery(words)))


def _fts5_match(words: Sequence[str]) -> str:
    """Every word must be there; the last may be the start of a word (search as you type)."""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def _tsquery(words: Sequence[str]) -> str:
    quoted = ["'" + w.replace("'", "''").replace("\\", "\\\\") + "'" for w in words]
    quoted[-1] += ":*"
    return " & ".join(quoted)


# --- sorted by debut or price, and counted ---------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sorted_search(conn: Connection, query: ProductQuery) -> Page:
    """One page in the order asked for, after the cursor (the last product's sort value and id);
    the indexes on (debut_at, id) and (price_minor, id) serve the order and the cursor."""
    column = products.c.debut_at if query.sort is ProductSort.NEWEST else products.c.price_minor
    descending = query.sort in (ProductSort.NEWEST, ProductSort.PRICE_DOWN)
    statement = _matching(conn.dialect.name, replace(query, after_id=None), select(products.c.id, column))
    if query.after_id is not None and query.after_key is not None:
        after = tuple_(column, products.c.id)
        mark = tuple_(_key_value(query.sort, query.after_key), query.after_id)
        statement = statement.where(after < mark if descending else after > mark)
    order = (column.desc(), products.c.id.desc()) if descending else (column.asc(), products.c.id.asc())
    rows = conn.execute(statement.order_by(*order).limit(query.limit + 1)).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    last = rows[-1] if more else None
    return Page(CatalogStore(conn).products_by_id([r[0] for r in rows]),
                last[0] if last else None, _key_of(last[1]) if last else None)


def _matching(dialect: str, query: ProductQuery, statement: Any) -> Any:
    """`statement` over the products matching the query's words and filters."""
    statement = statement.where(*filters(query))
    if query.words and dialect == "sqlite":
        fts_rowid: Any = literal_column("product_search.rowid")
        return (statement.select_from(products.join(text("product_search"), fts_rowid == products.c.id))
                .where(text("product_search MATCH :match").bindparams(match=_fts5_match(query.words))))
    return statement.where(_postgres_match(query.words)) if query.words else statement


def _key_value(sort: ProductSort, key: int) -> Any:
    return EPOCH + timedelta(microseconds=key) if sort is ProductSort.NEWEST else key


def _key_of(value: int | datetime) -> int:
    if isinstance(value, datetime):
        return (value - EPOCH) // timedelta(microseconds=1)
    return int(value)


def count(conn: Connection, query: ProductQuery, *, at_most: int) -> int:
    """How many products match the query's words and filters (the cursor aside), counting no
    further than `at_most`: a common word on a big catalog is not worth reading to the end."""
    whole = replace(query, after_id=None, after_key=None)
    found = _matching(conn.dialect.name, whole, select(products.c.id)).limit(at_most).subquery()
    return int(conn.scalar(select(func.count()).select_from(found)) or 0)
