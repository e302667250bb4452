"""Queue drain: wait for the messages a system sends to a queue, and check them.

The ``queue`` fixture gives a queue on the embedded SQS server (nothing to install or
start: ``asyncbdd.sqs.endpoint`` is unset). A reader drains it in the background from
the first wait on, and a message wakes the waiting test the moment it is read. The test's
scenario counts only the messages that carry its correlation id, so tests sharing a
queue never see each other's. The system under test is played by a timer that sends the
order's billing message 50 ms later, carrying the correlation id it was given, as a real
service must.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from asyncbdd import WaitTimeout, aio
from asyncbdd.queues import MessageMatcher, assert_message, expect_messages, expect_no_messages


def bill_order(billing, correlation_id: str, amount: float) -> None:
    """The system under test: it sends one billing message for the order."""
    body = json.dumps({"order_id": "ord-1", "amount": amount, "currency": "EUR"})
    billing.send(body, attributes={"correlation_id": correlation_id, "event_type": "billed"})


def test_the_billing_queue_receives_the_order(queue, asyncbdd_scenario):
    billing, refunds = queue("sqs:examples-billing"), queue("sqs:examples-refunds")
    threading.Timer(0.05, bill_order, (billing, asyncbdd_scenario.correlation_id, 99.99)).start()

    [message] = expect_messages(billing.alias, 1, timeout=5)  # exactly 1: none more follows

    assert message.json["amount"] == 99.99
    assert_message(MessageMatcher(fields={"currency": "EUR"}, attributes={"event_type": "billed"}))
    expect_no_messages(refunds.alias, during=0.1)


@pytest.mark.asyncio
async def test_awaiting_the_billing_message(queue, asyncbdd_scenario):
    billing = queue("sqs:examples-billing")
    cid = asyncbdd_scenario.correlation_id
    loop = asyncio.get_running_loop()
    # the system under test runs in a worker thread 50 ms from now; the loop stays free
    loop.call_later(0.05, loop.run_in_executor, None, bill_order, billing, cid, 5.0)

    found = await aio.expect_messages(
        billing.alias, 1, exactly=False, where=MessageMatcher(fields={"amount": 5.0}), timeout=5
    )

    assert [message.json["order_id"] for message in found] == ["ord-1"]


def test_a_wrong_message_fails_naming_the_field(queue, asyncbdd_scenario):
    billing = queue("sqs:examples-billing")
    bill_order(billing, asyncbdd_scenario.correlation_id, 9999)  # the amount in cents: a bug

    with pytest.raises(WaitTimeout) as failure:
        expect_messages(
            billing.alias, 1, where=MessageMatcher(fields={"amount": 99.99}), timeout=0.5
        )

    report = str(failure.value)
    assert "the sqs:examples-billing queue received 0 of 1" in report
    assert "amount: expected 99.99, got 9999" in report
