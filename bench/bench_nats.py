"""NATS subjects and JetStream streams: how soon a step sees a message, how fast a reader
drains a stream, and what isolating scenarios costs, against plain nats-py clients on the
same server, side by side in one run.

1. Detection delay: a thread publishes one message at a random moment (fixed seed) after
   ``expect_messages`` began to wait; the delay is from the publish call to the wait's
   return. Baseline: a plain nats-py subscription (an ordered consumer for the stream) on
   a subject (stream) of its own, the delay from the publish call to its callback.
2. Drain throughput: a feeder publishes N messages to the stream's subject, all with the
   scenario's correlation id; from its start until ``expect_messages(N)`` returns,
   against a plain ordered consumer receiving N messages of another stream fed the same
   way (the feeder is a child process). Rounds alternate.
3. Isolation cost: a scenario's start and end with the subject's and the stream's readers
   running.

The server is ``ASYNCBDD_TEST_NATS_URL`` (default nats://127.0.0.1:4222); every stream
the run makes is deleted at its end.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.queues import close_readers, expect_messages, inbox
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
T = TypeVar("T")


def run(quick: bool) -> list[Result]:
    """Measure every figure of this module: about 30 s, or 12 s with ``quick``."""
    url = os.environ.get("ASYNCBDD_TEST_NATS_URL", "nats://127.0.0.1:4222")
    token = uuid.uuid4().hex[:8]
    names = {"subject": f"bench-subject-{token}", "stream": f"BENCH_{token}"}
    plain = _Plain(url)
    plain.add_stream(names["stream"], f"bench-stream-{token}")
    settings = Settings(
        queues={
            "subject": f"nats:subject/{names['subject']}",
            "stream": f"nats:stream/{names['stream']}",
        },
        grace=0.1,
        transport_settings={"nats": {"url": url}},
    )
    subjects = {"subject": names["subject"], "stream": f"bench-stream-{token}"}
    try:
        with settings_in_force(settings):
            _warm_up(plain, subjects)
            results = _detection(plain, subjects, token, 15 if quick else 40)
            results += _throughput(plain, url, token, 5000 if quick else 20_000, 3)
            results += _isolation(50 if quick else 200)
    finally:
        close_readers()
        plain.close()
    return results


# --------------------------------------------------------------------------------------
# 1. Detection delay
# --------------------------------------------------------------------------------------


def _detection(plain: _Plain, subjects: dict[str, str], token: str, samples: int) -> list[Result]:
    results = []
    for alias in ("subject", "stream"):
        moments = uniform(SEED, samples, *SEND_WITHIN)
        ours = [1000 * _our_delay(plain, alias, subjects[alias], after) for after in moments]
        other = f"bench-plain-{alias}-{token}"
        if alias == "stream":
            plain.add_stream(f"BENCH_PLAIN_{token}", other)
        arrived = plain.listen(other, stream=f"BENCH_PLAIN_{token}" if alias == "stream" else None)
        theirs = [1000 * _plain_delay(plain, other, arrived, after) for after in moments]
        baseline = "nats-py subscription" if alias == "subject" else "nats-py ordered consumer"
        results.append(
            Result(
                f"delay median, NATS {alias}",
                median(ours),
                "ms",
                baseline,
                median(theirs),
                "lower",
                target=f"<= {DELAY_TARGET_MS:g} ms",
                met=median(ours) <= DELAY_TARGET_MS,
                note=f"median of {samples} waits (exactly=False): publish called -> "
                f"expect_messages returned; p90 {p90(ours):.1f} ms (plain p90 "
                f"{p90(theirs):.1f} ms)",
            )
        )
    return results


def _our_delay(plain: _Plain, alias: str, subject: str, after: float) -> float:
    with asyncbdd.scenario(f"detection on {alias}") as scenario:
        sender = SendLater(after, lambda: plain.publish(subject, scenario.correlation_id))
        expect_messages(alias, 1, exactly=False, timeout=WAIT_LIMIT)
        returned = time.monotonic()
        sender.join()
    return returned - sender.called


def _plain_delay(plain: _Plain, subject: str, arrived: _Arrivals, after: float) -> float:
    """Seconds from a publish call until a plain nats-py callback has it."""
    arrived.reset()
    sender = SendLater(after, lambda: plain.publish(subject, "plain"))
    got = arrived.wait()
    sender.join()
    return got - sender.called


# --------------------------------------------------------------------------------------
# 2. Drain throughput
# --------------------------------------------------------------------------------------


def _throughput(plain: _Plain, url: str, token: str, total: int, rounds: int) -> list[Result]:
    ours: list[float] = []
    theirs: list[float] = []
    for number in range(rounds):
        feeder = _feeder(url, f"bench-stream-{token}", total)
        with asyncbdd.scenario("throughput") as scenario:
            began = time.monotonic()
            feeder.go(scenario.correlation_id)
            expect_messages("stream", total, exactly=False, timeout=120)
            ours.append(time.monotonic() - began)
            feeder.close()
        stream, subject = f"BENCH_DRAIN_{token}_{number}", f"bench-drain-{token}-{number}"
        plain.add_stream(stream, subject)
        arrived = plain.listen(subject, stream=stream, count=total)
        feeder = _feeder(url, subject, total)
        began = time.monotonic()
        feeder.go("plain")
        arrived.wait(120)
        theirs.append(time.monotonic() - began)
        feeder.close()
    ours_rate, plain_rate = total / median(ours), total / median(theirs)
    return [
        Result(
            f"drain rate, NATS stream {total:,} messages",
            ours_rate,
            "msg/s",
            "ordered consumer",
            plain_rate,
            "higher",
            target=f">= {THROUGHPUT_TARGET:g}x",
            met=ours_rate >= THROUGHPUT_TARGET * plain_rate,
            note=f"median of {rounds} alternated rounds, feeder start to last message; the "
            "feeder, a nats-py client in a child process, publishes them all, then flushes",
        )
    ]


_FEEDER = """
import asyncio, json, sys, nats
url, subject, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
async def main():
    client = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
    print("ready", flush=True)
    correlation_id = sys.stdin.readline().strip()  # nothing else runs on the loop meanwhile
    headers = {"correlation_id": correlation_id}
    for number in range(total):
        body = json.dumps({"order_id": f"ord-{number}", "quantity": 1, "amount": 9.5})
        await client.publish(subject, body.encode(), headers=headers)
    await client.flush(timeout=30)
    await client.close()
    print("done", flush=True)
