"""Words of domain errors by code (problem.<code>), with the error's data as parameters, so pages translate
them."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
}
