"""Queue waits awaited in an event loop: the queue's reader wakes the task through the
loop, never by polling, and the awaited failure reads as the blocking one does."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

import asyncbdd
from asyncbdd import aio
from asyncbdd.config import Settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.queues import MessageMatcher, expect_messages, send_message

Configure = Callable[..., Settings]


def test_an_awaited_message_wait_returns_the_matching_messages(
    configure: Configure, uid: str
) -> None:
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})

    async def main() -> list[str]:
        with asyncbdd.scenario("awaited queue"):
            sender = threading.Timer(0.2, send_message, args=(alias, {"order_id": "ord-1"}))
            sender.start()
            found = await aio.expect_messages(
                alias, 1, where=MessageMatcher(fields={"order_id": "ord-1"}), timeout=10
            )
            sender.join()
            return [message.json["order_id"] for message in found]

    assert asyncio.run(main()) == ["ord-1"]


def test_an_awaited_message_wait_fails_with_the_blocking_waits_report(
    configure: Configure, uid: str
) -> None:
    alias = f"shipping-{uid}"
    configure({alias: f"sqs:shipping-{uid}"})

    async def awaited() -> None:
        await aio.expect_messages(alias, 1, timeout=0.5)

    def failure(wait: Callable[[], object]) -> str:
        with asyncbdd.scenario("no message"), pytest.raises(WaitTimeout) as caught:
            wait()
        return str(caught.value).split("\n", 1)[1].split("elapsed")[0]

    as_awaited = failure(lambda: asyncio.run(awaited()))
    assert as_awaited == failure(lambda: expect_messages(alias, 1, timeout=0.5))
    assert "received 0 of 1" in as_awaited


def test_an_awaited_quiet_window_on_a_queue_fails_at_the_first_message(
    configure: Configure, uid: str
) -> None:
    alias = f"inventory-{uid}"
    configure({alias: f"sqs:inventory-{uid}"})

    async def main() -> None:
        with asyncbdd.scenario("a message too many"):
            await aio.expect_no_messages(alias, during=0.05)  # the reader is open now
            threading.Timer(0.1, send_message, args=(alias, {"surprise": True})).start()
            await aio.expect_no_messages(alias, during=10)

    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="into the 10 s window"):
        asyncio.run(main())
    assert time.monotonic() - started < 8
