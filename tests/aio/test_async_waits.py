"""The asyncio driver: the same waits, awaited, never blocking the loop they run in."""

from __future__ import annotations

import asyncio
import functools
import threading
import time

import pytest

from asyncbdd import aio
from asyncbdd.errors import InvalidInput, WaitAborted, WaitTimeout
from asyncbdd.scenario import scenario
from asyncbdd.tripwires import Tripwire
from asyncbdd.wait import wait_until


def test_an_awaited_wait_lets_the_task_that_makes_it_true_run() -> None:
    async def main() -> float:
        status = {"value": "pending"}

        async def pay() -> None:
            loop = asyncio.get_running_loop()
            due = loop.create_future()
            loop.call_later(0.1, due.set_result, None)  # the payment takes 100 ms
            await due
            status["value"] = "paid"

        task = asyncio.create_task(pay())
        started = time.monotonic()
        assert await aio.wait_until(lambda: status["value"], lambda v: v == "paid", timeout=5)
        await task
        return time.monotonic() - started

    assert asyncio.run(main()) < 1.0


def test_async_probes_and_conditions_are_awaited() -> None:
    async def main() -> int:
        reads = {"n": 0}

        async def count() -> int:
            reads["n"] += 1
            return reads["n"]

        async def at_least_three(value: int) -> bool:
            return value >= 3

        return await aio.wait_until(count, at_least_three, timeout=5)

    assert asyncio.run(main()) == 3


def test_an_async_probe_that_never_completes_is_cancelled_at_the_deadline() -> None:
    cancelled = []

    async def main() -> None:
        async def hangs() -> str:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(True)
                raise
            return "never"

        await aio.wait_until(hangs, timeout=0.3)

    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="was cancelled at the deadline's end") as failure:
        asyncio.run(main())
    assert time.monotonic() - started < 1.0
    assert cancelled == [True]
    assert "hangs" in str(failure.value)


def test_a_blocking_probe_runs_in_a_worker_thread_and_stalls_no_task() -> None:
    release = threading.Event()

    def blocking_read() -> str:
        release.wait(0.3)
        return "paid"

    async def main() -> int:
        ticks = 0
        loop = asyncio.get_running_loop()

        def tick() -> None:  # runs only while the loop is free
            nonlocal ticks
            ticks += 1
            if not release.is_set():
                loop.call_later(0.01, tick)

        tick()
        loop.call_later(0.2, release.set)
        await aio.wait_until(blocking_read, lambda v: v == "paid", timeout=5)
        return ticks

    assert asyncio.run(main()) >= 5


def test_a_stay_fails_at_the_first_check_that_does_not_hold() -> None:
    async def main() -> None:
        values = iter(["pending", "pending", "paid"])
        await aio.wait_stays(lambda: next(values), lambda v: v == "pending", during=2)

    with pytest.raises(WaitAborted, match="stopped holding"):
        asyncio.run(main())


def test_met_within_and_until_asserted_have_twins() -> None:
    async def main() -> tuple[bool, int]:
        outcome = await aio.met_within(lambda: False, timeout=0.05)

        def paid(value: int) -> None:
            assert value == 1

        return bool(outcome), await aio.wait_until_asserted(lambda: 1, paid, timeout=1)

    assert asyncio.run(main()) == (False, 1)


def test_a_blocking_wait_inside_a_running_loop_names_its_twin() -> None:
    async def main() -> None:
        wait_until(lambda: True, timeout=1)

    with pytest.raises(InvalidInput, match=r"await asyncbdd\.aio\.wait_until"):
        asyncio.run(main())


def test_a_tripwire_ends_an_awaited_wait_at_once() -> None:
    status = {"value": "pending"}

    async def main() -> None:
        with scenario("tripwire") as state:
            state.tripwires.add(
                Tripwire("the order failed", lambda: status["value"], lambda v: v == "failed")
            )
            asyncio.get_running_loop().call_later(0.1, status.update, {"value": "failed"})
            await aio.wait_until(lambda: status["value"], lambda v: v == "shipped", timeout=10)

    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="the order failed"):
        asyncio.run(main())
    assert time.monotonic() - started < 3


def test_fifty_awaited_waits_add_no_thread() -> None:
    async def main() -> int:
        flags = [False] * 50

        async def read(index: int) -> bool:
            return flags[index]

        during = []

        def flip() -> None:  # while all 50 wait
            during.append(threading.active_count())
            flags[:] = [True] * 50

        asyncio.get_running_loop().call_later(0.2, flip)
        before = threading.active_count()
        waits = [
            asyncio.create_task(aio.wait_until(functools.partial(read, i), timeout=5))
            for i in range(50)
        ]
        await asyncio.gather(*waits)
        return during[0] - before

    assert asyncio.run(main()) == 0
