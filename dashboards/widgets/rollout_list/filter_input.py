"""The filter line: every word typed must appear in a row (name, namespace, phase, images,
message ...) for it to stay in the table."""

from __future__ import annotations

from textual.widgets import Input


class FilterInput(Input):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="/ to filter: words that must all appear in a row", id=id)
