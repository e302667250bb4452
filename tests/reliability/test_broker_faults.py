"""The broker fault matrix: SQS and Kafka, killed, black-holed or stopped, and slow.

Each row breaks a broker under a running reader, then waits for a message (3 s deadline):

* **killed**: nothing listens any more (a proxy in front of the embedded SQS server closes
  every connection and its port; the embedded Kafka broker's process gets SIGKILL). The
  wait must fail naming the broker, the Kafka one at once (its death is known), and the
  next scenario must pass once the broker is back (SQS: the endpoint listens again;
  Kafka: asyncbdd started a new embedded broker);
* **black hole / stopped**: connections are accepted and never answered (the proxy passes
  nothing on; the Kafka broker gets SIGSTOP). The wait must fail at its deadline, not
  later, naming the broker that did not answer;
* **slow**: the broker answers late (the proxy delays every chunk; the Kafka broker is
  stopped for 1.5 s while the message is produced). The wait must pass: a broker that
  answers before the deadline is no failure.

The matrix (transport, fault, detected, time to failure against the deadline, the next
scenario, message excerpt) is printed after the run.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from doubles import FaultyProxy

import asyncbdd
from asyncbdd.config import get_settings, load_settings, set_settings
from asyncbdd.hooks import end_run
from asyncbdd.infra.kafka_broker import shared_embedded_kafka
from asyncbdd.infra.sqs_server import shared_embedded_sqs
from asyncbdd.matching import shorten
from asyncbdd.queues import close_readers, expect_messages, inbox, send_message

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient

pytest.importorskip("confluent_kafka", reason="the embedded Kafka broker needs confluent-kafka")
kafka = pytest.importorskip("kafka", reason="asyncbdd reads Kafka with kafka-python")

DEADLINE = 3.0
"""The deadline of every wait under a fault."""
OVERSHOOT = 0.5
"""How far past its deadline a failing wait may end."""
CONNECT_TIMEOUT = "1"
"""asyncbdd.connect_timeout of the SQS rows: reads time out after 2 s."""
KAFKA_CONNECT_TIMEOUT = "3"
"""asyncbdd.connect_timeout of the Kafka rows: a send waits out a 1.5 s stall."""
SLOW_SQS_DELAY = 0.3
"""Seconds the proxy holds every chunk in the slow SQS row (a receive takes 0.6 s more)."""
KAFKA_STALL = 1.5
"""Seconds the Kafka broker is stopped in its slow row."""


@dataclass(frozen=True)
class Row:
    """One broker fault, and how the wait under it fared."""

    transport: str
    fault: str
    endpoint: str
    must_fail: bool
    failed: bool
    seconds: float
    next_scenario: str
    message: str

    @property
    def detected(self) -> bool:
        """A fault that must fail failed naming the endpoint; one that must pass passed."""
        if not self.must_fail:
            return not self.failed
        return (
            self.failed
            and self.endpoint in self.message
            and ("did not answer" in self.message or "went away" in self.message)
        )

    @property
    def overshoot(self) -> float:
        return self.seconds - DEADLINE

    def cells(self) -> tuple[str, ...]:
        verdict = (
            ("yes" if self.detected else "NO")
            if self.must_fail
            else ("passed" if self.detected else "FALSE ALARM")
        )
        return (
            self.transport,
            self.fault,
            verdict,
            f"{self.seconds:.2f} s / {DEADLINE:g} s",
            f"{self.overshoot:+.2f} s" if self.failed else "-",
            self.next_scenario,
            shorten(_reason(self.message), 96) if self.failed else "",
        )


def _reason(message: str) -> str:
    """The line of a failure that says why: ``Failed because ...``, or its first line."""
    lines = message.splitlines()
    return next((line for line in lines if line.startswith("Failed because")), lines[0])


def _settings(**values: str) -> None:
    overrides = {"asyncbdd.grace": "0.1", "asyncbdd.timeout": "5 seconds"}
    overrides.update({f"asyncbdd.{name}": value for name, value in values.items()})
    set_settings(load_settings(environ={}, overrides=overrides))


def _wait(alias: str, fault: Callable[[], None] | None = None) -> tuple[bool, float, str]:
    """In a new scenario: break the broker (``fault``), then wait for one message of it;
    return whether the wait failed, after how long, and its message."""
    with asyncbdd.scenario("under a fault"):
        if fault is not None:
            fault()
        started = time.monotonic()
        try:
            expect_messages(alias, 1, timeout=DEADLINE)
        except (AssertionError, asyncbdd.AsyncBddError) as error:
            return True, time.monotonic() - started, str(error)
        return False, time.monotonic() - started, ""


def _passes(alias: str) -> str:
    """Whether a scenario that sends a message and waits for it passes, as a cell."""
    try:
        with asyncbdd.scenario("afterwards"):
            send_message(alias, {"n": "after"})
            expect_messages(alias, 1, timeout=10)
    except (AssertionError, asyncbdd.AsyncBddError) as error:
        return f"FAILS: {shorten(_reason(str(error)), 40)}"
    return "passes"


def _healthy(alias: str) -> None:
    """A first scenario, which starts the alias's reader while the broker is healthy."""
    with asyncbdd.scenario("healthy"):
        send_message(alias, {"n": "healthy"})
        expect_messages(alias, 1)


