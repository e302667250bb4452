"""The asyncio driver against the sync one: detection delay, event-loop lag, threads.

Measured with the real clock, side by side in one run; the waits are the same plans
carried out by the two drivers (:mod:`asyncbdd.drivers`):

1. Detection delay on polls, queues and webhooks: the condition becomes true from
   another thread at a random moment (fixed seed) while the wait runs; the delay is from
   that moment to the wait's return. Sync: ``asyncbdd.wait.wait_until``,
   ``asyncbdd.queues.expect_messages`` and ``asyncbdd.webhooks.expect_calls`` in plain
   threads. Async: their twins in :mod:`asyncbdd.aio`, awaited in ``asyncio.run`` in
   another thread at the same time, for the same moments. A poll flips a flag (50 of
   each driver's waits at once per round, one thread flipping each pair's flags back to
   back); a queue wait gets one SQS message (embedded server), a webhook wait one POST
   (the run's capture server), one wait of each driver at a time.
2. Event-loop lag: a task sleeping 1 ms in a loop records how late each tick wakes
   while 50 ``aio.wait_until`` on ``async def`` probes (and 50 queue and 50 webhook
   waits, when their twins exist) wait about 1 s. Contrast: the same ticker while 50
   tasks each run the blocking wait in the loop's thread
   (``drivers.run(waiting.wait_until(...))``, what code had before the twins). Control:
   the same scenarios, receivers and sends without the waits, since the embedded SQS
   server, the capture server and the senders share this interpreter's lock.
3. Threads: ``threading.active_count()`` while 50 async waits of a kind wait, against
   while 1 does, before anything arrives (the senders are one thread in both runs).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import http.client
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import asyncbdd
from asyncbdd import aio, drivers, waiting
from asyncbdd.config import Settings
from asyncbdd.queues import close_readers, expect_messages, inbox, send_message
from asyncbdd.wait import wait_until
from asyncbdd.webhooks import expect_calls, stop_webhook_server, webhook_receiver
from bench.core import Result, median, p90, percentile, settings_in_force, uniform

__all__ = ["run"]

SEED = 20_240_610
POLL_WITHIN = (0.02, 1.0)
"""When (s after the round began) a poll's flag flips."""
SEND_WITHIN = (0.02, 0.5)
"""When (s after the wait began) a message or a call is sent."""
TRUE_AFTER = (0.9, 1.1)
"""When (s after the start) the waits of the lag runs are satisfied."""
COUNTED_AFTER = (0.35, 0.45)
"""When the waits of the thread counts are satisfied; threads are counted before."""
COUNT_WINDOW = (0.05, 0.3)
"""The part of a thread-count run (s after the start) in which threads are counted."""
CONCURRENT = 50
RATIO_TARGET = 1.5
LAG_TARGET_MS = 5.0
TICK = 0.001
WAIT_LIMIT = 10.0
"""Deadline of every measured wait, in seconds; none comes near it."""
QUEUE = "async-bench"
RECEIVER = "async-bench"
KINDS = ("poll", "queue", "webhook")


def run(quick: bool) -> list[Result]:
    """Measure every figure of this module: about 20 s, or 50 s without ``quick``."""
    queues = {QUEUE: f"sqs:bench-async-{uuid.uuid4().hex[:8]}"}
    available = list(KINDS)
    results: list[Result] = []
    with settings_in_force(Settings(queues=queues)):  # built-in defaults, embedded SQS
        try:
            _warm_up(available)
            results += _poll_delays(rounds=2 if quick else 6)
            for kind in ("queue", "webhook"):
                if kind in available:
                    results += _arrival_delays(kind, 15 if quick else 40)
            results += _loop_lag(["poll"], rounds=1 if quick else 3)  # the 50 of the target
            results += _loop_lag(available, rounds=1 if quick else 3)
            results += _threads(available)
        finally:
            close_readers()
            stop_webhook_server()
    return results


_TWINS = {"poll": "wait_until", "queue": "expect_messages", "webhook": "expect_calls"}


def _twin(kind: str) -> Callable[..., Awaitable[Any]] | None:
    """The aio twin a kind of wait needs, or ``None`` while it does not exist."""
    found: Callable[..., Awaitable[Any]] | None = getattr(aio, _TWINS[kind], None)
    return found


# --------------------------------------------------------------------------------------
# 1. Detection delay
# --------------------------------------------------------------------------------------


