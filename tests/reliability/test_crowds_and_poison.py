"""The crowd and poison corpus: the queue readers on the embedded brokers (SQS on moto,
Kafka on librdkafka's mock cluster), one row per case.

* **crowds**: the scenario's own SQS message behind 0, 100 and 200 messages of another
  run. It must be found within the wait's deadline, and every one of theirs given back:
  a plain client receives all of them once the readers stop;
* **poison**: with the correlation id in a body field, an unparseable message (JSON
  nested 1,000 deep, not UTF-8, not JSON, a large body cut short) sent first, then 5 of
  the scenario's own, all read in one batch. All 5 must be delivered (exactly 5), the
  poison listed as skipped with its reason in a failure, "receives no messages" must fail
  (no false pass), and on SQS the poison must be given back at most once in the scenario
  (read twice: the second time it is left hidden) and never deleted. SQS carries Unicode
  text only (a body that is not UTF-8 cannot be sent), so "not UTF-8" is a Kafka row;
* **shared queues**: an SQS queue with a redrive policy (``maxReceiveCount`` 3) holding
  20 of another run's messages is refused at once and none of them received (0 moved to
  the dead-letter queue, each receive count 0); the same queue fed by an SNS topic is
  read through a tap, and still none of the 20 is received from it.

The table (case, broker, expected, got, time against the row's bound, verdict) is printed
after the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import kafka
import pytest

import asyncbdd
from asyncbdd.config import get_settings, load_settings, set_settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.infra.kafka_broker import shared_embedded_kafka
from asyncbdd.infra.sqs_server import shared_embedded_sqs
from asyncbdd.matching import shorten
from asyncbdd.queues import (
    Message,
    Queue,
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
from asyncbdd.queues.sqs_sharing import QueueUnsafeToShare
from asyncbdd.scenario import end_scenario
from asyncbdd.wait import wait_until

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient

FIELD = "field:meta.correlation_id"
CROWD_DEADLINE = 20.0
"""The deadline of the wait for the scenario's message behind a crowd, in seconds."""
WAIT = 5.0
"""The deadline of every other wait, in seconds."""
AT_ONCE = 2.0
"""The bound of a refusal that must come at once, in seconds."""
THEIRS = "another-run"

POISONS: dict[str, bytes] = {
    "JSON nested 1,000 deep": b"[" * 1000 + b"]" * 1000,
    "not UTF-8": b'{"meta": {"correlation_id": "caf\xe9"}}',
    "not JSON": b"order ord-1 paid",
    "250 KiB cut short": b'{"meta": {"correlation_id": "' + b"x" * 250_000,
}
"""Bodies whose correlation id cannot be read, and the reason a failure must give."""
REASONS = {
    "JSON nested 1,000 deep": "its body cannot be read (JSON nested more than 200 levels deep)",
    "not UTF-8": "its body cannot be read (not UTF-8: invalid continuation byte",
    "not JSON": "its body cannot be read (not JSON: Expecting value",
    "250 KiB cut short": "its body cannot be read (not JSON: Unterminated string",
}
SQS_POISONS = [kind for kind in POISONS if kind != "not UTF-8"]
"""SQS message bodies are Unicode text: one that is not UTF-8 cannot be sent."""


@dataclass(frozen=True)
class Row:
    """One case, and how the readers fared."""

    case: str
    broker: str
    expected: str
    got: str
    seconds: float
    bound: float
    holds: bool

    @property
    def passed(self) -> bool:
        return self.holds and self.seconds <= self.bound

    def cells(self) -> tuple[str, ...]:
        verdict = "as specified" if self.passed else ("NO" if not self.holds else "NO: too slow")
        return (
            self.case,
            self.broker,
            self.expected,
            self.got,
            f"{self.seconds:.2f} s / {self.bound:g} s",
            verdict,
        )


