"""Waiting on Kafka topics of the embedded mock broker: keys, headers, new topics, errors."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

pytest.importorskip(
    "confluent_kafka", reason="the embedded Kafka broker needs confluent-kafka (pip install it)"
)
kafka = pytest.importorskip("kafka", reason="asyncbdd reads Kafka with kafka-python")

import asyncbdd  # noqa: E402
from asyncbdd.config import Settings  # noqa: E402
from asyncbdd.errors import WaitTimeout  # noqa: E402
from asyncbdd.infra.kafka_broker import EmbeddedKafka, shared_embedded_kafka  # noqa: E402
from asyncbdd.infra.kafka_clients import broker_version_config  # noqa: E402
from asyncbdd.queues import (  # noqa: E402
    Correlation,
    KafkaTopic,
    Message,
    MessageMatcher,
    QueueUnavailable,
    expect_messages,
    queue_named,
    send_message,
)

Configure = Callable[..., Settings]


def produce(topic: str, value: bytes, *, headers: list[tuple[str, bytes]] | None = None) -> None:
    """Produce one record with a plain kafka-python producer, bypassing asyncbdd."""
    servers = shared_embedded_kafka().bootstrap_servers
    producer = kafka.KafkaProducer(
        bootstrap_servers=servers, linger_ms=0, **broker_version_config(servers)
    )
    try:
        producer.send(topic, value=value, headers=headers or []).get(timeout=10)
    finally:
        producer.close(timeout=1)


def test_expect_on_a_topic_with_key_and_headers(configure: Configure, uid: str) -> None:
    """A record's key and headers are read, matched, and carry the correlation id."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:order.created.{uid}"})
    where = MessageMatcher(
        fields={"order_id": "ord-1"},
        attributes={"event_type": "order.created"},
        key="ord-1",
    )
    with asyncbdd.scenario("kafka") as scenario:
        send_message(alias, {"order_id": "ord-0"}, key="ord-0")
        send_message(
            alias, {"order_id": "ord-1"}, key="ord-1", attributes={"event_type": "order.created"}
        )
        [message] = expect_messages(alias, 1, exactly=False, where=where)
    assert message.queue == alias
    assert message.key == "ord-1"
    assert message.json == {"order_id": "ord-1"}
    assert message.attributes == {
        "correlation_id": scenario.correlation_id,
        "event_type": "order.created",
    }
    assert message.correlation_id == scenario.correlation_id
    assert message.message_id.startswith(f"order.created.{uid}/")
    assert message.sent_at is not None


def test_key_mismatch_is_explained(configure: Configure, uid: str) -> None:
    """A wait for a key lists the records that arrived with the key they had."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:order.created.{uid}"})
    with asyncbdd.scenario("wrong key"):
        send_message(alias, {"order_id": "ord-1"}, key="ord-1")
        with pytest.raises(WaitTimeout) as raised:
            expect_messages(alias, 1, where=MessageMatcher(key="ord-2"), timeout=0.5)
    message = str(raised.value)
    assert f'the "{alias}" topic received 0 of 1' in message
    assert "key=ord-1" in message
    assert "key: expected 'ord-2', got 'ord-1'" in message
    assert f"Kafka topic 'order.created.{uid}' at 127.0.0.1:" in message


def test_a_topic_created_during_the_scenario_is_read_from_its_beginning(
    configure: Configure, uid: str
) -> None:
    """A topic missing at scenario start is read from offset 0 once the first produce makes it."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:new.{uid}"})
    with asyncbdd.scenario("new topic"):
        queue = queue_named(alias)
        assert queue.problems() == f"the topic 'new.{uid}' does not exist on the cluster (yet)"
        for number in range(3):
            send_message(alias, {"number": number}, key=str(number))
        received = expect_messages(alias, 3)
    assert sorted(message.json["number"] for message in received) == [0, 1, 2]
    assert queue.problems() is None


def test_records_from_before_the_scenario_are_not_read(configure: Configure, uid: str) -> None:
    """A reader starts at the end of the topic, so older records never reach a scenario."""
    topic = f"old.{uid}"
    produce(topic, b'{"order_id": "old"}')
    alias = f"orders-{uid}"
    configure({alias: f"kafka:{topic}"})
    with asyncbdd.scenario("old records"):
        with pytest.raises(WaitTimeout) as raised:
            expect_messages(alias, 1, timeout=0.5)
        send_message(alias, {"order_id": "new"})
        [message] = expect_messages(alias, 1, exactly=False)
    assert "received:  no message of this scenario" in str(raised.value)
    assert "skipped" not in str(raised.value)
    assert message.json == {"order_id": "new"}


