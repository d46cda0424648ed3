"""A refused form in the page's language: a domain error's code names its words (`problem.<code>` in
web/words/problems.py), its data fills them, and the field it is about gets the message beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from string import Formatter

from shopfest.core.errors import DomainError
from shopfest.web.i18n import Translator


def problem_message(error: DomainError, t: Translator) -> str:
    """The error's own words in the viewer's language, or its English detail where none are written
    (or where the words name data this error did not carry). `{detail}` in the words is the detail."""
    key = f"problem.{error.code}"
    if not t.has(key):
        return error.detail
    given = {**error.data, "detail": error.detail}
    wanted = {name for _, name, _, _ in Formatter().parse(t(key)) if name}
    if not wanted <= given.keys():
        return error.detail
    return t(key, **{name: given[name] for name in wanted})


@dataclass
class FormErrors:
    """Messages by field name, and those about the whole form under "" (shown on top)."""

    by_field: dict[str, str] = field(default_factory=dict)

    def add(self, error: DomainError, t: Translator, *, field_name: str | None = None) -> None:
        """File the error beside `field_name`, or beside the field its data names, or on top."""
        named = error.data.get("field")
        where = field_name or (named if isinstance(named, str) else "")
        self.by_field[where] = problem_message(error, t)

    def of(self, field_name: str) -> str | None:
        return self.by_field.get(field_name)

    @property
    def on_top(self) -> str | None:
        return self.by_field.get("")

    def __bool__(self) -> bool:
        return bool(self.by_field)
