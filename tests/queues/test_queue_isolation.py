"""Isolation between scenarios and runs that share queues: correlation ids decide."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import pytest

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.queues import (
    Message,
    Queue,
    Skipped,
    SqsQueue,
    close_readers,
    expect_messages,
    expect_no_messages,
    inbox,
    queue_named,
    register_queue,
    send_message,
    start_reader,
    unregister_queue,
)
from asyncbdd.wait import wait_until

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient

Configure = Callable[..., Settings]
WaitForSkipped = Callable[..., list[Skipped]]


def messages_held(client: SQSClient, url: str) -> int:
    """Messages in an SQS queue, visible or in flight (received, not yet deleted)."""
    attributes = client.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(count) for count in attributes.values())


def test_leftover_of_an_earlier_scenario_is_listed_not_counted(
    configure: Configure, uid: str, wait_for_skipped: WaitForSkipped
) -> None:
    """A message of scenario A that nobody read during A is skipped in B as A's leftover."""
    alias = f"billing-{uid}"
    name = f"billing-{uid}"
    # A reads another queue only, so that no reader takes A's message while A runs.
    configure({f"other-{uid}": f"sqs:other-{uid}"})
    with asyncbdd.scenario("A") as first:
        direct = SqsQueue("direct", name)
        direct.open()
        direct.send('{"order_id": "from-A"}', attributes={"correlation_id": first.correlation_id})
    configure({alias: f"sqs:{name}"})
    with asyncbdd.scenario("B"):
        start_reader(queue_named(alias))  # SQS queues are read from the first wait on them
        [skipped] = wait_for_skipped(alias)
        with pytest.raises(WaitTimeout) as raised:
            expect_messages(alias, 1, timeout=0.3)
    assert skipped.why == "left over from an earlier scenario"
    assert skipped.message.correlation_id == first.correlation_id
    message = str(raised.value)
    assert "received:  no message of this scenario" in message
    assert "skipped 1 message not of this scenario" in message
    assert "left over from an earlier scenario: correlation_id=" in message
    assert '{"order_id": "from-A"}' in message


def test_a_message_read_during_an_earlier_scenario_does_not_satisfy_the_next(
    configure: Configure, uid: str
) -> None:
    """A second message sent after A's step passed stays A's: B does not receive it."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:orders.{uid}"})
    with asyncbdd.scenario("A") as first:
        send_message(alias, {"order_id": "first"})
        expect_messages(alias, 1, exactly=False)
        send_message(alias, {"order_id": "second"})
        box = inbox()
        assert box.wait(lambda: len(box.messages[alias]) == 2, 5)
    with asyncbdd.scenario("B") as second:
        with pytest.raises(WaitTimeout) as raised:
            expect_messages(alias, 1, timeout=0.3)
        assert inbox().messages[alias] == []
    assert first.correlation_id != second.correlation_id
    assert "received:  no message of this scenario" in str(raised.value)


def test_message_of_another_run_is_skipped_listed_and_released(
    configure: Configure, uid: str, raw_sqs: SQSClient, wait_for_skipped: WaitForSkipped
) -> None:
    """A message with someone else's correlation id is listed, not deleted: its owner gets it."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    queue = queue_named(alias)
    with asyncbdd.scenario("ours"):
        queue.send('{"order_id": "theirs"}', attributes={"correlation_id": "someone-else"})
        start_reader(queue)
        [skipped] = wait_for_skipped(alias)
        with pytest.raises(WaitTimeout) as raised:
            expect_messages(alias, 1, timeout=0.3)
    assert skipped.why == "belongs to another scenario or run"
    message = str(raised.value)
    assert "received:  no message of this scenario" in message
    assert (
        "skipped 1 message not of this scenario (its attribute/header 'correlation_id'" in message
    )
    assert (
        'belongs to another scenario or run: correlation_id=someone-else {"order_id": "theirs"}'
        in message
    )
    url = raw_sqs.get_queue_url(QueueName=f"billing-{uid}")["QueueUrl"]
    assert messages_held(raw_sqs, url) == 1
    close_readers()  # the owner's own reader, a plain receive, must get it now
    received = raw_sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=15, MessageAttributeNames=["All"]
    ).get("Messages", [])
    assert [m["Body"] for m in received] == ['{"order_id": "theirs"}']
    assert received[0]["MessageAttributes"]["correlation_id"]["StringValue"] == "someone-else"


