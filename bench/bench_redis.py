"""Redis streams and channels: how soon a step sees an entry, how fast a reader drains a
stream, and what isolating scenarios costs, against plain redis-py loops on the same
server, side by side in one run.

1. Detection delay: a thread adds one entry (publishes one message) at a random moment
   (fixed seed) after ``expect_messages`` began to wait; the delay is from the add
   call (the thread calling it) to the wait's return. Baseline: a plain ``XREAD BLOCK`` loop (a
   subscriber's ``get_message`` loop for a channel) on a stream (channel) of its own,
   the delay from the add call to the loop having it.
2. Drain throughput: a feeder adds N entries in pipelined batches of 100, all with the
   scenario's correlation id; from its start until ``expect_messages(N)`` returns,
   against a plain ``XREAD COUNT 500 BLOCK`` loop reading N entries of another stream
   fed the same way (the feeder is a child process). Rounds alternate.
3. Isolation cost: a scenario's start and end with the stream's and the channel's
   readers running.

The server is ``ASYNCBDD_TEST_REDIS_URL`` (default redis://127.0.0.1:6379/0); every
stream the run makes is deleted at its end.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.queues import close_readers, expect_messages, inbox
from bench.core import Result, median, p90, settings_in_force, uniform
from bench.feeding import ChildFeeder, SendLater

__all__ = ["run"]

SEED = 20_261_202
SEND_WITHIN = (0.02, 0.5)
"""When (s after the wait began) an entry is added."""
DELAY_TARGET_MS = 10.0
THROUGHPUT_TARGET = 0.8
ISOLATION_TARGET_MS = 20.0
FEED_BATCH = 100
WAIT_LIMIT = 20.0


def run(quick: bool) -> list[Result]:
    """Measure every figure of this module: about 30 s, or 12 s with ``quick``."""
    url = os.environ.get("ASYNCBDD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    token = uuid.uuid4().hex[:8]
    client = redis.Redis.from_url(url, socket_timeout=10)
    names = {"stream": f"bench-stream-{token}", "channel": f"bench-channel-{token}"}
    settings = Settings(
        queues={alias: f"redis:{alias}/{name}" for alias, name in names.items()},
        grace=0.1,
        transport_settings={"redis": {"url": url, "channel_correlation": "field:cid"}},
    )
    try:
        with settings_in_force(settings):
            _warm_up(client, names)
            results = _detection(client, url, names, 15 if quick else 40)
            results += _throughput(client, url, names["stream"], 5000 if quick else 20_000, 3)
            results += _isolation(50 if quick else 200)
    finally:
        close_readers()
        for key in client.scan_iter(match=f"bench-*-{token}*"):
            client.delete(key)
        client.close()
    return results


# --------------------------------------------------------------------------------------
# 1. Detection delay
# --------------------------------------------------------------------------------------


def _detection(client: redis.Redis, url: str, names: dict[str, str], samples: int) -> list[Result]:
    results = []
    for alias in ("stream", "channel"):
        moments = uniform(SEED, samples, *SEND_WITHIN)
        ours = [1000 * _our_delay(client, alias, names[alias], after) for after in moments]
        plain = [
            1000 * _plain_delay(client, url, alias, f"{names[alias]}-plain", after)
            for after in moments
        ]
        baseline = "XREAD BLOCK loop" if alias == "stream" else "get_message loop"
        results.append(
            Result(
                f"delay median, Redis {alias}",
                median(ours),
                "ms",
                baseline,
                median(plain),
                "lower",
                target=f"<= {DELAY_TARGET_MS:g} ms",
                met=median(ours) <= DELAY_TARGET_MS,
                note=f"median of {samples} waits (exactly=False): add called -> "
                f"expect_messages returned; p90 {p90(ours):.1f} ms (plain p90 "
                f"{p90(plain):.1f} ms)",
            )
        )
    return results


def _our_delay(client: redis.Redis, alias: str, name: str, after: float) -> float:
    with asyncbdd.scenario(f"detection on {alias}") as scenario:
        send = _adding(client, alias, name, scenario.correlation_id)
        sender = SendLater(after, send)
        expect_messages(alias, 1, exactly=False, timeout=WAIT_LIMIT)
        returned = time.monotonic()
        sender.join()
    return returned - sender.called


def _plain_delay(client: redis.Redis, url: str, alias: str, name: str, after: float) -> float:
    """Seconds from an add call until a plain redis-py loop has it."""
    reader = redis.Redis.from_url(url, socket_timeout=5)
    try:
        if alias == "stream":
            last = client.xrevrange(name, count=1)
            last_id = last[0][0] if last else b"0-0"
            sender = SendLater(after, _adding(client, alias, name, "plain"))
            while not reader.xread({name: last_id}, count=500, block=1000):
                pass
        else:
            pubsub = reader.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            pubsub.subscribe(name)
            while pubsub.get_message(timeout=1.0) is not None:
                pass  # the subscription's confirmation
            sender = SendLater(after, _adding(client, alias, name, "plain"))
            while pubsub.get_message(timeout=1.0) is None:
                pass
            pubsub.close()
        got = time.monotonic()
        sender.join()
    finally:
        reader.close()
    return got - sender.called


def _adding(client: redis.Redis, alias: str, name: str, correlation_id: str) -> Callable[[], Any]:
    body = json.dumps({"order_id": "ord-1", "cid": correlation_id})
    if alias == "stream":
        return lambda: client.xadd(name, {"body": body, "correlation_id": correlation_id})
    return lambda: client.publish(name, body)


# --------------------------------------------------------------------------------------
# 2. Drain throughput
# --------------------------------------------------------------------------------------


def _throughput(
    client: redis.Redis, url: str, stream: str, total: int, rounds: int
) -> list[Result]:
    ours: list[float] = []
    plain: list[float] = []
    for number in range(rounds):
        feeder = _feeder(url, stream, total)
        with asyncbdd.scenario("throughput") as scenario:
            began = time.monotonic()
            feeder.go(scenario.correlation_id)
            expect_messages("stream", total, exactly=False, timeout=120)
            ours.append(time.monotonic() - began)
            feeder.close()
        other = f"{stream}-plain-{number}"
        reader = redis.Redis.from_url(url, socket_timeout=5)
        feeder = _feeder(url, other, total)
        try:
            began = time.monotonic()
            feeder.go("plain")
            last_id: bytes | str = "0-0"
            received = 0
            while received < total:
                for _, entries in reader.xread({other: last_id}, count=500, block=1000) or []:
                    received += len(entries)
                    last_id = entries[-1][0]
            plain.append(time.monotonic() - began)
        finally:
            feeder.close()
            reader.close()
    ours_rate, plain_rate = total / median(ours), total / median(plain)
    return [
        Result(
            f"drain rate, Redis stream {total:,} entries",
            ours_rate,
            "msg/s",
            "XREAD loop",
            plain_rate,
            "higher",
            target=f">= {THROUGHPUT_TARGET:g}x",
            met=ours_rate >= THROUGHPUT_TARGET * plain_rate,
            note=f"median of {rounds} alternated rounds, feeder start to last entry; the "
            f"feeder, a redis-py client in a child process, adds pipelined batches of {FEED_BATCH}",
        )
    ]


_FEEDER = """
import json, sys, redis
url, stream, total, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
client = redis.Redis.from_url(url, socket_timeout=10)
client.ping()
print("ready", flush=True)
correlation_id = sys.stdin.readline().strip()
for first in range(0, total, batch):
    pipeline = client.pipeline(transaction=False)
    for number in range(first, min(first + batch, total)):
        body = json.dumps({"order_id": f"ord-{number}", "quantity": 1, "amount": 9.5})
        pipeline.xadd(stream, {"body": body, "correlation_id": correlation_id})
    pipeline.execute()
print("done", flush=True)
"""


def _feeder(url: str, stream: str, total: int) -> ChildFeeder:
    """A redis-py client in a child process that adds ``total`` entries to ``stream`` in
    pipelined batches once told to go; connected before it returns."""
    return ChildFeeder("Redis", _FEEDER, url, stream, str(total), str(FEED_BATCH))


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
            "scenario start+end, 1 stream + 1 channel",
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


def _warm_up(client: redis.Redis, names: dict[str, str]) -> None:
    """Start both readers and open every connection, so that no sample pays for one."""
    with asyncbdd.scenario("warm up") as scenario:
        for alias, name in names.items():
            _adding(client, alias, name, scenario.correlation_id)()
        expect_messages(list(names), 1, exactly=False, timeout=WAIT_LIMIT)
