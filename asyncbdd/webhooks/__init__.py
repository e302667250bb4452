"""Webhook capture: named receivers on a capture server, and what they must receive.

Declare a receiver, hand its URL to the system under test, then wait for its calls::

    with asyncbdd.scenario("payment"):
        receiver = webhook_receiver("payment-complete", fail_first=1)
        register_webhook(receiver.url)          # or "{webhook_url}" in a doc string
        pay_order()
        expect_calls("payment-complete", 2, timeout=15)   # the failed call, and the retry
        assert_call(CallMatcher(body={"status": "completed"}), nth=2)

Each scenario's receivers have URLs of their own, so calls count only for the scenario
that declared them (see :mod:`.receivers`).
"""

from asyncbdd.webhooks import expect as _expect
from asyncbdd.webhooks.call import Call, Signature, mask
from asyncbdd.webhooks.expect import (
    assert_call,
    expect_calls,
    expect_no_calls,
    latest_call,
)
from asyncbdd.webhooks.matcher import CallMatcher
from asyncbdd.webhooks.receivers import (
    Captures,
    Receiver,
    captures,
    stop_webhook_server,
    webhook_receiver,
    webhook_server,
    webhook_url,
)
from asyncbdd.webhooks.server import Request, Response, WebhookServer, WebhookServerError
from asyncbdd.webhooks.signatures import check_signature, sign

# The name of the last release: it warns when called, and goes in the next one.
check_call = _expect.check_call

__all__ = [
    "Call",
    "CallMatcher",
    "Captures",
    "Receiver",
    "Request",
    "Response",
    "Signature",
    "WebhookServer",
    "WebhookServerError",
    "assert_call",
    "captures",
    "check_signature",
    "expect_calls",
    "expect_no_calls",
    "latest_call",
    "mask",
    "sign",
    "stop_webhook_server",
    "webhook_receiver",
    "webhook_server",
    "webhook_url",
]
