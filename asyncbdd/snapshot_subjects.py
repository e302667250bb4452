"""Snapshot subjects: what "the inventory of product X" means, and the scenario's snapshots.

A team names the rows its features talk about, once::

    snapshot_source('the inventory of product "{product_id}"', table="inventory",
                    ignore=["updated_at"])

The name's fields select rows (a table's ``where`` columns, or a query's ``:params``).
Two phrases work with no registration at all: ``the "inventory" table`` (every row) and
``the "inventory" table where product_id is "prod-789"``.

The functions below keep each scenario's snapshots by phrase, so a step can say "a
snapshot of X" and a later one "X changes"; pytest users can call them too, inside
``asyncbdd.scenario()``, or use :mod:`asyncbdd.snapshots` directly.

"X changes" passes on the first read that differs from the snapshot. "The X change is"
and "X changes to" read until the change settles: the diff from the snapshot has not
moved for the settle window (setting ``asyncbdd.settle``, 0.5 s; ``settle=`` per call).
A matching change passes once it has held that long; a wrong one fails once it has
held that long; no change at all waits for the deadline. A window of 0 decides at the
first read that shows a change.

Each wait here has an awaitable twin in :mod:`asyncbdd.aio`, with the same arguments.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncbdd.deprecation import deprecated
from asyncbdd.drivers import Plan, blocking
from asyncbdd.errors import AsyncBddError, InvalidInput
from asyncbdd.matching import parse_value
from asyncbdd.registry import Registry
from asyncbdd.scenario import Scenario, Slot, current_scenario
from asyncbdd.snapshots import (
    ExpectedChange,
    Snapshot,
    SnapshotDiff,
    SnapshotSource,
    expect_change_plan,
    expect_exact_change_plan,
    expect_no_change_plan,
)
from asyncbdd.wait import Seconds

__all__ = [
    "SNAPSHOT_SUBJECTS",
    "expect_exact_subject_change",
    "expect_exact_subject_change_plan",
    "expect_last_change",
    "expect_last_change_plan",
    "expect_no_subject_change",
    "expect_no_subject_change_plan",
    "expect_subject_change",
    "expect_subject_change_plan",
    "expected_changes",
    "ignore_columns",
    "resolve_subject",
    "snapshot_source",
    "take_snapshot",
]

SNAPSHOT_SUBJECTS: Registry[SnapshotSource] = Registry(
    "snapshot subject",
    "Register one in Python, e.g. in environment.py: asyncbdd.snapshot_source("
    "'the inventory of product \"{product_id}\"', table='inventory'); or write "
    '\'the "inventory" table\' or \'the "inventory" table where product_id is "p-1"\'.',
)


def snapshot_source(
    name: str,
    *,
    table: str | None = None,
    query: str | None = None,
    where: Mapping[str, object] | None = None,
    key: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    database_url: str | None = None,
    replace: bool = False,
) -> SnapshotSource:
    """Register the rows that the phrase ``name`` refers to; see the module docstring."""
    source = SnapshotSource(
        table=table,
        query=query,
        where=where,
        key=key,
        ignore=ignore,
        database_url=database_url,
        name=name,
    )
    SNAPSHOT_SUBJECTS.register(name, source, replace=replace)
    return source


def ignore_columns(table: str, *columns: str) -> None:
    """Leave ``columns`` of ``table`` out of snapshots named ``the "<table>" table``.

    For columns that change on every write (``updated_at``) and so say nothing about
    whether the right change happened. Registered subjects declare their own ``ignore``.
    """
    _IGNORED_COLUMNS[table] = tuple(dict.fromkeys((*_IGNORED_COLUMNS.get(table, ()), *columns)))


def resolve_subject(phrase: str) -> tuple[SnapshotSource, dict[str, Any]]:
    """The source a phrase names, and the parameters to capture it with."""
    generic = _GENERIC_TABLE.fullmatch(" ".join(phrase.split()))
    if generic:
        table = generic.group("table")
        where = {}
        if generic.group("column"):
            where[generic.group("column")] = parse_value(generic.group("value"))
        ignore = _IGNORED_COLUMNS.get(table, ())
        return SnapshotSource(table=table, ignore=ignore, name=phrase), where
    resolved = SNAPSHOT_SUBJECTS.resolve(phrase)
    return dataclasses.replace(resolved.item, name=" ".join(phrase.split())), resolved.fields


def take_snapshot(phrase: str, scenario: Scenario | None = None) -> Snapshot:
    """Capture the rows ``phrase`` names and keep them for the scenario's later steps."""
    source, params = resolve_subject(phrase)
    snapshot = source.capture(**params)
    _TAKEN.of(scenario or current_scenario()).snapshots[_key(phrase)] = snapshot
    return snapshot


def expect_subject_change_plan(
    phrase: str, *, timeout: Seconds | None = None, description: str | None = None
) -> Plan[SnapshotDiff]:
    """Wait until the rows of an earlier snapshot of ``phrase`` change; keep the change
    (for :func:`expect_last_change`) and return it."""
    scenario = current_scenario()
    before = _snapshot(scenario, phrase)
    diff = yield from expect_change_plan(before, timeout=timeout, description=description)
    _TAKEN.of(scenario).last_change = diff
    return diff


expect_subject_change = blocking(expect_subject_change_plan)


def expect_no_subject_change_plan(
    phrase: str, *, during: Seconds, description: str | None = None
) -> Plan[SnapshotDiff]:
    """Check that the rows of an earlier snapshot of ``phrase`` stay as they were
    throughout ``during``; return the last (empty) difference."""
    before = _snapshot(current_scenario(), phrase)
    diff = yield from expect_no_change_plan(before, during=during, description=description)
    return diff


