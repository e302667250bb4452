"""Trace correlation: phrases about the chain of events recorded for the scenario.

::

    Then within 15 seconds the trace for this order contains, in order:
      | event_type         |
      | order.created      |
      | payment.completed  |
    Then the trace for this order contains exactly, in order:      (a table as above)
    Then "payment.completed" occurs before "shipping.label_created"
    Then in the trace for this order "payment.completed" occurs before "shipping.label_created"
    Then "notification.sent" occurs within 2 seconds after "payment.completed"
    Then "payment.completed" occurs exactly once
    Then the trace for this order has no "payment.failed" event within 2 seconds
    Then no "payment.failed" event occurs within 2 seconds
    Then within 10 seconds these happen in order:
      | channel | event             |
      | http    | order accepted    |
      | trace   | payment.completed |
      | webhook | payment-complete  |
      | queue   | shipping          |

Steps that name no trace use the only one registered; each may start with
``within <duration>`` (the deadline; default: setting ``asyncbdd.timeout``) and, but for
the chain steps, name the trace with ``in <trace>``. Traces are named in Python or by
setting ``asyncbdd.traces.table`` (:mod:`asyncbdd.traces.names`).

"These happen in order" crosses channels (:mod:`asyncbdd.traces.evidence`): each row
names a channel -- ``trace`` (an event type), ``webhook`` (a receiver), ``queue`` or
``topic`` (an alias), or a kind a step recorded with ``record_evidence`` (``http``) --
and what happened on it.
"""

from __future__ import annotations

from typing import Any

import parse
from behave import register_type

from asyncbdd.errors import InvalidInput
from asyncbdd.steps import parameter_types  # noqa: F401  (registers {x:Duration} and co.)
from asyncbdd.steps.decorators import given, then
from asyncbdd.steps.step_text import step_text, table_cells
from asyncbdd.traces import (
    expect_before,
    expect_chain,
    expect_evidence_in_order,
    expect_exactly_once,
    expect_no_event,
    expect_within_after,
    fail_at_once_if_event,
)

_HEADINGS = ("event_type", "event")
_EVIDENCE_HEADINGS = ["channel", "event"]


@parse.with_pattern(r'[^"]+')
def parse_event_type(text: str) -> str:
    """An event type, written in quotes in the step: ``"payment.completed"``."""
    return text


register_type(EventType=parse_event_type)


# Chains ------------------------------------------------------------------------------


@then("within {timeout:Duration} {trace:Phrase} contains, in order:")
def step_within_trace_contains_in_order(context: Any, timeout: float, trace: str) -> None:
    """The table's events occur in this order (others may come between) within ``timeout``."""
    expect_chain(_events(context), trace=trace, timeout=timeout, description=step_text(context))


@then("{trace:Phrase} contains, in order:")
def step_trace_contains_in_order(context: Any, trace: str) -> None:
    """The table's events occur in this order, within the default timeout."""
    expect_chain(_events(context), trace=trace, description=step_text(context))


@then("within {timeout:Duration} {trace:Phrase} contains exactly, in order:")
def step_within_trace_contains_exactly(context: Any, timeout: float, trace: str) -> None:
    """The trace is exactly the table's chain within ``timeout``, and stays so for the grace."""
    expect_chain(
        _events(context),
        exactly=True,
        trace=trace,
        timeout=timeout,
        description=step_text(context),
    )


@then("{trace:Phrase} contains exactly, in order:")
def step_trace_contains_exactly(context: Any, trace: str) -> None:
    """The trace is exactly the table's chain, within the default timeout."""
    expect_chain(_events(context), exactly=True, trace=trace, description=step_text(context))


# Two events --------------------------------------------------------------------------


@then('"{first:EventType}" occurs before "{second:EventType}"')
@then('in {trace:Phrase} "{first:EventType}" occurs before "{second:EventType}"')
def step_occurs_before(context: Any, first: str, second: str, trace: str | None = None) -> None:
    """Both events are recorded within the default timeout, ``first`` before ``second``."""
    expect_before(first, second, trace=trace, description=step_text(context))


@then('within {timeout:Duration} "{first:EventType}" occurs before "{second:EventType}"')
@then(
    'within {timeout:Duration} in {trace:Phrase} "{first:EventType}" occurs before'
    ' "{second:EventType}"'
)
def step_within_occurs_before(
    context: Any, timeout: float, first: str, second: str, trace: str | None = None
) -> None:
    """Both events are recorded within ``timeout``, ``first`` before ``second``."""
    expect_before(first, second, trace=trace, timeout=timeout, description=step_text(context))