def _poll_delays(rounds: int) -> list[Result]:
    moments = uniform(SEED, rounds * CONCURRENT, *POLL_WITHIN)
    sync: list[float] = []
    async_: list[float] = []
    for number in range(rounds):
        ours, theirs = _poll_round(moments[number * CONCURRENT : (number + 1) * CONCURRENT])
        sync += ours
        async_ += theirs
    return _delay_rows("poll", sync, async_, "a flag flipped -> the wait returned")


def _poll_round(moments: Sequence[float]) -> tuple[list[float], list[float]]:
    """One round: ``len(moments)`` waits of each driver at once; their delays (s)."""
    count = len(moments)
    flags = [(threading.Event(), threading.Event()) for _ in moments]
    flipped = [[0.0, 0.0] for _ in moments]
    started = threading.Semaphore(0)

    def flipper() -> None:
        for _ in range(2 * count):
            started.acquire()
        began = time.monotonic()
        for number, after in sorted(enumerate(moments), key=lambda item: item[1]):
            time.sleep(max(0.0, began + after - time.monotonic()))
            order = (0, 1) if number % 2 else (1, 0)  # neither driver always flipped first
            for which in order:
                flipped[number][which] = time.monotonic()
                flags[number][which].set()

    def sync_wait(number: int) -> float:
        flag = flags[number][0]
        started.release()
        wait_until(flag.is_set, timeout=WAIT_LIMIT, description="the flag to flip")
        return time.monotonic()

    async def async_waits() -> list[float]:
        async def one(number: int) -> float:
            flag = flags[number][1]

            async def flag_set() -> bool:
                return flag.is_set()

            started.release()
            # typed as returning the probe's coroutine, though the value is awaited
            _ = await aio.wait_until(flag_set, timeout=WAIT_LIMIT, description="the flag to flip")
            return time.monotonic()

        return list(await asyncio.gather(*(one(number) for number in range(count))))

    flipping = threading.Thread(target=flipper, daemon=True)
    flipping.start()
    with ThreadPoolExecutor(count + 1) as pool:
        awaited = pool.submit(asyncio.run, async_waits())
        sync_returned = list(pool.map(sync_wait, range(count)))
        async_returned = awaited.result()
    flipping.join()
    return (
        [returned - flipped[number][0] for number, returned in enumerate(sync_returned)],
        [returned - flipped[number][1] for number, returned in enumerate(async_returned)],
    )


@dataclass(frozen=True)
class _Delay:
    delay: float
    """Seconds from the condition becoming true to the wait's return."""
    sent: float
    """Seconds from the send call to the wait's return."""


def _arrival_delays(kind: str, samples: int) -> list[Result]:
    """``samples`` waits of each driver, one at a time each, both drivers side by side."""
    moments = uniform(SEED + (1 if kind == "queue" else 2), samples, *SEND_WITHIN)
    sample = _queue_sample if kind == "queue" else _webhook_sample

    async def async_samples() -> list[_Delay]:
        return [await sample(after, True) for after in moments]

    with ThreadPoolExecutor(2) as pool:
        awaited = pool.submit(asyncio.run, async_samples())
        sync = pool.submit(_plain_thread, sample, moments).result()
        async_ = awaited.result()
    if kind == "queue":
        became = "send_message returned -> expect_messages returned"
    else:
        became = "the server recorded the call (Call.received_at) -> expect_calls returned"
    rows = _delay_rows(kind, [d.delay for d in sync], [d.delay for d in async_], became)
    if kind == "webhook":
        sent = [1000 * d.sent for d in async_]
        sync_sent = [1000 * d.sent for d in sync]
        rows[0] = dataclasses.replace(
            rows[0],
            note=rows[0].note + f"; from the client's send: median {median(sent):.2f} ms "
            f"(sync {median(sync_sent):.2f} ms)",
        )
    return rows


def _plain_thread(
    sample: Callable[[float, bool], Awaitable[_Delay]], moments: Sequence[float]
) -> list[_Delay]:
    """The sync samples, in this (plain) thread: each sample's coroutine, run without an
    event loop, makes the blocking call (see :func:`_drive`)."""
    return [_drive(sample(after, False)) for after in moments]


def _drive(coroutine: Awaitable[_Delay]) -> _Delay:
    """Run a coroutine that never suspends (the sync branch of a sample) to its end."""
    step = coroutine.__await__()
    try:
        step.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    raise RuntimeError("a sync sample suspended")


