"""The awaitable twins of the trace checks: the same verdicts and messages, awaited.

Each twin passes where its blocking check passes and fails with the same message where
it fails. Awaited, no store's blocking ``pause`` runs on the loop: events recorded from
another thread wake the wait in a worker thread, a store that can only be polled pauses
on a timer, and a webhook call that the capture server receives while the task awaits
wakes the task itself.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from trace_fakes import MemoryStore, PolledMemoryStore

import asyncbdd
from asyncbdd import aio
from asyncbdd.config import Settings, set_settings
from asyncbdd.errors import WaitAborted, WaitTimeout
from asyncbdd.scenario import Scenario, end_scenario
from asyncbdd.signals import Changes
from asyncbdd.traces import (
    TRACE_STORES,
    Absent,
    Before,
    Trace,
    TraceEvent,
    TraceStore,
    checks,
    evidence,
    record_evidence,
)
from asyncbdd.webhooks import captures, stop_webhook_server, webhook_receiver

LONG = 30.0
"""A deadline no passing check, and no check that fails early, comes near."""
PROMPT = 5.0
"""What "at once" means here: far below LONG, far above any scheduling delay."""
T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)

TRACE_TWINS = [
    "expect_before",
    "expect_chain",
    "expect_exactly_once",
    "expect_no_event",
    "expect_trace",
    "expect_trace_stays",
    "expect_within_after",
]


class ArrivingStore(MemoryStore):
    """A store that learns of new events (its pause ends when one is recorded), and
    notes the thread its pause ran in."""

    def __init__(self) -> None:
        super().__init__()
        self.paused_in: set[int] = set()

    def pause(self, seconds: float) -> None:
        self.paused_in.add(threading.get_ident())
        super().pause(seconds)


@pytest.fixture(scope="module", autouse=True)
def stop_server() -> Iterator[None]:
    """The capture server the evidence tests start stops after them."""
    yield
    stop_webhook_server()


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    """Short deadlines and grace; trace names restored; no scenario left running."""
    set_settings(Settings(timeout=5.0, grace=0.1))
    with TRACE_STORES.isolated():
        yield
    end_scenario()
    set_settings(None)


@pytest.fixture
def scenario() -> Iterator[Scenario]:
    with asyncbdd.scenario("trace twins") as state:
        yield state


@pytest.fixture
def store() -> ArrivingStore:
    return ArrivingStore()


def event(kind: str, sequence: int, ms: float) -> TraceEvent:
    return TraceEvent(
        type=kind,
        service="tests",
        timestamp=T0 + timedelta(milliseconds=ms),
        sequence=sequence,
        source=f"memory #{sequence}",
    )


def chain(*kinds: str, step_ms: float = 50) -> list[TraceEvent]:
    """Events of ``kinds`` numbered 1, 2, 3 ... in this order, ``step_ms`` apart."""
    return [event(kind, number, (number - 1) * step_ms) for number, kind in enumerate(kinds, 1)]


def normalized(error: BaseException) -> list[str]:
    """A failure's lines with every duration as T, every other number as N and runs of
    spaces as one: what varies between two runs of one wait is timing."""
    text = re.sub(r"\d+(?:\.\d+)? ?(?:ms|s|min|h)\b", "T", str(error))
    text = re.sub(r"\d+(?:\.\d+)?", "N", text)
    return [" ".join(line.split()) for line in text.splitlines()]


def same_failure(
    blocking: Callable[[], object], awaited: Callable[[], Coroutine[Any, Any, object]]
) -> AssertionError:
    """The blocking check fails, and its twin, awaited, fails the same way; returns the
    twin's failure."""
    with pytest.raises(AssertionError) as blocked:
        blocking()
    with pytest.raises(AssertionError) as twin:
        asyncio.run(awaited())
    assert type(twin.value) is type(blocked.value)
    assert normalized(twin.value) == normalized(blocked.value)
    return twin.value


