"""A trace: the events of one correlation id, in the order they happened.

Order is an index: an event's position in the list sorted by sequence number (the
default) or by timestamp (setting ``asyncbdd.traces.order_by``, or a store's own
``order_by``). The order in which events reached the store never counts, so an event
written late with the right sequence number is in its right place. Events with equal
keys keep the store's own order (a table's primary key, a topic's arrival order).

When an event lacks the field that orders the trace, reading it fails with a
:class:`~asyncbdd.errors.ConfigurationError` naming the event and the other ordering:
a trace whose order cannot be known is never checked as though it could.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from asyncbdd.config import get_settings
from asyncbdd.errors import ConfigurationError, InvalidInput
from asyncbdd.traces.event import TraceEvent
from asyncbdd.traces.store import TraceStore

__all__ = ["ORDERINGS", "Trace", "order_events", "read_trace"]

ORDERINGS = ("sequence", "timestamp")
"""The fields a trace can be ordered by."""


@dataclass(frozen=True)
class Trace:
    """The events of one correlation id, ordered; what the trace checks look at."""

    correlation_id: str
    events: tuple[TraceEvent, ...]
    order_by: str
    """``"sequence"`` or ``"timestamp"``: what put the events in this order."""
    store: str
    """Where they were read (the store's description), for messages."""

    @property
    def types(self) -> list[str]:
        """The event types, in order."""
        return [event.type for event in self.events]

    def positions(self, event_type: str) -> list[int]:
        """The indexes of the events of ``event_type``, in order."""
        return [index for index, event in enumerate(self.events) if event.type == event_type]

    @property
    def started(self) -> datetime | None:
        """The earliest timestamp of the trace: time zero of its timeline."""
        stamps = [event.timestamp for event in self.events if event.timestamp is not None]
        return min(stamps) if stamps else None

    def offset_ms(self, index: int) -> float | None:
        """Milliseconds from the trace's first event to the event at ``index``."""
        started, stamp = self.started, self.events[index].timestamp
        if started is None or stamp is None:
            return None
        return (stamp - started).total_seconds() * 1000

    def label(self, index: int) -> str:
        """The event at ``index`` as messages name it: ``payment.completed (#4)``."""
        event = self.events[index]
        if event.sequence is not None:
            return f"{event.type} (#{event.sequence})"
        offset = self.offset_ms(index)
        if offset is not None:
            return f"{event.type} (at +{offset:,.0f} ms)"
        return f"{event.type} (event {index + 1} of the trace)"

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        if not self.events:
            return "no events"
        count = "1 event" if len(self.events) == 1 else f"{len(self.events)} events"
        return f"{count}: " + ", ".join(
            event.type if event.sequence is None else f"{event.type} #{event.sequence}"
            for event in self.events
        )


def order_events(
    events: Iterable[TraceEvent], order_by: str, *, store: str = "the trace store"
) -> tuple[TraceEvent, ...]:
    """``events`` sorted by ``order_by``; equal keys keep their order.

    :raises ConfigurationError: an event has no value for ``order_by``.
    :raises InvalidInput: ``order_by`` is neither ``sequence`` nor ``timestamp``.
    """
    if order_by not in ORDERINGS:
        raise InvalidInput(
            f"Trace events are ordered by sequence or by timestamp, not {order_by!r}."
        )
    events = list(events)
    missing = next((event for event in events if getattr(event, order_by) is None), None)
    if missing is not None:
        other = "timestamp" if order_by == "sequence" else "sequence"
        raise ConfigurationError(
            f"The trace event {missing.type} from {missing.source or store} has no "
            f"{order_by}, and the trace is ordered by {order_by} (setting "
            f"asyncbdd.traces.order_by, or the store's order_by), so the order of its "
            f"events cannot be known. Record a {order_by} with every event, or order by "
            f"{other} if every event has one."
        )
    if order_by == "sequence":
        return tuple(sorted(events, key=_sequence_of))
    return tuple(sorted(events, key=_timestamp_of))


def read_trace(store: TraceStore, correlation_id: str, *, order_by: str | None = None) -> Trace:
    """Read the events of ``correlation_id`` from ``store`` now, ordered.

    ``order_by`` defaults to the store's own, then to setting ``asyncbdd.traces.order_by``.
    """
    order = order_by or store.order_by or get_settings().traces_order_by
    description = store.describe()
    events = order_events(store.events(correlation_id), order, store=description)
    return Trace(correlation_id, events, order, description)


def _sequence_of(event: TraceEvent) -> int:
    assert event.sequence is not None  # checked by order_events
    return event.sequence


def _timestamp_of(event: TraceEvent) -> datetime:
    assert event.timestamp is not None  # checked by order_events
    return event.timestamp