def _settings(queues: dict[str, str], **values: object) -> None:
    overrides: dict[str, object] = {"asyncbdd.timeout": f"{WAIT:g} s", "asyncbdd.grace": "0.2"}
    overrides["asyncbdd.queues"] = "\n".join(f"{a} = {s}" for a, s in queues.items())
    overrides.update({f"asyncbdd.{name}": value for name, value in values.items()})
    set_settings(load_settings(environ={}, overrides=overrides))


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _skipped(alias: str, count: int) -> list[Skipped]:
    """The scenario's skipped messages of ``alias``, once there are ``count`` (or after
    :data:`WAIT` seconds)."""
    box = inbox()
    box.wait(lambda: len(box.skipped[alias]) >= count, WAIT)
    with box.changed:
        return box.skipped[alias][:]


def _held(client: SQSClient, url: str) -> int:
    """Messages in an SQS queue, visible or in flight (received, not yet deleted)."""
    attributes = client.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(count) for count in attributes.values())


# --------------------------------------------------------------------------------------
# Crowds


def _crowd(client: SQSClient, url: str, count: int) -> None:
    """``count`` messages of another run, 10 to a request."""
    for start in range(0, count, 10):
        client.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(n),
                    "MessageBody": json.dumps({"n": n}),
                    "MessageAttributes": {
                        "correlation_id": {"DataType": "String", "StringValue": THEIRS}
                    },
                }
                for n in range(start, min(start + 10, count))
            ],
        )


def _receive_and_delete_all(client: SQSClient, url: str, count: int, seconds: float) -> set[str]:
    """The bodies a plain client receives (and deletes, as their owner would) within
    ``seconds``, up to ``count``."""
    bodies: set[str] = set()
    deadline = time.monotonic() + seconds
    while len(bodies) < count and time.monotonic() < deadline:
        batch = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        bodies |= {message["Body"] for message in batch}
        if batch:
            client.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )
    return bodies


def crowd_row(client: SQSClient, ahead: int) -> Row:
    """The scenario's message behind ``ahead`` of another run's is found in time, and all
    of theirs are given back."""
    uid = _uid()
    alias = f"crowd-{uid}"
    _settings({alias: f"sqs:crowd-{uid}"})
    queue = queue_named(alias)
    queue.open()
    url = client.get_queue_url(QueueName=f"crowd-{uid}")["QueueUrl"]
    _crowd(client, url, ahead)
    with asyncbdd.scenario(f"behind {ahead}"):
        send_message(alias, {"n": "ours"})
        started = time.monotonic()
        try:
            [message] = expect_messages(alias, 1, exactly=False, timeout=CROWD_DEADLINE)
            found = message.json == {"n": "ours"}
        except WaitTimeout:
            found = False
        seconds = time.monotonic() - started
    close_readers()
    theirs = _receive_and_delete_all(client, url, ahead, 30)
    return Row(
        f"own message behind {ahead} of another run",
        "SQS",
        f"found; {ahead} of {ahead} given back",
        f"{'found' if found else 'NOT FOUND'}; a plain client received {len(theirs)} of {ahead}",
        seconds,
        CROWD_DEADLINE,
        found and len(theirs) == ahead,
    )


# --------------------------------------------------------------------------------------
# Poison


@dataclass
class _PoisonCounts:
    """How often the reader received the poison message, and gave it back to be visible
    at once."""

    received: int = 0
    given_back: int = 0
    receives: int = 0
    """Receive calls begun."""
    second_read: int | None = None
    """The receive call that brought the poison the second time: the reader has decided
    what to do with it once a later call begins (it sorts a batch before it receives)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def decided_on_second_read(self) -> bool:
        with self.lock:
            return self.second_read is not None and self.receives > self.second_read


def _count_poison(queue: Queue, counts: _PoisonCounts) -> None:
    """Wrap ``queue``'s receive and release to count what happens to its poison message."""
    receive, release = queue.receive, queue.release

    def counted_receive(wait: float) -> list[Message]:
        with counts.lock:
            counts.receives += 1
            call = counts.receives
        messages = receive(wait)
        with counts.lock:
            counts.received += sum(message.problem is not None for message in messages)
            if counts.received >= 2 and counts.second_read is None:
                counts.second_read = call
        return messages

    def counted_release(messages: Sequence[Message], hide_for: int) -> None:
        with counts.lock:
            counts.given_back += sum(m.problem is not None and hide_for == 0 for m in messages)
        release(messages, hide_for)

    queue.receive = counted_receive  # type: ignore[method-assign]
    queue.release = counted_release  # type: ignore[method-assign]


