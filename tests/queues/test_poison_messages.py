"""Poison messages: a body that cannot be parsed is classified and listed, never costs the
messages read with it, and is not recirculated for ever."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import kafka
import pytest

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.infra.kafka_broker import shared_embedded_kafka
from asyncbdd.queues import (
    NOT_JSON,
    Message,
    MessageMatcher,
    Skipped,
    close_readers,
    expect_messages,
    expect_no_messages,
    inbox,
    queue_named,
    send_message,
    start_reader,
)
from asyncbdd.queues.kafka import MOCK_CLUSTER_API_VERSION
from asyncbdd.wait import wait_until

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient

Configure = Callable[..., Settings]
WaitForSkipped = Callable[..., list[Skipped]]

DEEP_ARRAY = "[" * 100_000
"""A body json.loads gives up on with RecursionError (100 KB: small enough for SQS)."""
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000
"""A well-formed JSON object nested 100,000 deep (600 KB: Kafka only)."""
FIELD = "field:meta.correlation_id"

NEEDS_KAFKA = pytest.mark.skipif(
    importlib.util.find_spec("confluent_kafka") is None,
    reason="the embedded Kafka broker needs confluent-kafka (pip install it)",
)
TRANSPORTS = ["sqs", pytest.param("kafka", marks=NEEDS_KAFKA)]


def configured(configure: Configure, transport: str, uid: str, **settings: object) -> str:
    """An alias of a queue (``sqs``) or topic (``kafka``) of the test's own; return it."""
    alias = f"orders-{uid}"
    spec = f"sqs:orders-{uid}" if transport == "sqs" else f"kafka:orders.{uid}"
    configure({alias: spec}, **settings)
    return alias


def produce(topic: str, values: list[bytes]) -> None:
    """Produce records of raw bytes with a plain kafka-python producer, in one go."""
    producer = kafka.KafkaProducer(
        bootstrap_servers=shared_embedded_kafka().bootstrap_servers,
        linger_ms=50,
        api_version=MOCK_CLUSTER_API_VERSION,
    )
    try:
        futures = [producer.send(topic, value=value) for value in values]
        for future in futures:
            future.get(timeout=10)
    finally:
        producer.close(timeout=1)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_poison_message_costs_none_of_the_messages_read_with_it(
    configure: Configure, uid: str, transport: str, wait_for_skipped: WaitForSkipped
) -> None:
    """A body nested too deep for json.loads, read in the batch of the scenario's own five
    messages, is listed with its reason and every wait's notes; all five are delivered."""
    alias = configured(configure, transport, uid, queues_correlation=FIELD)
    with asyncbdd.scenario("poison first"):
        queue_named(alias).send(DEEP_ARRAY, attributes={})
        for n in range(5):
            send_message(alias, {"n": n})
        received = expect_messages(alias, 5)
        [skipped] = wait_for_skipped(alias)
        with pytest.raises(WaitTimeout) as raised:
            expect_messages(alias, 6, timeout=0.3)
        where = MessageMatcher(fields={"n": 7})
        with pytest.raises(WaitTimeout) as again:
            expect_messages(alias, 1, exactly=False, where=where, timeout=0.3)
    assert sorted(message.json["n"] for message in received) == [0, 1, 2, 3, 4]
    assert skipped.message.correlation_id is None
    assert skipped.why.startswith("its body cannot be read (JSON nested more than ")
    assert "so its body field 'meta.correlation_id' is unknown" in skipped.why
    for failure in (str(raised.value), str(again.value)):
        assert "skipped 1 message not of this scenario" in failure
        assert "its body cannot be read (JSON nested more than " in failure


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_poison_message_of_the_scenario_fails_no_messages(
    configure: Configure, uid: str, transport: str
) -> None:
    """With correlation in an attribute/header, an unparseable body of the scenario is an
    arrival: "no messages" fails at once, showing the body as not JSON, and why."""
    alias = configured(configure, transport, uid)
    with asyncbdd.scenario("own poison") as scenario:
        queue_named(alias).send(DEEP_ARRAY, attributes={"correlation_id": scenario.correlation_id})
        with pytest.raises(WaitTimeout) as raised:
            expect_no_messages(alias, during=5)
        [message] = inbox().messages[alias]
    assert message.json is NOT_JSON
    assert message.problem is not None
    assert message.problem.startswith("JSON nested more than ")
    failure = str(raised.value)
    assert "received:  1 message of this scenario" in failure
    assert "(body not JSON: JSON nested more than " in failure


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_matching_wait_reads_past_a_poison_message_of_the_scenario(
    configure: Configure, uid: str, transport: str
) -> None:
    """A wait with a fields table finds the scenario's good message after its poison one,
    which does not match (its body is not JSON) rather than raising RecursionError."""
    alias = configured(configure, transport, uid)
    with asyncbdd.scenario("own poison, then the good one") as scenario:
        queue_named(alias).send(DEEP_ARRAY, attributes={"correlation_id": scenario.correlation_id})
        send_message(alias, {"order_id": "ord-1"})
        where = MessageMatcher(fields={"order_id": "ord-1"})
        [message] = expect_messages(alias, 1, exactly=False, where=where)
    assert message.json == {"order_id": "ord-1"}


