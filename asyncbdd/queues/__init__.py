"""Queue drain: SQS queues and Kafka topics behind one interface.

Name queues once (setting ``asyncbdd.queues``, or :func:`register_queue`), then wait
for what a scenario should receive::

    with asyncbdd.scenario("billing"):
        place_order()
        expect_messages(["billing", "shipping"], 1, timeout=10)
        assert_message(MessageMatcher(fields={"order_id": "ord-1"}))

Background readers drain every named queue from the start of each scenario; a message
counts for the scenario whose correlation id it carries (see :mod:`.inbox`).

:class:`KafkaTopic` is imported on first use: it needs kafka-python, which the
``asyncbdd[kafka]`` extra installs.
"""

from typing import TYPE_CHECKING, Any

from asyncbdd.queues import expect as _expect
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
    assert_message,
    expect_messages,
    expect_no_messages,
    fail_at_once_if_message,
    latest_message,
    send_message,
)
from asyncbdd.queues.inbox import Inbox, Skipped, close_readers, inbox, start_reader
from asyncbdd.queues.message import NOT_JSON, Message
from asyncbdd.queues.sqs import SqsQueue

if TYPE_CHECKING:
    from asyncbdd.queues.kafka import KafkaTopic

# The names of the last release: each warns when called, and goes in the next one.
check_last_message = _expect.check_last_message
expect_message = _expect.expect_message
last_message = _expect.last_message

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
    "assert_message",
    "close_readers",
    "expect_messages",
    "expect_no_messages",
    "fail_at_once_if_message",
    "inbox",
    "latest_message",
    "queue_named",
    "register_queue",
    "send_message",
    "start_reader",
    "unregister_queue",
]


def __getattr__(name: str) -> Any:
    if name == "KafkaTopic":
        try:
            from asyncbdd.queues.kafka import KafkaTopic  # noqa: PLC0415
        except ModuleNotFoundError as error:
            if error.name is None or error.name.startswith("asyncbdd"):
                raise  # asyncbdd's own module is missing: a packaging error
            raise ImportError(
                f"asyncbdd.queues.KafkaTopic needs the Python package {error.name!r}, which "
                "is not installed: pip install 'asyncbdd[kafka]'."
            ) from error
        return KafkaTopic
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