@dataclass(frozen=True)
class _Verdicts:
    """What a poison scenario found, whatever the broker."""

    own: int
    no_messages_failed: bool
    skipped: list[Skipped]
    failure: str
    seconds: float

    def holds(self, kind: str) -> bool:
        return (
            self.own == 5
            and self.no_messages_failed
            and len(self.skipped) == 1
            and self.skipped[0].why.startswith(REASONS[kind])
            and REASONS[kind] in self.failure
            and len(self.failure) < 20_000  # the poison's body is shown shortened
        )

    def got(self) -> str:
        reasons = [item.why.split(" (", 1)[-1].split("), so ")[0] for item in self.skipped]
        return (
            f"{self.own}/5; no-messages {'failed' if self.no_messages_failed else 'PASSED'}; "
            f"skipped {len(self.skipped)}: {shorten('; '.join(reasons), 44)}"
        )


def _poison_scenario(
    alias: str,
    send_all: Callable[[str], None],
    kind: str,
    then: Callable[[], None] = lambda: None,
) -> _Verdicts:
    """In a scenario: ``send_all(correlation_id)`` sends the poison and then 5 of the
    scenario's own; "no messages" must fail, exactly 5 must arrive, and a failing wait
    must list the poison with its reason. ``then`` runs last in the scenario."""
    with asyncbdd.scenario(f"poison: {kind}") as scenario:
        started = time.monotonic()
        send_all(scenario.correlation_id)
        try:
            expect_no_messages(alias, during=WAIT)
            no_messages_failed = False
        except WaitTimeout as error:  # for the scenario's own: their bodies are shown
            no_messages_failed = '{"n": ' in str(error)
        try:
            own = len(expect_messages(alias, 5))
        except WaitTimeout:
            own = len(inbox().messages[alias])
        skipped = _skipped(alias, 1)
        seconds = time.monotonic() - started
        try:
            expect_messages(alias, 6, timeout=0.3)
            failure = ""
        except WaitTimeout as error:
            failure = str(error)
        then()
    return _Verdicts(own, no_messages_failed, skipped, failure, seconds)


def _own(correlation_id: str, n: int) -> str:
    return json.dumps({"n": n, "meta": {"correlation_id": correlation_id}})


def sqs_poison_row(client: SQSClient, kind: str) -> Row:
    """SQS: the poison costs none of the 5, is listed, given back at most once in the
    scenario, and never deleted."""
    uid = _uid()
    alias = f"poison-{uid}"
    _settings({alias: f"sqs:poison-{uid}"}, queues_correlation=FIELD)
    queue = queue_named(alias)
    queue.open()
    url = client.get_queue_url(QueueName=f"poison-{uid}")["QueueUrl"]
    counts = _PoisonCounts()
    _count_poison(queue, counts)

    def send_all(correlation_id: str) -> None:
        client.send_message(QueueUrl=url, MessageBody=POISONS[kind].decode())
        for n in range(5):
            queue.send(_own(correlation_id, n), attributes={})
        start_reader(queue)  # all six are in the queue when the reader first receives

    def read_again() -> None:  # given back once, it is read again in the same scenario
        with contextlib.suppress(WaitTimeout):  # the row then shows it read once only
            wait_until(
                counts.decided_on_second_read,
                timeout=WAIT,
                description="the poison message to be read a second time, and sorted",
            )

    verdicts = _poison_scenario(alias, send_all, kind, then=read_again)
    close_readers()
    kept = _held(client, url)
    return Row(
        f"poison: {kind}",
        "SQS",
        "5/5; no-messages fails; skipped, why; given back <= 1x, kept",
        f"{verdicts.got()}; read {counts.received}x, given back {counts.given_back}x, {kept} kept",
        verdicts.seconds,
        2 * WAIT,
        verdicts.holds(kind) and (counts.received, counts.given_back, kept) == (2, 1, 1),
    )


