"""Queue drain: how soon a step sees a message, what draining costs, how fast brokers start.

Measured with the real clock on the embedded brokers (moto's SQS server in this process,
librdkafka's mock Kafka cluster in a child), side by side in one run, against the
hand-written code a test suite would otherwise contain:

1. Detection delay: a thread sends one message at a random moment (fixed seed) after
   ``expect_messages`` began to wait; the delay is from the send call's return to the
   wait's return. Baseline: the seed project's loop, ``receive_message(WaitTimeSeconds=0)``
   then ``time.sleep(2)`` while the message is missing, on a queue of its own, its waits
   run side by side in a thread pool while the asyncbdd waits run one after another.
2. Three queues in one step, one message each sent at staggered moments, against the
   slowest of the three single-queue waits with the same moments (and their sum).
3. Drain throughput of a feeder's messages: SQS with the queue kept at most 100 deep,
   Kafka from a librdkafka producer in a child process, against bare boto3 /
   kafka-python loops fed the same way.
4. Isolation cost: a scenario's start and end with four queues' readers running, against
   the seed project's cleanup fixture (a 2 s receive per queue until it comes back empty).
5. Embedded brokers ready from cold, against a reference of 1 s.

Every scenario reads the same four aliases (three SQS queues and one Kafka topic, named
uniquely for the run): correlation ids, not fresh queues, keep scenarios apart.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from confluent_kafka import Producer
from kafka import KafkaConsumer, TopicPartition

import asyncbdd
from asyncbdd.config import Settings, get_settings
from asyncbdd.infra.kafka_broker import EmbeddedKafka, shared_embedded_kafka
from asyncbdd.infra.sqs_server import shared_embedded_sqs
from asyncbdd.queues import close_readers, expect_messages, inbox, send_message
from asyncbdd.queues.inbox import Inbox
from bench.core import Result, median, p90, settings_in_force, uniform
from bench.feeding import ChildFeeder

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient

__all__ = ["run"]

T = TypeVar("T")

SEED = 20_240_602
SQS_ALIASES = ("billing", "shipping", "inventory")
KAFKA_ALIAS = "orders"
SEED_POLL = 2.0
"""The seed project's fixed pause between two looks at a queue, in seconds."""
SEND_WITHIN = (0.02, 0.5)
"""When (s after the wait began) a message is sent to an asyncbdd wait."""
SEED_SEND_WITHIN = (0.02, SEED_POLL)
"""The same for the seed loop: its whole poll period, so every phase is sampled."""
DELAY_TARGET_MS = 50.0
CONCURRENT_TARGET = 1.2
THROUGHPUT_TARGET = 0.8
ISOLATION_TARGET_MS = 20.0
READY_TARGET_S = 1.0
MAX_DEPTH = 100
"""Deepest the SQS feeder lets a queue get: moto slows sharply on deep queues."""
BATCH = 10
WAIT_LIMIT = 10.0
"""Deadline of every measured wait, in seconds; none comes near it."""


def run(quick: bool) -> list[Result]:
    """Measure every figure of this module: about 140 s, or 45 s with ``quick``."""
    results = _ready_from_cold(1 if quick else 3)  # first: on a machine at rest
    rig = _Rig(uuid.uuid4().hex[:8])
    queues = {alias: f"sqs:{rig.name_of(alias)}" for alias in SQS_ALIASES}
    queues[KAFKA_ALIAS] = f"kafka:{rig.name_of(KAFKA_ALIAS)}"
    rig.create_topics([rig.name_of(KAFKA_ALIAS)])  # so that its reader starts at the end
    try:
        with settings_in_force(Settings(queues=queues)):  # built-in defaults, embedded brokers
            _warm_up()
            results += _detection(rig, 15 if quick else 40, 4 if quick else 10)
            results += _three_queues(5 if quick else 15)
            results += _sqs_throughput(rig, 500 if quick else 2000)
            results += _kafka_throughput(rig, 2000 if quick else 10_000, 5 if quick else 9)
            results += _isolation(rig, quick)
    finally:
        close_readers()
        rig.close()
    return results


