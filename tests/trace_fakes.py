"""Trace events and an in-memory trace store for the trace tests.

The store wakes a waiting check the moment an event is recorded, and counts its reads,
so that a test can record events *while* a check waits -- from a thread that starts
once the check has read the trace -- without a single sleep.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from asyncbdd.traces import TraceEvent, TraceStore

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)
"""Time zero of the events the tests make."""

HEALTHY_CHAIN = [
    "order.created",
    "payment.initiated",
    "payment.completed",
    "inventory.reserved",
    "shipping.label_created",
    "notification.sent",
]
SERVICES = {
    "order.created": "orders",
    "payment.initiated": "payments",
    "payment.completed": "payments",
    "payment.failed": "payments",
    "inventory.reserved": "inventory",
    "shipping.label_created": "shipping",
    "notification.sent": "notifications",
}


def event(
    kind: str, sequence: int | None, ms: float | None = None, service: str | None = None
) -> TraceEvent:
    """An event of ``kind`` with this sequence number, ``ms`` milliseconds after T0."""
    return TraceEvent(
        type=kind,
        service=service or SERVICES.get(kind, "tests"),
        timestamp=None if ms is None else T0 + timedelta(milliseconds=ms),
        sequence=sequence,
        source=f"memory #{sequence}",
    )


def chain(*kinds: str, step_ms: float = 50) -> list[TraceEvent]:
    """Events of ``kinds`` numbered 1, 2, 3 ... in this order, ``step_ms`` apart."""
    return [event(kind, number, (number - 1) * step_ms) for number, kind in enumerate(kinds, 1)]


class PolledMemoryStore(TraceStore):
    """Trace events held in memory, read by correlation id; counts its reads. It keeps
    :meth:`TraceStore.pause`: a check can only poll it."""

    def __init__(self, order_by: str | None = None) -> None:
        self.order_by = order_by
        self.recorded: dict[str, list[TraceEvent]] = defaultdict(list)
        self.changed = threading.Condition()
        self.reads = 0
        self._version = 0
        self._seen = 0

    def record(self, correlation_id: str, *events: TraceEvent) -> None:
        """Add events to a correlation id's trace, in this (arrival) order."""
        with self.changed:
            self.recorded[correlation_id].extend(events)
            self._version += 1
            self.changed.notify_all()

    def events(self, correlation_id: str) -> list[TraceEvent]:
        with self.changed:
            self.reads += 1
            self._seen = self._version
            self.changed.notify_all()
            return list(self.recorded[correlation_id])

    def describe(self) -> str:
        return "memory"

    def after_reads(
        self, count: int, action: Callable[[], object], *, timeout: float = 10
    ) -> threading.Thread:
        """Run ``action`` in a thread once the store has been read ``count`` times (if it
        is, within ``timeout``)."""

        def run() -> None:
            with self.changed:
                arrived = self.changed.wait_for(lambda: self.reads >= count, timeout=timeout)
            if arrived:
                action()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


class MemoryStore(PolledMemoryStore):
    """Trace events held in memory; recording one wakes the checks waiting on it."""

    def pause(self, seconds: float) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self._version != self._seen, timeout=seconds)
