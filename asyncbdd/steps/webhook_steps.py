"""Callback capture: phrases about webhook receivers and the calls they get.

::

    Given a webhook receiver "payment-complete"
    Given a webhook receiver "payment-complete" that fails the first call with 500
    Given a webhook receiver "payment-complete" that fails the first 2 calls with 503
    Given a webhook receiver "payment-complete" that answers 202
    Given a webhook receiver "payment-complete" that answers after 2 seconds
    Given a webhook receiver "payment-complete" that answers 202 after 2 seconds
    Then within 15 seconds the "payment-complete" webhook receives 1 call
    Then the "payment-complete" webhook receives 2 calls          (the default timeout)
    Then within 15 seconds the "payment-complete" webhook receives at least 1 call
    Then no call reaches the "payment-complete" webhook within 2 seconds
    And the call's JSON body contains:          /  And the 2nd call's JSON body contains:
    And the call's JSON body is:                /  And the 2nd call's JSON body is:
    And the call has:                           (| field | value |, | header | value |
                                                 or | query | value |)
    And the call's header "X-Correlation-Id" is "{correlation_id}"
    And the call is signed                      /  And the 2nd call is signed

A receiver's URL is ``{webhook_url}`` (the scenario's last declared receiver) or
``{webhook_url:payment-complete}`` in doc strings and table cells. "The call" is the first
call the latest webhook expectation returned, "the 2nd call" the second; every call counts,
however it was answered, so a failed first call and its retry are 2 calls.
"""

from __future__ import annotations

from typing import Any

import parse
from behave import register_type

from asyncbdd.scenario import current_scenario
from asyncbdd.steps import parameter_types  # noqa: F401  (registers {x:Duration} and co.)
from asyncbdd.steps.decorators import given, then
from asyncbdd.steps.step_text import json_doc_string, step_text, table_cells
from asyncbdd.webhooks import (
    CallMatcher,
    assert_call,
    expect_calls,
    expect_no_calls,
    webhook_receiver,
)

_ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}


@parse.with_pattern(r'[^"]+')
def parse_receiver_name(text: str) -> str:
    """A receiver's name, written between quotes."""
    return text


@parse.with_pattern(r"\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth")
def parse_ordinal(text: str) -> int:
    """``2nd`` or ``second``: a position counted from 1."""
    return _ORDINAL_WORDS.get(text) or int(text[:-2])


register_type(ReceiverName=parse_receiver_name, Ordinal=parse_ordinal)


# Receivers ---------------------------------------------------------------------------


@given('a webhook receiver "{name:ReceiverName}"')
def step_receiver(context: Any, name: str) -> None:
    """Declare a receiver that answers 200 at once."""
    webhook_receiver(name)


@given('a webhook receiver "{name:ReceiverName}" that fails the first call with {status:d}')
def step_receiver_failing_once(context: Any, name: str, status: int) -> None:
    """Declare a receiver whose first call is answered ``status``; later ones 200."""
    webhook_receiver(name, fail_first=1, fail_status=status)


@given(
    'a webhook receiver "{name:ReceiverName}" that fails the first {count:d} calls with {status:d}'
)
def step_receiver_failing(context: Any, name: str, count: int, status: int) -> None:
    """Declare a receiver whose first ``count`` calls are answered ``status``."""
    webhook_receiver(name, fail_first=count, fail_status=status)


@given('a webhook receiver "{name:ReceiverName}" that answers {status:d}')
def step_receiver_answering(context: Any, name: str, status: int) -> None:
    """Declare a receiver that answers ``status``."""
    webhook_receiver(name, status=status)


@given('a webhook receiver "{name:ReceiverName}" that answers after {delay:Duration}')
def step_receiver_slow(context: Any, name: str, delay: float) -> None:
    """Declare a receiver that answers 200 after ``delay`` (its calls count on arrival)."""
    webhook_receiver(name, delay=delay)


