"""Queue drain: phrases about what SQS queues and Kafka topics receive, and sending.

::

    Then within 10 seconds the billing queue receives 1 message
    Then the billing, shipping and inventory queues each receive 1 message
    Then within 5 seconds the "order.created" topic receives at least 2 messages
    Then the billing queue receives no messages within 2 seconds
    Then within 10 seconds the billing queue receives a message with:
      | field    | value   |
      | order_id | "ord-1" |
    Then the billing queue receives a message containing:
      '''{"order_id": "ord-1"}'''
    And the message's JSON body contains:  /  And the message's JSON body is:
    And the message has:                    (| field | value | or | attribute | value |)
    And the message key is "ord-1"
    And the message attribute "event_type" is "billing.requested"
    When "order.created" is published with:            (a JSON doc string)
    When "order.created" is published with key "ord-1":
    When "order.created" is published with headers "source=web, tenant=acme":
    When "order.created" is published with key "ord-1" and headers "source=web":
    When a message is sent to the billing queue with:

A queue is named by its alias, bare (``billing``) or quoted (``"order.created"``), and
called a queue or a topic as reads best. Doc strings and table cells may use
placeholders such as ``{correlation_id}`` and ``{order_id}``; the scenario's correlation
id is added to what is sent.
"""

from __future__ import annotations

import re
from typing import Any

import parse
from behave import register_type

from asyncbdd.errors import InvalidInput
from asyncbdd.queues import (
    MessageMatcher,
    assert_message,
    expect_messages,
    expect_no_messages,
    fail_at_once_if_message,
    send_message,
)
from asyncbdd.queues.transports import NOUNS
from asyncbdd.scenario import current_scenario
from asyncbdd.steps import parameter_types  # noqa: F401  (registers {x:Duration} and co.)
from asyncbdd.steps.decorators import given, then, when
from asyncbdd.steps.step_text import json_doc_string, step_text, table_cells

_ALIAS = r'(?:"[^"]+"|[\w.-]+)'


@parse.with_pattern(_ALIAS)
def parse_queue_name(text: str) -> str:
    """A queue alias, bare or in quotes."""
    return text.strip('"')


@parse.with_pattern(rf"{_ALIAS}(?:(?:,\s*|\s+and\s+){_ALIAS})+")
def parse_queue_names(text: str) -> list[str]:
    """Several queue aliases: ``billing, shipping and inventory``."""
    return [name.strip('"') for name in re.findall(_ALIAS, text) if name != "and"]


@parse.with_pattern("|".join(NOUNS))
def parse_queue_word(text: str) -> str:
    """What the feature calls the alias: a queue, a topic, a stream ..."""
    return text


@parse.with_pattern("|".join(f"{noun}s" for noun in NOUNS))
def parse_queues_word(text: str) -> str:
    """What the feature calls several aliases."""
    return text


@parse.with_pattern(r"attribute|header")
def parse_attribute_word(text: str) -> str:
    """SQS says attribute, Kafka says header; both mean the same here."""
    return text


register_type(
    QueueName=parse_queue_name,
    QueueNames=parse_queue_names,
    QueueWord=parse_queue_word,
    QueuesWord=parse_queues_word,
    AttributeWord=parse_attribute_word,
)


# Counts ------------------------------------------------------------------------------


@then("within {timeout:Duration} the {queue:QueueName} {kind:QueueWord} receives {count:Count}")
def step_within_receives(context: Any, timeout: float, queue: str, kind: str, count: int) -> None:
    """Exactly ``count`` messages arrive within ``timeout`` (none more in the grace window)."""
    expect_messages(queue, count, timeout=timeout, description=step_text(context))


@then("the {queue:QueueName} {kind:QueueWord} receives {count:Count}")
def step_receives(context: Any, queue: str, kind: str, count: int) -> None:
    """Exactly ``count`` messages arrive within the default timeout."""
    expect_messages(queue, count, description=step_text(context))


@then(
    "within {timeout:Duration} the {queues:QueueNames} {kind:QueuesWord} each receive {count:Count}"
)
def step_within_each_receive(
    context: Any, timeout: float, queues: list[str], kind: str, count: int
) -> None:
    """Each queue receives exactly ``count`` messages; they are drained in parallel."""
    expect_messages(queues, count, timeout=timeout, description=step_text(context))


@then("the {queues:QueueNames} {kind:QueuesWord} each receive {count:Count}")
def step_each_receive(context: Any, queues: list[str], kind: str, count: int) -> None:
    """Each queue receives exactly ``count`` messages within the default timeout."""
    expect_messages(queues, count, description=step_text(context))


@then(
    "within {timeout:Duration} the {queue:QueueName} {kind:QueueWord} receives at least"
    " {count:Count}"
)
def step_within_receives_at_least(
    context: Any, timeout: float, queue: str, kind: str, count: int
) -> None:
    """At least ``count`` messages arrive within ``timeout``; more are fine."""
    expect_messages(queue, count, exactly=False, timeout=timeout, description=step_text(context))


@then("the {queue:QueueName} {kind:QueueWord} receives no messages within {window:Duration}")
def step_receives_none(context: Any, queue: str, kind: str, window: float) -> None:
    """No message arrives during ``window``; fails at the first one."""
    expect_no_messages(queue, during=window, description=step_text(context))


# Content -----------------------------------------------------------------------------


