"""Webhook waits awaited in an event loop: a call from another thread wakes the task at
once, the loop keeps running meanwhile, and a failure reads as the blocking one does."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from capture_client import send

import asyncbdd
from asyncbdd import aio
from asyncbdd.errors import WaitTimeout
from asyncbdd.webhooks import expect_calls, webhook_receiver


def test_an_awaited_call_wait_is_woken_by_a_call_from_another_thread() -> None:
    async def main() -> tuple[int, float, int]:
        with asyncbdd.scenario("awaited webhook"):
            receiver = webhook_receiver("payment-complete")
            ticks = 0
            loop = asyncio.get_running_loop()
            beat: list[asyncio.TimerHandle] = []

            def tick() -> None:  # runs only while the loop is free
                nonlocal ticks
                ticks += 1
                beat[:] = [loop.call_later(0.005, tick)]

            tick()
            sender = threading.Timer(0.2, send, args=(receiver.url, {"order_id": "ord-1"}))
            sender.start()
            started = time.monotonic()
            calls = await aio.expect_calls("payment-complete", 1, exactly=False, timeout=5)
            waited = time.monotonic() - started
            beat[0].cancel()
            sender.join()
            return len(calls), waited, ticks

    count, waited, ticks = asyncio.run(main())
    assert count == 1
    assert waited < 2.0
    assert ticks >= 10  # the loop ran while the task waited


def test_an_awaited_call_wait_fails_with_the_blocking_waits_report() -> None:
    async def awaited() -> None:
        await aio.expect_calls("payment-complete", 1, timeout=0.2)

    def failure(wait: Callable[[], object]) -> str:
        with asyncbdd.scenario("no call"):
            webhook_receiver("payment-complete")
            with pytest.raises(WaitTimeout) as caught:
                wait()
        return str(caught.value).split("\n", 1)[1].split("elapsed")[0]

    as_awaited = failure(lambda: asyncio.run(awaited()))
    assert as_awaited == failure(lambda: expect_calls("payment-complete", 1, timeout=0.2))
    assert "received 0 of 1" in as_awaited


def test_an_awaited_quiet_window_fails_at_the_first_call() -> None:
    async def main() -> None:
        with asyncbdd.scenario("a call too many"):
            receiver = webhook_receiver("payment-complete")
            threading.Timer(0.1, send, args=(receiver.url, {})).start()
            await aio.expect_no_calls("payment-complete", during=5)

    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="into the 5 s window"):
        asyncio.run(main())
    assert time.monotonic() - started < 3
