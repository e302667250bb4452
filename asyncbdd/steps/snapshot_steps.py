"""Snapshot comparison: database rows before and after an event.

::

    Given a snapshot of the inventory of product "prod-789"
    Then within 10 seconds the inventory of product "prod-789" changes
    And the inventory change is:
      | column   | before | after |
      | quantity | 100    | 97    |
    Then within 10 seconds the "inventory" table changes to:
      | product_id | column   | before | after |
      | prod-789   | quantity | 100    | 97    |
    Then the inventory of product "prod-123" does not change within 2 seconds

Subjects are registered in Python (:mod:`asyncbdd.snapshot_subjects`), or written as
``the "inventory" table`` (optionally ``where product_id is "prod-789"``).

"changes" passes on the first read that differs. "change is" and "changes to" read until
the change settles (no change for ``asyncbdd.settle``, 0.5 s): the expected change passes
once it held that long, a wrong one fails once it held that long, not at the deadline.
"""

from __future__ import annotations

from typing import Any

from asyncbdd.snapshot_subjects import (
    expect_exact_subject_change,
    expect_last_change,
    expect_no_subject_change,
    expect_subject_change,
    expected_changes,
    take_snapshot,
)
from asyncbdd.steps import parameter_types  # noqa: F401  (registers {x:Duration} and co.)
from asyncbdd.steps.decorators import given, then
from asyncbdd.steps.step_text import step_text, table_cells

_CHANGE_TABLE = "| column | before | after |, after optional key columns such as | product_id |"


@given("a snapshot of {subject:Phrase}")
def step_a_snapshot_of(context: Any, subject: str) -> None:
    """Capture the rows ``subject`` names, before the event."""
    take_snapshot(subject)


@then("within {timeout:Duration} {subject:Phrase} changes")
def step_within_subject_changes(context: Any, timeout: float, subject: str) -> None:
    """Wait until the snapshot's rows differ from when they were captured."""
    expect_subject_change(subject, timeout=timeout, description=step_text(context))


@then("within {timeout:Duration} {subject:Phrase} changes to:")
def step_within_subject_changes_to(context: Any, timeout: float, subject: str) -> None:
    """Wait until the snapshot's rows changed exactly as the table says, nothing else, and
    settled (held for ``asyncbdd.settle``)."""
    expected = expected_changes(*table_cells(context, _CHANGE_TABLE))
    expect_exact_subject_change(subject, expected, timeout=timeout, description=step_text(context))


@then("the {subject_words} change is:")
def step_the_change_is(context: Any, subject_words: str) -> None:
    """Check the change just seen: read again until it settles (no change for
    ``asyncbdd.settle``), up to the default timeout."""
    expected = expected_changes(*table_cells(context, _CHANGE_TABLE))
    expect_last_change(expected, subject_words, description=step_text(context))


@then("{subject:Phrase} does not change within {window:Duration}")
def step_subject_does_not_change(context: Any, subject: str, window: float) -> None:
    """Require the snapshot's rows to stay as they were throughout ``window``."""
    expect_no_subject_change(subject, during=window, description=step_text(context))
