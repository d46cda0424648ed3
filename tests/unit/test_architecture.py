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
