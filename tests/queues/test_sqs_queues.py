"""Waiting on SQS queues of the embedded moto server: counts, matching, SNS, errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.infra.sqs_server import SqsUnavailable, shared_embedded_sqs
from asyncbdd.queues import (
    MessageMatcher,
    QueueNotFound,
    QueueUnavailable,
    SqsQueue,
    expect_messages,
    expect_no_messages,
    latest_message,
    queue_named,
    send_message,
)

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient

Configure = Callable[..., Settings]


def sns_envelope(message: str, attributes: dict[str, str]) -> dict[str, object]:
    """What SNS delivers to a subscribed queue without raw message delivery."""
    return {
        "Type": "Notification",
        "MessageId": "5f2c1d3e-0000-4000-8000-000000000001",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders",
        "Message": message,
        "Timestamp": "2025-01-01T00:00:00.000Z",
        "SignatureVersion": "1",
        "MessageAttributes": {
            name: {"Type": "String", "Value": value} for name, value in attributes.items()
        },
    }


def test_exactly_one_message_passes_and_is_returned(configure: Configure, uid: str) -> None:
    """One message sent is one message received, with its body, attributes and correlation id."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    with asyncbdd.scenario("one message") as scenario:
        send_message(alias, {"order_id": "ord-1"}, attributes={"event_type": "billing.requested"})
        [message] = expect_messages(alias, 1)
    assert message.queue == alias
    assert json.loads(message.body) == {"order_id": "ord-1"}
    assert message.json == {"order_id": "ord-1"}
    assert message.attributes == {
        "correlation_id": scenario.correlation_id,
        "event_type": "billing.requested",
    }
    assert message.correlation_id == scenario.correlation_id
    assert message.key is None
    assert message.message_id
    assert message.sent_at is not None


def test_the_returned_message_becomes_the_latest_message(configure: Configure, uid: str) -> None:
    """After a wait, latest_message is the first message it matched."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    with asyncbdd.scenario("last message"):
        send_message(alias, {"order_id": "ord-1"})
        [message] = expect_messages(alias, 1)
        assert latest_message() is message


def test_a_duplicate_within_the_grace_window_fails(configure: Configure, uid: str) -> None:
    """A second message within the grace window after the first fails 'exactly 1'."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"}, grace="1 second")
    with asyncbdd.scenario("duplicate"):
        send_message(alias, {"order_id": "ord-1", "copy": 1})
        send_message(alias, {"order_id": "ord-1", "copy": 2})
        with pytest.raises(WaitTimeout) as raised:
            expect_messages(alias, 1)
    message = str(raised.value)
    assert f"Waited for: the {alias} queue to receive 1 message" in message
    assert f"the {alias} queue received 2, more than the 1 expected" in message
    assert "after the 1st, within the 1 s grace window" in message
    assert "expected:  exactly 1" in message
    assert "received:  2 messages of this scenario" in message
    assert '"copy": 2' in message


def test_at_least_accepts_more_messages(configure: Configure, uid: str) -> None:
    """'At least 2' passes when three arrive, and returns every matching one seen."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"}, grace="1 second")
    with asyncbdd.scenario("at least"):
        for number in range(3):
            send_message(alias, {"number": number})
        received = expect_messages(alias, 2, exactly=False)
        assert len(received) >= 2
        everything = expect_messages(alias, 3, exactly=False)
    assert sorted(message.json["number"] for message in everything) == [0, 1, 2]


def test_where_a_fields_table_selects_the_matching_message(configure: Configure, uid: str) -> None:
    """Field rows with typed values pick the one matching message out of several."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    where = MessageMatcher(fields={"order_id": "ord-2", "amount": 99.99})
    with asyncbdd.scenario("fields"):
        send_message(alias, {"order_id": "ord-1", "amount": 10})
        send_message(alias, {"order_id": "ord-2", "amount": 99.99, "currency": "EUR"})
        [message] = expect_messages(alias, 1, where=where)
    assert message.json["order_id"] == "ord-2"