# --------------------------------------------------------------------------------------
# 1. Detection delay
# --------------------------------------------------------------------------------------


def _detection(rig: _Rig, samples: int, exact_samples: int) -> list[Result]:
    results = []
    for broker, alias in (("SQS", SQS_ALIASES[0]), ("Kafka", KAFKA_ALIAS)):
        moments = uniform(SEED, samples, *SEND_WITHIN)
        seed_moments = uniform(SEED + 1, samples, *SEED_SEND_WITHIN)
        with ThreadPoolExecutor(len(seed_moments)) as beside:  # they sleep nearly always
            seed_waits = [
                beside.submit(_seed_detection, rig, broker, after) for after in seed_moments
            ]
            waits = [_detection_sample(alias, after, exactly=False) for after in moments]
            baseline = [future.result() for future in seed_waits]
        exact = [_detection_sample(alias, after, exactly=True) for after in moments[:exact_samples]]
        delays = [1000 * wait.delay for wait in waits]
        seed_delays = [1000 * delay for delay in baseline]
        sends = statistics.median(1000 * wait.send_seconds for wait in waits)
        read = statistics.median(1000 * wait.read for wait in waits)
        seed_name = "seed loop (2s poll)"
        results.append(
            Result(
                f"delay median, {broker}: exactly=False",
                median(delays),
                "ms",
                seed_name,
                median(seed_delays),
                "lower",
                target=f"<= {DELAY_TARGET_MS:g} ms",
                met=median(delays) <= DELAY_TARGET_MS,
                note=f"median of {samples} waits: send returned -> expect_messages returned; "
                f"p90 {p90(delays):.1f} ms (seed p90 {p90(seed_delays):.0f} ms); "
                f"the reader had it after {read:.1f} ms; the send call took {sends:.1f} ms",
            )
        )
        grace = get_settings().grace
        exact_delays = [1000 * wait.delay for wait in exact]
        results.append(
            Result(
                f"delay median, {broker}: exactly 1",
                median(exact_delays),
                "ms",
                seed_name,
                median(seed_delays),
                "lower",
                note=f"median of {exact_samples} waits; includes the {1000 * grace:.0f} ms "
                "grace window (setting asyncbdd.grace) that 'exactly' watches for an extra",
            )
        )
    return results


@dataclass(frozen=True)
class _Wait:
    delay: float
    """Seconds from the send call's return to the wait's return."""
    send_seconds: float
    """Seconds the send call took."""
    read: float
    """Seconds from the send call's return until the reader had the message."""


def _detection_sample(alias: str, after: float, *, exactly: bool) -> _Wait:
    with asyncbdd.scenario(f"detection on {alias}"):
        began = time.monotonic()
        sender = _Sender([(began + after, lambda: send_message(alias, _order()))])
        found = expect_messages(alias, 1, exactly=exactly, timeout=WAIT_LIMIT)
        returned = time.monotonic()
        sender.join()
    sent = sender.sent[0]
    read = found[alias][0].received_at - sent.returned  # the same clock: time.monotonic()
    return _Wait(returned - sent.returned, sent.returned - sent.called, read)


def _seed_detection(rig: _Rig, broker: str, after: float) -> float:
    """One wait of the seed project's loop on a queue or topic of its own: seconds from
    the send call's return to the loop's return."""
    if broker == "SQS":
        url = rig.queue_url(rig.unique("seed-delay"))
        return _seed_loop(
            lambda: _receive_and_delete(rig.sqs, url, wait=0),
            lambda: _send_sqs(rig.sqs, url),
            after,
        )
    topic = rig.unique("seed-delay")
    rig.create_topics([topic])
    consumer = rig.consumer_at_end(topic)
    try:
        # poll's 100 ms lets the look fetch what the broker has; poll(0) may only send
        # the fetch and make the loop see the message one pause later
        return _seed_loop(lambda: _polled(consumer, 100), lambda: rig.produce_one(topic), after)
    finally:
        consumer.close()


