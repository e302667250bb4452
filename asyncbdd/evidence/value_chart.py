"""The values a poll read over time: one band per distinct value, the deadline a line.

Each distinct value has a row; a bar spans each run of checks that read it (solid from
its first to its last read, faint on to the next different read, when the value may
still have been it), so a value that flickered, or one that came too late, shows at a
glance.
"""

from __future__ import annotations

from asyncbdd.durations import format_duration
from asyncbdd.evidence import svg
from asyncbdd.evidence.model import Polling

__all__ = ["MAX_VALUES", "draw_value_chart"]

MAX_VALUES = 16
"""Distinct values given a row of their own; the rest share the last row."""


def draw_value_chart(
    polling: Polling, *, title: str, deadline: float | None, limit_name: str = "deadline"
) -> str:
    """The history of ``polling`` as a self-contained SVG document."""
    runs = polling.history
    values = list(dict.fromkeys(run.value for run in runs))
    others = len(values) > MAX_VALUES
    rows = [*values[: MAX_VALUES - 1], "(other values)"] if others else values
    row_of = {value: min(index, len(rows) - 1) for index, value in enumerate(values)}
    x0, x1 = _MARGIN + _VALUE_LABEL + 12, svg.WIDTH - _MARGIN
    end = max([deadline or 0.0, *(run.last_seen for run in runs), 1e-3])
    high = end * 1.04

    def x_of(at: float) -> float:
        return x0 + max(at, 0.0) / high * (x1 - x0)

    body = [
        svg.label(_MARGIN, 24, title, width=x1 - _MARGIN, size=17, weight="bold"),
        svg.label(x0, 44, f"{polling.attempts} checks; time since the wait began", width=x1 - x0,
                  size=svg.SMALL_SIZE, fill="#4b5563"),
    ]  # fmt: skip
    top = _TOP
    for index, value in enumerate(rows):
        y = top + index * _ROW
        body.append(
            svg.rect(_MARGIN, y, x1 - _MARGIN, _ROW, fill="#f3f4f6" if index % 2 else "#ffffff")
        )
        body.append(svg.label(_MARGIN + 4, y + _ROW / 2 + 4, value, width=_VALUE_LABEL,
                              attributes='class="value"'))  # fmt: skip
    for number, run in enumerate(runs):
        row = row_of[run.value]
        colour = _COLOURS[row % len(_COLOURS)]
        y = top + row * _ROW + 4
        start, stop = x_of(run.first_seen), x_of(run.last_seen)
        checks = "1 check" if run.count == 1 else f"{run.count} checks"
        tooltip = (
            f"{run.value}: {format_duration(run.first_seen)} to {format_duration(run.last_seen)}"
            f" ({checks})"
        )
        if number + 1 < len(runs):
            following = x_of(runs[number + 1].first_seen)
            body.append(svg.rect(stop, y, following - stop, _ROW - 8, fill=colour, opacity=0.25))
        body.append(svg.rect(start, y, max(stop - start, 4), _ROW - 8, fill=colour,
                             tooltip=tooltip, attributes='class="run"'))  # fmt: skip
    bottom = top + max(len(rows), 1) * _ROW
    body.append(svg.line(x0, bottom, x1, bottom, stroke="#9ca3af"))
    for at in svg.nice_ticks(0.0, high):
        body.append(svg.line(x_of(at), bottom, x_of(at), bottom + 5, stroke="#9ca3af"))
        body.append(svg.label(x_of(at), bottom + 19, format_duration(at), width=110,
                              size=svg.SMALL_SIZE,
                              anchor="middle", fill="#4b5563"))  # fmt: skip
    if deadline is not None:
        text = f"{limit_name} {format_duration(deadline)}"
        body += svg.vertical_marker_line(x_of(deadline), top, bottom, text, right_edge=x1,
                                         css="deadline")  # fmt: skip
    return svg.document(svg.WIDTH, int(bottom + 40), title, body)


_MARGIN = 16
_VALUE_LABEL = 300
_TOP = 76
_ROW = 24
_COLOURS = ("#2563eb", "#ea580c", "#15803d", "#7c3aed", "#be123c", "#0891b2", "#b45309")
