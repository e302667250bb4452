"""Kafka brokers that die or stop answering: waits say so, and later scenarios still run."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

pytest.importorskip(
    "confluent_kafka", reason="the embedded Kafka broker needs confluent-kafka (pip install it)"
)
pytest.importorskip("kafka", reason="asyncbdd reads Kafka with kafka-python")

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.hooks import end_run
from asyncbdd.infra.kafka_broker import EmbeddedKafka, shared_embedded_kafka
from asyncbdd.queues import (
    Correlation,
    KafkaTopic,
    QueueUnavailable,
    expect_messages,
    send_message,
)

Configure = Callable[..., Settings]


@contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The process ``pid`` stopped (SIGSTOP) for the block, and continued after it."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def killed(broker: EmbeddedKafka) -> str:
    """Kill ``broker``'s process with SIGKILL, and wait until it is gone; return the
    address it served."""
    address, pid = broker.bootstrap_servers, broker.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert broker.wait_exit(5.0), f"pid {pid} outlived SIGKILL by 5 s"
    return address


def test_a_killed_embedded_broker_fails_the_wait_at_once_saying_when_and_what_to_check(
    configure: Configure, uid: str
) -> None:
    """A wait on a topic of the embedded broker that was killed fails within a second,
    naming the broker, how and when it died, and what to check, not "0 of 1"."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:orders.{uid}"})
    with asyncbdd.scenario("healthy"):
        send_message(alias, {"order_id": "ord-1"})
        expect_messages(alias, 1)
    with asyncbdd.scenario("killed"):
        address = killed(shared_embedded_kafka())
        started = time.monotonic()
        with pytest.raises(QueueUnavailable) as raised:
            expect_messages(alias, 1, timeout=10)
        elapsed = time.monotonic() - started
    message = str(raised.value)
    assert elapsed < 1.5, f"failed after {elapsed:.2f} s of a 10 s deadline"
    assert re.search(rf"went away .* ago: pid \d+ at {address} was killed by SIGKILL at ", message)
    assert "records on its topics went with it" in message
    assert "starts a new embedded broker, on a new port and with empty topics" in message
    assert "Check what ended it" in message


def test_scenarios_after_a_killed_broker_run_on_a_new_one_and_the_run_ends_cleanly(
    configure: Configure, uid: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """After the embedded broker was killed mid-run, the next scenarios send and receive
    on a new one, and the end of the run raises nothing."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:orders.{uid}"})
    with asyncbdd.scenario("healthy"):
        send_message(alias, {"order_id": "ord-1"})
        expect_messages(alias, 1)
    old = killed(shared_embedded_kafka())
    for number in (2, 3):
        with asyncbdd.scenario(f"after the kill {number}"):
            send_message(alias, {"order_id": f"ord-{number}"})
            [message] = expect_messages(alias, 1, timeout=10)
        assert message.json == {"order_id": f"ord-{number}"}
    assert shared_embedded_kafka().bootstrap_servers != old
    started = time.monotonic()
    end_run()
    assert time.monotonic() - started < 5
    assert "Traceback" not in capfd.readouterr().err


def test_a_wait_names_a_broker_that_stopped_answering(configure: Configure, uid: str) -> None:
    """A wait on a topic whose broker is stopped (SIGSTOP) fails at its deadline naming
    the broker that did not answer, and for how long."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:orders.{uid}"})
    with asyncbdd.scenario("healthy"):
        send_message(alias, {"order_id": "ord-1"})
        expect_messages(alias, 1)
    broker = shared_embedded_kafka()
    assert broker.pid is not None
    with asyncbdd.scenario("stopped"), stopped(broker.pid):
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as raised:
            expect_messages(alias, 1, timeout=3)
        elapsed = time.monotonic() - started
    message = str(raised.value)
    assert (
        f"Failed because the embedded Kafka broker at {broker.bootstrap_servers} did not "
        "answer for " in message
    )
    assert "so the deadline passed:" in message
    assert 3 <= elapsed < 3.5, f"failed after {elapsed:.2f} s of a 3 s deadline"


def test_closing_a_topic_whose_broker_died_with_a_record_unsent_raises_nothing(
    configure: Configure, uid: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Closing a topic whose producer holds a record it cannot deliver (its broker died)
    takes a couple of seconds at most, raises nothing, and says so in one line."""
    configure(connect_timeout="0.5")
    with EmbeddedKafka() as broker:
        topic = KafkaTopic(
            f"dying-{uid}",
            f"dying.{uid}",
            bootstrap_servers=broker.bootstrap_servers,
            correlation=Correlation("off"),
        )
        topic.send('{"n": 1}', attributes={})
        killed(broker)
        with pytest.raises(QueueUnavailable):
            topic.send('{"n": 2}', attributes={})  # stays in the producer, undelivered
        started = time.monotonic()
        topic.close()
        elapsed = time.monotonic() - started
    assert elapsed < 3, f"closing took {elapsed:.2f} s"
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("asyncbdd:")]
    assert len(lines) == 1, lines
    assert f"the Kafka topic 'dying.{uid}'" in lines[0]
    assert "dropped records it could not deliver" in lines[0]
