"""axe-core (the npm package, installed by `make test`) run inside a page: the violations that matter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Error, Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical findings on the page as it is now, each with the elements at fault."""
    if not AXE.exists():
        raise RuntimeError(f"axe-core is not at {AXE}: run `make test` (it runs `npm ci`)")
    for _ in range(3):
        try:
            found = _run_axe(page)
            break
        except Error as error:
            # The page moved on under axe (a countdown reaching its moment reloads it): check the page
            # it moved to, once that has loaded.
            if "Execution context was destroyed" not in str(error):
                raise
            page.wait_for_load_state("load")
    else:
        raise AssertionError(f"{page.url} kept navigating while axe-core ran")
    return [v for v in found if v.get("impact") in SERIOUS]


def _run_axe(page: Page) -> list[dict[str, Any]]:
    # Evaluated through the browser's devtools channel: a <script> tag would meet the pages' CSP.
    page.evaluate(f"() => {{ {AXE.read_text()}\n }}")
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return found


def readable(found: list[dict[str, Any]]) -> str:
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} at "
                     + ", ".join(str(node["target"]) for node in v["nodes"][:5]) for v in found)


def assert_accessible(page: Page) -> None:
    found = violations(page)
    assert not found, f"axe found on {page.url}:\n{readable(found)}"
