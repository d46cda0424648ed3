"""Every domain error names one problem type: a code of its own, with a title to describe it."""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter

import shopfest
from shopfest.core.errors import DomainError


def every_error() -> list[type[DomainError]]:
    """DomainError and all its subclasses, once every module of shopfest is imported (the
    migrations aside: they are scripts Alembic loads, not modules)."""
    for module in pkgutil.walk_packages(shopfest.__path__, "shopfest."):
        if not module.name.startswith("shopfest.migrations"):
            importlib.import_module(module.name)
    found, frontier = [], [DomainError]
    while frontier:
        cls = frontier.pop()
        found.append(cls)
        frontier.extend(cls.__subclasses__())
    return [cls for cls in found if cls.__module__.startswith("shopfest.")]


def test_every_error_code_names_one_error_only() -> None:
    counts = Counter(cls.code for cls in every_error())
    assert [code for code, n in counts.items() if n > 1] == []


def test_every_error_code_has_a_title_of_its_own_class() -> None:
    for cls in every_error():
        assert "code" in vars(cls) and cls.code, f"{cls.__qualname__} inherits its code"
        assert "title" in vars(cls) and cls.title.strip(), f"{cls.__qualname__} has no title"