async def _queue_sample(after: float, awaited: bool) -> _Delay:
    """One queue wait: one message sent ``after`` s after it began; awaited with the aio
    twin, or (``awaited`` false) the blocking call in this plain thread."""
    with asyncbdd.scenario("async bench: queue"):
        context = contextvars.copy_context()  # the sender sends as this scenario
        sender = _Sender([(time.monotonic() + after, lambda: context.run(_send))])
        if awaited:
            twin = _twin("queue")
            assert twin is not None
            await twin(QUEUE, 1, exactly=False, timeout=WAIT_LIMIT)
        else:
            expect_messages(QUEUE, 1, exactly=False, timeout=WAIT_LIMIT)
        returned = time.monotonic()
        sender.join()
    sent = sender.sent[0]
    return _Delay(returned - sent.returned, returned - sent.called)


async def _webhook_sample(after: float, awaited: bool) -> _Delay:
    """One webhook wait: one call POSTed ``after`` s after it began (see _queue_sample)."""
    with asyncbdd.scenario("async bench: webhook"):
        url = webhook_receiver(RECEIVER).url
        sender = _Sender([(time.monotonic() + after, lambda: _post(url))])
        if awaited:
            twin = _twin("webhook")
            assert twin is not None
            [call] = await twin(RECEIVER, 1, exactly=False, timeout=WAIT_LIMIT)
        else:
            [call] = expect_calls(RECEIVER, 1, exactly=False, timeout=WAIT_LIMIT)
        returned = time.monotonic()
        sender.join()
    return _Delay(returned - call.received_at, returned - sender.sent[0].called)


def _delay_rows(kind: str, sync: list[float], async_: list[float], became: str) -> list[Result]:
    rows = []
    for label, statistic in (("median", median), ("p90", p90)):
        ours, theirs = 1000 * statistic(async_), 1000 * statistic(sync)
        rows.append(
            Result(
                f"delay {label}, {kind}: aio driver",
                ours,
                "ms",
                "sync driver",
                theirs,
                "lower",
                target=f"<= {RATIO_TARGET:g}x sync",
                met=ours <= RATIO_TARGET * theirs,
                note=f"{label} of {len(async_)} waits per driver: {became}"
                + (
                    f"; worst {1000 * max(async_):.1f} ms (sync {1000 * max(sync):.1f} ms)"
                    if label == "p90"
                    else ""
                ),
            )
        )
    return rows


# --------------------------------------------------------------------------------------
# 2. Event-loop lag
# --------------------------------------------------------------------------------------


def _loop_lag(available: Sequence[str], rounds: int) -> list[Result]:
    idle: list[float] = []
    awaiting: list[float] = []
    control: list[float] = []
    blocking: list[float] = []
    for number in range(rounds):
        idle += asyncio.run(_ticking(_idle()))
        moments = uniform(SEED + 10 + number, CONCURRENT, *TRUE_AFTER)
        awaiting += asyncio.run(_ticking(_async_waits(available, moments)))
        control += asyncio.run(_ticking(_async_waits(available, moments, waiting=False)))
        blocking += asyncio.run(_ticking(_blocking_waits(moments)))
    waits = " + ".join(f"{CONCURRENT} {kind}" for kind in available)
    runs = {"idle": idle, "awaiting": awaiting, "control": control, "blocking": blocking}
    lag = {name: [1000 * late for late in ticks] for name, ticks in runs.items()}
    p99 = {name: percentile(ticks, 0.99) for name, ticks in lag.items()}
    worst = {name: max(ticks) for name, ticks in lag.items()}
    contrast = f"{CONCURRENT} blocking waits in the loop"
    return [
        Result(
            f"loop lag p99, 1ms ticker: {waits} aio waits",
            p99["awaiting"],
            "ms",
            contrast,
            p99["blocking"],
            "lower",
            target=f"<= {LAG_TARGET_MS:g} ms",
            met=p99["awaiting"] <= LAG_TARGET_MS,
            note=f"{len(lag['awaiting'])} ticks in {rounds} run(s) of about 1 s, each "
            f"tick's lateness past its 1 ms sleep; the same scenarios and sends without the "
            f"waits: p99 {p99['control']:.2f} ms; the idle loop's {p99['idle']:.2f} ms; the "
            f"contrast (drivers.run(waiting.wait_until(...)) in {CONCURRENT} tasks) had "
            f"{_ticks(len(lag['blocking']))}",
        ),
        Result(
            f"loop lag max, 1ms ticker: {waits} aio waits",
            worst["awaiting"],
            "ms",
            contrast,
            worst["blocking"],
            "lower",
            note=f"the latest tick; without the waits {worst['control']:.2f} ms; the idle "
            f"loop's {worst['idle']:.2f} ms",
        ),
    ]


