"""Scenarios running at once, in threads or asyncio tasks, share the capture server but
each sees only the calls to its own receivers; and a receiver needs a scenario."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from typing import Any

import pytest
from capture_client import send

import asyncbdd
from asyncbdd.errors import AsyncBddError
from asyncbdd.webhooks import captures, expect_calls, webhook_receiver, webhook_server

WAIT = 10.0
"""A bound on every rendezvous of the threads, so a broken test fails instead of hanging."""


def test_two_scenarios_in_two_threads_each_get_only_their_own_calls() -> None:
    """Both declare "payment-complete" at once; a call to each URL counts for its owner."""
    both_declared = threading.Barrier(2, timeout=WAIT)
    both_sent = threading.Barrier(2, timeout=WAIT)
    seen: dict[str, dict[str, Any]] = {}
    failures: list[BaseException] = []

    def run(name: str) -> None:
        try:
            with asyncbdd.scenario(name) as state:
                receiver = webhook_receiver("payment-complete")
                both_declared.wait()
                status = send(receiver.url, {"sent by": name}).status
                both_sent.wait()
                [call] = expect_calls("payment-complete", 1)
                box = captures()
                seen[name] = {
                    "status": status,
                    "scenario id": state.scenario_id,
                    "url": receiver.url,
                    "call": call.json,
                    "calls": [each.json for each in box.calls["payment-complete"]],
                    "strays": list(box.strays),
                    "others": list(box.others),
                }
        except BaseException as error:  # raised in the test thread below
            failures.append(error)
            both_declared.abort()
            both_sent.abort()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("north", "south")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 3)
    assert not any(thread.is_alive() for thread in threads)
    if failures:
        raise failures[0]
    assert seen["north"]["url"] != seen["south"]["url"]
    for name in ("north", "south"):
        assert seen[name]["scenario id"] in seen[name]["url"]
        assert seen[name]["status"] == 200
        assert seen[name]["call"] == {"sent by": name}
        assert seen[name]["calls"] == [{"sent by": name}]
        assert (seen[name]["strays"], seen[name]["others"]) == ([], [])


def test_two_scenarios_in_two_tasks_each_get_only_their_own_calls() -> None:
    """Tasks have a scenario each, and a task awaiting its captures is woken by its call."""

    async def run(name: str, declared: list[str], both_declared: asyncio.Event) -> list[Any]:
        with asyncbdd.scenario(name):
            receiver = webhook_receiver("payment-complete")
            box = captures()
            declared.append(name)
            if len(declared) == 2:
                both_declared.set()
            await asyncio.wait_for(both_declared.wait(), WAIT)
            await asyncio.to_thread(send, receiver.url, {"sent by": name})
            arrived = await box.changed.until(
                lambda: bool(box.calls["payment-complete"]), time.monotonic() + WAIT
            )
            assert arrived, f"the call of {name} did not arrive"
            with box.changed:
                return [call.json for call in box.calls["payment-complete"]]

    async def main() -> tuple[list[Any], list[Any]]:
        declared: list[str] = []
        both_declared = asyncio.Event()
        return await asyncio.gather(
            run("east", declared, both_declared), run("west", declared, both_declared)
        )

    east, west = asyncio.run(main())
    assert east == [{"sent by": "east"}]
    assert west == [{"sent by": "west"}]


def test_a_stray_call_goes_to_the_scenario_whose_path_it_is_on() -> None:
    """A wrong receiver name under a scenario's id is that scenario's stray alone; a path
    of no scenario is a stray of every scenario running, since none can be told its own."""
    declared = threading.Event()
    sent = threading.Event()
    other: dict[str, Any] = {}

    def run_other() -> None:
        with asyncbdd.scenario("other"):
            other["url"] = webhook_receiver("payment-complete").url
            declared.set()
            if sent.wait(WAIT):
                other["strays"] = [call.path for call in captures().strays]

    thread = threading.Thread(target=run_other)
    thread.start()
    try:
        assert declared.wait(WAIT)
        with asyncbdd.scenario("mine"):
            receiver = webhook_receiver("payment-complete")
            wrong = send(receiver.url.replace("payment-complete", "payment-completed")).status
            nowhere = send(webhook_server().url + "/somewhere").status
            mine = [call.path for call in captures().strays]
    finally:
        sent.set()
        thread.join(WAIT)
    assert (wrong, nowhere) == (404, 404)
    assert mine == [receiver.path.replace("payment-complete", "payment-completed"), "/somewhere"]
    assert other["strays"] == ["/somewhere"]


def test_a_receiver_outside_a_scenario_says_how_to_run_one() -> None:
    """Outside a scenario, webhook_receiver names the fixture and the context manager."""
    with pytest.raises(AsyncBddError) as raised:
        contextvars.Context().run(webhook_receiver, "payment-complete")
    message = str(raised.value)
    assert message.startswith("webhook_receiver('payment-complete') declares a receiver of ")
    assert "asyncbdd_scenario fixture" in message
    assert "with asyncbdd.scenario(...)" in message
