"""Waits on several queues at once, sending with correlation ids, "the message", and hooks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import AsyncBddError, ExpectationFailed, InvalidInput
from asyncbdd.hooks import _after_all
from asyncbdd.queues import (
    MessageMatcher,
    Skipped,
    assert_message,
    expect_messages,
    inbox,
    latest_message,
    send_message,
)

Configure = Callable[..., Settings]
WaitForSkipped = Callable[..., list[Skipped]]


def reader_threads() -> list[str]:
    """Names of the background queue readers that are alive."""
    return sorted(
        thread.name
        for thread in threading.enumerate()
        if thread.name.startswith("asyncbdd-reader-") and thread.is_alive()
    )


def test_a_wait_on_three_queues_returns_once_all_have_arrived(
    configure: Configure, uid: str
) -> None:
    """One wait covers three queues at once and returns when the last of them is in."""
    billing, shipping, orders = f"billing-{uid}", f"shipping-{uid}", f"orders-{uid}"
    configure(
        {
            billing: f"sqs:billing-{uid}",
            shipping: f"sqs:shipping-{uid}",
            orders: f"kafka:orders.{uid}",
        }
    )
    failures: list[BaseException] = []

    def send_the_last_once_the_others_are_in() -> None:
        try:
            box = inbox()
            assert box.wait(lambda: bool(box.messages[billing] and box.messages[shipping]), 10)
            send_message(orders, {"order_id": "ord-1"}, key="ord-1")
        except BaseException as error:  # reported by the test thread
            failures.append(error)

    with asyncbdd.scenario("three queues"):
        send_message(billing, {"order_id": "ord-1", "amount": 10})
        send_message(shipping, {"order_id": "ord-1", "quantity": 2})
        sender = threading.Thread(target=send_the_last_once_the_others_are_in)
        sender.start()
        started = time.monotonic()
        received = expect_messages([billing, shipping, orders], 1, timeout=20)
        elapsed = time.monotonic() - started
        sender.join(10)
        assert latest_message() is received[0]
        assert latest_message(3) is received[2]
    assert failures == []
    assert sorted(message.queue for message in received) == sorted([billing, shipping, orders])
    assert received[-1].queue == orders  # in arrival order: the one sent last comes last
    assert [m.received_at for m in received] == sorted(m.received_at for m in received)
    assert elapsed < 10, f"took {elapsed:.2f} s"


def test_a_wait_on_several_queues_names_each_one_short(configure: Configure, uid: str) -> None:
    """A failed wait on several queues says which received too few and lists each queue."""
    billing, orders = f"billing-{uid}", f"orders-{uid}"
    configure({billing: f"sqs:billing-{uid}", orders: f"kafka:orders.{uid}"})
    with asyncbdd.scenario("one short"):
        send_message(billing, {"order_id": "ord-1"})
        with pytest.raises(AssertionError) as raised:
            expect_messages([billing, orders], 1, timeout=0.5)
    message = str(raised.value)
    assert f'Failed because the deadline passed: the "{orders}" topic received 0 of 1.' in message
    assert f"  {billing}: SQS queue 'billing-{uid}'" in message
    assert f"  {orders}: Kafka topic 'orders.{uid}'" in message
    assert "received:  1 message of this scenario:" in message


def test_send_message_stamps_the_correlation_attribute(configure: Configure, uid: str) -> None:
    """In attribute mode send_message adds the scenario's correlation id as an attribute."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"}, queues_correlation="attribute:trace_id")
    with asyncbdd.scenario("stamp attribute") as scenario:
        send_message(alias, "plain text", attributes={"event_type": "note"})
        [message] = expect_messages(alias, 1)
    assert message.body == "plain text"
    assert message.attributes == {"trace_id": scenario.correlation_id, "event_type": "note"}
    assert message.correlation_id == scenario.correlation_id


def test_send_message_stamps_the_correlation_field(configure: Configure, uid: str) -> None:
    """In field mode send_message writes the id into the JSON body, beside existing fields."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:orders.{uid}"}, queues_correlation="field:meta.correlation_id")
    with asyncbdd.scenario("stamp field") as scenario:
        send_message(alias, '{"order_id": "ord-1"}')
        send_message(alias, {"order_id": "ord-2", "meta": {"source": "test"}})
        received = expect_messages(alias, 2)
    documents = sorted((message.json for message in received), key=lambda d: d["order_id"])
    assert documents == [
        {"order_id": "ord-1", "meta": {"correlation_id": scenario.correlation_id}},
        {
            "order_id": "ord-2",
            "meta": {"source": "test", "correlation_id": scenario.correlation_id},
        },
    ]
    assert all(message.attributes == {} for message in received)


def test_send_message_keeps_an_explicit_correlation_attribute(
    configure: Configure, uid: str, wait_for_skipped: WaitForSkipped
) -> None:
    """A correlation attribute the caller gives is sent as it is, so the message is not ours."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:orders.{uid}"})
    with asyncbdd.scenario("explicit attribute"):
        send_message(alias, {"order_id": "ord-1"}, attributes={"correlation_id": "mine"})
        [skipped] = wait_for_skipped(alias)
    assert skipped.message.attributes == {"correlation_id": "mine"}
    assert skipped.message.correlation_id == "mine"
    assert skipped.why == "belongs to another scenario or run"


