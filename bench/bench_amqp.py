"""RabbitMQ exchanges (tapped) and queues (read): how soon a step sees a message, how fast
a reader drains a tap, and what isolating scenarios costs, against plain pika consume
loops on the same broker, side by side in one run.

1. Detection delay: a thread publishes one message at a random moment (fixed seed) after
   ``expect_messages`` began to wait; the delay is from the publish call to the wait's
   return. Baseline: a plain pika ``BlockingConnection`` consuming a queue of its own
   (a tap queue bound to the same exchange; the named queue's twin), the delay from the
   publish call to its callback having the message.
2. Drain throughput: a feeder (pika, in a child process) publishes N messages to the
   exchange, all with the scenario's correlation id; from its start until
   ``expect_messages(N)`` returns, against a plain consume loop on a queue bound to the
   same exchange, fed the same way. Rounds alternate.
3. Isolation cost: a scenario's start and end with a tap's and a named queue's readers
   running.

The broker is ``ASYNCBDD_TEST_AMQP_URL`` (default amqp://guest:guest@127.0.0.1:5672/%2F);
every exchange and queue the run declares is deleted at its end.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import pika

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.queues import close_readers, expect_messages, inbox
from asyncbdd.queues.aliases import close_queues
from bench.core import Result, median, p90, settings_in_force, uniform
from bench.feeding import ChildFeeder, SendLater

__all__ = ["run"]

SEED = 20_261_203
SEND_WITHIN = (0.02, 0.5)
"""When (s after the wait began) a message is published."""
DELAY_TARGET_MS = 10.0
THROUGHPUT_TARGET = 0.8
ISOLATION_TARGET_MS = 20.0
WAIT_LIMIT = 20.0


def run(quick: bool) -> list[Result]:
    """Measure every figure of this module: about 40 s, or 15 s with ``quick``."""
    url = os.environ.get("ASYNCBDD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    token = uuid.uuid4().hex[:8]
    exchange, named = f"bench-exchange-{token}", f"bench-queue-{token}"
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.exchange_declare(exchange, "fanout")
    channel.queue_declare(named)
    settings = Settings(
        queues={"tap": f"amqp:exchange/{exchange}", "named": f"amqp:queue/{named}"},
        grace=0.1,
        transport_settings={"amqp": {"url": url}},
    )
    try:
        with settings_in_force(settings):
            _warm_up(channel, exchange, named)
            samples = 15 if quick else 40
            results = _detection(channel, url, "tap", exchange, samples)
            results += _detection(channel, url, "named", named, samples)
            results += _throughput(url, exchange, 5000 if quick else 20_000, 3)
            results += _isolation(50 if quick else 200)
    finally:
        close_readers()
        close_queues()
        channel.exchange_delete(exchange)
        channel.queue_delete(named)
        connection.close()
    return results


# --------------------------------------------------------------------------------------
# 1. Detection delay
# --------------------------------------------------------------------------------------


def _detection(channel: Any, url: str, alias: str, target: str, samples: int) -> list[Result]:
    moments = uniform(SEED, samples, *SEND_WITHIN)
    ours = [1000 * _our_delay(channel, alias, target, after) for after in moments]
    plain = [1000 * _plain_delay(url, alias, target, after) for after in moments]
    what = "exchange tap" if alias == "tap" else "named queue"
    return [
        Result(
            f"delay median, RabbitMQ {what}",
            median(ours),
            "ms",
            "pika consume loop",
            median(plain),
            "lower",
            target=f"<= {DELAY_TARGET_MS:g} ms",
            met=median(ours) <= DELAY_TARGET_MS,
            note=f"median of {samples} waits (exactly=False): publish called -> "
            f"expect_messages returned; p90 {p90(ours):.1f} ms (plain p90 {p90(plain):.1f} ms)",
        )
    ]


def _our_delay(channel: Any, alias: str, target: str, after: float) -> float:
    with asyncbdd.scenario(f"detection on {alias}") as scenario:
        sender = SendLater(after, _publishing(channel, alias, target, scenario.correlation_id))
        expect_messages(alias, 1, exactly=False, timeout=WAIT_LIMIT)
        returned = time.monotonic()
        sender.join()
    return returned - sender.called


def _plain_delay(url: str, alias: str, target: str, after: float) -> float:
    """Seconds from a publish call until a plain pika consumer has the message."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    publisher = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        if alias == "tap":
            queue = channel.queue_declare("", exclusive=True).method.queue
            channel.queue_bind(queue, target)
            routing = (target, "")
        else:
            queue = channel.queue_declare(f"{target}-plain", auto_delete=True).method.queue
            routing = ("", queue)
        got: list[float] = []

        def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
            got.append(time.monotonic())
            ch.basic_ack(method.delivery_tag)
            ch.stop_consuming()

        channel.basic_consume(queue, on_message)
        send = publisher.channel()
        sender = SendLater(after, lambda: send.basic_publish(*routing, b'{"order_id": "ord-1"}'))
        channel.start_consuming()
        sender.join()
    finally:
        publisher.close()
        connection.close()
    return got[0] - sender.called


