"""Trace events from OpenTelemetry spans kept in memory (the ``otel`` extra).

A local TracerProvider plays the instrumented system; it is never made the global one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

pytest.importorskip(
    "opentelemetry.sdk.trace",
    reason="OtelTraceStore needs the OpenTelemetry SDK: pip install 'asyncbdd[otel]'",
)

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from asyncbdd.errors import WaitAborted
from asyncbdd.scenario import Scenario
from asyncbdd.traces import TraceEvent, expect_chain
from asyncbdd.traces.otel import OtelTraceStore

CHAIN = ["order.created", "payment.completed", "notification.sent"]


class SignallingOtelStore(OtelTraceStore):
    """An OpenTelemetry trace store that signals each time it has read the spans."""

    def __init__(self) -> None:
        super().__init__()
        self.read = threading.Event()

    def events(self, correlation_id: str) -> list[TraceEvent]:
        events = super().events(correlation_id)
        self.read.set()
        return events


class System:
    """An instrumented system: one tracer per service, spans exported to the store."""

    def __init__(self, store: OtelTraceStore) -> None:
        self.providers: dict[str, TracerProvider] = {}
        self.store = store

    def record(self, correlation_id: str, *kinds: str) -> None:
        """One span per kind, ended in this order, each by its service's tracer."""
        for kind in kinds:
            service = kind.split(".")[0]
            provider = self.providers.get(service)
            if provider is None:
                provider = TracerProvider(resource=Resource.create({"service.name": service}))
                provider.add_span_processor(self.store.span_processor())
                self.providers[service] = provider
            with provider.get_tracer("tests").start_as_current_span(kind) as span:
                span.set_attribute("correlation_id", correlation_id)
                span.set_attribute("order_id", "ord-1")

    def shutdown(self) -> None:
        for provider in self.providers.values():
            provider.shutdown()


@pytest.fixture
def system() -> Iterator[System]:
    """An instrumented system exporting to a fresh store."""
    running = System(SignallingOtelStore())
    yield running
    running.shutdown()


def test_spans_are_events_of_their_correlation_id(system: System) -> None:
    """Each ended span with the correlation id attribute is one event, in start order."""
    system.record("cid-1", "order.created", "payment.completed")
    system.record("cid-2", "order.created")
    events = system.store.events("cid-1")
    assert [(e.type, e.service, e.sequence) for e in events] == [
        ("order.created", "order", None),
        ("payment.completed", "payment", None),
    ]
    assert events[0].timestamp is not None
    assert events[1].timestamp is not None
    assert events[0].timestamp <= events[1].timestamp
    assert events[0].attributes == {"correlation_id": "cid-1", "order_id": "ord-1"}
    assert events[0].source.startswith("span order.created ")


def test_a_chain_of_spans_passes_as_the_last_span_ends(system: System, scenario: Scenario) -> None:
    """The check orders spans by time and wakes as they end, passing at the last one."""
    store = system.store
    assert isinstance(store, SignallingOtelStore)
    system.record(scenario.correlation_id, CHAIN[0])

    def finish() -> None:
        if store.read.wait(10):
            system.record(scenario.correlation_id, *CHAIN[1:])

    thread = threading.Thread(target=finish, daemon=True)
    thread.start()
    started = time.monotonic()
    trace = expect_chain(CHAIN, trace=store, timeout=30)
    assert time.monotonic() - started < 5
    assert trace.order_by == "timestamp"
    thread.join(5)


def test_spans_in_the_wrong_order_fail_at_once(system: System, scenario: Scenario) -> None:
    """A chain whose spans started in the wrong order fails without waiting."""
    system.record(scenario.correlation_id, "order.created", "notification.sent")
    system.record(scenario.correlation_id, "payment.completed")
    with pytest.raises(WaitAborted) as raised:
        expect_chain(CHAIN, trace=system.store, timeout=30)
    message = str(raised.value)
    assert "notification.sent (at +" in message
    assert "came before payment.completed (at +" in message
    assert "timeline (by timestamp):" in message


def test_an_exporter_of_the_systems_own_is_read_too(scenario: Scenario) -> None:
    """A store may read an in-memory exporter the system already exports to."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("tests").start_as_current_span("order.created") as span:
        span.set_attribute("correlation_id", scenario.correlation_id)
    store = OtelTraceStore(exporter)
    expect_chain(["order.created"], trace=store, timeout=30)
    provider.shutdown()