def test_a_message_without_a_correlation_id_is_listed_as_such(
    configure: Configure, uid: str, wait_for_skipped: WaitForSkipped
) -> None:
    """A message that carries no correlation id is skipped, saying where one was looked for."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:orders.{uid}"})
    with asyncbdd.scenario("anonymous"):
        queue_named(alias).send('{"order_id": "anonymous"}', attributes={})
        [skipped] = wait_for_skipped(alias)
    assert skipped.why == "carries no attribute/header 'correlation_id'"


def test_field_correlation_attributes_by_a_body_field(
    configure: Configure, uid: str, wait_for_skipped: WaitForSkipped
) -> None:
    """With correlation field:meta.correlation_id the body field decides whose a message is."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:orders.{uid}"}, queues_correlation="field:meta.correlation_id")
    with asyncbdd.scenario("field") as scenario:
        queue = queue_named(alias)
        queue.send(
            json.dumps({"order_id": "theirs", "meta": {"correlation_id": "someone-else"}}),
            attributes={"correlation_id": scenario.correlation_id},  # not where it is read
        )
        queue.send('{"order_id": "anonymous"}', attributes={})
        send_message(alias, {"order_id": "ours"})
        [message] = expect_messages(alias, 1)
        skipped = wait_for_skipped(alias, 2)
    assert message.json == {"order_id": "ours", "meta": {"correlation_id": scenario.correlation_id}}
    assert message.correlation_id == scenario.correlation_id
    assert sorted((item.message.json["order_id"], item.why) for item in skipped) == [
        ("anonymous", "carries no body field 'meta.correlation_id'"),
        ("theirs", "belongs to another scenario or run"),
    ]


def test_correlation_off_counts_every_message_during_the_scenario(
    configure: Configure, uid: str
) -> None:
    """With correlation off, whatever arrives while a scenario runs is the scenario's."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"}, queues_correlation="off")
    with asyncbdd.scenario("off"):
        queue_named(alias).send('{"n": 1}', attributes={"correlation_id": "someone-else"})
        send_message(alias, {"n": 2})
        received = expect_messages(alias, 2)
    assert sorted(message.json["n"] for message in received) == [1, 2]
    assert [message.correlation_id for message in received] == [None, None]
    assert next(m for m in received if m.json["n"] == 2).attributes == {}


def test_correlation_off_drops_what_arrives_between_scenarios(
    configure: Configure, uid: str, raw_sqs: SQSClient
) -> None:
    """With correlation off, a message read between two scenarios counts for neither."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"}, queues_correlation="off")
    with asyncbdd.scenario("A"):
        expect_no_messages(alias, during=0.1)
    url = raw_sqs.get_queue_url(QueueName=f"billing-{uid}")["QueueUrl"]
    raw_sqs.send_message(QueueUrl=url, MessageBody='{"order_id": "between"}')
    wait_until(
        lambda: messages_held(raw_sqs, url),
        lambda held: held == 0,
        timeout=5,
        description="the reader to take the message sent between scenarios",
    )
    with asyncbdd.scenario("B"):
        expect_no_messages(alias, during=0.3)
        assert inbox().skipped[alias] == []


class CrowdedQueue(Queue):
    """A queue that, like moto's SQS, returns its oldest visible messages first, 10 at a
    time; a received message stays hidden until deleted or released (hidden for good if
    released with a delay, which the test does not need to see end)."""

    kind = "crowded queue"
    reads_exclusively = True

    def __init__(self, alias: str, messages: list[Message]) -> None:
        super().__init__(alias)
        self.messages = messages
        self.visible = {message.message_id for message in messages}
        self.released: list[str] = []
        self.received: list[str] = []
        self.released_before_ours: list[str] | None = None
        self.changed = threading.Condition()

    def describe(self) -> str:
        return f"crowded queue {self.alias!r}"

    def open(self) -> None:
        return

    def receive(self, wait: float) -> list[Message]:
        with self.changed:
            self.changed.wait_for(lambda: self.visible, timeout=wait)
            batch = [m for m in self.messages if m.message_id in self.visible][:10]
            self.visible -= {message.message_id for message in batch}
            self.received += [message.message_id for message in batch]
            return batch

    def backlog(self) -> int:
        with self.changed:
            return len(self.visible)

    def delete(self, messages: Sequence[Message]) -> None:
        with self.changed:
            if any(message.correlation_id != "someone-else" for message in messages):
                self.released_before_ours = list(self.released)
            gone = {message.message_id for message in messages}
            self.messages = [m for m in self.messages if m.message_id not in gone]

    def release(self, messages: Sequence[Message], hide_for: int) -> None:
        with self.changed:
            self.released += [message.message_id for message in messages]
            if hide_for == 0:
                self.visible |= {message.message_id for message in messages}
                self.changed.notify_all()

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        raise NotImplementedError("the test fills the queue when it makes it")


