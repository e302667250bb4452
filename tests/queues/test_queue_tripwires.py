"""A queue as a tripwire: a message on a dead-letter queue ends every wait at once."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import TripwireTripped, UnknownName
from asyncbdd.queues import expect_messages, fail_at_once_if_message, send_message

Configure = Callable[..., Settings]


def test_a_message_on_a_tripwire_queue_fails_the_scenarios_waits(
    configure: Configure, uid: str
) -> None:
    """A wait for billing fails as soon as the dead-letter queue gets the scenario's message."""
    billing, dead = f"billing-{uid}", f"dead-{uid}"
    configure({billing: f"sqs:billing-{uid}", dead: f"sqs:dead-{uid}"}, timeout="10 seconds")
    with asyncbdd.scenario("dead letter"):
        fail_at_once_if_message(dead)
        send_message(dead, {"order_id": "ord-1", "error": "card declined"})
        started = time.monotonic()
        with pytest.raises(TripwireTripped) as caught:
            expect_messages(billing, 1, description="the billing queue receives 1 message")
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert f"the scenario's tripwire tripped: the {dead} queue receives a message" in message
    assert "card declined" in message


def test_a_quiet_tripwire_queue_lets_the_wait_pass(configure: Configure, uid: str) -> None:
    """With nothing on the dead-letter queue, the scenario's waits pass as usual."""
    billing, dead = f"billing-{uid}", f"dead-{uid}"
    configure({billing: f"sqs:billing-{uid}", dead: f"sqs:dead-{uid}"})
    with asyncbdd.scenario("all well"):
        fail_at_once_if_message(dead)
        send_message(billing, {"order_id": "ord-1"})
        assert expect_messages(billing, 1, grace=0)


def test_an_unknown_tripwire_queue_is_an_error_at_once(configure: Configure, uid: str) -> None:
    """A mistyped queue alias fails the step that sets the tripwire."""
    configure({f"billing-{uid}": f"sqs:billing-{uid}"})
    with asyncbdd.scenario("typo"), pytest.raises(UnknownName):
        fail_at_once_if_message("dead-leter")