# One case per twin: arguments, the events it passes on, the events it fails on.
CASES = {
    "expect_trace": (
        (Before("payment.completed", "shipping.label_created"),),
        {"timeout": LONG},
        chain("order.created", "payment.completed", "shipping.label_created"),
        chain("shipping.label_created", "payment.completed"),
    ),
    "expect_trace_stays": (
        (Absent("payment.failed"),),
        {"during": 0.2},
        chain("order.created"),
        chain("order.created", "payment.failed"),
    ),
    "expect_chain": (
        (["order.created", "payment.completed"],),
        {"timeout": LONG},
        chain("order.created", "payment.completed"),
        chain("payment.completed", "order.created"),
    ),
    "expect_chain exactly": (
        (["order.created", "payment.completed"],),
        {"timeout": LONG, "exactly": True},
        chain("order.created", "payment.completed"),
        chain("order.created", "payment.completed", "payment.completed"),
    ),
    "expect_before": (
        ("payment.completed", "shipping.label_created"),
        {"timeout": LONG},
        chain("payment.completed", "shipping.label_created"),
        chain("shipping.label_created", "payment.completed"),
    ),
    "expect_within_after": (
        ("notification.sent", "payment.completed", 1),
        {"timeout": LONG},
        chain("payment.completed", "notification.sent"),
        chain("payment.completed", "notification.sent", step_ms=2000),
    ),
    "expect_exactly_once": (
        ("payment.completed",),
        {"timeout": LONG},
        chain("payment.completed"),
        chain("payment.completed", "payment.completed"),
    ),
    "expect_no_event": (
        ("payment.failed",),
        {"during": 0.2},
        chain("order.created"),
        chain("payment.failed"),
    ),
}


@pytest.mark.parametrize("name", TRACE_TWINS)
def test_each_check_has_a_twin_of_the_same_plan(name: str) -> None:
    """The twin is a coroutine function named, signed and documented as its check."""
    twin, check = getattr(aio, name), getattr(checks, name)
    assert name in aio.__all__
    assert inspect.iscoroutinefunction(twin)
    assert twin.__name__ == name
    assert inspect.unwrap(twin) is getattr(checks, f"{name}_plan")
    assert inspect.signature(twin) == inspect.signature(check)
    assert inspect.getdoc(twin) == inspect.getdoc(check)


@pytest.mark.parametrize("case", CASES)
def test_a_twin_passes_where_its_check_passes(
    case: str, store: ArrivingStore, scenario: Scenario
) -> None:
    args, options, passing, _ = CASES[case]
    name = case.split(maxsplit=1)[0]
    store.record(scenario.correlation_id, *passing)
    started = time.monotonic()
    trace = asyncio.run(getattr(aio, name)(*args, trace=store, **options))
    assert time.monotonic() - started < PROMPT
    assert isinstance(trace, Trace)
    assert trace.types == getattr(checks, name)(*args, trace=store, **options).types


@pytest.mark.parametrize("case", CASES)
def test_a_twin_fails_where_its_check_fails_with_the_same_message(
    case: str, store: ArrivingStore, scenario: Scenario
) -> None:
    args, options, _, failing = CASES[case]
    name = case.split(maxsplit=1)[0]
    store.record(scenario.correlation_id, *failing)
    started = time.monotonic()
    failure = same_failure(
        lambda: getattr(checks, name)(*args, trace=store, **options),
        lambda: getattr(aio, name)(*args, trace=store, **options),
    )
    assert isinstance(failure, WaitAborted)
    assert time.monotonic() - started < PROMPT


def test_a_twin_times_out_as_its_check_does(store: ArrivingStore, scenario: Scenario) -> None:
    """Evidence still incomplete at the deadline: the same timeout, naming what is missing."""
    store.record(scenario.correlation_id, *chain("order.created"))
    failure = same_failure(
        lambda: checks.expect_chain(
            ["order.created", "payment.completed"], trace=store, timeout=0.2
        ),
        lambda: aio.expect_chain(["order.created", "payment.completed"], trace=store, timeout=0.2),
    )
    assert type(failure) is WaitTimeout
    assert "payment.completed is not in the trace" in str(failure)


def test_events_from_another_thread_end_the_stores_pause_off_the_loop(
    store: ArrivingStore, scenario: Scenario
) -> None:
    """The store's own (blocking) pause runs in a worker thread, and an event recorded
    while the task awaits ends it: the twin returns at once."""
    events = chain("order.created", "payment.completed")
    store.record(scenario.correlation_id, events[0])
    recorder = store.after_reads(
        1, lambda: store.record(scenario.correlation_id, events[1]), timeout=PROMPT
    )

    async def main() -> tuple[Trace, int]:
        trace = await aio.expect_chain(
            ["order.created", "payment.completed"], trace=store, timeout=LONG
        )
        return trace, threading.get_ident()

    started = time.monotonic()
    trace, loop_thread = asyncio.run(main())
    recorder.join(PROMPT)
    assert time.monotonic() - started < PROMPT
    assert trace.types == ["order.created", "payment.completed"]
    assert store.reads >= 2
    assert store.paused_in
    assert loop_thread not in store.paused_in