def kafka_poison_row(kind: str) -> Row:
    """Kafka: the poison record in the poll batch of the 5 costs none of them."""
    uid = _uid()
    alias = f"poison-{uid}"
    topic = f"poison.{uid}"
    _settings({alias: f"kafka:{topic}"}, queues_correlation=FIELD)

    def send_all(correlation_id: str) -> None:
        producer = kafka.KafkaProducer(
            bootstrap_servers=shared_embedded_kafka().bootstrap_servers,
            linger_ms=50,  # one produce request, one batch: the poison first
            max_request_size=2 * 1024 * 1024,
            api_version=MOCK_CLUSTER_API_VERSION,
        )
        try:
            values = [POISONS[kind], *(_own(correlation_id, n).encode() for n in range(5))]
            futures = [producer.send(topic, value=value) for value in values]
            for future in futures:
                future.get(timeout=10)
        finally:
            producer.close(timeout=1)

    verdicts = _poison_scenario(alias, send_all, kind)
    close_readers()
    return Row(
        f"poison: {kind}",
        "Kafka",
        "5/5; no-messages fails; skipped, why",
        verdicts.got(),
        verdicts.seconds,
        2 * WAIT,
        verdicts.holds(kind),
    )


# --------------------------------------------------------------------------------------
# Shared queues with a redrive policy


def _redriven_queue(client: SQSClient, name: str) -> tuple[str, str]:
    """A queue whose messages move to ``name``-dlq after 3 receives; both URLs."""
    dlq = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    policy = {"deadLetterTargetArn": _arn(client, dlq), "maxReceiveCount": "3"}
    url = client.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(policy)})
    return url["QueueUrl"], dlq


def _arn(client: SQSClient, url: str) -> str:
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def _depth(client: SQSClient, url: str) -> int:
    attributes = client.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _receive_counts(client: SQSClient, url: str) -> list[int]:
    """How often each message in the queue was received before this plain client did."""
    counts: list[int] = []
    while True:
        batch = client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            AttributeNames=["ApproximateReceiveCount"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not batch:
            return counts
        counts += [int(m["Attributes"]["ApproximateReceiveCount"]) - 1 for m in batch]


def _theirs(count: int) -> Iterator[tuple[str, dict[str, str]]]:
    for n in range(count):
        yield json.dumps({"n": n}), {"correlation_id": THEIRS}


def redrive_refused_row(client: SQSClient) -> Row:
    """A shared queue with a redrive policy and no topic is refused at once, and none of
    the 20 messages in it is received."""
    uid = _uid()
    url, dlq = _redriven_queue(client, f"shared-{uid}")
    for body, attributes in _theirs(20):
        client.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            },
        )
    alias = f"shared-{uid}"
    _settings({alias: f"sqs:shared-{uid}"})
    started = time.monotonic()
    refused = ""
    with asyncbdd.scenario("shared, redrive policy"):
        try:
            expect_no_messages(alias, during=1)
        except QueueUnsafeToShare as error:
            refused = str(error)
    seconds = time.monotonic() - started
    close_readers()
    moved, counts = _depth(client, dlq), _receive_counts(client, url)
    named = "redrive policy" in refused and f"shared-{uid}-dlq" in refused
    return Row(
        "redrive policy (maxReceiveCount 3), 20 of another run",
        "SQS",
        "refused at once; 0 of 20 moved; none received",
        f"{'refused, naming the dead-letter queue' if named else 'NOT REFUSED'}; {moved} of 20 "
        f"moved; receive counts {_tally(counts)}",
        seconds,
        AT_ONCE,
        named and moved == 0 and counts == [0] * 20,
    )


