"""Trace events from OpenTelemetry spans, recorded in memory (the ``otel`` extra).

For a system under test that runs in the test's process and is instrumented with
OpenTelemetry: each ended span is an event, and the correlation id is a span attribute::

    store = OtelTraceStore()
    provider.add_span_processor(store.span_processor())   # the system's TracerProvider
    register_trace_store("the trace for this order", store)

    with tracer.start_as_current_span("payment.completed") as span:
        span.set_attribute("correlation_id", correlation_id)

An event's type is the span's name, its service the resource's ``service.name``, its
timestamp the span's start, and its attributes the span's. Spans carry no sequence
numbers, so this store orders by timestamp unless told which attribute holds one.
Checks wake as spans end, through :meth:`OtelTraceStore.span_processor`.

Needs ``pip install 'asyncbdd[otel]'`` (opentelemetry-sdk).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from asyncbdd.errors import ConfigurationError
from asyncbdd.traces.event import TraceEvent, make_event
from asyncbdd.traces.store import TraceStore

try:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import (
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        f"OtelTraceStore needs the OpenTelemetry SDK ({error}). Install it with "
        "pip install 'asyncbdd[otel]'."
    ) from error

__all__ = ["OtelTraceStore"]


class OtelTraceStore(TraceStore):
    """OpenTelemetry spans kept in memory, read as trace events.

    :param exporter: an ``InMemorySpanExporter`` the system already exports to; default:
        a new one, fed by :meth:`span_processor`.
    :param correlation_attribute: the span attribute that holds the correlation id.
    :param type_attribute: a span attribute holding the event type; default: the span name.
    :param service_attribute: a span attribute holding the service; default: the
        resource's ``service.name``.
    :param sequence_attribute: a span attribute holding a sequence number, if any.
    :param order_by: ``"timestamp"`` (the default: spans have no sequence) or ``"sequence"``.
    """

    def __init__(
        self,
        exporter: Any = None,
        *,
        correlation_attribute: str = "correlation_id",
        type_attribute: str | None = None,
        service_attribute: str | None = None,
        sequence_attribute: str | None = None,
        order_by: str | None = "timestamp",
    ) -> None:
        self.exporter: Any = InMemorySpanExporter() if exporter is None else exporter
        self.correlation_attribute = correlation_attribute
        self.type_attribute = type_attribute
        self.service_attribute = service_attribute
        self.sequence_attribute = sequence_attribute
        self.order_by = order_by
        self._arrived = threading.Condition()
        self._exported = 0
        self._seen = 0

    def span_processor(self) -> SimpleSpanProcessor:
        """A span processor for the system's ``TracerProvider``: it exports every ended
        span to :attr:`exporter` at once, and wakes the checks waiting on this store."""
        return SimpleSpanProcessor(_Relay(self))

    def events(self, correlation_id: str) -> list[TraceEvent]:
        with self._arrived:
            self._seen = self._exported
        spans = self.exporter.get_finished_spans()
        return [
            self._event(span)
            for span in spans
            if (span.attributes or {}).get(self.correlation_attribute) == correlation_id
        ]

    def describe(self) -> str:
        return f"OpenTelemetry spans in memory (correlation id in {self.correlation_attribute!r})"

    def pause(self, seconds: float) -> None:
        with self._arrived:
            self._arrived.wait_for(lambda: self._exported != self._seen, timeout=seconds)

    def _event(self, span: ReadableSpan) -> TraceEvent:
        attributes = dict(span.attributes or {})
        resource = dict(getattr(span.resource, "attributes", None) or {})
        service = (
            attributes.get(self.service_attribute)
            if self.service_attribute
            else resource.get("service.name")
        )
        started: int | None = span.start_time  # nanoseconds since the epoch
        return make_event(
            type=attributes.get(self.type_attribute) if self.type_attribute else span.name,
            service=service,
            timestamp=None if started is None else _from_nanoseconds(started),
            sequence=attributes.get(self.sequence_attribute) if self.sequence_attribute else None,
            attributes=attributes,
            source=f"span {span.name} {span.context.span_id:016x}",
        )

    def _exported_spans(self, count: int) -> None:
        with self._arrived:
            self._exported += count
            self._arrived.notify_all()


def _from_nanoseconds(nanoseconds: int) -> datetime:
    seconds, rest = divmod(nanoseconds, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment + timedelta(microseconds=rest // 1000)


class _Relay(SpanExporter):
    """A span exporter that passes spans on to the store's exporter and wakes waiters."""

    def __init__(self, store: OtelTraceStore) -> None:
        self.store = store

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result: SpanExportResult = self.store.exporter.export(spans)
        self.store._exported_spans(len(spans))
        return result

    def shutdown(self) -> None:
        self.store.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
