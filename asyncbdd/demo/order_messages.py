"""The messages of paid orders: a billing, a shipping and an inventory message each.

Where in the pipeline: two stages of :class:`~asyncbdd.demo.pipeline.OrderPipeline`, each
after its own jitter delay like every stage:

* right after payment, once the stock is taken (and the webhook calls handed over): the
  billing message, then the inventory message, so both describe what is committed;
* right after the order is marked shipped: the shipping message.

So while an order is ``paid`` its billing and inventory messages may still be on their
way; once its shipping message is on the queue, all of its messages have been sent (but a
billing message held back by ``late-billing-message``). An order that fails sends none,
nor does one stopped by ``stop-mid-chain``.

Every message body is JSON, with the text attributes ``event_type`` and, when the order
has one, ``correlation_id`` (SQS message attributes, or fields of a Redis stream entry:
see the outputs, :mod:`asyncbdd.demo.sqs_output` and :mod:`asyncbdd.demo.redis_output`):

=========  =========================================================  ==================
Queue      Body                                                       ``event_type``
=========  =========================================================  ==================
billing    ``{"order_id", "amount", "currency": "EUR", "quantity"}``  billing.requested
shipping   ``{"order_id", "product_id", "quantity"}``                 shipping.requested
inventory  ``{"order_id", "product_id", "quantity_change"}``          inventory.reserved
=========  =========================================================  ==================

``amount`` is the order's (``null`` when it has none); ``quantity_change`` is minus what
the order took from stock (the quantity; one more under ``wrong-quantity``). A send that
fails is logged with the order id and the queue (logger ``asyncbdd.demo``, ERROR), and the
order goes on.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Protocol

from asyncbdd.demo.errors import TransportError
from asyncbdd.demo.faults import Fault
from asyncbdd.demo.pipeline import OrderJob, quantity_to_take

__all__ = ["CURRENCY", "QUEUES", "MessageSender", "OrderMessages", "Output"]

logger = logging.getLogger("asyncbdd.demo")

QUEUES = ("billing", "shipping", "inventory")
"""The queues every paid order sends one message to."""

CURRENCY = "EUR"
"""The currency of every billing message."""


class MessageSender(Protocol):
    """Sends one message to one of :data:`QUEUES` through a broker's own client."""

    def send(self, queue: str, body: str, attributes: Mapping[str, str]) -> None:
        """Send it, or raise :class:`~asyncbdd.demo.errors.TransportError` saying why."""

    def close(self) -> None:
        """Release the connection, if this sender made it."""


class Output(Protocol):
    """Where the service sends the messages of paid orders (:class:`SqsOutput`, ...)."""

    def sender(self, *, connect_timeout: float) -> MessageSender:
        """A sender to it; raise :class:`~asyncbdd.demo.errors.TransportError` when none
        can be made."""


class OrderMessages:
    """Sends the messages of paid orders from two pipeline stages; :meth:`close` it after.

    :param output: where to send them, and how to reach it.
    :param late_message_delay: seconds ``late-billing-message`` holds a billing message.
    :param connect_timeout: seconds to connect, and to wait for each answer, when the
        output's client is made here.
    :raises TransportError: no sender can be made (no region, no credentials, a
        malformed endpoint).
    """

    def __init__(
        self, output: Output, *, late_message_delay: float, connect_timeout: float
    ) -> None:
        self._sender = output.sender(connect_timeout=connect_timeout)
        self._late_message_delay = late_message_delay
        self._lock = threading.Lock()
        self._held_back: set[threading.Timer] = set()
        self._closed = False

    def after_payment(self, job: OrderJob) -> bool:
        """Send the billing message (as the faults say) and the inventory message."""
        order = job.order
        amount = order.amount
        if amount is not None and Fault.WRONG_BILLING_FIELD in job.faults:
            amount = round(amount * 100)
        billing: dict[str, object] = {
            "order_id": order.order_id,
            "amount": amount,
            "currency": CURRENCY,
            "quantity": order.quantity,
        }
        self._send_billing(job, billing)
        inventory = {
            "order_id": order.order_id,
            "product_id": order.product_id,
            "quantity_change": -quantity_to_take(job),
        }
        self._send(job, "inventory", inventory, "inventory.reserved")
        return True

    def after_shipping(self, job: OrderJob) -> bool:
        """Send the shipping message."""
        order = job.order
        shipping = {
            "order_id": order.order_id,
            "product_id": order.product_id,
            "quantity": order.quantity,
        }
        self._send(job, "shipping", shipping, "shipping.requested")
        return True

    def close(self) -> None:
        """Drop the billing messages still held back, wait for one being sent, close the
        client if it was built here. Nothing is sent after this returns."""
        with self._lock:
            self._closed = True
            held_back, self._held_back = self._held_back, set()
        for timer in held_back:
            timer.cancel()
        for timer in held_back:
            timer.join()
        self._sender.close()

    def _send_billing(self, job: OrderJob, body: dict[str, object]) -> None:
        order_id = job.order.order_id
        if Fault.DROP_BILLING_MESSAGE in job.faults:
            logger.info(
                "order %s: billing message dropped by fault %s",
                order_id,
                Fault.DROP_BILLING_MESSAGE.value,
            )
            return
        copies = 2 if Fault.DUPLICATE_BILLING_MESSAGE in job.faults else 1
        if copies == 2:
            logger.info(
                "order %s: billing message sent twice by fault %s",
                order_id,
                Fault.DUPLICATE_BILLING_MESSAGE.value,
            )
        if Fault.LATE_BILLING_MESSAGE not in job.faults:
            for _ in range(copies):
                self._send(job, "billing", body, "billing.requested")
            return
        # A timer, not a wait: the worker goes on with this order and the next ones.
        timer = threading.Timer(
            self._late_message_delay, self._send_held_back, args=(job, body, copies)
        )
        timer.name = "asyncbdd-demo-late-message"
        timer.daemon = True
        with self._lock:
            if self._closed:
                return
            self._held_back.add(timer)
            timer.start()
        logger.info(
            "order %s: billing message held back %g s by fault %s",
            order_id,
            self._late_message_delay,
            Fault.LATE_BILLING_MESSAGE.value,
        )

    def _send_held_back(self, job: OrderJob, body: dict[str, object], copies: int) -> None:
        with self._lock:
            if self._closed:
                return
            current = threading.current_thread()
            self._held_back = {timer for timer in self._held_back if timer is not current}
        for _ in range(copies):
            self._send(job, "billing", body, "billing.requested")

    def _send(self, job: OrderJob, queue: str, body: dict[str, object], event_type: str) -> None:
        order = job.order
        attributes = {"event_type": event_type}
        if order.correlation_id is not None:
            attributes["correlation_id"] = order.correlation_id
        try:
            self._sender.send(queue, json.dumps(body), attributes)
        except TransportError as error:
            logger.error(
                "order %s: sending %s to queue %s failed: %s",
                order.order_id,
                event_type,
                queue,
                error,
            )
        else:
            logger.debug("order %s: sent %s to queue %s", order.order_id, event_type, queue)