expect_no_subject_change = blocking(expect_no_subject_change_plan)


def expect_last_change_plan(
    expected: Sequence[ExpectedChange],
    subject_words: str = "",
    *,
    timeout: Seconds | None = None,
    settle: Seconds | None = None,
    description: str | None = None,
) -> Plan[SnapshotDiff]:
    """Check that the rows whose change was last seen changed exactly as ``expected``,
    and settled; return the difference.

    A system may write in several transactions, so the first change seen need not be
    the whole change: the rows are read again until they settle (see
    :func:`asyncbdd.snapshots.expect_exact_change`), up to ``timeout`` (default:
    setting ``asyncbdd.timeout``). The expected change passes once it has held, unmoved,
    for the settle window ``settle`` (default: setting ``asyncbdd.settle``); a wrong
    change that stays put that long fails then, not at the deadline.
    ``subject_words`` ("inventory") must appear in the phrase of the snapshot that
    changed, so a step cannot silently check the wrong snapshot.
    """
    scenario = current_scenario()
    diff = _TAKEN.of(scenario).last_change
    if diff is None:
        raise AsyncBddError(
            "No change has been seen yet in this scenario. Wait for one first, e.g. "
            '"Then within 10 seconds the inventory of product "prod-789" changes".'
        )
    if subject_words and subject_words.lower() not in str(diff.before.description).lower():
        raise AsyncBddError(
            f"The last change seen was to {diff.before.description}, not to "
            f"{subject_words!r}. Wait for a change of the snapshot you mean first."
        )
    found = yield from _wait_for_exactly(
        scenario,
        diff.before,
        expected,
        timeout=timeout,
        settle=settle,
        description=description,
    )
    return found


expect_last_change = blocking(expect_last_change_plan)


def expect_exact_subject_change_plan(
    phrase: str,
    expected: Sequence[ExpectedChange],
    *,
    timeout: Seconds | None = None,
    settle: Seconds | None = None,
    description: str | None = None,
) -> Plan[SnapshotDiff]:
    """Wait until the rows of an earlier snapshot of ``phrase`` changed exactly as expected,
    and settled; keep the change and return it.

    As :func:`expect_last_change`: the expected change must hold for the settle window
    ``settle`` (default: setting ``asyncbdd.settle``); a wrong change that holds that long
    fails at once, and no change at all waits for the deadline. A failure carries the
    last mismatch: what changed instead.
    """
    scenario = current_scenario()
    before = _snapshot(scenario, phrase)
    diff = yield from _wait_for_exactly(
        scenario, before, expected, timeout=timeout, settle=settle, description=description
    )
    return diff


expect_exact_subject_change = blocking(expect_exact_subject_change_plan)


wait_for_subject_change = deprecated("wait_for_subject_change", expect_subject_change)
check_unchanged = deprecated(
    "check_unchanged",
    expect_no_subject_change,
    renamed={"duration": "during"},
    positional=("during",),
)
check_last_change = deprecated("check_last_change", expect_last_change)
wait_for_expected_change = deprecated("wait_for_expected_change", expect_exact_subject_change)


def expected_changes(
    headings: Sequence[str], rows: Sequence[Sequence[str]]
) -> list[ExpectedChange]:
    """Read a change table: ``| column | before | after |``, after optional key columns.

    Key columns (any headings before ``column``) say which row each line is about::

        | product_id | column   | before | after |
        | prod-789   | quantity | 100    | 97    |
    """
    names = [heading.strip() for heading in headings]
    if names[-3:] != ["column", "before", "after"]:
        raise InvalidInput(
            f"A change table has the headings | column | before | after |, after optional "
            f"key columns such as | product_id |; this one has | {' | '.join(names)} |."
        )
    key_columns = names[:-3]
    changes = []
    for row in rows:
        cells = [cell.strip() for cell in row]
        where = {
            column: parse_value(cell) for column, cell in zip(key_columns, cells, strict=False)
        }
        column, before, after = cells[-3:]
        changes.append(
            ExpectedChange(column, parse_value(before), parse_value(after), where or None)
        )
    return changes


_GENERIC_TABLE = re.compile(
    r'the "(?P<table>[^"]+)" table(?: where (?P<column>\w+) is (?P<value>"[^"]*"|\S+))?'
)
_IGNORED_COLUMNS: dict[str, tuple[str, ...]] = {}


def _wait_for_exactly(
    scenario: Scenario,
    before: Snapshot,
    expected: Sequence[ExpectedChange],
    *,
    timeout: Seconds | None,
    settle: Seconds | None,
    description: str | None,
) -> Plan[SnapshotDiff]:
    diff = yield from expect_exact_change_plan(
        before, expected, timeout=timeout, settle=settle, description=description
    )
    _TAKEN.of(scenario).last_change = diff
    return diff


@dataclass
class _Taken:
    """A scenario's snapshots, by phrase, and the change last seen."""

    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    last_change: SnapshotDiff | None = None


_TAKEN = Slot("snapshots", lambda scenario: _Taken())


def _key(phrase: str) -> str:
    return " ".join(phrase.split())


def _snapshot(scenario: Scenario, phrase: str) -> Snapshot:
    snapshots = _TAKEN.of(scenario).snapshots
    snapshot = snapshots.get(_key(phrase))
    if snapshot is None:
        taken = list(snapshots)
        raise AsyncBddError(
            f"No snapshot of {phrase} was taken in this scenario. Take one before the "
            f'event: "Given a snapshot of {phrase}".'
            + (f" Snapshots taken: {', '.join(taken)}." if taken else "")
        )
    return snapshot
