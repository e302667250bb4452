"""The step vocabulary: every documented phrase matches exactly one step.

behave takes the first step that matches, silently; a phrase that two steps match works
only by the accident of their order. These tests pin that each phrase has one meaning.
"""

from __future__ import annotations

import re

import pytest
from behave.step_registry import registry

import asyncbdd.steps  # noqa: F401  (registers the vocabulary)
from asyncbdd.scenario import scenario

THEN_PHRASES = [
    'within 10 seconds the order status is "pending"',
    "eventually the order status is 97",
    'within 10 seconds the order status becomes "shipped" but never "failed"',
    'within 10 seconds the order status is "paid" and stays so for 1 second',
    'the order status becomes "shipped" no sooner than 100 ms and within 10 seconds',
    'the order status stays "pending" for 2 seconds',
    'the order status does not become "shipped" within 2 seconds',
    'within 1 minute 30 seconds the status of order "ord-1" is "paid"',
    'within 10 seconds the inventory of product "prod-789" changes',
    'within 10 seconds the "inventory" table changes to:',
    "the inventory change is:",
    'the inventory of product "prod-123" does not change within 2 seconds',
    'within ten seconds the order status is "pending"',
    "within 10 seconds the billing queue receives 1 message",
    "the billing queue receives 2 messages",
    "within 10 seconds the billing, shipping and inventory queues each receive 1 message",
    "the billing, shipping and inventory queues each receive 1 message",
    'within 5 seconds the "order.created" topic receives at least 2 messages',
    "the billing queue receives no messages within 2 seconds",
    "within 10 seconds the billing queue receives a message with:",
    "the billing queue receives a message with:",
    'within 10 seconds the "order.created" topic receives a message containing:',
    "the billing queue receives a message containing:",
    "the message's JSON body contains:",
    "the message's JSON body is:",
    "the message has:",
    'the message key is "ord-1"',
    'the message attribute "event_type" is "billing.requested"',
    'the message header "source" is "web"',
    'within 15 seconds the "payment-complete" webhook receives 1 call',
    'within 15 seconds the "payment-complete" webhook receives 2 calls',
    'the "payment-complete" webhook receives 1 call',
    'within 15 seconds the "payment-complete" webhook receives at least 1 call',
    'the "payment-complete" webhook receives at least 2 calls',
    'no call reaches the "payment-complete" webhook within 2 seconds',
    "the call's JSON body contains:",
    "the 2nd call's JSON body contains:",
    "the call's JSON body is:",
    "the second call's JSON body is:",
    "the call has:",
    "the 3rd call has:",
    'the call\'s header "X-Correlation-Id" is "{correlation_id}"',
    'the 2nd call\'s header "X-Correlation-Id" is "{correlation_id}"',
    "the call is signed",
    "the 2nd call is signed",
    "within 15 seconds the trace for this order contains, in order:",
    "the trace for this order contains, in order:",
    "within 15 seconds the trace for this order contains exactly, in order:",
    "the trace contains exactly, in order:",
    '"payment.completed" occurs before "shipping.label_created"',
    'in the trace for this order "payment.completed" occurs before "shipping.label_created"',
    'within 15 seconds "payment.completed" occurs before "shipping.label_created"',
    'within 15 seconds in the trace "payment.completed" occurs before "shipping.label_created"',
    '"notification.sent" occurs within 2 seconds after "payment.completed"',
    'in the trace for this order "notification.sent" occurs within 2 s after "payment.completed"',
    'within 15 seconds "notification.sent" occurs within 500 ms after "payment.completed"',
    'within 15 seconds in the trace "notification.sent" occurs within 2 s after "order.created"',
    '"payment.completed" occurs exactly once',
    'in the trace for this order "payment.completed" occurs exactly once',
    'within 15 seconds "payment.completed" occurs exactly once',
    'within 15 seconds in the trace for this order "payment.completed" occurs exactly once',
    'the trace for this order has no "payment.failed" event within 2 seconds',
    'no "payment.failed" event occurs within 2 seconds',
    "within 10 seconds these happen in order:",
    "these happen in order:",
]
WHEN_PHRASES = [
    '"order.created" is published with:',
    '"order.created" is published with key "ord-1":',
    '"order.created" is published with headers "source=web, tenant=acme":',
    '"order.created" is published with key "ord-1" and headers "source=web":',
    "a message is sent to the billing queue with:",
]
GIVEN_PHRASES = [
    'a snapshot of the inventory of product "prod-789"',
    'a snapshot of the "inventory" table',
    'a snapshot of the "inventory" table where product_id is "prod-789"',
    'a webhook receiver "payment-complete"',
    'a webhook receiver "payment-complete" that fails the first call with 500',
    'a webhook receiver "payment-complete" that fails the first 2 calls with 503',
    'a webhook receiver "payment-complete" that answers 202',
    'a webhook receiver "payment-complete" that answers after 2 seconds',
    'a webhook receiver "payment-complete" that answers 202 after 500 ms',
    'the scenario fails at once if the order status becomes "failed"',
    'the scenario fails at once if the status of order "ord-1" becomes "failed"',
    "the scenario fails at once if the dead-letter queue receives a message",
    'the scenario fails at once if the "order.errors" topic receives a message',
    'the scenario fails at once if "payment.failed" occurs',
    'the scenario fails at once if "payment.failed" occurs in the trace for this order',
    'the "stock" table has:',
    'the "stock" table has, kept after the scenario:',
    'the "stock" table has no rows where sku is "sku-9"',
]


