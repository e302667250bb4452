"""Trace correlation: check the chain of events a system records for one correlation id.

A system under test records what it does -- ``order.created``, ``payment.completed``,
``notification.sent`` -- each event with the correlation id of the request that caused
it. Every scenario has its own correlation id (:class:`asyncbdd.scenario.Scenario`), so
its trace is its own. Name the store once::

    register_trace_store("the trace for this order", SqlTraceStore("trace_events"))

(or set ``asyncbdd.traces.table``), then check what happened, in order::

    expect_chain(["order.created", "payment.completed", "notification.sent"], timeout=15)
    expect_before("payment.completed", "shipping.label_created")
    expect_within_after("notification.sent", "payment.completed", within=2)
    expect_exactly_once("payment.completed")
    expect_no_event("payment.failed", during=2)

A chain may cross channels: an HTTP answer a step recorded, trace events, webhook calls
and queue messages, ordered by time in one trace (:mod:`.evidence`)::

    record_evidence("http", "order accepted")
    expect_evidence_in_order(
        [("http", "order accepted"), ("trace", "payment.completed"), ("queue", "shipping")]
    )

Modules: :mod:`.event` (one event), :mod:`.store` (the store interface), :mod:`.sql`,
:mod:`.queue_store`, :mod:`.http` and, with the ``otel`` extra, :mod:`.otel` (the stores),
:mod:`.names` (trace names), :mod:`.trace` (ordering), :mod:`.expectations` (what a
check asserts), :mod:`.timeline` (the failure's timeline), :mod:`.checks` (the waits),
:mod:`.evidence` (the scenario's evidence across channels).
"""

from asyncbdd.traces import checks as _checks
from asyncbdd.traces.checks import (
    TraceTarget,
    expect_before,
    expect_chain,
    expect_exactly_once,
    expect_no_event,
    expect_trace,
    expect_trace_stays,
    expect_within_after,
    fail_at_once_if_event,
)
from asyncbdd.traces.event import TraceEvent, make_event
from asyncbdd.traces.evidence import (
    EvidenceStore,
    evidence_type,
    expect_evidence_in_order,
    record_evidence,
    recorded_evidence,
)
from asyncbdd.traces.expectations import (
    Absent,
    Before,
    ExactlyOnce,
    InOrder,
    TraceExpectation,
    Verdict,
    WithinAfter,
)
from asyncbdd.traces.http import HttpTraceStore
from asyncbdd.traces.names import (
    TRACE_STORES,
    ResolvedTrace,
    register_trace_store,
    resolve_trace,
    trace_names,
    unregister_trace_store,
)
from asyncbdd.traces.queue_store import KafkaTraceStore, QueueTraceStore
from asyncbdd.traces.sql import DEFAULT_COLUMNS, SqlTraceStore
from asyncbdd.traces.store import TraceStore, TraceStoreUnavailable
from asyncbdd.traces.timeline import render_timeline
from asyncbdd.traces.trace import Trace, order_events, read_trace

__all__ = [
    "DEFAULT_COLUMNS",
    "TRACE_STORES",
    "Absent",
    "Before",
    "EvidenceStore",
    "ExactlyOnce",
    "HttpTraceStore",
    "InOrder",
    "KafkaTraceStore",
    "QueueTraceStore",
    "ResolvedTrace",
    "SqlTraceStore",
    "Trace",
    "TraceEvent",
    "TraceExpectation",
    "TraceStore",
    "TraceStoreUnavailable",
    "TraceTarget",
    "Verdict",
    "WithinAfter",
    "evidence_type",
    "expect_before",
    "expect_chain",
    "expect_evidence_in_order",
    "expect_exactly_once",
    "expect_no_event",
    "expect_trace",
    "expect_trace_stays",
    "expect_within_after",
    "fail_at_once_if_event",
    "make_event",
    "order_events",
    "read_trace",
    "record_evidence",
    "recorded_evidence",
    "register_trace_store",
    "render_timeline",
    "resolve_trace",
    "trace_names",
    "unregister_trace_store",
]

# The names of the last release: each warns when called, and goes in the next one.
wait_for_trace = _checks.wait_for_trace
watch_trace = _checks.watch_trace
