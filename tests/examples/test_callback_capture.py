"""Callback capture: give the system a webhook URL, then wait for its calls and check them.

The ``webhook_receiver`` fixture declares a receiver in the test's scenario, on the run's
capture server (started on first use, on a free loopback port): its ``url`` is the test's
own, so a call counts only for the test that declared it. Arrivals wake the waiting test
at once; nothing is polled. The system under test is played by a timer that posts the
payment's callback 50 ms later, with urllib, as any HTTP client would.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request

import pytest

from asyncbdd import WaitTimeout, aio
from asyncbdd.webhooks import CallMatcher, assert_call, expect_calls, expect_no_calls


def call_back(url: str, status: str) -> None:
    """The system under test: it posts the payment's outcome to the URL it was given."""
    body = json.dumps({"order_id": "ord-1", "status": status}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        answer.read()


def pay_with_one_retry(url: str) -> None:
    """The system under test, retrying once when the receiver answers an error."""
    try:
        call_back(url, "completed")
    except urllib.error.HTTPError:
        call_back(url, "completed")


def test_the_payment_calls_back(webhook_receiver):
    receiver = webhook_receiver("payment-complete")
    webhook_receiver("refund")
    threading.Timer(0.05, call_back, (receiver.url, "completed")).start()

    [call] = expect_calls("payment-complete", 1, timeout=5)  # exactly 1, none more

    assert call.json == {"order_id": "ord-1", "status": "completed"}
    assert_call(CallMatcher(method="POST", headers={"Content-Type": "application/json"}))
    expect_no_calls("refund", during=0.1)  # and no refund was asked for


@pytest.mark.asyncio
async def test_awaiting_the_retried_call(webhook_receiver):
    receiver = webhook_receiver("payment-complete", fail_first=1)  # answers 500, then 200
    loop = asyncio.get_running_loop()
    # the system under test runs in a worker thread 50 ms from now; the loop stays free
    loop.call_later(0.05, loop.run_in_executor, None, pay_with_one_retry, receiver.url)

    calls = await aio.expect_calls("payment-complete", 2, timeout=5, grace=0.1)

    assert [call.json["status"] for call in calls] == ["completed", "completed"]


def test_a_missing_call_fails_saying_what_arrived(webhook_receiver):
    receiver = webhook_receiver("payment-complete")
    call_back(receiver.url, "declined")
    completed = CallMatcher(fields={"status": "completed"})

    with pytest.raises(WaitTimeout) as failure:
        expect_calls("payment-complete", 1, where=completed, timeout=0.3)

    report = str(failure.value)
    assert 'the "payment-complete" webhook received 0 of 1' in report
    assert "1 call of this scenario, 0 matching" in report
    assert "status: expected 'completed', got 'declined'" in report
