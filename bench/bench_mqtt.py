"""MQTT topics: how soon a step sees a message, how fast a reader drains a topic, and what
isolating scenarios costs, against a plain paho-mqtt subscriber on the same broker, side
by side in one run.

1. Detection delay: a thread publishes one message (QoS 1, with the scenario's
   correlation id as a user property) at a random moment (fixed seed) after
   ``expect_messages`` began to wait; the delay is from the publish call to the wait's
   return. Baseline: a plain subscriber whose ``on_message`` hands
   each message to a ``queue.Queue`` the waiting thread blocks on, on a topic of its own,
   the delay from the publish call to the ``get`` returning it.
2. Drain throughput: a feeder in a child process publishes N messages at QoS 1, all with
   the scenario's correlation id; from its start until ``expect_messages(N)`` returns,
   against the plain subscriber receiving N messages of another topic fed the same way.
   Rounds alternate.
3. Isolation cost: a scenario's start and end with the topic's reader running, against a
   suite that subscribes afresh for every scenario (a plain client's connect, subscribe
   and disconnect).

The broker is ``ASYNCBDD_TEST_MQTT_URL`` (default mqtt://127.0.0.1:1883); the topics are
the run's own, and nothing is retained.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.queues import close_readers, expect_messages
from bench.core import Result, median, p90, settings_in_force, uniform
from bench.feeding import ChildFeeder

__all__ = ["run"]

SEED = 20_261_203
SEND_WITHIN = (0.02, 0.5)
"""When (s after the wait began) a message is published."""
DELAY_TARGET_MS = 10.0
THROUGHPUT_TARGET = 0.8
ISOLATION_TARGET_MS = 20.0
WAIT_LIMIT = 30.0
ALIAS = "orders"
DRAIN_ALIAS = "drained"
"""Read at QoS 0: at QoS 1, the broker's per-client limits (Mosquitto: 20 messages in
flight, 1,000 queued) drop a fast feeder's excess for any subscriber, plain or not."""