@contextmanager
def _sqs_proxy(uid: str) -> Iterator[tuple[FaultyProxy, str, SQSClient]]:
    """A proxy in front of the embedded SQS server, an alias of a new queue through it, and
    a client of the server itself."""
    server = shared_embedded_sqs()
    parts = urlsplit(server.endpoint_url)
    assert parts.hostname is not None
    assert parts.port is not None
    raw = server.client()
    alias = f"billing-{uid}"
    raw.create_queue(QueueName=alias)
    with FaultyProxy((parts.hostname, parts.port)) as proxy:
        _settings(
            queues=f"{alias} = sqs:{alias}",
            **{"sqs.endpoint": proxy.url, "sqs.region": "us-east-1"},
            connect_timeout=CONNECT_TIMEOUT,
        )
        try:
            yield proxy, alias, raw
        finally:
            close_readers()


def sqs_killed(uid: str) -> Row:
    """SQS: the endpoint's port closes under the reader, and listens again afterwards."""
    with _sqs_proxy(uid) as (proxy, alias, _):
        _healthy(alias)
        failed, seconds, message = _wait(alias, proxy.kill)
        proxy.revive()
        after = _passes(alias)
        return Row("SQS", "killed", proxy.url, True, failed, seconds, after, message)


def sqs_black_hole(uid: str) -> Row:
    """SQS: the endpoint accepts connections and never answers."""
    with _sqs_proxy(uid) as (proxy, alias, _):
        _healthy(alias)
        failed, seconds, message = _wait(alias, proxy.black_hole)
        proxy.heal()
        after = _passes(alias)
        return Row("SQS", "black hole", proxy.url, True, failed, seconds, after, message)


def sqs_slow(uid: str) -> Row:
    """SQS: every chunk either way is held a while; the message is sent through it."""
    with _sqs_proxy(uid) as (proxy, alias, _):
        _healthy(alias)
        proxy.delay = SLOW_SQS_DELAY

        def send_slowly() -> None:
            send_message(alias, {"n": "slow"})

        failed, seconds, message = _wait(alias, send_slowly)
        proxy.delay = 0.0
        after = _passes(alias)
        return Row(
            "SQS",
            f"slow (+{SLOW_SQS_DELAY:g} s a chunk)",
            proxy.url,
            False,
            failed,
            seconds,
            after,
            message,
        )


@contextmanager
def _kafka_topic(uid: str) -> Iterator[str]:
    alias = f"orders-{uid}"
    _settings(queues=f"{alias} = kafka:orders.{uid}", connect_timeout=KAFKA_CONNECT_TIMEOUT)
    try:
        yield alias
    finally:
        close_readers()


