"""The demo service's SQS output: a billing, a shipping and an inventory message per paid order.

Where in the pipeline: two stages of :class:`~asyncbdd.demo.pipeline.OrderPipeline`, each
after its own jitter delay like every stage:

* right after payment, once the stock is taken (and the webhook calls handed over): the
  billing message, then the inventory message, so both describe what is committed;
* right after the order is marked shipped: the shipping message.

So while an order is ``paid`` its billing and inventory messages may still be on their
way; once its shipping message is on the queue, all of its messages have been sent (but a
billing message held back by ``late-billing-message``). An order that fails sends none,
nor does one stopped by ``stop-mid-chain``.

Every message body is JSON, with the String message attributes ``event_type`` and, when
the order has one, ``correlation_id``:

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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from asyncbdd.demo.errors import TransportError
from asyncbdd.demo.faults import Fault
from asyncbdd.demo.pipeline import OrderJob, quantity_to_take

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient
    from types_boto3_sqs.type_defs import MessageAttributeValueTypeDef

__all__ = ["CURRENCY", "QUEUES", "OrderMessages", "SqsOutput", "sqs_client"]

logger = logging.getLogger("asyncbdd.demo")

QUEUES = ("billing", "shipping", "inventory")
"""The queues every paid order sends one message to."""

CURRENCY = "EUR"
"""The currency of every billing message."""


@dataclass(frozen=True)
class SqsOutput:
    """Where the service sends its SQS messages, and how it reaches SQS.

    Without ``client``, the service builds a boto3 client when it starts, with credentials
    from boto3's standard chain (``AWS_ACCESS_KEY_ID``, the profile, SSO, an instance
    role; any value works for moto or LocalStack).

    :param queue_urls: the URL of each queue, under exactly the names of :data:`QUEUES`.
    :param endpoint_url: the SQS endpoint, such as LocalStack's; ``None`` is AWS's own.
    :param region: the AWS region; ``None`` takes the AWS configuration's
        (``AWS_DEFAULT_REGION``, the profile).
    :param client: a ready boto3 SQS client, used instead of building one (then leave
        ``endpoint_url`` and ``region`` unset); the service does not close it.
    :raises ValueError: a queue is missing or unknown, a URL is empty, or ``client`` comes
        with ``endpoint_url`` or ``region``.
    """

    queue_urls: Mapping[str, str]
    endpoint_url: str | None = None
    region: str | None = None
    client: SQSClient | None = None

    def __post_init__(self) -> None:
        missing = [name for name in QUEUES if name not in self.queue_urls]
        unknown = sorted(set(self.queue_urls) - set(QUEUES))
        if missing or unknown:
            problems = [f"missing: {', '.join(missing)}"] if missing else []
            problems += [f"unknown: {', '.join(unknown)}"] if unknown else []
            raise ValueError(
                f"SqsOutput(queue_urls=...) needs the URL of exactly the queues "
                f"{', '.join(QUEUES)}; {'; '.join(problems)}"
            )
        for name, url in self.queue_urls.items():
            if not isinstance(url, str) or not url.strip():
                raise ValueError(f"SqsOutput: the URL of queue {name!r} is empty; got {url!r}")
        if self.client is not None and (self.endpoint_url or self.region):
            raise ValueError(
                "SqsOutput: pass either a ready client or endpoint_url / region to build "
                "one, not both"
            )
        object.__setattr__(self, "queue_urls", dict(self.queue_urls))


class OrderMessages:
    """Sends the SQS messages of paid orders from two pipeline stages; :meth:`close` it after.

    :param output: the queues and how to reach SQS.
    :param late_message_delay: seconds ``late-billing-message`` holds a billing message.
    :param connect_timeout: seconds to connect to SQS, and to wait for each answer, when
        the client is built here.
    :raises TransportError: no client was given and none can be built (no region, no
        credentials, a malformed endpoint).
    """

    def __init__(
        self, output: SqsOutput, *, late_message_delay: float, connect_timeout: float
    ) -> None:
        self._queue_urls = dict(output.queue_urls)
        self._late_message_delay = late_message_delay
        self._owns_client = output.client is None
        self._client = (
            output.client
            if output.client is not None
            else sqs_client(output.endpoint_url, output.region, connect_timeout=connect_timeout)
        )
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
        if self._owns_client:
            self._client.close()

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
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            "event_type": {"DataType": "String", "StringValue": event_type}
        }
        if order.correlation_id is not None:
            attributes["correlation_id"] = {
                "DataType": "String",
                "StringValue": order.correlation_id,
            }
        try:
            self._client.send_message(
                QueueUrl=self._queue_urls[queue],
                MessageBody=json.dumps(body),
                MessageAttributes=attributes,
            )
        except (BotoCoreError, ClientError) as error:
            logger.error(
                "order %s: sending %s to queue %s failed: %s",
                order.order_id,
                event_type,
                queue,
                error,
            )
        else:
            logger.debug("order %s: sent %s to queue %s", order.order_id, event_type, queue)


def sqs_client(
    endpoint_url: str | None, region: str | None, *, connect_timeout: float
) -> SQSClient:
    """Build a boto3 SQS client with credentials from boto3's standard chain.

    :param endpoint_url: the SQS endpoint, such as LocalStack's; ``None`` is AWS's own.
    :param region: the AWS region; ``None`` takes the AWS configuration's.
    :param connect_timeout: seconds to connect, and to wait for each answer; a failed
        call is tried once more.
    :raises TransportError: no region or no credentials are configured, the AWS profile
        does not exist, or the endpoint is malformed.
    """
    endpoint = endpoint_url or "AWS's endpoint"
    try:
        session = boto3.session.Session(region_name=region)
        if session.region_name is None:
            raise TransportError(
                f"SQS output: no AWS region for {endpoint}; pass SqsOutput(region=...) "
                "(--sqs-region), or set AWS_DEFAULT_REGION or a region in your AWS profile"
            )
        if session.get_credentials() is None:
            raise TransportError(
                f"SQS output: no AWS credentials for {endpoint}; set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (any value for moto or LocalStack) or an AWS profile"
            )
        return session.client(
            "sqs",
            endpoint_url=endpoint_url,
            config=Config(
                connect_timeout=connect_timeout,
                read_timeout=connect_timeout,
                # one retry: a dead endpoint holds the worker up for two timeouts at most
                retries={"mode": "standard", "total_max_attempts": 2},
            ),
        )
    except (BotoCoreError, ValueError) as error:  # an unknown profile, a malformed URL, ...
        raise TransportError(
            f"SQS output: cannot build a client for {endpoint} in region "
            f"{region or '(from the AWS configuration)'}: {error}; fix the endpoint "
            "(--sqs-endpoint) or the AWS configuration (AWS_PROFILE, ~/.aws/config)"
        ) from error