def matching_steps(step_type: str, text: str) -> list[str]:
    return [matcher.pattern for matcher in registry.steps[step_type] if matcher.match(text)]


@pytest.mark.parametrize("text", THEN_PHRASES)
def test_each_then_phrase_has_one_meaning(text: str) -> None:
    """Every documented Then phrase (and a malformed duration) matches exactly one step."""
    assert len(matching_steps("then", text)) == 1, matching_steps("then", text)


@pytest.mark.parametrize("text", GIVEN_PHRASES)
def test_each_given_phrase_has_one_meaning(text: str) -> None:
    """Every documented Given phrase matches exactly one step."""
    assert len(matching_steps("given", text)) == 1, matching_steps("given", text)


@pytest.mark.parametrize("text", WHEN_PHRASES)
def test_each_when_phrase_has_one_meaning(text: str) -> None:
    """Every documented When phrase matches exactly one step."""
    assert len(matching_steps("when", text)) == 1, matching_steps("when", text)


def test_a_stays_step_does_not_swallow_a_deadline() -> None:
    """The "stays" step cannot read "within 10 seconds ..." as the name of a probe."""
    text = 'within 10 seconds the order status is "paid" and stays so for 1 second'
    patterns = matching_steps("then", text)
    assert patterns == [
        "within {timeout:Duration} {probe:Phrase} is {expected:Value}"
        " and stays so for {window:Duration}"
    ]


PLACEHOLDER_FORMS = {
    "Value": ('"{order_id}"', "ord-7"),
    "Phrase": ('the status of order "{order_id}"', 'the status of order "ord-7"'),
}


def _placeholder_cases() -> list[tuple[str, str, str]]:
    """(step type, phrase, field) for every Value and Phrase field of every phrase."""
    cases = []
    for step_type, phrases in (
        ("given", GIVEN_PHRASES),
        ("when", WHEN_PHRASES),
        ("then", THEN_PHRASES),
    ):
        for text in phrases:
            if "within ten seconds" in text:  # the malformed duration: it cannot match
                continue
            for matcher in registry.steps[step_type]:
                if matcher.match(text):
                    fields = re.findall(r"\{(\w+):(Value|Phrase)\}", matcher.pattern)
                    cases += [(step_type, text, name) for name, kind in fields]
    return cases


@pytest.mark.parametrize(("step_type", "text", "field"), _placeholder_cases())
def test_every_value_and_phrase_expands_placeholders(step_type: str, text: str, field: str) -> None:
    """A placeholder written where a phrase takes a value (or names a probe) is expanded,
    as in doc strings and tables: "{order_id}" is the scenario's order, not that text."""
    [matcher] = [m for m in registry.steps[step_type] if m.match(text)]
    kind = dict(re.findall(r"\{(\w+):(\w+)\}", matcher.pattern))[field]
    written, expected = PLACEHOLDER_FORMS[kind]
    argument = next(a for a in matcher.match(text).arguments if a.name == field)
    with_placeholder = text[: argument.start] + written + text[argument.end :]
    with scenario("placeholders") as state:
        state.values["order_id"] = "ord-7"
        match = matcher.match(with_placeholder)
        assert match is not None, with_placeholder
        values = {a.name: a.value for a in match.arguments}
    assert values[field] == expected