def run(quick: bool) -> list[Result]:
    """Measure every figure of this module: about 30 s, or 12 s with ``quick``."""
    url = os.environ.get("ASYNCBDD_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    token = uuid.uuid4().hex[:8]
    topic = f"bench/{token}/orders"
    settings = Settings(
        queues={ALIAS: f"mqtt:{topic}", DRAIN_ALIAS: f"mqtt:{topic}/drained?qos=0"},
        grace=0.1,
        transport_settings={"mqtt": {"url": url}},
    )
    publisher = _Plain(url)
    try:
        with settings_in_force(settings):
            _warm_up(publisher, topic)
            results = _detection(publisher, url, topic, 15 if quick else 40)
            results += _throughput(url, topic, 5000 if quick else 20_000, 3)
            results += _isolation(url, topic, 50 if quick else 200)
    finally:
        close_readers()
        publisher.close()
    return results


# --------------------------------------------------------------------------------------
# 1. Detection delay
# --------------------------------------------------------------------------------------


def _detection(publisher: _Plain, url: str, topic: str, samples: int) -> list[Result]:
    moments = uniform(SEED, samples, *SEND_WITHIN)
    ours = [_our_delay(publisher, topic, after) for after in moments]
    plain = _Plain(url, subscribe=f"{topic}/plain")
    try:
        theirs = [_plain_delay(publisher, plain, f"{topic}/plain", after) for after in moments]
    finally:
        plain.close()
    delays = [1000 * delay for delay in ours]
    baseline = [1000 * delay for delay in theirs]
    return [
        Result(
            "delay median, MQTT topic",
            median(delays),
            "ms",
            "paho on_message queue",
            median(baseline),
            "lower",
            target=f"<= {DELAY_TARGET_MS:g} ms",
            met=median(delays) <= DELAY_TARGET_MS,
            note=f"median of {samples} waits: publish called -> expect_messages returned; p90 "
            f"{p90(delays):.1f} ms (plain p90 {p90(baseline):.1f} ms)",
        )
    ]


def _our_delay(publisher: _Plain, topic: str, after: float) -> float:
    with asyncbdd.scenario("detection") as scenario:
        sent = _publish_later(publisher, topic, after, scenario.correlation_id)
        expect_messages(ALIAS, 1, exactly=False, timeout=WAIT_LIMIT)
        returned = time.monotonic()
    return returned - sent.wait()


def _plain_delay(publisher: _Plain, plain: _Plain, topic: str, after: float) -> float:
    sent = _publish_later(publisher, topic, after, "plain")
    plain.received.get(timeout=WAIT_LIMIT)
    returned = time.monotonic()
    return returned - sent.wait()


class _Published:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.at = 0.0

    def wait(self) -> float:
        """When the publish call was made, on the monotonic clock (subscribers may have
        the message before the publisher has its PUBACK)."""
        if not self.done.wait(WAIT_LIMIT):
            raise RuntimeError("the publish did not return")
        return self.at


def _publish_later(publisher: _Plain, topic: str, after: float, correlation: str) -> _Published:
    published = _Published()
    began = time.monotonic()

    def publish() -> None:
        time.sleep(max(0.0, began + after - time.monotonic()))
        published.at = time.monotonic()
        publisher.publish(topic, '{"order_id": "ord-1"}', correlation)
        published.done.set()

    threading.Thread(target=publish, daemon=True).start()
    return published


# --------------------------------------------------------------------------------------
# 2. Drain throughput
# --------------------------------------------------------------------------------------

_FEEDER = """
import sys, time
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
host, port, topic, total = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
client.max_inflight_messages_set(100)
client.max_queued_messages_set(0)
client.connect(host, port)
client.loop_start()
print("ready", flush=True)
properties = Properties(PacketTypes.PUBLISH)
properties.UserProperty = [("correlation_id", sys.stdin.readline().strip())]
began = time.monotonic()
infos = [
    client.publish(topic, '{"order_id": "ord-%d", "amount": 9.5}' % n, qos=1, properties=properties)
    for n in range(total)
]
for info in infos:
    info.wait_for_publish(30)
print(time.monotonic() - began, flush=True)
client.disconnect()
client.loop_stop()
"""


def _feeder(url: str, topic: str, total: int) -> ChildFeeder:
    """A paho client in a child process that publishes ``total`` messages on ``topic``
    once told to go, then prints how long that took; connected before it returns."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", str(parts.port or 1883)
    return ChildFeeder("MQTT", _FEEDER, host, port, topic, str(total))


def _throughput(url: str, topic: str, total: int, rounds: int) -> list[Result]:
    ours: list[float] = []
    bare: list[float] = []
    sending: list[float] = []
    plain_topic = f"{topic}/plain-drained"
    plain = _Plain(url, subscribe=plain_topic, qos=0)
    try:
        for _ in range(rounds):
            feeder = _feeder(url, f"{topic}/drained", total)
            try:
                with asyncbdd.scenario("MQTT throughput") as scenario:
                    began = time.monotonic()
                    feeder.go(scenario.correlation_id)
                    expect_messages(DRAIN_ALIAS, total, exactly=False, timeout=WAIT_LIMIT)
                    ours.append(time.monotonic() - began)
                sending.append(feeder.seconds())
            finally:
                feeder.close()
            feeder = _feeder(url, plain_topic, total)
            try:
                began = time.monotonic()
                feeder.go("plain")
                for _ in range(total):
                    plain.received.get(timeout=WAIT_LIMIT)
                bare.append(time.monotonic() - began)
                sending.append(feeder.seconds())
            finally:
                feeder.close()
    finally:
        plain.close()
    ours_rate, bare_rate = total / median(ours), total / median(bare)
    return [
        Result(
            f"drain rate, MQTT topic {total:,} msgs",
            ours_rate,
            "msg/s",
            "paho on_message loop",
            bare_rate,
            "higher",
            target=f">= {THROUGHPUT_TARGET:g}x",
            met=ours_rate >= THROUGHPUT_TARGET * bare_rate,
            note=f"median of {rounds} alternated rounds, read at QoS 0, feeder start to last "
            "message; "
            f"the feeder, paho in a child process, publishes {total / median(sending):,.0f} "
            "msg/s",
        )
    ]


# --------------------------------------------------------------------------------------
# 3. Isolation cost
# --------------------------------------------------------------------------------------


def _isolation(url: str, topic: str, samples: int) -> list[Result]:
    ours = []
    for _ in range(samples):
        began = time.monotonic()
        with asyncbdd.scenario("isolation"):
            pass
        ours.append(1000 * (time.monotonic() - began))
    fresh = []
    for _ in range(max(samples // 10, 5)):
        began = time.monotonic()
        _Plain(url, subscribe=f"{topic}/fresh").close()
        fresh.append(1000 * (time.monotonic() - began))
    return [
        Result(
            "scenario start+end, 1 topic",
            median(ours),
            "ms",
            "fresh subscription",
            median(fresh),
            "lower",
            target=f"<= {ISOLATION_TARGET_MS:g} ms",
            met=median(ours) <= ISOLATION_TARGET_MS,
            note=f"median of {samples} with the reader running (worst {max(ours):.2f} ms); "
            "baseline: a plain client's connect, subscribe and disconnect per scenario",
        )
    ]


# --------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------


class _Plain:
    """A plain paho client (MQTT 5): a publisher, and a subscriber of ``subscribe``."""

    def __init__(self, url: str, *, subscribe: str | None = None, qos: int = 1) -> None:
        parts = urlsplit(url)
        self.received: queue.Queue[paho.MQTTMessage] = queue.Queue()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        answered = threading.Event()
        self.client.on_connect = lambda *_: answered.set()
        self.client.on_subscribe = lambda *_: answered.set()
        self.client.on_message = lambda _client, _data, message: self.received.put(message)
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()
        if not answered.wait(WAIT_LIMIT):
            raise RuntimeError(f"no CONNACK from {url}")
        if subscribe is not None:
            answered.clear()
            self.client.subscribe(subscribe, qos=qos)
            if not answered.wait(WAIT_LIMIT):
                raise RuntimeError(f"no SUBACK from {url}")

    def publish(self, topic: str, body: str, correlation_id: str) -> None:
        """Publish at QoS 1 with the correlation id, and wait for the PUBACK."""
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.UserProperty = [("correlation_id", correlation_id)]
        info = self.client.publish(topic, body, qos=1, properties=properties)
        info.wait_for_publish(WAIT_LIMIT)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _warm_up(publisher: _Plain, topic: str) -> None:
    """Start the readers, so that no sample pays for connecting."""
    with asyncbdd.scenario("warm up") as scenario:
        publisher.publish(topic, "{}", scenario.correlation_id)
        publisher.publish(f"{topic}/drained", "{}", scenario.correlation_id)
        expect_messages([ALIAS, DRAIN_ALIAS], 1, exactly=False, timeout=WAIT_LIMIT)