@then('"{event:EventType}" occurs within {bound:Duration} after "{after:EventType}"')
@then(
    'in {trace:Phrase} "{event:EventType}" occurs within {bound:Duration} after "{after:EventType}"'
)
def step_occurs_within_after(
    context: Any, event: str, bound: float, after: str, trace: str | None = None
) -> None:
    """``event`` follows ``after`` by at most ``bound`` (timestamps), default deadline."""
    expect_within_after(event, after, bound, trace=trace, description=step_text(context))


@then(
    'within {timeout:Duration} "{event:EventType}" occurs within {bound:Duration} after'
    ' "{after:EventType}"'
)
@then(
    'within {timeout:Duration} in {trace:Phrase} "{event:EventType}" occurs within'
    ' {bound:Duration} after "{after:EventType}"'
)
def step_within_occurs_within_after(
    context: Any, timeout: float, event: str, bound: float, after: str, *, trace: str | None = None
) -> None:
    """``event`` follows ``after`` by at most ``bound``; both recorded within ``timeout``."""
    expect_within_after(
        event, after, bound, trace=trace, timeout=timeout, description=step_text(context)
    )


# One event ---------------------------------------------------------------------------


@then('"{event:EventType}" occurs exactly once')
@then('in {trace:Phrase} "{event:EventType}" occurs exactly once')
def step_occurs_exactly_once(context: Any, event: str, trace: str | None = None) -> None:
    """The event is recorded once (no second one, nor within the grace window)."""
    expect_exactly_once(event, trace=trace, description=step_text(context))


@then('within {timeout:Duration} "{event:EventType}" occurs exactly once')
@then('within {timeout:Duration} in {trace:Phrase} "{event:EventType}" occurs exactly once')
def step_within_occurs_exactly_once(
    context: Any, timeout: float, event: str, trace: str | None = None
) -> None:
    """The event is recorded once within ``timeout``, and no second one follows."""
    expect_exactly_once(event, trace=trace, timeout=timeout, description=step_text(context))


@then('{trace:Phrase} has no "{event:EventType}" event within {window:Duration}')
def step_trace_has_no_event(context: Any, trace: str, event: str, window: float) -> None:
    """The event is not in the trace, nor appears during ``window``."""
    expect_no_event(event, during=window, trace=trace, description=step_text(context))


@then('no "{event:EventType}" event occurs within {window:Duration}')
def step_no_event_occurs(context: Any, event: str, window: float) -> None:
    """The event is not in the only trace, nor appears during ``window``."""
    expect_no_event(event, during=window, description=step_text(context))


# Across channels -----------------------------------------------------------------------


@then("within {timeout:Duration} these happen in order:")
def step_within_these_happen_in_order(context: Any, timeout: float) -> None:
    """The table's events, each on its channel, all happen within ``timeout``, in order."""
    expect_evidence_in_order(_evidence(context), timeout=timeout, description=step_text(context))


@then("these happen in order:")
def step_these_happen_in_order(context: Any) -> None:
    """The table's events, each on its channel, happen in order, within the default timeout."""
    expect_evidence_in_order(_evidence(context), description=step_text(context))


# --------------------------------------------------------------------------------------


def _evidence(context: Any) -> list[tuple[str, str]]:
    headings, rows = table_cells(context, "| channel | event |, one event a row")
    if [heading.strip().lower() for heading in headings] != _EVIDENCE_HEADINGS:
        raise InvalidInput(
            "A table of events across channels has two columns, | channel | event |, with "
            f"one event a row; this one has | {' | '.join(headings)} |."
        )
    if not rows:
        raise InvalidInput("The table of expected events is empty; list one event a row.")
    return [(row[0], row[1]) for row in rows]


def _events(context: Any) -> list[str]:
    table = getattr(context, "table", None)
    if table is None:
        raise InvalidInput(
            f"The step {step_text(context) or ''!r} needs a table of the expected events "
            "below it, one per row: | event_type |."
        )
    headings = [heading.strip() for heading in table.headings]
    if len(headings) != 1 or headings[0] not in _HEADINGS:
        raise InvalidInput(
            f"A trace table has one column, | event_type |, with one event a row; this one "
            f"has | {' | '.join(headings)} |."
        )
    events = [row.cells[0].strip() for row in table.rows]
    if not events:
        raise InvalidInput("The table of expected events is empty; list one event a row.")
    return events


@given('the scenario fails at once if "{event:EventType}" occurs')
@given('the scenario fails at once if "{event:EventType}" occurs in {trace:Phrase}')
def step_fails_at_once_if_event_occurs(context: Any, event: str, trace: str | None = None) -> None:
    """A tripwire: every later wait of the scenario fails at once when ``event`` appears in
    the trace."""
    fail_at_once_if_event(event, trace=trace)
