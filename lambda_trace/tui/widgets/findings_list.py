"""The findings list: findings grouped under a line per category, one line each."""

from __future__ import annotations

from rich.text import Text
from textual.strip import Strip

from ...model.trace import CATEGORIES, Finding, Trace
from ..describe import literal
from .line_list import LineList, text_strip


class FindingsList(LineList):
    """Category headers and findings; `item(i)` says which one a line is."""

    COMPONENT_CLASSES = LineList.COMPONENT_CLASSES | {
        "findings-list--category",
        "findings-list--muted",
        "findings-list--leak",
        "findings-list--info",
    }
    DEFAULT_CSS = """
    FindingsList > .findings-list--category { color: $warning; text-style: bold; }
    FindingsList > .findings-list--muted { color: $text-muted; }
    FindingsList > .findings-list--leak { color: $error; }
    FindingsList > .findings-list--info { color: $primary; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.trace: Trace | None = None
        self.items: list[str | Finding] = []

    def set_trace(self, trace: Trace) -> None:
        self.trace = trace
        by_category: dict[str, list[Finding]] = {}
        for f in trace.findings:
            by_category.setdefault(f.category, []).append(f)
        self.items = []
        for category in (*CATEGORIES, *sorted(set(by_category) - set(CATEGORIES))):
            found = by_category.get(category)
            if found:
                self.items.append(category)
                self.items.extend(found)
        self.set_count(len(self.items))

    def item(self, index: int) -> str | Finding | None:
        return self.items[index] if 0 <= index < len(self.items) else None

    def render_item(self, index: int, width: int) -> Strip:
        it = self.items[index]
        text = Text(no_wrap=True)
        if isinstance(it, str):
            count = sum(1 for f in self.items if isinstance(f, Finding) and f.category == it)
            text.append(f" {it} ", self.get_component_rich_style("findings-list--category"))
            text.append(f"({count})", self.get_component_rich_style("findings-list--muted"))
        else:
            mark = "findings-list--leak" if it.is_leak else "findings-list--info"
            text.append("   ● " if it.is_leak else "   ○ ", self.get_component_rich_style(mark))
            where = f"#{it.invocation}" if it.invocation else "—"
            text.append(f"{where:>4}  ", self.get_component_rich_style("findings-list--muted"))
            text.append(literal(it.message))
        return text_strip(text, width, self.rich_style, self.app.console)