def test_where_a_json_body_matches_as_a_subset(configure: Configure, uid: str) -> None:
    """A body expectation matches a message holding at least its fields, at any depth."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    with asyncbdd.scenario("json subset"):
        send_message(alias, {"order_id": "ord-1", "customer": {"id": 7, "tier": "silver"}})
        send_message(alias, {"order_id": "ord-2", "customer": {"id": 8, "tier": "gold"}})
        where = MessageMatcher(body={"customer": {"tier": "gold"}})
        [message] = expect_messages(alias, 1, exactly=False, where=where)
        assert message.json["order_id"] == "ord-2"
        exact = MessageMatcher(body={"customer": {"tier": "gold"}}, exact_body=True)
        assert sorted(exact.problems(message)) == [
            "customer.id: unexpected field with value 8",
            "order_id: unexpected field with value 'ord-2'",
        ]


def test_where_attributes_select_by_message_attribute(configure: Configure, uid: str) -> None:
    """Attribute expectations compare SQS message attributes as text."""
    alias = f"events-{uid}"
    configure({alias: f"sqs:events-{uid}"})
    where = MessageMatcher(attributes={"event_type": "shipping.requested"})
    with asyncbdd.scenario("attributes"):
        send_message(alias, {"n": 1}, attributes={"event_type": "billing.requested"})
        send_message(alias, {"n": 2}, attributes={"event_type": "shipping.requested"})
        [message] = expect_messages(alias, 1, where=where)
    assert message.json == {"n": 2}


def test_where_failure_lists_the_messages_that_did_not_match(
    configure: Configure, uid: str
) -> None:
    """A failed matching wait lists each message of the scenario with why it did not match."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    where = MessageMatcher(fields={"amount": 99.99}, attributes={"event_type": "paid"})
    with asyncbdd.scenario("no match"):
        send_message(alias, {"order_id": "ord-1", "amount": 10})
        with pytest.raises(WaitTimeout) as raised:
            expect_messages(alias, 1, where=where, timeout=0.5)
    message = str(raised.value)
    assert f"Failed because the deadline passed: the {alias} queue received 0 of 1." in message
    assert "deadline:    500 ms" in message
    assert 'expected:  exactly 1 with amount = 99.99, attribute event_type = "paid"' in message
    assert "received:  1 message of this scenario, 0 matching:" in message
    assert '{"order_id": "ord-1", "amount": 10}' in message
    assert "amount: expected 99.99, got 10" in message
    assert "attribute/header 'event_type': missing (expected 'paid')" in message
    assert f"SQS queue 'billing-{uid}' at http://127.0.0.1:" in message


def test_no_messages_passes_on_silence(configure: Configure, uid: str) -> None:
    """expect_no_messages returns after its window when nothing arrived."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    with asyncbdd.scenario("silence"):
        started = time.monotonic()
        expect_no_messages(alias, during=0.3)
        assert time.monotonic() - started >= 0.25


def test_no_messages_fails_as_soon_as_a_message_arrives(configure: Configure, uid: str) -> None:
    """A message during a quiet window fails the step at once, not at the window's end."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    with asyncbdd.scenario("not silent"):
        send_message(alias, {"order_id": "ord-1"})
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as raised:
            expect_no_messages(alias, during=10)
        elapsed = time.monotonic() - started
    assert elapsed < 5, f"took {elapsed:.2f} s of a 10 s window"
    message = str(raised.value)
    assert f"Waited for: no message on the {alias} queue" in message
    assert f"a message reached the {alias} queue" in message
    assert "into the 10 s window" in message
    assert "window:      10 s" in message
    assert "expected:  none" in message


def test_sns_envelope_is_unwrapped(configure: Configure, uid: str) -> None:
    """A message in an SNS envelope reads as the message SNS was given, with its attributes."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    with asyncbdd.scenario("sns") as scenario:
        queue = queue_named(alias)
        queue.open()
        envelope = sns_envelope(
            '{"order_id": "ord-1"}',
            {"correlation_id": scenario.correlation_id, "event_type": "order.paid"},
        )
        queue.send(json.dumps(envelope), attributes={})
        where = MessageMatcher(attributes={"event_type": "order.paid"})
        [message] = expect_messages(alias, 1, where=where)
    assert message.body == '{"order_id": "ord-1"}'
    assert message.attributes == {
        "correlation_id": scenario.correlation_id,
        "event_type": "order.paid",
    }
    assert message.correlation_id == scenario.correlation_id


def test_sns_envelope_is_kept_when_unwrapping_is_off(configure: Configure, uid: str) -> None:
    """With asyncbdd.sqs.unwrap_sns false the body is the envelope itself."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"}, **{"sqs.unwrap_sns": "false"})
    envelope = sns_envelope('{"order_id": "ord-1"}', {"event_type": "order.paid"})
    with asyncbdd.scenario("sns kept") as scenario:
        send_message(alias, envelope)
        [message] = expect_messages(alias, 1)
    assert message.json == envelope
    assert message.attributes == {"correlation_id": scenario.correlation_id}


def test_fifo_queue_keeps_order(configure: Configure, uid: str) -> None:
    """A queue named *.fifo is created as a FIFO queue and its messages come in order."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}.fifo"})
    with asyncbdd.scenario("fifo"):
        for number in range(3):
            send_message(alias, {"number": number})
        received = expect_messages(alias, 3)
    assert [message.json["number"] for message in received] == [0, 1, 2]


@pytest.mark.usefixtures("aws_credentials")
def test_queue_url_on_a_configured_endpoint_is_used(
    configure: Configure, uid: str, raw_sqs: SQSClient
) -> None:
    """A queue given by URL is read at that URL's endpoint."""
    url = raw_sqs.create_queue(QueueName=f"by-url-{uid}")["QueueUrl"]
    alias = f"billing-{uid}"
    endpoint = shared_embedded_sqs().endpoint_url
    configure({alias: f"sqs:{url}"}, sqs_endpoint=endpoint, sqs_region="us-east-1")
    with asyncbdd.scenario("by url"):
        send_message(alias, {"order_id": "ord-1"})
        [message] = expect_messages(alias, 1)
    assert message.json == {"order_id": "ord-1"}
    assert queue_named(alias).describe() == f"SQS queue 'by-url-{uid}' at {url}"


