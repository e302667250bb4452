"""The one interface every trace store implements: the events of a correlation id.

A store only reads; ordering and checking are the engine's. Implementations:
:class:`~asyncbdd.traces.sql.SqlTraceStore` (a table), :class:`~asyncbdd.traces.queue_store.
QueueTraceStore` (a queue or topic), :class:`~asyncbdd.traces.http.HttpTraceStore` (a JSON
endpoint) and, with the ``otel`` extra, :class:`~asyncbdd.traces.otel.OtelTraceStore`
(OpenTelemetry spans). A team with another store subclasses :class:`TraceStore`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from asyncbdd.errors import AsyncBddError
from asyncbdd.traces.event import TraceEvent

__all__ = ["TraceStore", "TraceStoreUnavailable"]


class TraceStoreUnavailable(AsyncBddError):
    """A trace store could not be read (a refused connection, an error answer)."""


class TraceStore(ABC):
    """Where a system records its trace events, read by correlation id."""

    order_by: str | None = None
    """What orders this store's events, ``"sequence"`` or ``"timestamp"``; ``None``: the
    setting ``asyncbdd.traces.order_by``. A store whose events have no sequence numbers
    (OpenTelemetry spans) orders by timestamp."""

    @abstractmethod
    def events(self, correlation_id: str) -> list[TraceEvent]:
        """Every event recorded so far for ``correlation_id``, in the store's own order.

        Events with equal sequence numbers (or timestamps) keep this order when sorted.
        Raise an :class:`~asyncbdd.errors.AsyncBddError` when the store cannot be read.
        """

    @abstractmethod
    def describe(self) -> str:
        """Where the events live, for messages: ``table trace_events at sqlite:///app.db``."""

    def pause(self, seconds: float) -> None:
        """Wait up to ``seconds`` before the events are read again.

        A store that learns of new events (a topic's reader, an exporter) returns as soon
        as one arrives; a store that can only be polled sleeps.
        """
        time.sleep(seconds)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.describe()}>"