def _ticks(count: int) -> str:
    return f"{count} tick" + ("" if count == 1 else "s")


async def _ticking(work: Awaitable[object]) -> list[float]:
    """How late (s) each 1 ms tick of a ticker task woke while ``work`` ran."""
    lates: list[float] = []
    running = [True]

    async def ticker() -> None:
        while running[0]:
            before = time.monotonic()
            await asyncio.sleep(TICK)
            lates.append(time.monotonic() - before - TICK)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker's first sleep is under way before the work starts
    try:
        await work
    finally:
        running[0] = False
        await ticking
    return lates


async def _idle() -> None:
    await asyncio.sleep(0.3)


async def _async_waits(
    available: Sequence[str], moments: Sequence[float], *, waiting: bool = True
) -> None:
    """Waits of each kind, satisfied ``moments`` after the start; without ``waiting``,
    the same scenarios, receivers and sends, each task sleeping until its send was made
    instead of waiting for it."""
    began = time.monotonic()
    plan = _Plan(sum(len(moments) for kind in available if kind != "poll"))
    sent = None if waiting else asyncio.Event()
    waits = [
        _async_wait(kind, began + after, plan, sent) for kind in available for after in moments
    ]
    sender = plan.start()

    async def all_sent() -> None:
        await _joined(sender)
        if sent is not None:
            sent.set()

    await asyncio.gather(all_sent(), *waits)


async def _blocking_waits(moments: Sequence[float]) -> None:
    began = time.monotonic()

    async def one(at: float) -> None:
        plan = waiting.wait_until(lambda: time.monotonic() >= at, timeout=WAIT_LIMIT)
        drivers.run(plan)  # blocks the loop's thread: the refusal in wait_until bypassed

    await asyncio.gather(*(one(began + after) for after in moments))


class _Plan:
    """Sends gathered from ``expected`` waits, made by one thread at their times: it
    starts sending once every wait has added its send (:meth:`add`)."""

    def __init__(self, expected: int) -> None:
        self._sends: list[tuple[float, Callable[[], None]]] = []
        self._expected = expected
        self._added = threading.Semaphore(0)

    def add(self, at: float, send: Callable[[], None]) -> None:
        self._sends.append((at, send))
        self._added.release()

    def start(self) -> _Sender:
        """The sending thread (started)."""

        def all_added() -> None:
            for _ in range(self._expected):
                if not self._added.acquire(timeout=WAIT_LIMIT):
                    raise RuntimeError("a wait never added its send")

        return _Sender(self._sends, before=all_added)


async def _async_wait(
    kind: str, at: float, plan: _Plan, instead: asyncio.Event | None = None
) -> None:
    """One wait of ``kind``, satisfied at the monotonic time ``at``; given ``instead``,
    the task awaits that event (set once every send was made) rather than waiting."""
    twin = _twin(kind)
    assert twin is not None
    if instead is not None:
        if kind == "poll":
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            return
        with asyncbdd.scenario(f"async bench: {kind}, no wait"):
            if kind == "queue":
                inbox()  # delivered to, as a waiting scenario's inbox is
                context = contextvars.copy_context()
                plan.add(at, lambda: context.run(_send))
            else:
                url = webhook_receiver(RECEIVER).url
                plan.add(at, lambda: _post(url))
            await instead.wait()
        return
    if kind == "poll":

        async def passed() -> bool:
            return time.monotonic() >= at

        await twin(passed, timeout=WAIT_LIMIT, description="the moment to pass")
        return
    with asyncbdd.scenario(f"async bench: {kind}"):
        if kind == "queue":
            context = contextvars.copy_context()
            plan.add(at, lambda: context.run(_send))
            await twin(QUEUE, 1, exactly=False, timeout=WAIT_LIMIT)
        else:
            url = webhook_receiver(RECEIVER).url
            plan.add(at, lambda: _post(url))
            await twin(RECEIVER, 1, exactly=False, timeout=WAIT_LIMIT)


