"""The demo order service: the system under test of asyncbdd's own features.

Run it alone with ``python -m asyncbdd.demo``, or in-process::

    from asyncbdd.demo import Fault, OrderService

    with OrderService("sqlite:///orders.db", faults=[Fault.WRONG_QUANTITY]) as service:
        ...  # HTTP to service.url, SQL to service.database_url

With ``kafka=KafkaInput("localhost:9092")`` it also reads orders from the ``order.created``
topic; with ``output=SqsOutput(queue_urls={"billing": ..., "shipping": ..., "inventory": ...})``
each paid order sends one message to each of those queues (or, with
``output=RedisOutput(url, streams={...})``, to those Redis streams). Each paid order calls the URLs
registered with ``POST /webhooks`` (signed with ``webhook_secret=...``), and orders with a
correlation id record their steps in the ``trace_events`` table.

It knows nothing of asyncbdd's engine: tests reach it only through its transports and
its database, as they would reach a real system.
"""

from asyncbdd.demo.errors import ServiceStateError, TransportError
from asyncbdd.demo.faults import Fault, parse_faults
from asyncbdd.demo.kafka_input import ORDER_CREATED, KafkaInput
from asyncbdd.demo.models import (
    Base,
    Inventory,
    Order,
    OrderStatus,
    TraceEvent,
    Webhook,
    create_schema,
)
from asyncbdd.demo.order_messages import QUEUES
from asyncbdd.demo.redis_output import RedisOutput
from asyncbdd.demo.service import DEFAULT_DATABASE_URL, OrderService
from asyncbdd.demo.sqs_output import SqsOutput
from asyncbdd.demo.webhooks import PAYMENT_COMPLETED, WEBHOOK_EVENTS

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ORDER_CREATED",
    "PAYMENT_COMPLETED",
    "QUEUES",
    "WEBHOOK_EVENTS",
    "Base",
    "Fault",
    "Inventory",
    "KafkaInput",
    "Order",
    "OrderService",
    "OrderStatus",
    "RedisOutput",
    "ServiceStateError",
    "SqsOutput",
    "TraceEvent",
    "TransportError",
    "Webhook",
    "create_schema",
    "parse_faults",
]