def _seed_loop(look: Callable[[], int], send: Callable[[], None], after: float) -> float:
    began = time.monotonic()
    sender = _Sender([(began + after, send)])
    received = 0
    while True:  # the seed project's loop: look, and pause 2 s while the message is missing
        received += look()
        if received >= 1:
            break
        time.sleep(SEED_POLL)
    returned = time.monotonic()
    sender.join()
    return returned - sender.sent[0].returned


def _send_sqs(client: SQSClient, url: str) -> None:
    client.send_message(QueueUrl=url, MessageBody=_order_text(1))


# --------------------------------------------------------------------------------------
# 2. Three queues in one step
# --------------------------------------------------------------------------------------


def _three_queues(samples: int) -> list[Result]:
    rng = random.Random(SEED + 2)
    together: list[float] = []
    slowest: list[float] = []
    summed: list[float] = []
    for _ in range(samples):
        moments = [rng.uniform(*SEND_WITHIN) for _ in SQS_ALIASES]
        together.append(_wait_for(list(SQS_ALIASES), moments))
        alone = [
            _wait_for([alias], [after]) for alias, after in zip(SQS_ALIASES, moments, strict=True)
        ]
        slowest.append(max(alone))
        summed.append(sum(alone))
    ratios = [t / s for t, s in zip(together, slowest, strict=True)]
    value = 1000 * median(together)
    return [
        Result(
            "three queues, one step: wall",
            value,
            "ms",
            "slowest single",
            1000 * median(slowest),
            "lower",
            target=f"<= {CONCURRENT_TARGET:g}x slowest",
            met=value <= CONCURRENT_TARGET * 1000 * median(slowest),
            note=f"median of {samples}: 3 SQS queues, 1 message each sent 20-500 ms in; "
            f"per-sample ratio worst {max(ratios):.2f}x",
        ),
        Result(
            "three queues, one step: wall",
            value,
            "ms",
            "sum of singles",
            1000 * median(summed),
            "lower",
            note="the same samples' three single-queue waits added up (draining one by one)",
        ),
    ]


def _wait_for(aliases: list[str], moments: Sequence[float]) -> float:
    """Seconds ``expect_messages(aliases, 1)`` takes when each alias's message is sent at
    its moment after the wait began."""
    with asyncbdd.scenario("three queues"):
        began = time.monotonic()
        plan = [
            (began + after, _sending(alias)) for alias, after in zip(aliases, moments, strict=True)
        ]
        sender = _Sender(sorted(plan, key=lambda step: step[0]))
        expect_messages(aliases, 1, exactly=False, timeout=WAIT_LIMIT)
        returned = time.monotonic()
        sender.join()
    return returned - began


def _sending(alias: str) -> Callable[[], None]:
    return lambda: send_message(alias, _order())


# --------------------------------------------------------------------------------------
# 3. Drain throughput
# --------------------------------------------------------------------------------------