# --------------------------------------------------------------------------------------
# 3. Threads
# --------------------------------------------------------------------------------------


def _threads(available: Sequence[str]) -> list[Result]:
    rows = []
    before = threading.active_count()
    sync_threads = _sync_poll_threads(CONCURRENT)
    for kind in available:
        one = asyncio.run(_counting(kind, 1))
        many = asyncio.run(_counting(kind, CONCURRENT))
        rows.append(
            Result(
                f"threads, {CONCURRENT} aio {kind} waits at once",
                many,
                "threads",
                "1 wait",
                one,
                "lower",
                target="no more than 1 wait",
                met=many <= one,
                note="most threading.active_count() seen while they waited, nothing arrived "
                f"(the run's servers, readers and idle pools: {before} threads before any)"
                + (
                    f"; {CONCURRENT} sync wait_until in threads: {sync_threads} threads"
                    if kind == "poll"
                    else ""
                ),
            )
        )
    return rows


async def _counting(kind: str, count: int) -> int:
    """The most threads seen while ``count`` waits of ``kind`` wait (nothing arrived)."""
    began = time.monotonic()
    moments = uniform(SEED + 20, count, *COUNTED_AFTER)
    plan = _Plan(0 if kind == "poll" else count)
    waits = [asyncio.ensure_future(_async_wait(kind, began + after, plan)) for after in moments]
    sender = plan.start()  # in both runs: one thread
    most = 0
    try:
        while (now := time.monotonic() - began) < COUNT_WINDOW[1]:
            if now >= COUNT_WINDOW[0]:
                most = max(most, threading.active_count())
            await asyncio.sleep(0.005)
        await asyncio.gather(*waits)
    finally:
        await _joined(sender)
    return most


def _sync_poll_threads(count: int) -> int:
    """The most threads seen while ``count`` sync waits wait, each in a thread."""
    began = time.monotonic()
    done = threading.Event()

    def one(after: float) -> None:
        at = began + after
        wait_until(lambda: time.monotonic() >= at, timeout=WAIT_LIMIT)

    most = 0
    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(one, after) for after in uniform(SEED + 20, count, *COUNTED_AFTER)]
        while (now := time.monotonic() - began) < COUNT_WINDOW[1]:
            if now >= COUNT_WINDOW[0]:
                most = max(most, threading.active_count())
            done.wait(0.005)
        for future in futures:
            future.result()
    return most


# --------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sent:
    called: float
    returned: float


class _Sender(threading.Thread):
    """Started at once: runs each ``(time.monotonic() time, send)`` of ``plan`` in turn at
    its time (after ``before()`` returned), recording when each was called and returned."""

    def __init__(
        self,
        plan: Sequence[tuple[float, Callable[[], None]]],
        before: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.plan, self.before = plan, before
        self.sent: list[_Sent] = []
        self.start()

    def run(self) -> None:
        if self.before is not None:
            self.before()
        for at, send in sorted(self.plan, key=lambda item: item[0]):
            time.sleep(max(0.0, at - time.monotonic()))
            called = time.monotonic()
            send()
            self.sent.append(_Sent(called, time.monotonic()))


async def _joined(thread: threading.Thread) -> None:
    """Await the end of ``thread`` without blocking the loop (the ticker is watching)."""
    while thread.is_alive():
        await asyncio.sleep(TICK)


def _send() -> None:
    send_message(QUEUE, {"order_id": "ord-1", "product_id": "p-1", "quantity": 1})


def _post(url: str) -> None:
    """POST the demo's payment.completed call to ``url`` on a fresh connection."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        body = json.dumps({"event": "payment.completed", "order_id": "ord-1", "amount": 9.5})
        connection.request("POST", parts.path, body, {"Content-Type": "application/json"})
        connection.getresponse().read()
    finally:
        connection.close()


def _warm_up(available: Sequence[str]) -> None:
    """Start the queue's reader and the capture server, and run each path once, so that
    no sample pays for a connection or an import."""
    _drive(_queue_sample(0.01, False))
    _drive(_webhook_sample(0.01, False))

    async def awaited() -> None:
        if "queue" in available:
            await _queue_sample(0.01, True)
        if "webhook" in available:
            await _webhook_sample(0.01, True)

    asyncio.run(awaited())
