"""The rooms stay as DESIGN.md draws them: pure models, no reaching into another context's tables."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "shopfest"
CONTEXTS = ("accounts", "catalog", "festival", "inventory")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("context", CONTEXTS)
def test_a_model_imports_only_the_standard_library_and_core(context: str) -> None:
    for module in imports_of(PACKAGE / context / "model.py"):
        top = module.split(".")[0]
        assert top in sys.stdlib_module_names or module.startswith(
            ("shopfest.core", f"shopfest.{context}.model")), f"{context}/model.py imports {module}"


@pytest.mark.parametrize("context", CONTEXTS)
def test_no_context_imports_another_contexts_store(context: str) -> None:
    for path in (PACKAGE / context).glob("*.py"):
        for module in imports_of(path):
            if module.endswith(".store"):
                assert module == f"shopfest.{context}.store", f"{path.name} imports {module}"


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