def _publishing(channel: Any, alias: str, target: str, correlation_id: str) -> Callable[[], Any]:
    body = json.dumps({"order_id": "ord-1"}).encode()
    properties = pika.BasicProperties(correlation_id=correlation_id)
    if alias == "tap":
        return lambda: channel.basic_publish(target, "", body, properties)
    return lambda: channel.basic_publish("", target, body, properties)


# --------------------------------------------------------------------------------------
# 2. Drain throughput
# --------------------------------------------------------------------------------------


def _throughput(url: str, exchange: str, total: int, rounds: int) -> list[Result]:
    ours: list[float] = []
    plain: list[float] = []
    for _ in range(rounds):
        feeder = _feeder(url, exchange, total)
        with asyncbdd.scenario("throughput") as scenario:
            began = time.monotonic()
            feeder.go(scenario.correlation_id)
            expect_messages("tap", total, exactly=False, timeout=120)
            ours.append(time.monotonic() - began)
            feeder.close()
        plain.append(_plain_drain(url, exchange, total))
    ours_rate, plain_rate = total / median(ours), total / median(plain)
    return [
        Result(
            f"drain rate, RabbitMQ exchange tap {total:,} messages",
            ours_rate,
            "msg/s",
            "pika consume loop",
            plain_rate,
            "higher",
            target=f">= {THROUGHPUT_TARGET:g}x",
            met=ours_rate >= THROUGHPUT_TARGET * plain_rate,
            note=f"median of {rounds} alternated rounds, feeder start to last message; the "
            "feeder, pika in a child process, publishes to a fanout exchange; the plain loop "
            "consumes (auto-ack) an exclusive queue bound to it",
        )
    ]


def _plain_drain(url: str, exchange: str, total: int) -> float:
    """Seconds a plain pika consumer of a queue bound to ``exchange`` takes to receive
    ``total`` messages, from the feeder's start."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, exchange)
        received = [0]

        def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
            json.loads(body)  # as much reading as a test would do
            received[0] += 1
            if received[0] >= total:
                ch.stop_consuming()

        channel.basic_consume(queue, on_message, auto_ack=True)
        feeder = _feeder(url, exchange, total)
        began = time.monotonic()
        feeder.go("plain")
        channel.start_consuming()
        seconds = time.monotonic() - began
        feeder.close()
    finally:
        connection.close()
    return seconds


_FEEDER = """
import json, sys, pika
url, exchange, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
print("ready", flush=True)
correlation_id = sys.stdin.readline().strip()
properties = pika.BasicProperties(correlation_id=correlation_id)
for number in range(total):
    body = json.dumps({"order_id": f"ord-{number}", "quantity": 1, "amount": 9.5})
    channel.basic_publish(exchange, "", body.encode(), properties)
connection.process_data_events(0)
connection.close()
print("done", flush=True)
"""


def _feeder(url: str, exchange: str, total: int) -> ChildFeeder:
    """pika in a child process that publishes ``total`` messages to ``exchange`` once
    told to go; connected before it returns."""
    return ChildFeeder("RabbitMQ", _FEEDER, url, exchange, str(total))


# --------------------------------------------------------------------------------------
# 3. Isolation cost
# --------------------------------------------------------------------------------------


def _isolation(samples: int) -> list[Result]:
    times = []
    for _ in range(samples):
        began = time.monotonic()
        with asyncbdd.scenario("isolation"):
            started = time.monotonic()
            inbox()
            ending = time.monotonic()
        times.append(1000 * ((started - began) + (time.monotonic() - ending)))
    return [
        Result(
            "scenario start+end, 1 tap + 1 named queue",
            median(times),
            "ms",
            "target",
            ISOLATION_TARGET_MS,
            None,
            target=f"<= {ISOLATION_TARGET_MS:g} ms",
            met=median(times) <= ISOLATION_TARGET_MS,
            note=f"median of {samples} with both readers running (worst {max(times):.2f} ms)",
        )
    ]


# --------------------------------------------------------------------------------------


def _warm_up(channel: Any, exchange: str, named: str) -> None:
    """Start both readers and open every connection, so that no sample pays for one."""
    with asyncbdd.scenario("warm up") as scenario:
        _publishing(channel, "tap", exchange, scenario.correlation_id)()
        _publishing(channel, "named", named, scenario.correlation_id)()
        expect_messages(["tap", "named"], 1, exactly=False, timeout=WAIT_LIMIT)
