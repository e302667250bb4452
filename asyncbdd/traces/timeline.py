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

from asyncbdd.evidence.model import ExpectedEvent, TimelineEvent, TraceTimeline
from asyncbdd.evidence.text import MAX_TIMELINE_ROWS, timeline_lines
from asyncbdd.traces.expectations import Verdict
from asyncbdd.traces.trace import Trace

__all__ = ["MAX_ROWS", "render_timeline", "trace_timeline"]

MAX_ROWS = MAX_TIMELINE_ROWS
"""Events shown at most; the rest are counted."""


def render_timeline(trace: Trace, verdict: Verdict, expected: Sequence[str]) -> list[str]:
    """The timeline of ``trace`` with ``verdict``'s marks, and ``expected`` beside it."""
    return timeline_lines(trace_timeline(trace, verdict, expected))


def trace_timeline(
    trace: Trace,
    verdict: Verdict,
    expected: Sequence[str],
    *,
    notes: Sequence[str] = (),
    deadline_ms: float | None = None,
) -> TraceTimeline:
    """``trace`` with ``verdict``'s marks and ``expected`` beside it, as evidence."""
    return TraceTimeline(
        correlation_id=trace.correlation_id,
        store=trace.store,
        order_by=trace.order_by,
        events=tuple(
            TimelineEvent(
                offset_ms=trace.offset_ms(index),
                sequence=event.sequence,
                service=event.service,
                type=event.type,
                mark=verdict.marks.get(index),
            )
            for index, event in enumerate(trace.events)
        ),
        expected=tuple(
            ExpectedEvent(name, index in verdict.missing) for index, name in enumerate(expected)
        ),
        notes=tuple(notes),
        deadline_ms=deadline_ms,
    )