asyncio.run(main())
"""


def _feeder(url: str, subject: str, total: int) -> ChildFeeder:
    """A nats-py client in a child process that publishes ``total`` messages on
    ``subject`` once told to go; connected before it returns."""
    return ChildFeeder("NATS", _FEEDER, url, subject, str(total))


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
            "scenario start+end, 1 subject + 1 stream",
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


class _Arrivals:
    """When a plain subscription received its ``count``-th message since :meth:`reset`."""

    def __init__(self, count: int) -> None:
        self.count, self.seen, self.at = count, 0, 0.0
        self.done = threading.Event()

    def reset(self) -> None:
        self.seen, self.at = 0, 0.0
        self.done.clear()

    def arrived(self) -> None:
        self.seen += 1
        if self.seen == self.count:
            self.at = time.monotonic()
            self.done.set()

    def wait(self, seconds: float = WAIT_LIMIT) -> float:
        if not self.done.wait(seconds):
            raise RuntimeError(f"a plain nats-py subscription got {self.seen} of {self.count}")
        return self.at


class _Plain:
    """A plain nats-py client on an event loop of its own: it publishes, and it listens
    for the baselines; it deletes the streams it made when closed."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.streams: list[str] = []
        self.subscriptions: list[Any] = []
        self.client: Client = self.run(
            nats.connect(url, connect_timeout=5, allow_reconnect=False)  # type: ignore[arg-type]
        )

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def add_stream(self, name: str, subject: str) -> None:
        self.streams.append(name)
        self.run(self.client.jetstream().add_stream(name=name, subjects=[subject]))

    def publish(self, subject: str, correlation_id: str) -> None:
        body = json.dumps({"order_id": "ord-1"}).encode()

        async def published() -> None:
            await self.client.publish(subject, body, headers={"correlation_id": correlation_id})
            await self.client.flush(timeout=5)  # type: ignore[arg-type]

        self.run(published())

    def listen(self, subject: str, *, stream: str | None = None, count: int = 1) -> _Arrivals:
        arrivals = _Arrivals(count)

        async def arrived(message: Msg) -> None:
            json.loads(message.data)  # what any consumer of the message does first
            arrivals.arrived()

        async def subscribed() -> None:
            if stream is None:
                subscription = await self.client.subscribe(subject, cb=arrived)
            else:
                js = self.client.jetstream()
                subscription = await js.subscribe(
                    subject, stream=stream, cb=arrived, ordered_consumer=True
                )
            self.subscriptions.append(subscription)
            await self.client.flush(timeout=5)  # type: ignore[arg-type]

        self.run(subscribed())
        return arrivals

    def close(self) -> None:
        for subscription in self.subscriptions:  # ends an ordered consumer's own tasks
            self.run(subscription.unsubscribe())
        for stream in self.streams:
            self.run(self.client.jetstream().delete_stream(stream))
        self.run(self.client.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def _warm_up(plain: _Plain, subjects: dict[str, str]) -> None:
    """Start both readers and open every connection, so that no sample pays for one."""
    with asyncbdd.scenario("warm up") as scenario:
        expect_messages(list(subjects), 0, timeout=0.05)  # the readers subscribe
        for subject in subjects.values():
            plain.publish(subject, scenario.correlation_id)
        expect_messages(list(subjects), 1, exactly=False, timeout=WAIT_LIMIT)
