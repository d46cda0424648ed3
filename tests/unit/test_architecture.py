"""The rooms stay as DESIGN.md draws them: the arrows of its "Capabilities" table are the only imports
between contexts, models stay pure, no room reads another's tables, and pages never call routes."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "shopfest"

# DESIGN.md, "Capabilities": each context and the contexts it depends on (core is everyone's).
ROOMS: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "accounts": frozenset({"core"}),
    "catalog": frozenset({"core"}),
    "festival": frozenset({"core", "catalog"}),
    "inventory": frozenset({"core", "catalog"}),
    "promotions": frozenset({"core", "catalog", "festival"}),
    "orders": frozenset({"core", "catalog", "inventory", "promotions", "payments"}),
    "payments": frozenset({"core"}),
    "live": frozenset({"core", "catalog", "promotions"}),
    "local": frozenset({"core", "catalog", "promotions", "payments"}),
    "insights": frozenset({"core"}),  # it reads the others' events, not their modules
}
# The pages use every context's service layer; `shopfest audit` reads every context's services to
# check the money and stock invariants over a live database. Nothing depends on audit or on web.
ROOMS["web"] = frozenset(ROOMS) - {"web"}
ROOMS["audit"] = frozenset(ROOMS) - {"web", "audit"}

# The composition layer and the edge: they wire the rooms together and may import anything.
EDGE_MODULES = frozenset({
    "__init__", "app", "cli", "deps", "problems", "schemas", "settings", "rate_limits", "body_cap",
    "text_guard", "demo", "runtime", "live_counter", "voucher_ledger", "request_watch", "logs", "scrape",
})
EDGE_MODULES |= {"outages"}  # a store failing under a request, answered (issue 20)
EDGE_MODULES |= {"sales_feed"}  # the others' facts told as the sales insights counts (issue 21)
EDGE_PACKAGES = frozenset({"bench", "migrations", "simulate"})
# Of the edge, these build the whole app; a room importing them would import every room back.
COMPOSITION_ROOTS = frozenset({"app", "cli", "demo", "bench", "migrations", "simulate"})

# Besides model.py and service.py, the modules a room's service layer is split into that other rooms
# use as they use its service; each says why. Anything else of a room is its own business.
SERVICE_SIDE: dict[str, str] = {
    "shopfest.orders.drafting": "the pure drafting of an order (PlaceOrder, buyer_of, check_lines) the "
                                "pages post carts with, as the API does",
    "shopfest.payments.idempotency": "the pure rules of the one idempotency protocol (the key, its "
                                     "fingerprint); its table and use cases are payments' store and service",
    "shopfest.inventory.hot_path": "the StockGate port (and its Run) checkout reserves through: app.py "
                                   "hands orders the SQL or Redis gate, not a service function",
    "shopfest.payments.provider": "the Provider port orders' payment use cases are handed by app.py",
    "shopfest.payments.fx": "the one table of exchange rates (pure): checkout records a rate per order "
                            "and the pages' approximate prices read the same one",
    "shopfest.promotions.offers": "pure coupon rules (CouponIssue) checkout prices with; a second model "
                                  "module of promotions, beside the model the pricing stages use",
    "shopfest.catalog.images": "the pure checks of a product picture and the ImageStorage port (local "
                               "disk ships) the seller centre uploads to and GET /media serves from",
    "shopfest.orders.checkout": "the checkout lane (PlaceOrder, Answer, IdempotencyKey, buyer_of) the "
                                "pages post a cart to, as the API does",
    "shopfest.orders.preview": "the use case that tries an offer not yet put on on a sample cart, which the "
                               "seller centre's and the control room's forms show before saving",
    # Local services' service layer is split by the hands that built it (issue 19); the pages use each
    # part as they use a service.
    "shopfest.local.cities": "the festival's cities (GeoNames, pure reads): near me's city picker",
    "shopfest.local.vouchers": "the use cases of vouchers after the sale: the wallet's signed codes and "
                               "the shop console's redeem, undo and offline upload",
    "shopfest.local.instore": "the use cases of in-store QR pay: the counter's pay page",
    "shopfest.local.pay_rules": "the pure rules of in-store pay and settlement (PayOffer, PayStatus, amounts "
                            "as typed, SettlementDay): a second model module of local",
    "shopfest.local.settlement": "the settlement use case and its CSV: the shop console's settlement page",
    "shopfest.insights.screen_links": "the use cases of the big screen's shared links, which /screen checks "
                                      "and whose button makes one",
    "shopfest.insights.merchant_service": "the merchant insights use cases: the seller centre's Insights "
                                          "page",
    "shopfest.insights.visits": "the in-memory counter of product views and add-to-cart actions the "
                                "storefront's pages count in (and which requests count)",
}

# Imports that break an arrow today, each with why it is let be. Remove an entry once it is gone.
ALLOWED: dict[tuple[str, str], str] = {
    ("shopfest.core.migrate", "shopfest.migrations"):
        "core migrates the database with the package's Alembic scripts; it imports them to find their folder",
    ("shopfest.live.drops", "shopfest.inventory.service"):
        "a live flash deal is a flash sale of the checkout (issue 18): the room schedules it and reads its "
        "units left through inventory's service, as POST /api/v1/flash-sales and the flash zone do",
    ("shopfest.live.drops", "shopfest.inventory.model"): "the FlashSale the room's deal schedules (as above)",
    ("shopfest.local.instore", "shopfest.festival.service"):
        "the festival's local discount holds only while a sale period is open (issue 19): festival's "
        "service says whether one is, as promotions asks it of its own windows",
}


def present_rooms() -> list[str]:
    return [room for room in ROOMS if (PACKAGE / room).is_dir()]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def path_of(module: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (TYPE_CHECKING and function bodies too), resolved to
    the module itself: `from shopfest.payments import fx` is shopfest.payments.fx."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if path_of(submodule) else base)
    return found


def shopfest_imports(path: Path) -> list[str]:
    return sorted(m for m in imports_of(path) if m == "shopfest" or m.startswith("shopfest."))


def tables_built_in(path: Path) -> list[ast.Call]:
    """The SQLAlchemy `Table(...)` calls in a module (not rich's tables of the CLI)."""
    tree = tree_of(path)
    names: set[str] = set()
    namespaces: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            names.update(a.asname or a.name for a in node.names if a.name == "Table")
        elif isinstance(node, ast.Import):
            namespaces.update(a.asname or a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy")

    def is_table(called: ast.expr) -> bool:
        if isinstance(called, ast.Name):
            return called.id in names
        return (isinstance(called, ast.Attribute) and called.attr == "Table"
                and isinstance(called.value, ast.Name) and called.value.id in namespaces)
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and is_table(node.func)]


@cache
def defines_tables(module: str) -> bool:
    """Whether the module builds tables: then it is a store, whatever its name."""
    path = path_of(module)
    return path is not None and bool(tables_built_in(path))


def room_of(module: str) -> str:
    """The context a shopfest module belongs to, or "edge" for the composition layer."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else "edge"


def is_api(module: str) -> bool:
    """A room's HTTP edge: its routes (api.py, or <part>_api.py where several hands share a room),
    and orders' ASGI checkout lane in front of them."""
    name = module.rsplit(".", 1)[-1]
    return name in ("api", "lane") or name.endswith("_api")


def is_model(module: str) -> bool:
    return module.rsplit(".", 1)[-1] == "model"


def is_service_side(module: str) -> bool:
    return module.rsplit(".", 1)[-1] in {"model", "service"} or module in SERVICE_SIDE


def is_store(module: str) -> bool:
    return module.rsplit(".", 1)[-1] == "store" or defines_tables(module)


def modules_of(room: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((PACKAGE / room).rglob("*.py")):
        yield module_name(path), path


def edges_of(room: str) -> Iterator[tuple[str, str]]:
    """(importer, imported) for every shopfest import in the room, less the allowed departures."""
    for module, path in modules_of(room):
        for imported in shopfest_imports(path):
            if (module, imported) not in ALLOWED:
                yield module, imported


ROOM_PARAMS = present_rooms()


def test_every_package_is_a_room_or_the_edge() -> None:
    unknown = [path.name for path in PACKAGE.iterdir()
               if (path.is_dir() and (path / "__init__.py").is_file()
                   and path.name not in ROOMS and path.name not in EDGE_PACKAGES)
               or (path.suffix == ".py" and path.stem not in EDGE_MODULES)]
    assert not unknown, f"add {unknown} to DESIGN.md's rooms (ROOMS) or to the edge (EDGE_*)"


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_a_room_imports_only_the_rooms_it_depends_on(room: str) -> None:
    wrong = [f"{importer} imports {imported}" for importer, imported in edges_of(room)
             if room_of(imported) not in {room, "edge", *ROOMS[room]}]
    assert not wrong, f"{room} depends on {sorted(ROOMS[room])} only: " + "; ".join(wrong)


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_a_room_uses_another_only_through_its_service_and_model(room: str) -> None:
    wrong = [f"{importer} imports {imported}" for importer, imported in edges_of(room)
             if room_of(imported) not in {room, "edge", "core"} and not is_service_side(imported)]
    assert not wrong, f"{room} reaches past another room's service and model: " + "; ".join(wrong)


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_only_a_rooms_routes_and_pages_import_the_edge(room: str) -> None:
    def may_import(importer: str, imported: str) -> bool:
        if room == "web" or is_api(importer):
            return imported.split(".")[1:2] != [] and imported.split(".")[1] not in COMPOSITION_ROOTS
        return False
    wrong = [f"{importer} imports {imported}" for importer, imported in edges_of(room)
             if room_of(imported) == "edge" and not may_import(importer, imported)]
    assert not wrong, f"{room}'s rules and use cases stay out of the HTTP edge: " + "; ".join(wrong)


@pytest.mark.parametrize("room", [r for r in ROOM_PARAMS if (PACKAGE / r / "model.py").is_file()])
def test_a_model_imports_only_the_standard_library_core_and_its_own_model(room: str) -> None:
    for module in imports_of(PACKAGE / room / "model.py"):
        top = module.split(".")[0]
        assert top in sys.stdlib_module_names or module.startswith(
            ("shopfest.core", f"shopfest.{room}.model")), f"{room}/model.py imports {module}"


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_tables_are_read_only_by_their_own_rooms_services_and_stores(room: str) -> None:
    # core's one table is the outbox every room writes its events to in its own transaction.
    wrong = [f"{importer} imports {imported}" for importer, imported in edges_of(room)
             if defines_tables(imported) and room_of(imported) != "core"
             and (room_of(imported) != room or is_model(importer) or is_api(importer))]
    assert not wrong, f"{room} reads tables it must not: " + "; ".join(wrong)


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_a_rooms_routes_import_no_other_rooms_routes(room: str) -> None:
    wrong = [f"{importer} imports {imported}" for importer, imported in edges_of(room)
             if is_api(importer) and is_api(imported) and room_of(imported) != room]
    assert not wrong, "; ".join(wrong)


def test_the_pages_never_import_a_rooms_routes() -> None:
    wrong = [f"{importer} imports {imported}" for importer, imported in edges_of("web") if is_api(imported)]
    assert not wrong, "pages call the rooms' services, not their routes: " + "; ".join(wrong)


def test_flash_sales_live_in_inventory() -> None:
    # DESIGN.md: inventory owns "flash-sale slots and their per-shopper limits"; promotions only
    # prices a flash line with the terms checkout hands it (promotions.model.FlashTerms).
    wrong: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if room_of(module) == "inventory" or module.startswith("shopfest.migrations"):
            continue
        for node in ast.walk(tree_of(path)):
            if isinstance(node, ast.ClassDef) and node.name.startswith("FlashSale"):
                wrong.append(f"{module} defines {node.name}")
        for table in tables_built_in(path):
            name = table.args[0] if table.args else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and "flash" in name.value:
                wrong.append(f"{module} defines the table {name.value}")
    assert not wrong, "flash sales belong to inventory: " + "; ".join(wrong)
    inventory = PACKAGE / "inventory"
    assert any(isinstance(node, ast.ClassDef) and node.name == "FlashSale"
               for node in ast.walk(tree_of(inventory / "model.py")))
    names = [t.args[0] for t in tables_built_in(inventory / "store.py") if t.args]
    assert {"flash_sales", "flash_buyers"} <= {n.value for n in names if isinstance(n, ast.Constant)}


def test_every_allowed_departure_is_still_taken() -> None:
    def taken(importer: str, imported: str) -> bool:
        path = path_of(importer)
        return path is not None and imported in shopfest_imports(path)
    stale = [f"{importer} -> {imported}" for importer, imported in ALLOWED if not taken(importer, imported)]
    assert not stale, f"remove these from ALLOWED, the code no longer needs them: {stale}"
    used = {imported for room in ROOM_PARAMS for importer, imported in edges_of(room)
            if room_of(importer) != room_of(imported)}
    unused = sorted(set(SERVICE_SIDE) - used)
    assert not unused, f"remove these from SERVICE_SIDE, no other room uses them now: {unused}"


def _shopfest_imports(root: Path) -> dict[str, set[str]]:
    """Each module of the package and the package's modules it imports, anywhere in its text."""
    paths = {".".join(("shopfest", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__"): p
             for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                graph[name].update(alias.name for alias in node.names if alias.name in paths)
            elif isinstance(node, ast.ImportFrom) and node.module in paths:
                submodules = {f"{node.module}.{alias.name}" for alias in node.names}
                graph[name].update((submodules & paths.keys()) or {node.module})
    return graph


def test_deps_imports_no_context_and_reaches_no_api_so_no_import_cycle_holds_them() -> None:
    # Every context's api.py imports deps.py; were deps.py (or the runtime it hands out) to import an
    # api.py, even through other modules, the two would form a cycle. deps.py holds FastAPI's
    # dependencies only: what the runtime is made of (checkout, gates, pools) is runtime.py's to import.
    graph = _shopfest_imports(Path(__file__).resolve().parents[2] / "src" / "shopfest")
    apis = {name for name in graph if name.count(".") == 2 and name.endswith(".api")}
    assert {"shopfest.deps", "shopfest.runtime"} <= graph.keys() and "shopfest.orders.api" in apis
    contexts = {name.split(".")[1] for name in apis}
    for name in graph["shopfest.deps"]:
        assert name.split(".")[1] not in contexts, f"deps.py imports {name}"
    for start in ("shopfest.deps", "shopfest.runtime"):
        reached, frontier = set(), [start]
        while frontier:
            for found in graph[frontier.pop()] - reached:
                reached.add(found)
                frontier.append(found)
        assert not reached & apis, f"{start} imports {sorted(reached & apis)}"