@pytest.mark.usefixtures("aws_credentials")
def test_queue_url_that_does_not_exist_is_queue_not_found(configure: Configure, uid: str) -> None:
    """A URL naming a queue the endpoint does not have is QueueNotFound naming the queue."""
    alias = f"billing-{uid}"
    endpoint = shared_embedded_sqs().endpoint_url
    url = f"{endpoint}/123456789012/missing-{uid}"
    configure({alias: f"sqs:{url}"}, sqs_endpoint=endpoint, sqs_region="us-east-1")
    with asyncbdd.scenario("missing url"), pytest.raises(QueueNotFound) as raised:
        expect_messages(alias, 1, timeout=0.3)
    message = str(raised.value)
    assert f"The SQS queue 'missing-{uid}' (alias '{alias}') does not exist" in message
    assert "asyncbdd.queues" in message


@pytest.mark.usefixtures("aws_credentials")
def test_queue_name_missing_on_a_configured_endpoint_is_queue_not_found(
    configure: Configure, uid: str
) -> None:
    """asyncbdd creates queues only on its embedded server; elsewhere a missing one is named."""
    alias = f"billing-{uid}"
    endpoint = shared_embedded_sqs().endpoint_url
    configure({alias: f"sqs:missing-{uid}"}, sqs_endpoint=endpoint, sqs_region="us-east-1")
    with asyncbdd.scenario("missing name"), pytest.raises(QueueNotFound) as raised:
        expect_messages(alias, 1, timeout=0.3)
    message = str(raised.value)
    assert f"'missing-{uid}' (alias '{alias}') does not exist at {endpoint}" in message
    assert "Create it, or point the alias at the queue that exists" in message


def test_unreachable_endpoint_is_reported_quickly(configure: Configure, uid: str) -> None:
    """An SQS endpoint nobody listens on is a clear error within the connect timeout."""
    alias = f"billing-{uid}"
    configure(
        {alias: f"sqs:billing-{uid}"},
        sqs_endpoint="http://127.0.0.1:1",
        sqs_region="us-east-1",
        connect_timeout="0.5",
    )
    with asyncbdd.scenario("unreachable"):
        started = time.monotonic()
        with pytest.raises((SqsUnavailable, QueueUnavailable)) as raised:
            expect_messages(alias, 1, timeout=30)
        elapsed = time.monotonic() - started
    assert elapsed < 3, f"took {elapsed:.2f} s with a 0.5 s connect timeout"
    message = str(raised.value)
    assert "http://127.0.0.1:1" in message
    assert "not reachable" in message
    assert "asyncbdd.sqs.endpoint" in message


def test_a_queue_deleted_during_the_scenario_fails_the_wait_at_once(
    configure: Configure, uid: str, raw_sqs: SQSClient
) -> None:
    """When a queue disappears, a wait on it reports QueueNotFound instead of timing out."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    with asyncbdd.scenario("deleted queue"):
        expect_no_messages(alias, during=0.1)  # the reader runs
        raw_sqs.delete_queue(QueueUrl=raw_sqs.get_queue_url(QueueName=f"billing-{uid}")["QueueUrl"])
        started = time.monotonic()
        with pytest.raises(QueueNotFound) as raised:
            expect_messages(alias, 1, timeout=20)
        elapsed = time.monotonic() - started
    assert elapsed < 10, f"took {elapsed:.2f} s of a 20 s deadline"
    assert f"The SQS queue 'billing-{uid}' (alias '{alias}') does not exist" in str(raised.value)


def test_close_releases_the_client_and_the_queue_opens_again(
    configure: Configure, uid: str
) -> None:
    """close() closes the client the queue built and forgets the URL it looked up (the
    embedded server may stop with the run); its next use builds both again."""
    alias = f"closing-{uid}"
    configure({alias: f"sqs:closing-{uid}"})
    queue = queue_named(alias)
    assert isinstance(queue, SqsQueue)
    queue.open()
    first = queue.client
    queue.close()
    assert queue.url is None
    with asyncbdd.scenario("opened again"):
        send_message(alias, {"opened": "again"})
        expect_messages(alias, 1)
    assert queue.client is not first
    assert queue.url is not None


def test_close_leaves_a_client_given_to_the_queue_alone(uid: str, raw_sqs: SQSClient) -> None:
    """A client passed in is its owner's to close: close() keeps it, and the queue's URL."""
    url = raw_sqs.create_queue(QueueName=f"given-{uid}")["QueueUrl"]
    queue = SqsQueue(f"given-{uid}", f"given-{uid}", client=raw_sqs)
    queue.open()
    queue.close()
    assert (queue.client, queue.url) == (raw_sqs, url)
    assert url in raw_sqs.list_queues(QueueNamePrefix=f"given-{uid}")["QueueUrls"]
