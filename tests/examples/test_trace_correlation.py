"""Trace correlation: check the chain of events one correlation id caused.

The system under test records what it does, each event with the correlation id it was
given (the test's scenario has one of its own, ``asyncbdd_scenario.correlation_id``).
Here the events go to a ``trace_events`` table of a SQLite database, read by a
:class:`~asyncbdd.traces.SqlTraceStore`; register the store under a name once
(``register_trace_store("the trace for this order", store)``) or pass it as ``trace=``.
A check waits until every event it names is in the trace, then judges the order by
sequence number: a complete chain out of order fails at once. The system under test is
played by a timer that records the order's events 50 ms later.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from asyncbdd import WaitTimeout, aio
from asyncbdd.traces import SqlTraceStore, expect_chain, expect_no_event

CHAIN = ["order.created", "payment.completed", "notification.sent"]


@pytest.fixture
def trace_db(tmp_path):
    """The table the system records its events in (asyncbdd's default column names)."""
    path = tmp_path / "traces.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE trace_events (id INTEGER PRIMARY KEY, correlation_id TEXT NOT NULL, "
            "sequence INTEGER, event_type TEXT NOT NULL, service TEXT, occurred_at TEXT, "
            "attributes TEXT)"
        )
    return path


def record(path, correlation_id: str, *events: str) -> None:
    """The system under test: it records each event as it happens, numbered in order."""
    for sequence, event in enumerate(events, 1):
        with sqlite3.connect(path) as db:
            db.execute(
                "INSERT INTO trace_events (correlation_id, sequence, event_type, service, "
                "occurred_at) VALUES (?, ?, ?, 'shop', datetime('now'))",
                (correlation_id, sequence, event),
            )


def test_the_order_goes_through_its_chain(trace_db, asyncbdd_scenario):
    store = SqlTraceStore("trace_events", url=f"sqlite:///{trace_db}")
    threading.Timer(0.05, record, (trace_db, asyncbdd_scenario.correlation_id, *CHAIN)).start()

    trace = expect_chain(CHAIN, trace=store, timeout=5)  # in this order; others may come between

    assert trace.types == CHAIN
    expect_no_event("payment.failed", trace=store, during=0.1)


@pytest.mark.asyncio
async def test_awaiting_exactly_the_chain(trace_db, asyncbdd_scenario):
    store = SqlTraceStore("trace_events", url=f"sqlite:///{trace_db}")
    cid = asyncbdd_scenario.correlation_id
    asyncio.get_running_loop().call_later(0.05, record, trace_db, cid, *CHAIN)

    # exactly: no other event, none twice, also during the grace window after the last
    trace = await aio.expect_chain(CHAIN, exactly=True, trace=store, timeout=5, grace=0.1)

    assert [event.service for event in trace.events] == ["shop", "shop", "shop"]


def test_a_chain_out_of_order_fails_at_once_with_its_timeline(trace_db, asyncbdd_scenario):
    store = SqlTraceStore("trace_events", url=f"sqlite:///{trace_db}")
    record(
        trace_db,
        asyncbdd_scenario.correlation_id,
        "order.created",
        "notification.sent",
        "payment.completed",
    )

    with pytest.raises(WaitTimeout) as failure:
        expect_chain(CHAIN, trace=store, timeout=5)

    report = str(failure.value)
    assert "the events are out of order: notification.sent (#2) came before" in report
    assert "#2  shop  notification.sent  <- out of order" in report