def tapped_row(client: SQSClient) -> Row:
    """The same queue fed by an SNS topic is read through a tap: the scenario's own
    message is found, and none of the 20 of another run is received from the queue."""
    sns = shared_embedded_sqs().sns_client()
    uid = _uid()
    url, dlq = _redriven_queue(client, f"fed-{uid}")
    topic = sns.create_topic(Name=f"fed-{uid}")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=_arn(client, url),
        Attributes={"RawMessageDelivery": "true"},
    )
    alias = f"fed-{uid}"
    _settings({alias: f"sqs:fed-{uid}"})
    with asyncbdd.scenario("shared, fed by a topic") as scenario:
        started = time.monotonic()
        published = [*_theirs(20), (json.dumps({"n": "ours"}), {"correlation_id": ""})]
        for body, attributes in published:
            owner = attributes["correlation_id"] or scenario.correlation_id
            sns.publish(
                TopicArn=topic,
                Message=body,
                MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": owner}},
            )
        try:
            [message] = expect_messages(alias, 1, timeout=WAIT)
            found = message.json == {"n": "ours"}
        except WaitTimeout:
            found = False
        seconds = time.monotonic() - started
        tapped = "read through a tap" in queue_named(alias).describe()
    close_readers()
    moved, counts = _depth(client, dlq), _receive_counts(client, url)
    return Row(
        "the same, fed by an SNS topic",
        "SQS + SNS",
        "read through a tap; own found; 0 of 20 moved",
        f"{'tap' if tapped else 'NO TAP'}; {'found' if found else 'NOT FOUND'}; {moved} of 20 "
        f"moved; receive counts {_tally(counts)}",
        seconds,
        WAIT,
        tapped and found and moved == 0 and counts == [0] * 21,
    )


def _tally(counts: list[int]) -> str:
    """``[0, 0, 1]`` as ``0 x2, 1 x1``."""
    return ", ".join(f"{value} x{counts.count(value)}" for value in sorted(set(counts))) or "-"


# --------------------------------------------------------------------------------------


@pytest.fixture
def embedded_queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[SQSClient]:
    """A plain client of the embedded SQS server; no ASYNCBDD_* variable leaks in, and the
    settings, scenario and readers are restored or stopped afterwards."""
    for variable in list(os.environ):
        if variable.startswith("ASYNCBDD_"):
            monkeypatch.delenv(variable)
    previous = get_settings()
    try:
        yield shared_embedded_sqs().client()
    finally:
        end_scenario()
        close_readers()
        set_settings(previous)


def test_crowds_and_poison_cost_no_message_and_harm_no_other_consumer(
    embedded_queues: SQSClient, reliability_report: Callable[..., None]
) -> None:
    """Every crowd, poison and shared-queue case behaves as the README specifies, within
    its bound."""
    client = embedded_queues
    rows = [crowd_row(client, ahead) for ahead in (0, 100, 200)]
    rows += [sqs_poison_row(client, kind) for kind in SQS_POISONS]
    rows += [kafka_poison_row(kind) for kind in POISONS]
    rows += [redrive_refused_row(client), tapped_row(client)]
    passed = sum(row.passed for row in rows)
    reliability_report(
        f"crowds and poison on the embedded brokers: {passed}/{len(rows)} as specified",
        ["case", "broker", "expected", "got", "time / bound", "verdict"],
        [row.cells() for row in rows],
    )
    problems = [" | ".join(row.cells()) for row in rows if not row.passed]
    assert problems == [], "\n".join(problems)