def test_a_store_that_can_only_be_polled_pauses_on_a_timer(
    monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> None:
    """A store without a pause of its own is never slept on: the twin pauses on the
    loop's timer, and the events that a task on the loop records are seen."""
    slept: list[float] = []
    monkeypatch.setattr(TraceStore, "pause", lambda self, seconds: slept.append(seconds))
    polled = PolledMemoryStore()
    polled.record(scenario.correlation_id, *chain("order.created"))

    async def main() -> Trace:
        first_read = asyncio.Event()
        loop = asyncio.get_running_loop()
        polled.after_reads(1, lambda: loop.call_soon_threadsafe(first_read.set), timeout=PROMPT)

        async def pay() -> None:
            await first_read.wait()
            polled.record(scenario.correlation_id, event("payment.completed", 2, 50))

        payment = asyncio.create_task(pay())
        trace = await aio.expect_chain(
            ["order.created", "payment.completed"], trace=polled, timeout=LONG
        )
        await payment
        return trace

    started = time.monotonic()
    assert asyncio.run(main()).types == ["order.created", "payment.completed"]
    assert time.monotonic() - started < PROMPT
    assert polled.reads >= 2
    assert slept == []


# --------------------------------------------------------------------------------------
# The chain across channels
# --------------------------------------------------------------------------------------

EVIDENCE = [("http", "order accepted"), ("webhook", "payment-complete")]


def post(url: str) -> None:
    """Call a webhook as the system under test would."""
    request = urllib.request.Request(
        url,
        data=b'{"status": "completed"}',
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=PROMPT) as answer:
        answer.read()


def parked_on(monkeypatch: pytest.MonkeyPatch, changes: Changes) -> threading.Event:
    """An event set when a task starts awaiting ``changes`` (to be woken by it)."""
    parked = threading.Event()
    original = Changes.until

    async def until(self: Changes, *args: Any, **kwargs: Any) -> bool:
        if self is changes:
            parked.set()
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(Changes, "until", until)
    return parked


def test_the_evidence_twin_is_the_same_plan() -> None:
    twin, check = aio.expect_evidence_in_order, evidence.expect_evidence_in_order
    assert "expect_evidence_in_order" in aio.__all__
    assert inspect.iscoroutinefunction(twin)
    assert inspect.unwrap(twin) is evidence.expect_evidence_in_order_plan
    assert inspect.signature(twin) == inspect.signature(check)


def test_a_webhook_call_wakes_the_awaiting_evidence_twin(
    monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> None:
    """The task awaits the receiver's calls, and a call that the capture server receives
    from another thread wakes it: the twin returns at once, the chain in order."""
    receiver = webhook_receiver("payment-complete")
    record_evidence("http", "order accepted", at=time.time() - 1)
    parked = parked_on(monkeypatch, captures().changed)

    def call_once_awaited() -> None:
        if parked.wait(PROMPT):
            post(receiver.url)

    caller = threading.Thread(target=call_once_awaited, daemon=True)
    caller.start()
    started = time.monotonic()
    trace = asyncio.run(aio.expect_evidence_in_order(EVIDENCE, timeout=LONG))
    caller.join(PROMPT)
    assert parked.is_set()
    assert time.monotonic() - started < PROMPT
    assert trace.types == ["order accepted", "call to payment-complete"]


def test_the_evidence_twin_fails_as_its_check_does(scenario: Scenario) -> None:
    """The call came before the evidence that should precede it: both fail at once, with
    the same timeline."""
    receiver = webhook_receiver("payment-complete")
    post(receiver.url)
    record_evidence("http", "order accepted", at=time.time() + 60)
    started = time.monotonic()
    failure = same_failure(
        lambda: evidence.expect_evidence_in_order(EVIDENCE, timeout=LONG),
        lambda: aio.expect_evidence_in_order(EVIDENCE, timeout=LONG),
    )
    assert isinstance(failure, WaitAborted)
    assert "out of order" in str(failure).splitlines()[1]
    assert time.monotonic() - started < PROMPT