@then("within {timeout:Duration} the {queue:QueueName} {kind:QueueWord} receives a message with:")
def step_within_receives_with(context: Any, timeout: float, queue: str, kind: str) -> None:
    """A message whose fields (or attributes) match the table arrives within ``timeout``."""
    _expect_one(queue, _table(context), context, timeout=timeout)


@then("the {queue:QueueName} {kind:QueueWord} receives a message with:")
def step_receives_with(context: Any, queue: str, kind: str) -> None:
    """A message whose fields (or attributes) match the table arrives."""
    _expect_one(queue, _table(context), context)


@then(
    "within {timeout:Duration} the {queue:QueueName} {kind:QueueWord} receives a message"
    " containing:"
)
def step_within_receives_containing(context: Any, timeout: float, queue: str, kind: str) -> None:
    """A message whose JSON body contains the doc string's document arrives within ``timeout``."""
    _expect_one(queue, MessageMatcher(body=json_doc_string(context)), context, timeout=timeout)


@then("the {queue:QueueName} {kind:QueueWord} receives a message containing:")
def step_receives_containing(context: Any, queue: str, kind: str) -> None:
    """A message whose JSON body contains the doc string's document arrives."""
    _expect_one(queue, MessageMatcher(body=json_doc_string(context)), context)


@then("the message's JSON body contains:")
def step_message_body_contains(context: Any) -> None:
    """The last matched message's body contains the document (extra fields allowed)."""
    assert_message(MessageMatcher(body=json_doc_string(context)), description=step_text(context))


@then("the message's JSON body is:")
def step_message_body_is(context: Any) -> None:
    """The last matched message's body is exactly the document."""
    matcher = MessageMatcher(body=json_doc_string(context), exact_body=True)
    assert_message(matcher, description=step_text(context))


@then("the message has:")
def step_message_has(context: Any) -> None:
    """The last matched message's fields (or attributes) match the table."""
    assert_message(_table(context), description=step_text(context))


@then("the message key is {key:Value}")
def step_message_key(context: Any, key: object) -> None:
    """The last matched message has this Kafka key."""
    assert_message(MessageMatcher(key=key), description=step_text(context))


@then('the message {kind:AttributeWord} "{name}" is {value:Value}')
def step_message_attribute(context: Any, kind: str, name: str, value: object) -> None:
    """The last matched message has this attribute (SQS) or header (Kafka)."""
    assert_message(MessageMatcher(attributes={name: value}), description=step_text(context))


# Sending -----------------------------------------------------------------------------


@when('"{queue}" is published with:')
def step_publish(context: Any, queue: str) -> None:
    """Publish the doc string (JSON, placeholders expanded) to the topic or queue."""
    send_message(queue, json_doc_string(context))


@when('"{queue}" is published with key {key:Value}:')
def step_publish_with_key(context: Any, queue: str, key: object) -> None:
    """Publish the doc string with a Kafka key (placeholders expanded in both)."""
    state = current_scenario()
    send_message(queue, json_doc_string(context), key=state.expand(str(key)))


@when('"{queue}" is published with headers "{headers}":')
def step_publish_with_headers(context: Any, queue: str, headers: str) -> None:
    """Publish the doc string with Kafka headers (SQS attributes): ``"source=web, tier=2"``."""
    send_message(queue, json_doc_string(context), attributes=_headers(headers))


@when('"{queue}" is published with key {key:Value} and headers "{headers}":')
def step_publish_with_key_and_headers(context: Any, queue: str, key: object, headers: str) -> None:
    """Publish the doc string with a key and headers."""
    state = current_scenario()
    send_message(
        queue, json_doc_string(context), key=state.expand(str(key)), attributes=_headers(headers)
    )


@when("a message is sent to the {queue:QueueName} {kind:QueueWord} with:")
def step_send(context: Any, queue: str, kind: str) -> None:
    """Send the doc string (JSON, placeholders expanded) to the queue."""
    send_message(queue, json_doc_string(context))


# --------------------------------------------------------------------------------------


def _table(context: Any) -> MessageMatcher:
    headings, rows = table_cells(
        context, "| field | value | rows for the JSON body, or | attribute | value | rows"
    )
    return MessageMatcher.from_table(headings, rows)


def _headers(text: str) -> dict[str, str]:
    """``name=value`` pairs separated by commas, placeholders expanded."""
    state = current_scenario()
    headers = {}
    for item in state.expand(text).split(","):
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise InvalidInput(
                f"Headers {text!r} are not understood at {item.strip()!r}: write "
                'name=value pairs separated by commas, e.g. "source=web, tenant=acme".'
            )
        headers[name.strip()] = value.strip()
    return headers


def _expect_one(
    queue: str, matcher: MessageMatcher, context: Any, *, timeout: float | None = None
) -> None:
    """At least one message matching ``matcher`` arrives; it becomes "the message"."""
    expect_messages(
        queue, 1, exactly=False, where=matcher, timeout=timeout, description=step_text(context)
    )


@given("the scenario fails at once if the {queue:QueueName} {kind:QueueWord} receives a message")
def step_fails_at_once_if_receives(context: Any, queue: str, kind: str) -> None:
    """A tripwire: every later wait of the scenario fails at once when the queue receives a
    message of the scenario (a dead-letter queue, an errors topic)."""
    fail_at_once_if_message(queue)