def test_send_message_keeps_an_explicit_correlation_field(
    configure: Configure, uid: str, wait_for_skipped: WaitForSkipped
) -> None:
    """A correlation field the body has already is sent as it is."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:orders.{uid}"}, queues_correlation="field:meta.correlation_id")
    with asyncbdd.scenario("explicit field"):
        send_message(alias, {"order_id": "ord-1", "meta": {"correlation_id": "mine"}})
        [skipped] = wait_for_skipped(alias)
    assert skipped.message.json == {"order_id": "ord-1", "meta": {"correlation_id": "mine"}}
    assert skipped.message.correlation_id == "mine"


def test_send_message_with_correlation_off_sends_what_it_is_given(
    configure: Configure, uid: str
) -> None:
    """With correlation off nothing is added to the body or the attributes."""
    alias = f"orders-{uid}"
    configure({alias: f"kafka:orders.{uid}"}, queues_correlation="off")
    with asyncbdd.scenario("off"):
        send_message(alias, {"order_id": "ord-1"})
        [message] = expect_messages(alias, 1)
    assert (message.body, dict(message.attributes)) == ('{"order_id": "ord-1"}', {})


def test_latest_message_before_any_message_is_an_error(configure: Configure, uid: str) -> None:
    """Asking for "the message" before a step received one says which step is missing."""
    configure({f"billing-{uid}": f"sqs:billing-{uid}"})
    with asyncbdd.scenario("no message yet"):
        with pytest.raises(AsyncBddError) as raised:
            latest_message()
        with pytest.raises(AsyncBddError, match="No message has been received"):
            assert_message(MessageMatcher(fields={"order_id": "ord-1"}))
    message = str(raised.value)
    assert 'No message has been received in this scenario yet, so there is no "the message"' in (
        message
    )
    assert "Then the billing queue receives 1 message" in message


def test_assert_message_explains_a_mismatch(configure: Configure, uid: str) -> None:
    """A mismatch lists each difference, the message and its attributes."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:billing-{uid}"})
    with asyncbdd.scenario("mismatch") as scenario:
        send_message(alias, {"order_id": "ord-1", "amount": 10}, attributes={"event_type": "x"})
        expect_messages(alias, 1)
        matching = MessageMatcher(fields={"order_id": "ord-1", "amount": 10})
        assert assert_message(matching) is latest_message()
        wrong = MessageMatcher(fields={"amount": 99.99}, attributes={"event_type": "y"})
        with pytest.raises(ExpectationFailed) as raised:
            assert_message(wrong)
    message = str(raised.value)
    assert message.splitlines() == [
        'Checked: the message with amount = 99.99, attribute event_type = "y"',
        f"Failed because the message on the {alias} queue does not match:",
        "  amount: expected 99.99, got 10",
        "  attribute/header 'event_type': expected 'y', got 'x'",
        f'  message: correlation_id={scenario.correlation_id} {{"order_id": "ord-1", '
        '"amount": 10}',
        f"  attributes/headers: {{'correlation_id': '{scenario.correlation_id}', "
        "'event_type': 'x'}",
    ]


def test_message_matcher_from_a_table() -> None:
    """A | field | value | table matches the body; | header | value | the headers."""
    fields = MessageMatcher.from_table(["field", "value"], [["order_id ", '"ord-1"']])
    assert fields == MessageMatcher(fields={"order_id": "ord-1"})
    headers = MessageMatcher.from_table(["Header", "value"], [["event_type", "paid"]])
    assert headers == MessageMatcher(attributes={"event_type": "paid"})
    with pytest.raises(InvalidInput, match=r"not \| path \| expected \|"):
        MessageMatcher.from_table(["path", "expected"], [])


def test_a_mistyped_marker_in_a_table_fails_before_any_message_comes() -> None:
    """A malformed marker in a field or attribute row is named at once, not at the deadline."""
    with pytest.raises(InvalidInput) as raised:
        MessageMatcher.from_table(["field", "value"], [["amount", "<near:lots±1>"]])
    assert str(raised.value).startswith(
        "In the expected field 'amount': Malformed marker <near:lots±1>: write "
        "<near:NUMBER±TOLERANCE>"
    )
    with pytest.raises(InvalidInput, match=r"^In the expected attribute/header 'event_type': "):
        MessageMatcher.from_table(["attribute", "value"], [["event_type", "<regex:[>"]])


@pytest.mark.parametrize("count", [-1, "2 messages", 1.5, True])
def test_a_count_that_is_no_whole_number_is_named(count: object) -> None:
    """A negative or non-integer count is an error naming it, before any queue is read."""
    with asyncbdd.scenario("bad count"), pytest.raises(InvalidInput) as raised:
        expect_messages("billing", count, timeout=0.1)  # type: ignore[arg-type]
    assert str(raised.value) == (
        f"A message count is a whole number, 0 or more; got {count!r}. Write e.g. 2 "
        "(in a step: '2 messages', 'one message', 'no messages')."
    )


def test_after_all_closes_the_readers(configure: Configure, uid: str) -> None:
    """behave's after_all stops every reader thread; the next scenario starts them again."""
    billing, orders = f"billing-{uid}", f"orders-{uid}"
    queues = {billing: f"sqs:billing-{uid}", orders: f"kafka:orders.{uid}"}
    configure(queues)
    with asyncbdd.scenario("before after_all"):
        expect_messages([billing, orders], 0, timeout=0.1)
    assert {f"asyncbdd-reader-{billing}", f"asyncbdd-reader-{orders}"} <= set(reader_threads())
    _after_all(SimpleNamespace())
    assert reader_threads() == []
    configure(queues)
    with asyncbdd.scenario("after after_all"):
        send_message(orders, {"order_id": "ord-1"})
        send_message(billing, {"order_id": "ord-1"})
        received = expect_messages([billing, orders], 1)
    assert sorted(message.queue for message in received) == sorted([billing, orders])