@NEEDS_KAFKA
def test_every_kind_of_unparseable_record_is_classified(
    configure: Configure, uid: str, wait_for_skipped: WaitForSkipped
) -> None:
    """Records too deep, not UTF-8 or not JSON (correlation in a body field) are each
    listed with their own reason, and the scenario's record produced with them arrives."""
    alias = configured(configure, "kafka", uid, queues_correlation=FIELD)
    with asyncbdd.scenario("every kind") as scenario:
        ours = f'{{"n": "ours", "meta": {{"correlation_id": "{scenario.correlation_id}"}}}}'
        produce(
            f"orders.{uid}",
            [
                DEEP_OBJECT.encode(),
                b'{"meta": {"correlation_id": "caf\xe9"}}',
                b"plain text",
                ours.encode(),
            ],
        )
        [message] = expect_messages(alias, 1)
        skipped = wait_for_skipped(alias, 3)
    assert message.json["n"] == "ours"
    reasons = sorted(item.why for item in skipped)
    assert len(reasons) == 3
    assert reasons[0].startswith("its body cannot be read (JSON nested more than 200 levels")
    assert reasons[1].startswith("its body cannot be read (not JSON: Expecting value")
    assert reasons[2].startswith("its body cannot be read (not UTF-8: invalid continuation")
    assert all(r.endswith("so its body field 'meta.correlation_id' is unknown") for r in reasons)


def test_an_unknown_poison_message_on_sqs_is_released_once_and_never_deleted(
    configure: Configure, uid: str, raw_sqs: SQSClient, wait_for_skipped: WaitForSkipped
) -> None:
    """An SQS message whose owner cannot be read is given back once in a scenario, then left
    hidden for the queue's visibility timeout: read twice, then not for 2 s, and kept."""
    alias = configured(configure, "sqs", uid, queues_correlation=FIELD)
    queue = queue_named(alias)
    queue.open()
    receipts: list[str] = []
    counting = threading.Lock()
    receive = queue.receive

    def counted(wait: float) -> list[Message]:
        messages = receive(wait)
        with counting:
            receipts.extend(m.message_id for m in messages if m.problem is not None)
        return messages

    def receipts_so_far() -> list[str]:
        with counting:
            return receipts[:]

    queue.receive = counted  # type: ignore[method-assign]
    url = raw_sqs.get_queue_url(QueueName=f"orders-{uid}")["QueueUrl"]
    raw_sqs.send_message(QueueUrl=url, MessageBody=DEEP_ARRAY)
    with asyncbdd.scenario("unknown poison"):
        start_reader(queue)
        [skipped] = wait_for_skipped(alias)
        wait_until(
            receipts_so_far,
            lambda read: len(read) == 2,
            hold=2,
            timeout=8,
            description="the poison message to be read twice, then no more",
        )
    close_readers()
    held = raw_sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert sum(int(count) for count in held.values()) == 1
    assert skipped.message.problem is not None
    assert receipts_so_far() == [skipped.message.message_id] * 2


@pytest.mark.parametrize(
    ("body", "parses"),
    [
        ("[" * 600 + "]" * 600, False),
        (DEEP_ARRAY, False),
        ("[1, 2", False),
        ('"\\ud800"', True),
        ("[" * 100 + "]" * 100, True),
    ],
    ids=["600-deep", "100000-deep", "truncated", "lone-surrogate", "100-deep"],
)
def test_a_body_is_parsed_or_not_the_same_on_every_thread(body: str, parses: bool) -> None:
    """Whether a body parses never depends on the stack depth of the code that asks, and
    asking never raises."""
    results: list[object] = []

    def deep(levels: int) -> None:
        if levels:
            deep(levels - 1)
        else:
            results.append(Message("q", body).json)

    deep(0)
    deep(800)
    assert [result is not NOT_JSON for result in results] == [parses, parses]