@given('a webhook receiver "{name:ReceiverName}" that answers {status:d} after {delay:Duration}')
def step_receiver_slow_answering(context: Any, name: str, status: int, delay: float) -> None:
    """Declare a receiver that answers ``status`` after ``delay``."""
    webhook_receiver(name, status=status, delay=delay)


# Counts ------------------------------------------------------------------------------


@then('within {timeout:Duration} the "{name:ReceiverName}" webhook receives {count:Count}')
def step_within_receives(context: Any, timeout: float, name: str, count: int) -> None:
    """Exactly ``count`` calls arrive within ``timeout`` (none more in the grace window)."""
    expect_calls(name, count, timeout=timeout, description=step_text(context))


@then('the "{name:ReceiverName}" webhook receives {count:Count}')
def step_receives(context: Any, name: str, count: int) -> None:
    """Exactly ``count`` calls arrive within the default timeout."""
    expect_calls(name, count, description=step_text(context))


@then('within {timeout:Duration} the "{name:ReceiverName}" webhook receives at least {count:Count}')
def step_within_receives_at_least(context: Any, timeout: float, name: str, count: int) -> None:
    """At least ``count`` calls arrive within ``timeout``; more are fine."""
    expect_calls(name, count, exactly=False, timeout=timeout, description=step_text(context))


@then('the "{name:ReceiverName}" webhook receives at least {count:Count}')
def step_receives_at_least(context: Any, name: str, count: int) -> None:
    """At least ``count`` calls arrive within the default timeout."""
    expect_calls(name, count, exactly=False, description=step_text(context))


@then('no call reaches the "{name:ReceiverName}" webhook within {window:Duration}')
def step_no_call(context: Any, name: str, window: float) -> None:
    """No call arrives during ``window``; fails at the first one."""
    expect_no_calls(name, during=window, description=step_text(context))


# The call ----------------------------------------------------------------------------


@then("the call's JSON body contains:")
@then("the {nth:Ordinal} call's JSON body contains:")
def step_call_body_contains(context: Any, nth: int | None = None) -> None:
    """The call's JSON body contains the doc string's document (extra fields allowed)."""
    matcher = CallMatcher(body=json_doc_string(context))
    assert_call(matcher, nth=nth or 1, description=step_text(context))


@then("the call's JSON body is:")
@then("the {nth:Ordinal} call's JSON body is:")
def step_call_body_is(context: Any, nth: int | None = None) -> None:
    """The call's JSON body is exactly the doc string's document."""
    matcher = CallMatcher(body=json_doc_string(context), exact_body=True)
    assert_call(matcher, nth=nth or 1, description=step_text(context))


@then("the call has:")
@then("the {nth:Ordinal} call has:")
def step_call_has(context: Any, nth: int | None = None) -> None:
    """The call's body fields, headers or query parameters match the table."""
    assert_call(_table(context), nth=nth or 1, description=step_text(context))


@then('the call\'s header "{header}" is {value:Value}')
@then('the {nth:Ordinal} call\'s header "{header}" is {value:Value}')
def step_call_header(context: Any, header: str, value: object, nth: int | None = None) -> None:
    """The call carries this header (placeholders in the value expanded)."""
    matcher = CallMatcher(headers={header: _expanded(value)})
    assert_call(matcher, nth=nth or 1, description=step_text(context))


@then("the call is signed")
@then("the {nth:Ordinal} call is signed")
def step_call_signed(context: Any, nth: int | None = None) -> None:
    """The call carries a valid signature of its body (setting asyncbdd.webhooks.secret)."""
    assert_call(CallMatcher(signed=True), nth=nth or 1, description=step_text(context))


# --------------------------------------------------------------------------------------


def _table(context: Any) -> CallMatcher:
    headings, rows = table_cells(
        context,
        "| field | value | rows for the JSON body, | header | value | or | query | value | rows",
    )
    return CallMatcher.from_table(headings, rows)


def _expanded(value: object) -> object:
    """A parsed step value, placeholders expanded in text."""
    return current_scenario().expand(value) if isinstance(value, str) else value
