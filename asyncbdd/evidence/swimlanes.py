"""The swimlane timeline: what happened on each channel, when, and what was wrong with it.

One lane per channel the evidence has (``http``, ``trace``, ``webhook``, ``queue``, or a
trace's services), time running left to right, the deadline drawn as a line across the
lanes. Each item is a symbol: an arrival, or one that is missing, out of order, a
duplicate, unexpected, not matching or at the wrong time, each in its own shape and
colour, explained by the legend. The expected order is listed beside the lanes.

Labels never overlap: an item whose label would run into the previous one's goes on the
lane's next row; long labels end in an ellipsis, their full text in a tooltip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from asyncbdd.durations import format_duration
from asyncbdd.evidence import svg
from asyncbdd.evidence.model import ChannelArrivals, TraceTimeline

__all__ = ["LaneItem", "Swimlanes", "arrival_swimlanes", "draw_swimlanes", "trace_swimlanes"]


@dataclass(frozen=True)
class LaneItem:
    """One thing on a lane: when (seconds on the picture's axis; ``None``: not known),
    its label, its mark (``arrived`` or one of :data:`~asyncbdd.evidence.MARKS`), and
    the text of its tooltip."""

    lane: str
    at: float | None
    label: str
    mark: str
    detail: str


@dataclass(frozen=True)
class Swimlanes:
    """What a swimlane picture shows; ``expected`` lists (text, missing) beside it."""

    title: str
    lanes: tuple[str, ...]
    items: tuple[LaneItem, ...]
    axis: str
    deadline: float | None = None
    deadline_label: str = "deadline"
    expected: tuple[tuple[str, bool], ...] = ()


def trace_swimlanes(section: TraceTimeline) -> Swimlanes:
    """A trace's events by service, marked as its timeline marks them."""
    timed = all(event.offset_ms is not None for event in section.events)
    items = []
    for index, event in enumerate(section.events):
        mark = _trace_mark(event.mark)
        at = event.offset_ms / 1000 if timed and event.offset_ms is not None else float(index)
        sequence = f" #{event.sequence}" if event.sequence is not None else ""
        note = f" ({event.mark})" if event.mark else ""
        items.append(
            LaneItem(event.service or "-", at, event.type, mark, f"{event.type}{sequence}{note}")
        )
    lanes = tuple(dict.fromkeys(item.lane for item in items))
    deadline = section.deadline_ms / 1000 if timed and section.deadline_ms is not None else None
    return Swimlanes(
        title=f"Timeline of trace {section.correlation_id}",
        lanes=lanes,
        items=tuple(items),
        axis="time since the trace's first event" if timed else f"order (by {section.order_by})",
        deadline=deadline,
        expected=tuple(
            (f"{number}. {event.name}", event.missing)
            for number, event in enumerate(section.expected, 1)
        ),
    )


def arrival_swimlanes(
    sections: Sequence[ChannelArrivals], deadline: float | None, limit_name: str = "deadline"
) -> Swimlanes:
    """What arrived on each channel since the wait began (times in seconds since then);
    the ones still missing at the deadline drawn on it."""
    items: list[LaneItem] = []
    expected: list[tuple[str, bool]] = []
    end = deadline if deadline is not None else 0.0
    for section in sections:
        lane = f"{section.channel} {section.key}"
        matched = 0
        for number, arrival in enumerate(section.arrivals, 1):
            if not arrival.matched:
                mark = "not matching"
            else:
                matched += 1
                over = matched > section.expected_count and section.exactly
                mark = (
                    ("duplicate" if section.expected_count else "unexpected") if over else "arrived"
                )
            why = "; ".join([*arrival.problems, *arrival.remarks])
            detail = f"{section.noun} {number}: {arrival.summary}" + (f" ({why})" if why else "")
            items.append(LaneItem(lane, arrival.at, arrival.summary, mark, detail))
        short = max(section.expected_count - matched, 0)
        for gap in range(min(short, 5)):
            which = f"{matched + gap + 1} of {section.expected_count}"
            items.append(
                LaneItem(lane, end, f"missing: {section.noun} {which}", "missing",
                         f"{section.noun} {which} did not arrive by the {limit_name}")
            )  # fmt: skip
        expected.append((f"{section.key}: {section.expectation}", short > 0))
    return Swimlanes(
        title="Arrivals by channel",
        lanes=tuple(f"{section.channel} {section.key}" for section in sections),
        items=tuple(items),
        axis="time since the wait began",
        deadline=deadline,
        deadline_label=limit_name,
        expected=tuple(expected),
    )


def draw_swimlanes(picture: Swimlanes) -> str:
    """The picture as a self-contained SVG document, :data:`~asyncbdd.evidence.svg.WIDTH`
    pixels wide."""
    width = svg.WIDTH
    expected_width = _EXPECTED_WIDTH if picture.expected else 0
    x0 = _MARGIN + _LANE_LABEL + 12
    x1 = width - _MARGIN - (expected_width + 24 if expected_width else 0)
    times = [item.at for item in picture.items if item.at is not None]
    if picture.deadline is not None:
        times.append(picture.deadline)
    low, high = min([0.0, *times]), max([0.0, *times])
    span = (high - low) or 1.0
    low, high = low - span * 0.02, high + span * 0.04

    def x_of(at: float) -> float:
        return x0 + (at - low) / (high - low) * (x1 - x0)

    body: list[str] = [
        svg.label(_MARGIN, 24, picture.title, width=x1 - _MARGIN, size=17, weight="bold"),
        svg.label(x0, 44, picture.axis, width=x1 - x0, size=svg.SMALL_SIZE, fill="#4b5563"),
    ]
    top = _TOP
    y = top
    for index, lane in enumerate(picture.lanes):
        rows = _rows([item for item in picture.items if item.lane == lane], x_of, x1)
        lane_height = max(len(rows), 1) * _ROW + 2 * _PAD
        shade = "#f3f4f6" if index % 2 == 0 else "#ffffff"
        body.append(svg.rect(_MARGIN, y, x1 - _MARGIN, lane_height, fill=shade))
        body.append(svg.label(_MARGIN + 6, y + lane_height / 2 + 4, lane, width=_LANE_LABEL,
                              weight="bold", attributes='class="lane"'))  # fmt: skip
        for row, placed in enumerate(rows):
            middle = y + _PAD + row * _ROW + _ROW / 2
            for item, x, left in placed:
                body.append(svg.marker(x, middle, item.mark, tooltip=item.detail))
                anchor, at = ("end", x - 10) if left else ("start", x + 10)
                body.append(svg.label(at, middle + 4, item.label, width=_ITEM_LABEL, anchor=anchor,
                                      fill=svg.MARK_COLOURS.get(item.mark, "#111827"),
                                      tooltip=item.detail))  # fmt: skip
        y += lane_height
    bottom = max(y, top + _ROW)
    body.append(svg.line(x0, bottom, x1, bottom, stroke="#9ca3af"))
    body += _ticks(low, high, x_of, bottom, timed=picture.axis.startswith("time"))
    if picture.deadline is not None:
        text = f"{picture.deadline_label} {format_duration(picture.deadline)}"
        body += svg.vertical_marker_line(x_of(picture.deadline), top, bottom, text,
                                         right_edge=x1, css="deadline")  # fmt: skip
    height = bottom + 30.0
    if picture.expected:
        column = x1 + 24
        body.append(svg.label(column, top - 12, "expected:", width=expected_width, weight="bold"))
        for number, (text, missing) in enumerate(picture.expected):
            row_y = top + 8 + number * _ROW
            mark = "missing" if missing else "expected"
            body.append(svg.marker(column + 6, row_y, mark, tooltip=text, part="expected"))
            shown = f"{text}  (missing)" if missing else text
            body.append(svg.label(column + 18, row_y + 4, shown, width=expected_width - 18,
                                  fill=svg.MARK_COLOURS[mark], tooltip=shown))  # fmt: skip
        height = max(height, top + 8 + len(picture.expected) * _ROW + 10)
    legend, height = _legend(picture, height)
    body += legend
    return svg.document(width, int(height + 10), picture.title, body)


# --------------------------------------------------------------------------------------


def _trace_mark(mark: str | None) -> str:
    if mark is None:
        return "arrived"
    return mark if mark in ("duplicate", "out of order", "unexpected") else "timing"


def _rows(
    items: list[LaneItem], x_of: Callable[[float], float], right_edge: float
) -> list[list[tuple[LaneItem, float, bool]]]:
    """Items placed on rows so that no two labels overlap: (item, x, label on the left)."""
    rows: list[list[tuple[LaneItem, float, bool]]] = []
    ends: list[float] = []
    ordered = sorted(items, key=lambda item: item.at if item.at is not None else 0.0)
    for item in ordered:
        x = x_of(item.at if item.at is not None else 0.0)
        text, _ = svg.fit(item.label, _ITEM_LABEL)
        room = len(text) * svg.FONT_SIZE * svg.CHAR_WIDTH + 16
        left = x + room > right_edge
        start, end = (x - room, x + 8) if left else (x - 8, x + room)
        for row, taken in enumerate(ends):
            if start > taken:
                rows[row].append((item, x, left))
                ends[row] = end
                break
        else:
            rows.append([(item, x, left)])
            ends.append(end)
    return rows


def _ticks(
    low: float, high: float, x_of: Callable[[float], float], y: float, *, timed: bool
) -> list[str]:
    drawn = []
    for at in svg.nice_ticks(low, high):
        x = x_of(at)
        text = (("-" if at < 0 else "") + format_duration(abs(at))) if timed else f"{at:.0f}"
        drawn.append(svg.line(x, y, x, y + 5, stroke="#9ca3af"))
        drawn.append(svg.label(x, y + 19, text, width=110, size=svg.SMALL_SIZE, anchor="middle",
                               fill="#4b5563"))  # fmt: skip
    return drawn


def _legend(picture: Swimlanes, top: float) -> tuple[list[str], float]:
    present = {item.mark for item in picture.items}
    present |= {"missing" if missing else "expected" for _, missing in picture.expected}
    marks = [mark for mark in svg.MARK_COLOURS if mark in present]
    drawn: list[str] = []
    x, y = float(_MARGIN), top + 6
    for mark in marks:
        text = _LEGEND.get(mark, mark)
        room = len(text) * svg.FONT_SIZE * svg.CHAR_WIDTH + 40
        if x + room > svg.WIDTH - _MARGIN:
            x, y = float(_MARGIN), y + _ROW
        drawn.append(svg.marker(x + 6, y, mark, part="legend"))
        drawn.append(svg.label(x + 18, y + 4, text, width=room, attributes='class="legend"'))
        x += room
    return drawn, y + _ROW


_LEGEND = {
    "arrived": "arrived",
    "expected": "expected, found",
    "missing": "missing",
    "out of order": "out of order",
    "duplicate": "duplicate",
    "unexpected": "unexpected",
    "not matching": "not matching",
    "timing": "at the wrong time",
}
_MARGIN = 16
_LANE_LABEL = 240
_EXPECTED_WIDTH = 300
_ITEM_LABEL = 210
_TOP = 76
_ROW = 24
_PAD = 6
