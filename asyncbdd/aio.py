"""The awaitable twins of asyncbdd's waits, for code that runs in an event loop.

Each function here has the name and the arguments of its blocking twin, and the same
semantics, deadlines and failure messages: they are the same plan, carried out by the
asyncio driver (:mod:`asyncbdd.drivers`)::

    from asyncbdd import aio

    async def test_the_order_is_paid(asyncbdd_scenario):
        await place_order()
        await aio.wait_until(order_status, lambda status: status == "paid", timeout=5)

Awaiting never blocks the loop: pauses are timers, arrivals (queue messages, webhook
calls) wake the task through the loop, and 50 waits at once add no thread. Probes and
conditions may be ``async def`` (run on the loop, cancelled at the deadline) or plain
functions (run in a worker thread of the wait, so a blocking SQL query stalls no task).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from asyncbdd import probes, snapshot_subjects, snapshots, waiting
from asyncbdd.drivers import awaitable
from asyncbdd.queues import expect as queue_waits
from asyncbdd.traces import checks as trace_waits
from asyncbdd.traces import evidence as evidence_waits
from asyncbdd.waiting import WaitOutcome
from asyncbdd.webhooks import expect as webhook_waits

__all__ = [
    "expect_before",
    "expect_calls",
    "expect_chain",
    "expect_change",
    "expect_evidence_in_order",
    "expect_exact_change",
    "expect_exact_subject_change",
    "expect_exactly_once",
    "expect_last_change",
    "expect_messages",
    "expect_never",
    "expect_no_calls",
    "expect_no_change",
    "expect_no_event",
    "expect_no_messages",
    "expect_no_subject_change",
    "expect_stays",
    "expect_subject_change",
    "expect_trace",
    "expect_trace_stays",
    "expect_value",
    "expect_within_after",
    "met_within",
    "wait_stays",
    "wait_until",
    "wait_until_asserted",
]

T = TypeVar("T")

if TYPE_CHECKING:  # an async def probe's value is what it returns once awaited

    @overload
    async def wait_until(
        probe: Callable[[], Awaitable[T]],
        condition: Callable[[T], object] = ...,
        **options: Any,
    ) -> T: ...
    @overload
    async def wait_until(
        probe: Callable[[], T], condition: Callable[[T], object] = ..., **options: Any
    ) -> T: ...
    async def wait_until(probe: Any, condition: Any = bool, **options: Any) -> Any: ...
    @overload
    async def wait_stays(
        probe: Callable[[], Awaitable[T]],
        condition: Callable[[T], object] = ...,
        **options: Any,
    ) -> T: ...
    @overload
    async def wait_stays(
        probe: Callable[[], T], condition: Callable[[T], object] = ..., **options: Any
    ) -> T: ...
    async def wait_stays(probe: Any, condition: Any = bool, **options: Any) -> Any: ...
    @overload
    async def wait_until_asserted(
        probe: Callable[[], Awaitable[T]],
        assertion: Callable[[T], object] | None = ...,
        **options: Any,
    ) -> T: ...
    @overload
    async def wait_until_asserted(
        probe: Callable[[], T], assertion: Callable[[T], object] | None = ..., **options: Any
    ) -> T: ...
    async def wait_until_asserted(probe: Any, assertion: Any = None, **options: Any) -> Any: ...
    @overload
    async def met_within(
        probe: Callable[[], Awaitable[T]],
        condition: Callable[[T], object] = ...,
        **options: Any,
    ) -> WaitOutcome[T]: ...
    @overload
    async def met_within(
        probe: Callable[[], T], condition: Callable[[T], object] = ..., **options: Any
    ) -> WaitOutcome[T]: ...
    async def met_within(probe: Any, condition: Any = bool, **options: Any) -> Any: ...
else:
    wait_until = awaitable(waiting.wait_until)
    wait_stays = awaitable(waiting.wait_stays)
    wait_until_asserted = awaitable(waiting.wait_until_asserted)
    met_within = awaitable(waiting.met_within)

expect_value = awaitable(probes.expect_value_plan)
expect_stays = awaitable(probes.expect_stays_plan)
expect_never = awaitable(probes.expect_never_plan)

expect_messages = awaitable(queue_waits.expect_messages_plan)
expect_no_messages = awaitable(queue_waits.expect_no_messages_plan)

expect_calls = awaitable(webhook_waits.expect_calls_plan)
expect_no_calls = awaitable(webhook_waits.expect_no_calls_plan)

expect_trace = awaitable(trace_waits.expect_trace_plan)
expect_trace_stays = awaitable(trace_waits.expect_trace_stays_plan)
expect_chain = awaitable(trace_waits.expect_chain_plan)
expect_before = awaitable(trace_waits.expect_before_plan)
expect_within_after = awaitable(trace_waits.expect_within_after_plan)
expect_exactly_once = awaitable(trace_waits.expect_exactly_once_plan)
expect_no_event = awaitable(trace_waits.expect_no_event_plan)
expect_evidence_in_order = awaitable(evidence_waits.expect_evidence_in_order_plan)

expect_change = awaitable(snapshots.expect_change_plan)
expect_exact_change = awaitable(snapshots.expect_exact_change_plan)
expect_no_change = awaitable(snapshots.expect_no_change_plan)
expect_subject_change = awaitable(snapshot_subjects.expect_subject_change_plan)
expect_no_subject_change = awaitable(snapshot_subjects.expect_no_subject_change_plan)
expect_last_change = awaitable(snapshot_subjects.expect_last_change_plan)
expect_exact_subject_change = awaitable(snapshot_subjects.expect_exact_subject_change_plan)