def test_unreachable_bootstrap_servers_fail_within_the_connect_timeout(
    configure: Configure, uid: str
) -> None:
    """Bootstrap servers nobody listens on are QueueUnavailable, bounded by connect_timeout."""
    alias = f"orders-{uid}"
    configure(
        {alias: f"kafka:orders-{uid}"},
        **{"kafka.bootstrap_servers": "127.0.0.1:1", "connect_timeout": "0.5"},
    )
    with asyncbdd.scenario("no broker"):
        started = time.monotonic()
        with pytest.raises(QueueUnavailable) as raised:
            expect_messages(alias, 1, timeout=30)
        elapsed = time.monotonic() - started
    assert elapsed < 3, f"took {elapsed:.2f} s with a 0.5 s connect timeout"
    message = str(raised.value)
    assert "No Kafka broker answered at 127.0.0.1:1 within 0.5 s" in message
    assert f"alias '{alias}'" in message
    assert "asyncbdd.kafka.bootstrap_servers" in message


def test_kafka_options_may_include_what_asyncbdd_sets_too(configure: Configure, uid: str) -> None:
    """Options asyncbdd also passes (client_id, request_timeout_ms) do not break the clients."""
    alias = f"orders-{uid}"
    configure(
        {alias: f"kafka:orders.{uid}"},
        **{"kafka.options": f"client_id = tests-{uid}, request_timeout_ms = 15000"},
    )
    with asyncbdd.scenario("options"):
        send_message(alias, {"order_id": "ord-1"}, key="ord-1")
        [message] = expect_messages(alias, 1)
    assert message.key == "ord-1"


def test_a_topic_built_in_python_uses_its_own_servers_and_options(uid: str) -> None:
    """A KafkaTopic given bootstrap servers and options uses them, not the settings."""
    broker = shared_embedded_kafka().bootstrap_servers
    options = {"client_id": f"tests-{uid}"}
    topic = KafkaTopic(f"orders-{uid}", f"orders.{uid}", bootstrap_servers=broker, options=options)
    try:
        topic.open()
        topic.send('{"n": 1}', attributes={"h": "v"}, key="k")
        deadline = time.monotonic() + 10
        received: list[Message] = []
        while not received and time.monotonic() < deadline:
            received = topic.receive(1.0)
    finally:
        topic.close()
    assert [(m.body, m.key, dict(m.attributes)) for m in received] == [
        ('{"n": 1}', "k", {"h": "v"})
    ]
    assert topic.describe() == f"Kafka topic 'orders.{uid}' at {broker}"


def test_a_closed_topic_asks_for_the_embedded_broker_again(configure: Configure, uid: str) -> None:
    """close() releases the clients and forgets the embedded broker's address, which may
    change when the broker stops with the run; the next use connects again."""
    alias = f"closing-{uid}"
    configure({alias: f"kafka:closing.{uid}"})
    topic = queue_named(alias)
    assert isinstance(topic, KafkaTopic)
    topic.open()
    assert shared_embedded_kafka().bootstrap_servers in topic.describe()
    topic.close()
    assert "(embedded, not started)" in topic.describe()
    with asyncbdd.scenario("opened again"):
        send_message(alias, {"opened": "again"})
        expect_messages(alias, 1)


def test_a_reader_of_a_missing_topic_returns_when_the_broker_is_gone(uid: str) -> None:
    """Looking for a topic that does not exist yet is bounded by the wait: with the broker
    gone, receive() still returns (no records), so the end of a run can stop its reader."""
    with EmbeddedKafka() as broker:
        topic = KafkaTopic(
            f"gone-{uid}",
            f"gone.{uid}",
            bootstrap_servers=broker.bootstrap_servers,
            correlation=Correlation("off"),
        )
        topic.open()
        assert topic.problems() == f"the topic 'gone.{uid}' does not exist on the cluster (yet)"
    try:
        began = time.monotonic()
        assert topic.receive(0.5) == []
        assert time.monotonic() - began < 5.0  # unbounded before: forever
    finally:
        topic.close()
