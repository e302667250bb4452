"""A snapshot's change as a table: each changed cell, inserted and deleted row, and each
expected change not found, with its verdict."""

from __future__ import annotations

from asyncbdd.evidence import svg
from asyncbdd.evidence.model import SnapshotChange

__all__ = ["MAX_ROWS", "draw_diff_table"]

MAX_ROWS = 40
"""Rows drawn at most; the rest are counted."""


def draw_diff_table(change: SnapshotChange, *, title: str) -> str:
    """``change`` as a self-contained SVG table."""
    columns = [(heading, width) for heading, width in _COLUMNS]
    body = [svg.label(_MARGIN, 24, title, width=svg.WIDTH - 2 * _MARGIN, size=17, weight="bold")]
    y = _TOP
    x = float(_MARGIN)
    body.append(svg.rect(_MARGIN, y, svg.WIDTH - 2 * _MARGIN, _ROW, fill="#e5e7eb"))
    for heading, width in columns:
        body.append(svg.label(x + 6, y + 18, heading, width=width - 12, weight="bold"))
        x += width
    rows = change.rows[:MAX_ROWS]
    for number, row in enumerate(rows):
        y = _TOP + (number + 1) * _ROW
        fill = _FILLS.get(row.verdict, "#ffffff")
        body.append(svg.rect(_MARGIN, y, svg.WIDTH - 2 * _MARGIN, _ROW, fill=fill,
                             attributes=f'data-verdict="{row.verdict or "none"}"'))  # fmt: skip
        cells = [row.key, row.column, row.before, row.after, row.change, row.verdict or "-"]
        x = float(_MARGIN)
        for (_, width), text in zip(columns, cells, strict=True):
            colour = _TEXT.get(row.verdict, "#111827") if text == row.verdict else "#111827"
            body.append(svg.label(x + 6, y + 18, text, width=width - 12, fill=colour))
            x += width
    y = _TOP + (len(rows) + 1) * _ROW
    if len(change.rows) > MAX_ROWS:
        body.append(svg.label(_MARGIN, y + 18, f"... {len(change.rows) - MAX_ROWS} more",
                              width=300))  # fmt: skip
        y += _ROW
    return svg.document(svg.WIDTH, int(y + 16), title, body)


_MARGIN = 16
_TOP = 40
_ROW = 26
_COLUMNS = (
    ("row", 280), ("column", 170), ("before", 260), ("after", 260), ("change", 120),
    ("verdict", 158),
)  # fmt: skip
_FILLS = {"expected": "#dcfce7", "unexpected": "#ffe4e6", "missing": "#fef3c7"}
_TEXT = {"expected": "#15803d", "unexpected": "#be123c", "missing": "#b45309"}
