"""Scenarios live at the same time (threads, asyncio tasks) share the queue readers: each
receives its own messages, by correlation id, and lists the other's as skipped."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.queues import Message, Skipped, expect_messages, inbox, send_message

Configure = Callable[..., Settings]


@pytest.mark.parametrize("transport", ["sqs", "kafka"])
def test_two_scenarios_in_two_threads_each_receive_exactly_their_own_message(
    configure: Configure, uid: str, transport: str
) -> None:
    """Both scenarios are live while both messages arrive: each wait counts its own only."""
    alias = f"orders-{uid}"
    configure({alias: f"sqs:orders-{uid}" if transport == "sqs" else f"kafka:orders.{uid}"})
    both_live = threading.Barrier(2, timeout=20)
    both_received = threading.Barrier(2, timeout=20)
    results: dict[str, tuple[str, list[Message], list[Skipped]]] = {}
    failures: list[BaseException] = []

    def run(name: str) -> None:
        try:
            with asyncbdd.scenario(name) as state:
                both_live.wait()
                send_message(alias, {"sender": name})
                expect_messages(alias, 1)  # exactly one, through the grace window
                box = inbox()
                assert box.wait(lambda: len(box.skipped[alias]) >= 1, 10), f"{name}: no skip"
                both_received.wait()
                with box.changed:
                    results[name] = (
                        state.correlation_id,
                        box.messages[alias][:],
                        box.skipped[alias][:],
                    )
        except BaseException as error:  # reported by the test thread
            failures.append(error)
            both_live.abort()
            both_received.abort()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a scenario thread hangs"
    if failures:
        raise failures[0]
    for name, other in (("first", "second"), ("second", "first")):
        correlation_id, [message], skipped = results[name]
        assert message.correlation_id == correlation_id
        assert message.json == {"sender": name}
        assert [item.message.correlation_id for item in skipped] == [results[other][0]]
        assert skipped[0].why == "belongs to another scenario or run"


def test_two_scenarios_in_two_asyncio_tasks_each_await_their_own_message(
    configure: Configure, uid: str
) -> None:
    """Tasks awaiting their inboxes' condition are woken by the reader thread; each task's
    scenario gets only the message carrying its correlation id."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:orders.{uid}"})

    async def both() -> dict[str, tuple[str, list[Message], list[Skipped]]]:
        live: list[str] = []
        received: list[str] = []
        gate = asyncio.Condition()
        results: dict[str, tuple[str, list[Message], list[Skipped]]] = {}

        async def all_of(names: list[str], name: str) -> None:
            async with gate:
                names.append(name)
                gate.notify_all()
                await asyncio.wait_for(gate.wait_for(lambda: len(names) == 2), 20)

        async def run(name: str) -> None:
            with asyncbdd.scenario(name) as state:
                box = inbox()
                await all_of(live, name)
                send_message(alias, {"sender": name})
                until = time.monotonic() + 20
                assert await box.changed.until(lambda: bool(box.messages[alias]), until)
                assert await box.changed.until(lambda: bool(box.skipped[alias]), until)
                await all_of(received, name)
                with box.changed:
                    results[name] = (
                        state.correlation_id,
                        box.messages[alias][:],
                        box.skipped[alias][:],
                    )

        await asyncio.wait_for(asyncio.gather(run("first"), run("second")), 60)
        return results

    results = asyncio.run(both())
    for name, other in (("first", "second"), ("second", "first")):
        correlation_id, [message], skipped = results[name]
        assert message.correlation_id == correlation_id
        assert message.json == {"sender": name}
        assert [item.message.correlation_id for item in skipped] == [results[other][0]]
