"""Fault switches: deliberate misbehaviour that proves a test fails when it should."""

from __future__ import annotations

from enum import Enum

__all__ = ["Fault", "parse_faults"]


class Fault(str, Enum):
    """A way the demo service can misbehave, applied to the orders accepted while it is set.

    * ``never-process``: the order is accepted (HTTP answers 202) but never stored or processed.
    * ``wrong-quantity``: the order takes ``quantity + 1`` from stock instead of ``quantity``.
    * ``fail-payment``: the order goes from pending to failed; stock is untouched.

    These act on the SQS output, so only when the service has one; the order itself is
    processed as usual:

    * ``drop-billing-message``: the billing message is not sent.
    * ``duplicate-billing-message``: the billing message is sent twice, identical.
    * ``late-billing-message``: the billing message is sent the service's
      ``late_message_delay`` seconds later than it should be; the other messages and the
      orders after it are not held up.
    * ``wrong-billing-field``: the billing message's ``amount`` is in cents
      (``round(amount * 100)``, so 12.5 is sent as 1250), a unit bug.

    These act on the webhook calls of ``payment.completed``; the order is processed as usual:

    * ``skip-webhook``: no registered URL is called.
    * ``wrong-webhook-amount``: the call's ``amount`` is in cents (``round(amount * 100)``,
      so 99.99 is sent as 9999), the unit bug of a payment provider's API leaking out; an
      order without an amount still sends ``null``.

    These act on the trace (orders without a correlation id record none):

    * ``drop-trace-event``: ``inventory.reserved`` is not recorded; stock is still taken.
    * ``duplicate-trace-event``: ``payment.completed`` is recorded twice, as two events
      with consecutive sequence numbers.
    * ``swap-trace-events``: ``payment.completed`` is recorded late, just after
      ``inventory.reserved``, so the trace has ``inventory.reserved`` before it (sequence
      numbers follow the order of recording).
    * ``slow-trace-step``: ``notification.sent`` is recorded the service's
      ``slow_step_delay`` seconds late; the order and the orders after it are not held up.

    This one acts on the whole chain:

    * ``stop-mid-chain``: processing stops right after payment, as if the service crashed
      there: the order stays ``paid`` with ``payment.completed`` as its last trace event;
      no stock is taken, no SQS message sent, no webhook called, nothing else recorded.
      (With ``swap-trace-events`` too, ``payment.completed`` is not recorded either.)
    """

    NEVER_PROCESS = "never-process"
    WRONG_QUANTITY = "wrong-quantity"
    FAIL_PAYMENT = "fail-payment"
    DROP_BILLING_MESSAGE = "drop-billing-message"
    DUPLICATE_BILLING_MESSAGE = "duplicate-billing-message"
    LATE_BILLING_MESSAGE = "late-billing-message"
    WRONG_BILLING_FIELD = "wrong-billing-field"
    SKIP_WEBHOOK = "skip-webhook"
    WRONG_WEBHOOK_AMOUNT = "wrong-webhook-amount"
    DROP_TRACE_EVENT = "drop-trace-event"
    DUPLICATE_TRACE_EVENT = "duplicate-trace-event"
    SWAP_TRACE_EVENTS = "swap-trace-events"
    SLOW_TRACE_STEP = "slow-trace-step"
    STOP_MID_CHAIN = "stop-mid-chain"


def parse_faults(text: str) -> frozenset[Fault]:
    """Parse comma-separated fault names, such as ``"fail-payment, wrong-quantity"``.

    Names are case-insensitive; empty items are ignored, so ``""`` means no fault.

    :raises ValueError: a name is not a fault; the message lists the valid names.
    """
    faults = set()
    for item in text.split(","):
        name = item.strip()
        if not name:
            continue
        try:
            faults.add(Fault(name.lower()))
        except ValueError:
            valid = ", ".join(fault.value for fault in Fault)
            raise ValueError(f"unknown fault {name!r}; valid faults: {valid}") from None
    return frozenset(faults)