def _sqs_throughput(rig: _Rig, total: int) -> list[Result]:
    alias = SQS_ALIASES[0]
    with asyncbdd.scenario("SQS throughput") as state:
        url = rig.queue_url(rig.name_of(alias))
        began = time.monotonic()
        feeder = _Feeder(_feed_sqs, rig.sqs, url, total, state.correlation_id, _Taken(alias))
        expect_messages(alias, total, exactly=False, timeout=120)
        ours = time.monotonic() - began
        ours_full = feeder.join()
    url = rig.queue_url(rig.unique("seed-drain"))
    tally = _Tally()
    began = time.monotonic()
    feeder = _Feeder(_feed_sqs, rig.sqs, url, total, _foreign_id(), tally)
    while tally.taken() < total:
        tally.add(_receive_and_delete(rig.sqs, url, wait=1))
    bare = time.monotonic() - began
    bare_full = feeder.join()
    return [
        Result(
            f"drain rate, SQS {total:,} msgs",
            total / ours,
            "msg/s",
            "boto3 loop",
            total / bare,
            "higher",
            target=f">= {THROUGHPUT_TARGET:g}x",
            met=bare / ours >= THROUGHPUT_TARGET,
            note=f"feeder batches of {BATCH} while depth <= {MAX_DEPTH}; {ours:.1f} s vs "
            f"{bare:.1f} s, feeder start to last message; the feeder found the queue full "
            f"before {ours_full:.0%} vs {bare_full:.0%} of its batches",
        )
    ]


