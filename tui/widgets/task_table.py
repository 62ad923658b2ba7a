"""The run view's task table: one line per task and host, drawn on demand.

A stock DataTable drops its render caches on every added row and renders
every visible cell again. With a full 150x45 terminal that took about 35 ms
of the event loop per added row on a 2-core machine with Textual 8.2, and a
live run adds rows several times a second. This widget keeps one string per
row and draws lines through the Line API from cached strips, about 9 ms per
added row on the same machine, most of it Textual's own layout and paint.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

# Column titles and widths in cells. A cell has one blank cell on each side,
# as in a DataTable.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Play", 22),
    ("Task", 48),
    ("Host", 12),
    ("Result", 16),
    ("Duration", 9),
)
PROBLEM_RESULTS = frozenset({"failed", "unreachable"})


def format_line(cells: tuple[str, ...] | list[str]) -> str:
    """Return the cells as one line, each padded or cut to its column width."""
    return " " + "  ".join(
        cell.ljust(width)[:width]
        for cell, (_, width) in zip(cells, COLUMNS, strict=True)
    )


def header_text() -> str:
    return format_line([title for title, _ in COLUMNS])


class TaskTable(ScrollView, can_focus=True):
    """Task results in arrival order.

    While the last row is in view, the table scrolls to keep the newest row
    in view.
    """

    # ScrollView brings the scroll keys: arrows, page up and down, home, end.
    DEFAULT_CSS = """
    TaskTable { height: 1fr; background: $surface; }
    TaskTable > .task-table--problem { color: $error; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"task-table--problem"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[str] = []
        self._problems: set[int] = set()
        self._index: dict[str, int] = {}
        self._width = len(header_text())
        # DOMNode.rich_style walks every ancestor on each call, so the line
        # styles are kept until Textual reports a style change.
        self._line_styles: tuple[Style, Style] | None = None
        # Uncropped strips by row index, dropped when a row or the style changes.
        self._strips: dict[int, Strip] = {}

    @property
    def row_count(self) -> int:
        return len(self._lines)

    def set_row(self, key: str, cells: tuple[str, ...], problem: bool) -> None:
        """Add a row, or replace the row with the same key in place."""
        index = self._index.get(key)
        if index is None:
            index = len(self._lines)
            self._index[key] = index
            self._lines.append(format_line(cells))
        else:
            self._lines[index] = format_line(cells)
        if problem:
            self._problems.add(index)
        else:
            self._problems.discard(index)
        self._strips.pop(index, None)
        self._refresh_line(index)

    def show_new_rows(self, following: bool) -> None:
        """Grow the scroll area to the rows and, if ``following``, scroll to
        the end. The caller reads ``following`` before it adds rows."""
        self.virtual_size = Size(self._width, len(self._lines))
        if following:
            # After the next refresh, when the new size is laid out.
            self.scroll_end(animate=False, x_axis=False)

    @property
    def following(self) -> bool:
        """Whether the last row is in view, so new rows should stay in view."""
        return self.scroll_offset.y + self.size.height >= len(self._lines)

    def _refresh_line(self, index: int) -> None:
        y = index - self.scroll_offset.y
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line_styles = None
        self._strips.clear()

    def _styles(self) -> tuple[Style, Style]:
        """Return the style of a plain row and of a failed row."""
        if self._line_styles is None:
            base = self.rich_style
            problem = base + self.get_component_rich_style("task-table--problem")
            self._line_styles = (base, problem)
        return self._line_styles

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        base, problem = self._styles()
        if index >= len(self._lines):
            return Strip.blank(width, base)
        strip = self._strips.get(index)
        if strip is None:
            style = problem if index in self._problems else base
            strip = self._strips[index] = Strip([Segment(self._lines[index], style)])
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, base)