@pytest.mark.parametrize("crowd", [25, 300])
def test_a_message_behind_a_crowd_of_others_is_read_before_they_are_given_back(
    uid: str, crowd: int
) -> None:
    """Others' messages are held until the reader has read past them, however many the
    queue held when it began, so that its own message behind them is found in one pass:
    each of theirs received once before ours, none given back before."""
    alias = f"crowded-{uid}"
    with asyncbdd.scenario("behind the crowd") as state:
        others = [
            Message(alias, f'{{"n": {n}}}', message_id=f"m{n}", correlation_id="someone-else")
            for n in range(crowd)
        ]
        ours = Message(
            alias, '{"n": "ours"}', message_id="ours", correlation_id=state.correlation_id
        )
        queue = CrowdedQueue(alias, [*others, ours])
        register_queue(alias, queue)
        try:
            start_reader(queue)
            [message] = expect_messages(alias, 1, exactly=False)
            wait_until(lambda: len(queue.released), lambda count: count >= len(others))
        finally:
            close_readers()
            unregister_queue(alias)
    assert message is ours
    assert queue.released_before_ours == []
    assert queue.received[: crowd + 1] == [m.message_id for m in others] + ["ours"]
    assert sorted(queue.released[: len(others)]) == sorted(m.message_id for m in others)


def crowd_the_queue(client: SQSClient, url: str, count: int) -> None:
    """Send ``count`` messages of another run to an SQS queue, 10 to a request."""
    for start in range(0, count, 10):
        client.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(n),
                    "MessageBody": json.dumps({"n": n}),
                    "MessageAttributes": {
                        "correlation_id": {"DataType": "String", "StringValue": "someone-else"}
                    },
                }
                for n in range(start, min(start + 10, count))
            ],
        )


def receive_all(client: SQSClient, url: str, count: int, seconds: float) -> set[str]:
    """The bodies of up to ``count`` messages a plain client receives within ``seconds``."""
    bodies: set[str] = set()
    deadline = time.monotonic() + seconds
    while len(bodies) < count and time.monotonic() < deadline:
        reply = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies |= {message["Body"] for message in reply.get("Messages", [])}
    return bodies


def test_a_message_behind_100_of_another_run_is_found_and_theirs_are_given_back(
    configure: Configure, uid: str, raw_sqs: SQSClient
) -> None:
    """Ours behind 100 others' messages on moto is delivered in the first sweep, and each
    of theirs that the reader received is released, so that a plain client receives all."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"}, timeout="20 seconds")
    queue = queue_named(alias)
    queue.open()
    url = raw_sqs.get_queue_url(QueueName=f"billing-{uid}")["QueueUrl"]
    crowd_the_queue(raw_sqs, url, 100)
    with asyncbdd.scenario("behind 100 others"):
        send_message(alias, {"n": "ours"})
        started = time.monotonic()
        [message] = expect_messages(alias, 1, exactly=False)
        found_after = time.monotonic() - started
    close_readers()
    assert message.json["n"] == "ours"
    assert found_after < 10, f"ours was found after {found_after:.2f} s"  # hidden: 30 s
    theirs = receive_all(raw_sqs, url, 100, 15)
    assert len(theirs) == 100, f"a plain client received {len(theirs)} of their 100 messages"


def test_no_messages_fails_when_ours_is_behind_100_of_another_run(
    configure: Configure, uid: str, raw_sqs: SQSClient
) -> None:
    """A message of the scenario behind 100 others' is an arrival: "no messages" fails."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    queue = queue_named(alias)
    queue.open()
    url = raw_sqs.get_queue_url(QueueName=f"billing-{uid}")["QueueUrl"]
    crowd_the_queue(raw_sqs, url, 100)
    with asyncbdd.scenario("quiet?"):
        send_message(alias, {"n": "ours"})
        with pytest.raises(WaitTimeout) as raised:
            expect_no_messages(alias, during=10)  # ours is read within 11 receives
    close_readers()
    assert '{"n": "ours"}' in str(raised.value)


def test_a_reader_started_before_any_wait_keeps_the_scenarios_own_message(uid: str) -> None:
    """A scenario's inbox is live from its start: a reader that reads the scenario's own
    message before any step waits on the queue files it, never gives it back as nobody's."""
    alias = f"read-early-{uid}"
    with asyncbdd.scenario("a reader before the first wait") as state:
        ours = Message(
            alias, '{"n": "ours"}', message_id="ours", correlation_id=state.correlation_id
        )
        queue = CrowdedQueue(alias, [ours])
        register_queue(alias, queue)
        try:
            start_reader(queue)
            wait_until(lambda: queue.received, timeout=5)  # read before anything waits
            [message] = expect_messages(alias, 1, exactly=False, timeout=2)
        finally:
            close_readers()
            unregister_queue(alias)
    assert message is ours
    assert queue.released == []
