"""`shopfest bench catalog`: load a festival-sized catalog, then time the storefront search.

The baseline, measured in the same run on the same data, is the search a plain table scan gives
(`LIKE '%word%'` on the titles, same filters, same paging): what a shop without a full-text index
does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from shopfest.bench.measure import Latency
from shopfest.catalog import service as catalog
from shopfest.catalog.model import BrandTier, Fulfilment, ProductQuery, search_tokens
from shopfest.catalog.store import products
from shopfest.core.money import Money
from shopfest.demo import ADJECTIVES, SHELVES, brand_name, seed
from shopfest.runtime import Runtime


@dataclass
class BackendResult:
    backend: str
    brands: int
    products: int
    load_seconds: float
    rows_per_second: float
    search: Latency
    by_kind: dict[str, Latency]
    baseline_scan: Latency
    baseline_queries: int
    p99_speedup: float
    results_agree: bool
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Search:
    kind: str
    params: dict[str, Any]


def searches(count: int, *, brands: int, categories: dict[str, int], seed_: int) -> list[Search]:
    """A deterministic mix of what shoppers type and filter on."""
    rng = random.Random(seed_)
    nouns = [noun for s in SHELVES for noun in s.nouns]
    leaf_shelves = [s.slug for s in SHELVES if s.nouns]
    parents = [s.slug for s in SHELVES if not s.nouns]
    makers: list[Callable[[], Search]] = [
        lambda: Search("common word", {"q": rng.choice(ADJECTIVES)[0]}),
        lambda: Search("two words", {"q": f"{rng.choice(ADJECTIVES)[0]} {rng.choice(nouns)[0]}"}),
        lambda: Search("brand name", {"q": brand_name(rng.randrange(brands))[0].split()[0]}),
        lambda: Search("chinese", {"q": rng.choice(nouns)[1]}),
        lambda: Search("prefix", {"q": rng.choice(ADJECTIVES)[0][:3]}),
        lambda: Search("word + category", {"q": rng.choice(ADJECTIVES)[0],
                                           "category": rng.choice(leaf_shelves)}),
        lambda: Search("parent category", {"category": rng.choice(parents)}),
        lambda: Search("luxury pavilion", {"tier": "luxury"}),
        lambda: Search("word + luxury", {"q": rng.choice(ADJECTIVES)[0], "tier": "luxury"}),
        lambda: Search("deposit vouchers", {"fulfilment": "deposit_voucher"}),
        lambda: Search("new this festival", {"new": True, "q": rng.choice(nouns)[0]}),
        lambda: Search("price range", {"q": rng.choice(ADJECTIVES)[0], "min_price": "100.00",
                                       "max_price": "500.00"}),
        lambda: Search("page 3", {"q": rng.choice(ADJECTIVES)[0], "pages": 3}),
    ]
    return [makers[i % len(makers)]() for i in range(count)]


def run_query(runtime: Runtime, search: Search, categories: dict[str, frozenset[int]],
              festival_start: Any, *, naive: bool = False) -> tuple[list[int], float]:
    """One search as the API runs it, page after page: the last page's ids and its request's time
    (a shopper on page 3 waits for one request; the pages before it only set the cursor)."""
    params = dict(search.params)
    pages, after, ids, seconds = params.pop("pages", 1), None, [], 0.0
    for _ in range(pages):
        began = time.perf_counter()
        query = ProductQuery(
            words=tuple(search_tokens(params.get("q", ""))),
            category_ids=categories[params["category"]] if "category" in params else None,
            tier=BrandTier(params["tier"]) if "tier" in params else None,
            fulfilment=Fulfilment(params["fulfilment"]) if "fulfilment" in params else None,
            debuted_between=(festival_start, runtime.clock.now()) if params.get("new") else None,
            min_price=Money.parse(params["min_price"], "CNY") if "min_price" in params else None,
            max_price=Money.parse(params["max_price"], "CNY") if "max_price" in params else None,
            after_id=after, limit=20,
        )
        page = _naive_search(runtime, query) if naive else catalog.search_products(
            runtime.uow(read_only=True), query)
        ids, after = [p.id or 0 for p in page.items], page.next_after_id
        seconds = time.perf_counter() - began
        if after is None:
            break
    return ids, seconds


def _naive_search(runtime: Runtime, query: ProductQuery) -> Any:
    """The baseline: every word as a LIKE over the titles, the same filters and order."""
    from shopfest.catalog.model import Page
    from shopfest.catalog.search import filters
    from shopfest.catalog.store import CatalogStore

    conditions = filters(query)
    for word in query.words:
        pattern = f"%{word}%"
        conditions.append(or_(products.c.title.ilike(pattern), products.c.title_zh.like(pattern),
                              products.c.search_text.like(pattern)))
    statement = (select(products.c.id).where(*conditions).order_by(products.c.id.desc())
                 .limit(query.limit + 1))
    uow = runtime.uow(read_only=True)
    with uow:
        ids = list(uow.conn.scalars(statement))
        more = len(ids) > query.limit
        ids = ids[: query.limit]
        return Page(CatalogStore(uow.conn).products_by_id(ids), ids[-1] if more else None)


def bench_backend(runtime: Runtime, backend: str, *, brands: int, product_count: int,
                  queries: int, baseline_queries: int,
                  progress: Callable[[str, int], None], total: Callable[[str, int], None],
                  ) -> BackendResult:
    total("brands", brands)
    total("merchants", brands // 3 + 1)
    total("products", product_count)
    started = time.perf_counter()
    festival = seed(runtime, brands=brands, products=product_count, seed=11,
                    progress=progress)
    load_seconds = time.perf_counter() - started
    uow = runtime.uow(read_only=True)
    slugs = {c.slug: c.id or 0 for c in catalog.all_categories(uow)}
    under = {slug: catalog.category_ids_under(runtime.uow(read_only=True), slug) for slug in slugs}
    mix = searches(queries, brands=brands, categories=slugs, seed_=7)
    for search in mix[:20]:  # warm the caches the way a running server's are warm
        run_query(runtime, search, under, festival.starts_at)
    timings: dict[str, list[float]] = {}
    total("search", len(mix))
    for search in mix:
        _, seconds = run_query(runtime, search, under, festival.starts_at)
        timings.setdefault(search.kind, []).append(seconds)
        progress("search", 1)
    baseline, agree = [], True
    sample = mix[: baseline_queries]
    total("baseline", len(sample))
    for search in sample:
        naive_ids, seconds = run_query(runtime, search, under, festival.starts_at, naive=True)
        baseline.append(seconds)
        progress("baseline", 1)
        if not search.params.get("q"):  # filters alone: both designs must find the same page
            agree = agree and naive_ids == run_query(runtime, search, under, festival.starts_at)[0]
    every = [t for kind in timings.values() for t in kind]
    search_latency, baseline_latency = Latency.of(every), Latency.of(baseline)
    rows = brands + product_count * 2  # products, and about as many SKUs and stock rows
    return BackendResult(
        backend=backend, brands=brands, products=product_count,
        load_seconds=round(load_seconds, 1), rows_per_second=round(rows / load_seconds),
        search=search_latency, by_kind={k: Latency.of(v) for k, v in timings.items()},
        baseline_scan=baseline_latency, baseline_queries=len(sample),
        p99_speedup=round(baseline_latency.p99_ms / max(search_latency.p99_ms, 1e-6), 1),
        results_agree=agree,
    )
