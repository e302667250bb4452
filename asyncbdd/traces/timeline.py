"""The timeline of a trace, as a failure shows it, with the expected events beside it.

::

    timeline (by sequence):                                             expected:
         +0 ms  #1  orders     order.created                         1 order.created
        +52 ms  #2  payments   payment.initiated                     2 payment.initiated
       +101 ms  #3  inventory  inventory.reserved  <- out of order   3 payment.completed
       +130 ms  #4  payments   payment.completed                     4 inventory.reserved
                                                                     5 notification.sent  <- missing

Times are relative to the trace's earliest timestamp (``?`` where an event has none);
``#n`` is the sequence number, a column left out when no event has one. Marks say what is
wrong with an event; ``<- missing`` marks an expected event the trace does not have.
"""

from __future__ import annotations

from collections.abc import Sequence

from asyncbdd.traces.expectations import Verdict
from asyncbdd.traces.trace import Trace

__all__ = ["MAX_ROWS", "render_timeline"]

MAX_ROWS = 60
"""Events shown at most; the rest are counted."""
_GAP = "   "


def render_timeline(trace: Trace, verdict: Verdict, expected: Sequence[str]) -> list[str]:
    """The timeline of ``trace`` with ``verdict``'s marks, and ``expected`` beside it."""
    header = f"timeline (by {trace.order_by}):"
    numbered = any(event.sequence is not None for event in trace.events)
    left = [
        _event_cells(trace, index, verdict, numbered) for index in range(min(len(trace), MAX_ROWS))
    ]
    widths = [max((len(row[column]) for row in left), default=0) for column in range(5)]
    rendered = [_join(row, widths) for row in left]
    if not trace.events:
        rendered = ["(no events)"]
    elif len(trace) > MAX_ROWS:
        rendered.append(f"... {len(trace) - MAX_ROWS} more events")
    right = [
        f"{number} {event}" + ("  <- missing" if number - 1 in verdict.missing else "")
        for number, event in enumerate(expected, 1)
    ]
    width = max([len(line) for line in rendered] + [len(header) - 2])
    lines = [f"{header.ljust(width + 2)}{_GAP}expected:"]
    for index in range(max(len(rendered), len(right))):
        event = rendered[index] if index < len(rendered) else ""
        wanted = right[index] if index < len(right) else ""
        lines.append(f"  {event.ljust(width)}{_GAP}{wanted}".rstrip())
    return lines


def _event_cells(trace: Trace, index: int, verdict: Verdict, numbered: bool) -> list[str]:
    event = trace.events[index]
    offset = trace.offset_ms(index)
    mark = verdict.marks.get(index)
    sequence = "#?" if event.sequence is None else f"#{event.sequence}"
    return [
        "?" if offset is None else f"+{offset:,.0f} ms",
        sequence if numbered else "",
        event.service or "-",
        event.type,
        f"<- {mark}" if mark else "",
    ]


def _join(cells: list[str], widths: list[int]) -> str:
    time, sequence, service, kind, mark = cells
    numbered = f"{sequence.ljust(widths[1])}  " if widths[1] else ""
    text = (
        f"{time.rjust(widths[0])}  {numbered}{service.ljust(widths[2])}  "
        f"{kind.ljust(widths[3])}  {mark.ljust(widths[4])}"
    )
    return text.rstrip()
