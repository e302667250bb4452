"""Trace events published on a Kafka topic or an SQS queue of the embedded brokers, read
through a queue alias.

Each test uses a topic and alias of its own. The alias is configured before the scenario
starts, so its reader starts with the scenario and no event published in it is missed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip(
    "confluent_kafka", reason="the embedded Kafka broker needs confluent-kafka (pip install it)"
)
pytest.importorskip("kafka", reason="asyncbdd reads Kafka with kafka-python")

import asyncbdd
from asyncbdd.config import load_settings, set_settings
from asyncbdd.errors import InvalidInput, WaitAborted
from asyncbdd.queues import close_readers, send_message
from asyncbdd.traces import (
    KafkaTraceStore,
    QueueTraceStore,
    TraceEvent,
    expect_chain,
    expect_exactly_once,
    expect_no_event,
)

CHAIN = ["order.created", "payment.completed", "notification.sent"]


class SignallingKafkaStore(QueueTraceStore):
    """A Kafka trace store that signals each time it has read the scenario's messages."""

    def __init__(self, alias: str, **fields: Any) -> None:
        super().__init__(alias, **fields)
        self.read = threading.Event()

    def events(self, correlation_id: str) -> list[TraceEvent]:
        events = super().events(correlation_id)
        self.read.set()
        return events


@pytest.fixture(scope="session", autouse=True)
def stop_readers_at_the_end() -> Iterator[None]:
    """The background readers the tests start stop when the session ends."""
    yield
    close_readers()


@pytest.fixture(params=["kafka", "sqs"])
def alias(request: pytest.FixtureRequest) -> str:
    """An alias of this test's own, of a Kafka topic or an SQS queue, with short waits."""
    uid = uuid.uuid4().hex[:10]
    name = f"traces-{uid}"
    overrides = {
        "asyncbdd.queues": f"{name} = {request.param}:traces-{uid}",
        "asyncbdd.timeout": "10 seconds",
        "asyncbdd.grace": "0.1 seconds",
    }
    set_settings(load_settings(environ={}, overrides=overrides))
    return name


def publish(alias: str, *kinds: str, first: int = 1, **headers: str) -> None:
    """Publish one JSON event per kind, numbered from ``first``, all under one key."""
    for number, kind in enumerate(kinds, first):
        body = {
            "event_type": kind,
            "service": kind.split(".")[0],
            "sequence": number,
            "occurred_at": f"2024-05-01T10:00:0{number}Z",
        }
        send_message(alias, body, key="ord-1", attributes=headers or None)


def test_a_chain_is_read_from_the_topic_as_it_arrives(alias: str) -> None:
    """Events published while the check waits wake it; it passes as the last one arrives."""
    with asyncbdd.scenario("kafka chain"):
        store = SignallingKafkaStore(alias)
        publish(alias, CHAIN[0])

        def publish_the_rest() -> None:
            if store.read.wait(10):
                publish(alias, *CHAIN[1:], first=2)

        thread = threading.Thread(target=publish_the_rest, daemon=True)
        thread.start()
        started = time.monotonic()
        trace = expect_chain(CHAIN, trace=store, timeout=30)
        assert time.monotonic() - started < 10
        thread.join(5)
    assert trace.types == CHAIN
    assert trace.events[0].service == "order"
    assert trace.events[0].source.startswith(f"{alias} message ")


def test_events_out_of_order_on_the_topic_fail_at_once(alias: str) -> None:
    """Sequence numbers that contradict the chain fail as soon as every event is in."""
    with asyncbdd.scenario("kafka out of order"):
        publish(alias, "order.created", "notification.sent", "payment.completed")
        started = time.monotonic()
        with pytest.raises(WaitAborted) as raised:
            expect_chain(CHAIN, trace=QueueTraceStore(alias), timeout=30)
        assert time.monotonic() - started < 10
    message = str(raised.value)
    assert (
        "the events are out of order: notification.sent (#2) came before payment.completed (#3)"
    ) in message
    assert f"(alias '{alias}')" in message


def test_another_scenarios_events_are_not_this_trace(alias: str) -> None:
    """Events carrying another correlation id are skipped, so they never count."""
    with asyncbdd.scenario("kafka isolation"):
        publish(alias, "payment.failed", "payment.completed", correlation_id="someone-else")
        publish(alias, *CHAIN)
        expect_exactly_once("payment.completed", trace=QueueTraceStore(alias))
        expect_no_event("payment.failed", during=0.1, trace=QueueTraceStore(alias))


def test_fields_may_come_from_headers(alias: str) -> None:
    """A field written header:NAME is read from the record's headers."""
    with asyncbdd.scenario("kafka headers"):
        for number, kind in enumerate(CHAIN, 1):
            send_message(alias, {"seq": number}, key="ord-1", attributes={"event_type": kind})
        store = QueueTraceStore(
            alias,
            type_field="header:event_type",
            sequence_field="seq",
            service_field=None,
            timestamp_field=None,
            attributes_field=None,
        )
        trace = expect_chain(CHAIN, trace=store, timeout=30)
    assert [event.sequence for event in trace.events] == [1, 2, 3]


def test_another_correlation_id_needs_a_correlation_field(alias: str) -> None:
    """The scenario's inbox holds only its own events; another id needs a body field."""
    with (
        asyncbdd.scenario("kafka other id"),
        pytest.raises(InvalidInput, match="correlation_field='correlation_id'"),
    ):
        QueueTraceStore(alias).events("someone-else")


def test_the_old_name_still_works_and_says_it_is_deprecated(alias: str) -> None:
    with pytest.warns(DeprecationWarning, match="QueueTraceStore"):
        store = KafkaTraceStore(alias)
    assert isinstance(store, QueueTraceStore)