def kafka_killed(uid: str) -> Row:
    """Kafka: the embedded broker's process is killed (SIGKILL)."""
    with _kafka_topic(uid) as alias:
        _healthy(alias)
        broker = shared_embedded_kafka()
        address = broker.bootstrap_servers

        def kill() -> None:
            assert broker.pid is not None
            os.kill(broker.pid, signal.SIGKILL)

        failed, seconds, message = _wait(alias, kill)
        after = _passes(alias)
        return Row("Kafka", "killed (SIGKILL)", address, True, failed, seconds, after, message)


def kafka_stopped(uid: str) -> Row:
    """Kafka: the embedded broker's process is stopped (SIGSTOP) for the whole wait."""
    with _kafka_topic(uid) as alias:
        _healthy(alias)
        broker = shared_embedded_kafka()
        address, pid = broker.bootstrap_servers, broker.pid
        assert pid is not None
        try:
            failed, seconds, message = _wait(alias, lambda: os.kill(pid, signal.SIGSTOP))
        finally:
            os.kill(pid, signal.SIGCONT)
        after = _passes(alias)
        return Row("Kafka", "stopped (SIGSTOP)", address, True, failed, seconds, after, message)


def kafka_slow(uid: str) -> Row:
    """Kafka: the broker is stopped for 1.5 s of the wait, while the message is produced."""
    with _kafka_topic(uid) as alias:
        _healthy(alias)
        broker = shared_embedded_kafka()
        address, pid = broker.bootstrap_servers, broker.pid
        assert pid is not None
        resume = threading.Timer(KAFKA_STALL, os.kill, args=(pid, signal.SIGCONT))
        producer = kafka.KafkaProducer(bootstrap_servers=address, linger_ms=0)
        sending: list[threading.Thread] = []

        def stall_and_produce() -> None:
            headers = [("correlation_id", inbox().correlation_id.encode())]
            os.kill(pid, signal.SIGSTOP)
            resume.start()
            sender = threading.Thread(
                target=lambda: producer.send(
                    f"orders.{uid}", value=b'{"n": "slow"}', headers=headers
                ).get(timeout=10),
                daemon=True,
            )
            sender.start()
            sending.append(sender)

        try:
            failed, seconds, message = _wait(alias, stall_and_produce)
        finally:
            resume.join()
            os.kill(pid, signal.SIGCONT)  # in case the timer never started
            for sender in sending:
                sender.join(10)
            producer.close(timeout=2)
        after = _passes(alias)
        return Row("Kafka", "slow (stopped 1.5 s)", address, False, failed, seconds, after, message)


ROWS = [sqs_killed, sqs_black_hole, sqs_slow, kafka_killed, kafka_stopped, kafka_slow]


@pytest.fixture
def broker_faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy AWS credentials for the proxied endpoint; the settings in force before, and a
    run ended (readers, clients, brokers) afterwards."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    previous = get_settings()
    try:
        yield
    finally:
        end_run()
        set_settings(previous)


@pytest.mark.usefixtures("broker_faults")
def test_every_broker_fault_is_named_in_time_and_a_slow_broker_passes(
    reliability_report: Callable[..., None],
) -> None:
    """Each broker fault fails its wait by the deadline naming the broker, each slow
    broker lets the wait pass, and the scenario after each fault passes."""
    rows = [row(uuid.uuid4().hex[:10]) for row in ROWS]
    detected = sum(row.detected for row in rows if row.must_fail)
    faults = sum(row.must_fail for row in rows)
    reliability_report(
        f"broker faults: {detected} of {faults} named in time, "
        f"{sum(row.detected for row in rows if not row.must_fail)} of "
        f"{len(rows) - faults} slow brokers passed",
        [
            "transport",
            "fault",
            "detected",
            "failed after / deadline",
            "overshoot",
            "next scenario",
            "message excerpt",
        ],
        [row.cells() for row in rows],
    )
    problems = [
        f"{row.transport} {row.fault}: {row.cells()}\n{row.message}"
        for row in rows
        if not row.detected
        or (row.failed and row.overshoot > OVERSHOOT)
        or row.next_scenario != "passes"
    ]
    assert problems == [], "\n\n".join(problems)
    killed = next(row for row in rows if row.fault == "killed (SIGKILL)")
    assert killed.seconds < 1.0, f"the killed broker was named after {killed.seconds:.2f} s"