def _feed_sqs(
    client: SQSClient, url: str, total: int, correlation_id: str, consumer: _Consumer
) -> float:
    """Send ``total`` messages in batches, each only once the queue holds at most
    MAX_DEPTH - BATCH; return the share of batches that had to wait for room.

    The depth is what was sent less what ``consumer`` took (messages in flight count as
    queued), and the feeder sleeps until the consumer takes more: asking SQS for the
    depth would put the feeder's own requests on the server it measures.
    """
    sent = waited = 0
    while sent < total:

        def ready(sent: int = sent) -> bool:
            return sent - consumer.taken() <= MAX_DEPTH - BATCH

        if not ready():
            waited += 1
            if not consumer.wait(ready, WAIT_LIMIT):
                raise RuntimeError(f"the consumer took nothing for {WAIT_LIMIT:g} s")
        count = min(BATCH, total - sent)
        client.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(number),
                    "MessageBody": _order_text(sent + number),
                    "MessageAttributes": {
                        "correlation_id": {"DataType": "String", "StringValue": correlation_id}
                    },
                }
                for number in range(count)
            ],
        )
        sent += count
    return waited / -(-total // BATCH)


class _Consumer(Protocol):
    """What a feeder knows of its consumer: how many it took; a wait for it to take more."""

    def taken(self) -> int:
        """Messages taken (received and deleted) so far."""

    def wait(self, ready: Callable[[], bool], seconds: float) -> bool:
        """Block until ``ready()`` or ``seconds`` pass; whether it became ready."""


class _Taken:
    """The running scenario's consumer of ``alias``: its inbox."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.box = inbox()

    def taken(self) -> int:
        with self.box.changed:
            return len(self.box.messages[self.alias])

    def wait(self, ready: Callable[[], bool], seconds: float) -> bool:
        return self.box.wait(ready, seconds)


class _Tally:
    """The bare loop's consumer: a count it adds to, and a condition to wait on."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def taken(self) -> int:
        return self._count

    def add(self, count: int) -> None:
        with self._changed:
            self._count += count
            self._changed.notify_all()

    def wait(self, ready: Callable[[], bool], seconds: float) -> bool:
        with self._changed:
            return self._changed.wait_for(ready, seconds)


def _kafka_throughput(rig: _Rig, total: int, rounds: int) -> list[Result]:
    topic = rig.unique("seed-drain")
    rig.create_topics([topic])
    ours: list[float] = []
    bare: list[float] = []
    sending: list[float] = []
    for _ in range(rounds):  # alternated: both see the same state of the machine
        with (
            asyncbdd.scenario("Kafka throughput") as state,
            _kafka_feeder(rig.bootstrap, rig.name_of(KAFKA_ALIAS), total) as feeder,
        ):
            began = time.monotonic()
            feeder.go(state.correlation_id)
            expect_messages(KAFKA_ALIAS, total, exactly=False, timeout=60)
            ours.append(time.monotonic() - began)
            sending.append(feeder.seconds())
        consumer = rig.consumer_at_end(topic)
        try:
            with _kafka_feeder(rig.bootstrap, topic, total) as feeder:
                began = time.monotonic()
                feeder.go(_foreign_id())
                received = 0
                while received < total:
                    received += _polled(consumer, 1000)
                bare.append(time.monotonic() - began)
                sending.append(feeder.seconds())
        finally:
            consumer.close()
    ours_rate, bare_rate = total / median(ours), total / median(bare)
    ratios = [b / o for o, b in zip(ours, bare, strict=True)]
    return [
        Result(
            f"drain rate, Kafka {total:,} msgs",
            ours_rate,
            "msg/s",
            "kafka-python loop",
            bare_rate,
            "higher",
            target=f">= {THROUGHPUT_TARGET:g}x",
            met=ours_rate >= THROUGHPUT_TARGET * bare_rate,
            note=f"median of {rounds} alternated rounds (ratio per round {min(ratios):.2f} to "
            f"{max(ratios):.2f}), feeder start to last message; the feeder, a librdkafka "
            f"producer in a child process, sends {total / median(sending):,.0f} msg/s",
        )
    ]


_KAFKA_FEEDER = """
import sys, time
from confluent_kafka import Producer
bootstrap, topic, total, body = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
producer.list_topics(topic, timeout=10)
print("ready", flush=True)
header = [("correlation_id", sys.stdin.readline().strip().encode())]
began = time.monotonic()
for number in range(total):
    value = body.format(number=number).encode()
    producer.produce(topic, value, key=b"ord-%d" % number, headers=header)
    if number % 1000 == 0:
        producer.poll(0)
producer.flush(30)
print(time.monotonic() - began, flush=True)
"""


def _kafka_feeder(bootstrap: str, topic: str, total: int) -> ChildFeeder:
    """A librdkafka producer in a child process that sends ``total`` records once told to
    go, then prints how long that took; connected before it returns."""
    return ChildFeeder(
        "Kafka", _KAFKA_FEEDER, bootstrap, topic, str(total), _ORDER, close_within=10
    )


# --------------------------------------------------------------------------------------
# 4. Isolation cost
# --------------------------------------------------------------------------------------


def _isolation(rig: _Rig, quick: bool) -> list[Result]:
    urls = [rig.queue_url(rig.name_of(alias)) for alias in SQS_ALIASES]
    seed = [_seed_cleanup(rig.sqs, urls) for _ in range(1 if quick else 2)]
    idle = [_boundary(leave=False) for _ in range(50 if quick else 200)]
    busy = [_boundary(leave=True) for _ in range(20 if quick else 50)]
    idle_ms = [1000 * seconds for seconds, _ in idle]
    busy_ms = [1000 * seconds for seconds, _ in busy]
    boxes = [box for _, box in busy]
    kept = sum(len(messages) for box in boxes for messages in box.messages.values())
    skipped = sum(len(items) for box in boxes for items in box.skipped.values())
    foreign = sum(
        1
        for box in boxes
        for messages in box.messages.values()
        for message in messages
        if message.correlation_id != box.correlation_id
    )
    seed_ms = 1000 * median(seed)
    aliases = f"{len(SQS_ALIASES)} SQS + 1 Kafka"
    return [
        Result(
            f"scenario start+end, {aliases}",
            median(idle_ms),
            "ms",
            "seed cleanup",
            seed_ms,
            "lower",
            target=f"<= {ISOLATION_TARGET_MS:g} ms",
            met=median(idle_ms) <= ISOLATION_TARGET_MS,
            note=f"median of {len(idle)} with idle readers: {1000 * median(idle_ms):.0f} us "
            f"(worst {max(idle_ms):.2f} ms); seed "
            f"cleanup: 2 s receive per queue until empty, {len(urls)} queues, {len(seed)} runs",
        ),
        Result(
            "scenario start+end, leftovers",
            median(busy_ms),
            "ms",
            "seed cleanup",
            seed_ms,
            "lower",
            note=f"median of {len(busy)} scenarios that each leave 1 message per queue: "
            f"{1000 * median(busy_ms):.0f} us (worst {max(busy_ms):.2f} ms); {kept} kept by "
            f"their own scenario, {skipped} skipped as leftovers, {foreign} counted by the "
            "wrong scenario",
        ),
    ]


def _boundary(*, leave: bool) -> tuple[float, Inbox]:
    """Seconds a scenario's start and end take, and its inbox; ``leave``: it sends one
    message per alias and does not wait for them."""
    began = time.monotonic()
    with asyncbdd.scenario("isolation"):
        started = time.monotonic()
        box = inbox()
        if leave:
            for alias in (*SQS_ALIASES, KAFKA_ALIAS):
                send_message(alias, _order())
        ending = time.monotonic()
    ended = time.monotonic()
    return (started - began) + (ended - ending), box


def _seed_cleanup(client: SQSClient, urls: Sequence[str]) -> float:
    """Seconds the seed project's cleanup fixture takes: drain each queue in turn."""
    began = time.monotonic()
    for url in urls:
        while _receive_and_delete(client, url, wait=2):
            pass
    return time.monotonic() - began


# --------------------------------------------------------------------------------------
# 5. Ready from cold
# --------------------------------------------------------------------------------------

_SQS_CHILD = """
import time
began = time.monotonic()
from asyncbdd.infra.sqs_server import EmbeddedSqs
sqs = EmbeddedSqs()
sqs.start()
sqs.client().list_queues()
print(time.monotonic() - began, flush=True)
sqs.stop()
"""


def _ready_from_cold(samples: int) -> list[Result]:
    sqs = [_sqs_ready() for _ in range(samples)]
    kafka = [_kafka_ready() for _ in range(samples)]
    rows = []
    for name, times, how in (
        (
            "SQS",
            [outside for outside, _ in sqs],
            "fresh `python -c`: start -> import, EmbeddedSqs.start, list_queues answered "
            f"(inside the child: {median([inside for _, inside in sqs]):.2f} s)",
        ),
        (
            "Kafka",
            kafka,
            "EmbeddedKafka().start() (child launched, bootstrap printed) + first "
            "kafka-python metadata answer",
        ),
    ):
        value = median(times)
        rows.append(
            Result(
                f"ready from cold: {name}",
                value,
                "s",
                "reference",
                READY_TARGET_S,
                None,
                target=f"<= {READY_TARGET_S:g} s",
                met=value <= READY_TARGET_S,
                note=f"median of {samples} (worst {max(times):.2f} s); {how}",
            )
        )
    return rows


def _sqs_ready() -> tuple[float, float]:
    """Seconds until a fresh process has the embedded SQS answering, seen from outside
    (interpreter start included) and from inside."""
    began = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", _SQS_CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        ready = time.monotonic() - began
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    _, errors = child.communicate()
    if not line.strip():
        raise RuntimeError(f"the SQS child printed nothing: {errors.decode(errors='replace')}")
    return ready, float(line)


def _kafka_ready() -> float:
    began = time.monotonic()
    with EmbeddedKafka() as kafka:
        consumer = KafkaConsumer(
            bootstrap_servers=kafka.bootstrap_servers.split(","), api_version_auto_timeout_ms=5000
        )
        try:
            consumer.topics()
            ready = time.monotonic() - began
        finally:
            consumer.close()
    return ready


# --------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------


class _Rig:
    """Direct clients of the embedded brokers, for baselines and feeders."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.sqs = shared_embedded_sqs().client()
        self.bootstrap = shared_embedded_kafka().bootstrap_servers
        self.producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        self._count = 0
        self._lock = threading.Lock()

    def name_of(self, alias: str) -> str:
        """The queue or topic name the run gives ``alias``."""
        return f"bench-{alias}-{self.token}"

    def unique(self, what: str) -> str:
        """A queue or topic name no other part of the run uses."""
        with self._lock:
            self._count += 1
            return f"bench-{what}-{self._count}-{self.token}"

    def queue_url(self, name: str) -> str:
        """The URL of the SQS queue ``name``, created if it does not exist."""
        return self.sqs.create_queue(QueueName=name)["QueueUrl"]

    def create_topics(self, topics: Sequence[str]) -> None:
        """Create topics the way the mock cluster does it: by producing to them."""
        with self._lock:
            for topic in topics:
                self.producer.produce(topic, b"created")
            self.producer.flush(10)

    def produce_one(self, topic: str) -> None:
        """Send one record and wait for the broker's acknowledgement."""
        with self._lock:
            self.producer.produce(topic, _order_text(0).encode())
            self.producer.flush(10)

    def consumer_at_end(self, topic: str) -> KafkaConsumer:
        """A kafka-python consumer assigned to every partition of ``topic``, at its end."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap.split(","),
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=10,
        )
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_end(*partitions)
        for partition in partitions:
            consumer.position(partition)
        return consumer

    def close(self) -> None:
        """Deliver what is pending and drop the producer before the broker stops."""
        self.producer.flush(5)
        del self.producer


@dataclass(frozen=True)
class _Sent:
    called: float
    returned: float


class _Sender(threading.Thread):
    """Started at once: runs each ``(time.monotonic() time, send)`` in turn at its time, and
    records when each send was called and returned."""

    def __init__(self, plan: Sequence[tuple[float, Callable[[], None]]]) -> None:
        super().__init__(daemon=True)
        self.plan = plan
        self.sent: list[_Sent] = []
        self.start()

    def run(self) -> None:
        for at, send in self.plan:
            time.sleep(max(0.0, at - time.monotonic()))
            called = time.monotonic()
            send()
            self.sent.append(_Sent(called, time.monotonic()))


class _Feeder(Generic[T]):
    """Runs ``feed(*arguments)`` in a thread; :meth:`join` returns what it returned."""

    def __init__(self, feed: Callable[..., T], *arguments: Any) -> None:
        self._pool = ThreadPoolExecutor(1)
        self._future: Future[T] = self._pool.submit(feed, *arguments)

    def join(self) -> T:
        try:
            return self._future.result()
        finally:
            self._pool.shutdown()


def _warm_up() -> None:
    """Start the readers and open every client, so that no sample pays for a connection."""
    aliases = [*SQS_ALIASES, KAFKA_ALIAS]
    with asyncbdd.scenario("warm up"):
        for alias in aliases:
            send_message(alias, _order())
        expect_messages(aliases, 1, exactly=False, timeout=WAIT_LIMIT)


def _receive_and_delete(client: SQSClient, url: str, *, wait: int) -> int:
    """One receive of up to 10 messages, deleting what came; how many came."""
    messages = client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=wait
    ).get("Messages", [])
    if messages:
        client.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
                for number, message in enumerate(messages)
            ],
        )
    return len(messages)


def _polled(consumer: KafkaConsumer, timeout_ms: int) -> int:
    batches: dict[Any, list[Any]] = consumer.poll(timeout_ms=timeout_ms, max_records=500)
    return sum(len(records) for records in batches.values())


def _foreign_id() -> str:
    """A correlation id as long as a scenario's, for baseline messages: the same bytes to
    read and check (kafka-python checks CRCs in pure Python, per byte)."""
    return str(uuid.uuid4())


def _order(number: int = 1) -> dict[str, Any]:
    return {"order_id": f"ord-{number}", "product_id": "p-1", "quantity": 1, "amount": 9.5}


_ORDER = '{{"order_id": "ord-{number}", "product_id": "p-1", "quantity": 1, "amount": 9.5}}'
"""Every feeder's message body, as a ``str.format`` template."""


def _order_text(number: int) -> str:
    return _ORDER.format(number=number)
