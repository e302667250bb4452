"""Queue drain: SQS queues and Kafka topics behind one interface.

Name queues once (setting ``asyncbdd.queues``, or :func:`register_queue`), then wait
for what a scenario should receive::

    with asyncbdd.scenario("billing"):
        place_order()
        expect_messages(["billing", "shipping"], 1, timeout=10)
        check_last_message(MessageMatcher(fields=(("order_id", '"ord-1"'),)))

Background readers drain every named queue from the start of each scenario; a message
counts for the scenario whose correlation id it carries (see :mod:`.inbox`).
"""

from asyncbdd.queues.aliases import alias_names, queue_named, register_queue, unregister_queue
from asyncbdd.queues.base import (
    BrokerGone,
    BrokerUnreachable,
    Correlation,
    Queue,
    QueueNotFound,
    QueueUnavailable,
)
from asyncbdd.queues.expect import (
    MessageMatcher,
    check_last_message,
    expect_message,
    expect_messages,
    expect_no_messages,
    fail_at_once_if_message,
    last_message,
    send_message,
)
from asyncbdd.queues.inbox import Inbox, Skipped, close_readers, inbox, start_reader
from asyncbdd.queues.kafka import KafkaTopic
from asyncbdd.queues.message import NOT_JSON, Message
from asyncbdd.queues.sqs import SqsQueue

__all__ = [
    "NOT_JSON",
    "BrokerGone",
    "BrokerUnreachable",
    "Correlation",
    "Inbox",
    "KafkaTopic",
    "Message",
    "MessageMatcher",
    "Queue",
    "QueueNotFound",
    "QueueUnavailable",
    "Skipped",
    "SqsQueue",
    "alias_names",
    "check_last_message",
    "close_readers",
    "expect_message",
    "expect_messages",
    "expect_no_messages",
    "fail_at_once_if_message",
    "inbox",
    "last_message",
    "queue_named",
    "register_queue",
    "send_message",
    "start_reader",
    "unregister_queue",
]
