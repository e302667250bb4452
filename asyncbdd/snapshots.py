"""Snapshots: the rows an event should change, captured before and after it, compared.

An event-driven system updates its database some time after the event. A snapshot
records the rows that matter before the event; :func:`expect_change` captures them
again until something differs, and :func:`assert_change` checks that exactly the
expected columns changed, and nothing else::

    inventory = SnapshotSource(table="inventory", ignore=["updated_at"])
    before = inventory.capture(product_id="prod-789")
    publish_order(product_id="prod-789", quantity=3)
    diff = expect_change(before, timeout=10)
    assert_change(diff, [ExpectedChange("quantity", 100, 97)])

A system may write in several transactions, so the first change seen need not be the
whole change. :func:`expect_exact_change` reads until the change *settles*: the diff
from the snapshot has not moved for the settle window (setting ``asyncbdd.settle``,
0.5 s, or ``settle=``). The expected change passes once it has held that long; a wrong
change that holds that long fails then, not at the deadline; no change at all waits for
the deadline. A window of 0 decides at the first read that shows a change::

    expect_exact_change(before, [ExpectedChange("quantity", 100, 97)], timeout=10)
    expect_no_change(before, during=2)

A :class:`SnapshotSource` reads a table (filtered by column equality) or a SQL query
(with ``:name`` parameters). Rows are matched by key, so their order never matters: the
table's primary key by default, or the ``key`` columns declared (required for a query).
Ignored columns (``updated_at``) are not captured, so they never count as a change.

A :class:`SnapshotDiff` lists the rows that changed (with each column's before and after
value), the rows inserted and the rows deleted; ``str(diff)`` renders it one row a line::

    changed  product_id='prod-789'  quantity: 100 -> 96
    inserted product_id='prod-999'  {quantity: 5, status: 'new'}

In a snapshot NaN equals NaN: a float or ``Decimal`` NaN read twice is no change, and
an expected NaN matches a NaN read.

Expected values are compared as :func:`asyncbdd.matching.same_value` does, so values
read from a feature file (:func:`asyncbdd.matching.parse_value`) match what the database
returns: a number equals a ``Decimal``, ``float`` or ``int`` of equal value, text equals a
date or time whose ISO form it is, and ``"97"`` (text) does not equal ``97``.

The waits block the calling thread; :mod:`asyncbdd.aio` has the awaitable twin of each
(same arguments and messages), whose reads run in a worker thread of the wait so that a
query stalls no task of the loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, select, text

from asyncbdd import waiting
from asyncbdd.config import get_settings
from asyncbdd.database import connect, reflect_table
from asyncbdd.deprecation import deprecated
from asyncbdd.drivers import Plan, blocking
from asyncbdd.durations import format_duration, to_seconds
from asyncbdd.errors import ExpectationFailed, InvalidInput, UnknownName, hide_failure_frames
from asyncbdd.evidence.model import DiffRow, Evidence, SnapshotChange
from asyncbdd.intervals import IntervalStrategy, default_interval, next_pause
from asyncbdd.matching import same_value, shorten, show_value
from asyncbdd.wait import Seconds, WaitState

__all__ = [
    "ExpectedChange",
    "RowChange",
    "Snapshot",
    "SnapshotDiff",
    "SnapshotMismatch",
    "SnapshotSource",
    "assert_change",
    "expect_change",
    "expect_change_plan",
    "expect_exact_change",
    "expect_exact_change_plan",
    "expect_no_change",
    "expect_no_change_plan",
]

__tracebackhide__ = hide_failure_frames

Key = tuple[object, ...]
"""The values of a row's key columns, in the order of :attr:`Snapshot.key_columns`."""
Row = Mapping[str, object]
"""A captured row: column name to value (key columns included, ignored columns left out)."""


@dataclass(frozen=True)
class SnapshotSource:
    """What a snapshot reads: the rows of a table, or of a SQL query.

    Define one per thing a scenario talks about ("the inventory of a product") and
    capture it as often as needed. Give exactly one of ``table`` and ``query``.

    :param table: a table (or view) name; its columns are found by reflection, once per
        database and table.
    :param query: a SQL query; ``:name`` placeholders are bound from :meth:`capture`.
    :param where: column values that select a table's rows (``{"product_id": "p-1"}``);
        ``None`` matches ``IS NULL``. Tables only: a query writes its condition in SQL.
    :param key: columns that identify a row; default: the table's primary key. Required
        for a query. A single column may be given as a string.
    :param ignore: columns left out of the snapshot, so their changes never count.
    :param database_url: SQLAlchemy URL; default: setting ``asyncbdd.database_url``.
    :param name: what the rows are, in the feature's words, used in messages.
    """

    table: str | None = None
    query: str | None = None
    where: Mapping[str, object] | None = None
    key: Sequence[str] | None = None
    ignore: Sequence[str] = ()
    database_url: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise InvalidInput(
                "A snapshot source reads either a table or a query: give exactly one of "
                f"table=... and query=... (got table={self.table!r}, query={self.query!r})."
            )
        if self.query is not None and self.where:
            raise InvalidInput(
                "where=... selects rows of a table. A query writes its condition in SQL "
                "with :name placeholders, e.g. WHERE product_id = :product_id, and "
                "capture(product_id=...) gives the values."
            )
        if self.query is not None and not self.key:
            raise InvalidInput(
                "A snapshot of a query needs the columns that identify a row, e.g. "
                "key=['product_id']: rows are matched by key, so their order never matters."
            )
        object.__setattr__(self, "key", None if self.key is None else _names(self.key))
        object.__setattr__(self, "ignore", _names(self.ignore))
        both = [column for column in self.key or () if column in self.ignore]
        if both:
            raise InvalidInput(
                f"Column {both[0]!r} is both a key column and ignored; a key column "
                "identifies rows, so it cannot be ignored."
            )

    def capture(self, **params: object) -> Snapshot:
        """Read the rows now.

        For a query, ``params`` bind its ``:name`` placeholders (all of them, and no
        others). For a table, they are more ``where`` values (and override those).

        :raises UnknownName: no such table, or a ``where``/``key``/``ignore`` column that
            the table or query does not have.
        :raises InvalidInput: missing or unknown query parameters; no key; a key value
            shared by several rows.
        :raises DatabaseUnavailable: the database cannot be reached or queried.
        """
        description = self.describe(params)
        with connect(self.database_url, purpose=f"capture {description}") as connection:
            if self.table is not None:
                key_columns, columns, records = _read_table(self, self.table, connection, params)
            else:
                key_columns, columns, records = _read_query(self, connection, params)
        return Snapshot(
            source=self,
            params=dict(params),
            key_columns=key_columns,
            columns=columns,
            rows=_index_by_key(records, key_columns, description),
            taken_at=time.monotonic(),
        )

    def describe(self, params: Mapping[str, object]) -> str:
        """Say which rows a capture with ``params`` reads, for messages."""
        if self.table is not None:
            filters = {**(self.where or {}), **params}
            technical = f"table {self.table}"
            if filters:
                technical += " where " + " and ".join(
                    f"{column}={_show(value)}" for column, value in filters.items()
                )
        else:
            technical = f"query {shorten(' '.join(str(self.query).split()), 80)!r}"
            if params:
                technical += " with " + _show_values(params, ", ")
        return f"{self.name} ({technical})" if self.name else technical


@dataclass(frozen=True, repr=False)
class Snapshot:  # noqa: PLW1641 (the dataclass makes __hash__)
    """The rows a :class:`SnapshotSource` read at one moment, indexed by key.

    Two snapshots are equal when they read the same source with the same parameters and
    hold the same rows, whenever they were taken. In a snapshot NaN equals NaN (a float
    or ``Decimal`` NaN read twice is no change).
    """

    source: SnapshotSource
    params: Mapping[str, object]
    """The values given to :meth:`SnapshotSource.capture`."""
    key_columns: tuple[str, ...]
    columns: tuple[str, ...]
    """Every captured column, key columns first; ignored columns are left out."""
    rows: Mapping[Key, Row]
    taken_at: float = field(compare=False)
    """When the rows were read, on the :func:`time.monotonic` clock."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Snapshot):
            return NotImplemented
        return _same_fields(self, other)

    @property
    def description(self) -> str:
        """Which rows this is, for messages."""
        return self.source.describe(self.params)

    def recapture(self) -> Snapshot:
        """Read the same rows again, now."""
        return self.source.capture(**self.params)

    def diff(self, after: Snapshot) -> SnapshotDiff:
        """What changed from this snapshot to ``after``, a later capture of the same rows."""
        if (after.source, after.params, after.columns) != (self.source, self.params, self.columns):
            raise InvalidInput(
                f"Cannot compare a snapshot of {self.description} (columns "
                f"{', '.join(self.columns)}) with one of {after.description} (columns "
                f"{', '.join(after.columns)}); compare two captures of the same rows."
            )
        changed = []
        for key in _sorted_keys(self.rows.keys() & after.rows.keys()):
            old, new = self.rows[key], after.rows[key]
            changes = {
                column: (old[column], new[column])
                for column in self.columns
                if not _same(old[column], new[column])
            }
            if changes:
                changed.append(RowChange(dict(zip(self.key_columns, key, strict=True)), changes))
        return SnapshotDiff(
            before=self,
            after=after,
            changed=tuple(changed),
            inserted=tuple(after.rows[key] for key in _sorted_keys(after.rows.keys() - self.rows)),
            deleted=tuple(self.rows[key] for key in _sorted_keys(self.rows.keys() - after.rows)),
        )

    def __str__(self) -> str:
        lines = [f"{self.description}: {_count(len(self.rows), 'row')}"]
        rows = [self.rows[key] for key in _sorted_keys(self.rows)]
        lines.extend(_capped(["  " + _show_row(row, self.key_columns) for row in rows]))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Snapshot of {self.description}: {_count(len(self.rows), 'row')}>"


@dataclass(frozen=True)
class RowChange:  # noqa: PLW1641 (the dataclass makes __hash__)
    """A row present before and after, with the columns whose value changed."""

    key: Mapping[str, object]
    """The row's key columns and their values."""
    changes: Mapping[str, tuple[object, object]]
    """Column name to ``(before, after)``, for each column that changed."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RowChange):
            return NotImplemented
        return _same_fields(self, other)

    def __str__(self) -> str:
        changes = ", ".join(
            f"{column}: {_show(old)} -> {_show(new)}" for column, (old, new) in self.changes.items()
        )
        return f"{_show_values(self.key)}  {changes}"


@dataclass(frozen=True, repr=False)
class SnapshotDiff:  # noqa: PLW1641 (the dataclass makes __hash__)
    """What changed between two snapshots of the same rows; false when nothing did.

    Two diffs are equal when they hold the same snapshots and changes (NaN equal to NaN).
    """

    before: Snapshot
    after: Snapshot
    changed: tuple[RowChange, ...]
    inserted: tuple[Row, ...]
    """Rows in ``after`` whose key is not in ``before``, in key order."""
    deleted: tuple[Row, ...]
    """Rows in ``before`` whose key is not in ``after``, in key order."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SnapshotDiff):
            return NotImplemented
        return _same_fields(self, other)

    def __bool__(self) -> bool:
        return bool(self.changed or self.inserted or self.deleted)

    def __str__(self) -> str:
        if not self:
            return "no change"
        key_columns = self.before.key_columns
        return "\n".join(
            _capped(
                [
                    *(f"changed  {row}" for row in self.changed),
                    *(f"inserted {_show_row(row, key_columns)}" for row in self.inserted),
                    *(f"deleted  {_show_row(row, key_columns)}" for row in self.deleted),
                ]
            )
        )

    def __repr__(self) -> str:
        return f"<SnapshotDiff: {'; '.join(str(self).splitlines())}>"


@dataclass(frozen=True)
class ExpectedChange:
    """A column expected to change from ``before`` to ``after``.

    ``where`` says which row (``{"product_id": "prod-789"}``; any captured columns, matched
    against the row as it was before); ``None`` means the one row that changed.
    """

    column: str
    before: object
    after: object
    where: Mapping[str, object] | None = None

    def __str__(self) -> str:
        change = f"{self.column}: {_show(self.before)} -> {_show(self.after)}"
        return f"{_show_values(self.where)}  {change}" if self.where else change


class SnapshotMismatch(ExpectationFailed):
    """The rows did not change as expected; the message lists every difference."""

    def __init__(self, message: str, diff: SnapshotDiff, problems: Sequence[str]) -> None:
        super().__init__(message)
        self.diff = diff
        self.problems = tuple(problems)


def assert_change(diff: SnapshotDiff, expected: Sequence[ExpectedChange]) -> None:
    """Check that exactly the ``expected`` changes happened, and nothing else.

    Every expected column change must be in ``diff`` with equal before and after values
    (compared as :func:`asyncbdd.matching.same_value` does); no other column of any row
    may have changed, and no row may have been inserted or deleted. An empty
    ``expected`` asserts that nothing changed.

    An expected change without ``where`` applies to the one row that changed; when
    several rows changed, the failure asks for the key columns that say which row.

    :raises SnapshotMismatch: with the expected changes, the actual diff, and one line
        per problem ("missing: quantity 100 -> 97 (actual: 100 -> 96)").
    :raises UnknownName: an expected column, or a ``where`` column, is not captured.
    """
    for change in expected:
        for column in (change.column, *(change.where or {})):
            if column not in diff.before.columns:
                raise UnknownName(
                    "column",
                    column,
                    diff.before.columns,
                    "Ignored columns are not captured; check the column's name.",
                    where=f"the capture of {diff.before.description}",
                )
    problems = _problems(diff, expected)
    if problems:
        description = diff.before.description
        evidence = Evidence(
            awaited=f"the change to {description} is exactly the one expected",
            pattern="snapshot",
            passed=False,
            timeout=None,
            elapsed=0.0,
            reason=f"The change to {description} is not the one expected",
            headline="statement",
            sections=(
                SnapshotChange(
                    description,
                    _diff_rows(diff, expected),
                    expected=tuple(str(change) for change in expected),
                    actual=tuple(str(diff).splitlines()),
                    problems=tuple(problems),
                ),
            ),
        )
        error = SnapshotMismatch(evidence.to_text(), diff, problems)
        error.evidence = evidence
        raise error


def expect_change_plan(
    before: Snapshot, *, timeout: Seconds | None = None, description: str | None = None
) -> Plan[SnapshotDiff]:
    """Capture ``before``'s rows again until they differ from it; return the difference.

    :param timeout: the deadline; default: setting ``asyncbdd.timeout``.
    :param description: what is awaited, in the step's words.
    :raises WaitTimeout: nothing changed in time; the message shows the rows as they stand.
    """
    diff: SnapshotDiff = yield from waiting.wait_until(
        lambda: before.diff(before.recapture()),
        bool,
        timeout=timeout,
        description=description or f"a change to {before.description}",
        on_timeout=_report_no_change,
    )
    return diff


expect_change = blocking(expect_change_plan)


def expect_exact_change_plan(
    before: Snapshot,
    expected: Sequence[ExpectedChange],
    *,
    timeout: Seconds | None = None,
    settle: Seconds | None = None,
    description: str | None = None,
) -> Plan[SnapshotDiff]:
    """Capture ``before``'s rows again until they changed exactly as ``expected``, and
    settled; return the difference.

    Settled means that the difference from ``before`` has not moved for the settle
    window: every read during it gave the same diff (NaN equal to NaN). A system may
    write in several transactions, so one read proves little:

    * a matching change must be read again, unchanged, a whole window after it was first
      read; if anything moves meanwhile, the rows are read on;
    * a change that does not match and stays unchanged for the window fails then, not at
      the deadline (``WaitAborted``, the :class:`SnapshotMismatch` shown and chained);
    * no change at all yet is no verdict: the rows are read on until the deadline.

    A window of 0 decides at the first read: a matching change passes at once and a
    wrong one fails at once.

    :param timeout: the deadline; default: setting ``asyncbdd.timeout``.
    :param settle: the settle window; default: setting ``asyncbdd.settle`` (0.5 s).
    :param description: what is awaited, in the step's words.
    :raises WaitAborted: a wrong change settled.
    :raises WaitTimeout: no change settled by the deadline; the last mismatch is chained.
    :raises InvalidInput: the settle window does not fit in the deadline.
    """
    settling = _Settling(before, expected, settle)
    settling.refuse_unfitting(timeout)
    diff: SnapshotDiff = yield from waiting.wait_until(
        settling.read,
        settling.settled_match,
        timeout=timeout,
        interval=_UntilSettled(settling, default_interval()),
        fail_if=settling.settled_mismatch,
        description=description or f"the change to {before.description}",
        on_timeout=settling.report,
    )
    return diff


expect_exact_change = blocking(expect_exact_change_plan)


def expect_no_change_plan(
    before: Snapshot, *, during: Seconds, description: str | None = None
) -> Plan[SnapshotDiff]:
    """Check that ``before``'s rows stay as they are throughout ``during``.

    Returns the last (empty) difference, whose ``after`` is the latest capture.
    ``during`` is a window the rows must stay put for, not a deadline: the timeout scale
    does not stretch it.

    :raises WaitAborted: something changed; the message shows what.
    """
    diff: SnapshotDiff = yield from waiting.wait_stays(
        lambda: before.diff(before.recapture()),
        lambda diff: not diff,
        during=during,
        description=description or f"no change to {before.description}",
        on_timeout=_report_change,
    )
    return diff


expect_no_change = blocking(expect_no_change_plan)


wait_for_change = deprecated("wait_for_change", expect_change)
wait_for_exact_change = deprecated("wait_for_exact_change", expect_exact_change)
wait_for_no_change = deprecated(
    "wait_for_no_change", expect_no_change, renamed={"duration": "during"}, positional=("during",)
)


# --------------------------------------------------------------------------------------
# Private: reading rows
# --------------------------------------------------------------------------------------

_Records = tuple[tuple[str, ...], tuple[str, ...], list[dict[str, object]]]
"""What a read returns: key columns, captured columns (key first), and the rows."""


def _read_table(
    source: SnapshotSource, name: str, connection: Connection, params: Mapping[str, object]
) -> _Records:
    table = _reflect(connection, name)
    available = tuple(table.columns.keys())
    filters = {**(source.where or {}), **params}
    for role, columns in (("where", filters), ("key", source.key or ()), ("ignore", source.ignore)):
        _check_columns(columns, available, role, f"table {name!r}")
    key_columns = tuple(source.key or (column.name for column in table.primary_key.columns))
    if not key_columns:
        raise InvalidInput(
            f"Table {name!r} has no primary key, so its rows cannot be matched before and "
            "after. Give the snapshot source the columns that identify a row, e.g. "
            f"key=[{available[0]!r}]. Its columns: {', '.join(available)}."
        )
    columns = (*key_columns, *(c for c in available if c not in (*key_columns, *source.ignore)))
    statement = select(*(table.c[column] for column in columns)).where(
        *(table.c[column] == value for column, value in filters.items())
    )
    records = [dict(zip(columns, row, strict=True)) for row in connection.execute(statement)]
    return key_columns, columns, records


def _read_query(
    source: SnapshotSource, connection: Connection, params: Mapping[str, object]
) -> _Records:
    statement = text(str(source.query))
    placeholders = set(statement.compile().params)
    missing, unknown = sorted(placeholders - params.keys()), sorted(params.keys() - placeholders)
    if missing or unknown:
        problems = [f"needs :{', :'.join(missing)}"] if missing else []
        problems += [f"has no placeholder :{', :'.join(unknown)}"] if unknown else []
        expected = ", ".join(sorted(placeholders)) or "none"
        raise InvalidInput(
            f"The snapshot query {shorten(str(source.query), 80)!r} {' and '.join(problems)}. "
            f"Give capture() exactly its parameters: {expected}."
        )
    result = connection.execute(statement, dict(params))
    available = tuple(result.keys())
    repeated = sorted({column for column in available if available.count(column) > 1})
    if repeated:
        raise InvalidInput(
            f"The snapshot query returns column {repeated[0]!r} more than once; give each "
            "column its own name (SELECT a.id AS order_id, b.id AS item_id ...)."
        )
    key_columns = tuple(source.key or ())
    for role, columns in (("key", key_columns), ("ignore", source.ignore)):
        _check_columns(columns, available, role, "the query")
    columns = (*key_columns, *(c for c in available if c not in (*key_columns, *source.ignore)))
    records = [{column: row[column] for column in columns} for row in result.mappings()]
    return key_columns, columns, records


def _reflect(connection: Connection, name: str) -> Table:
    return reflect_table(
        connection, name, if_missing="Check the name, or create the table before capturing it."
    )


def _check_columns(
    columns: Iterable[str], available: Sequence[str], role: str, where_from: str
) -> None:
    for column in columns:
        if column not in available:
            raise UnknownName(
                "column",
                column,
                available,
                f"The snapshot's {role} names it; check the column's name.",
                where=where_from,
            )


def _index_by_key(
    records: list[dict[str, object]], key_columns: tuple[str, ...], description: str
) -> dict[Key, Row]:
    rows: dict[Key, Row] = {}
    for record in records:
        key = tuple(record[column] for column in key_columns)
        if key in rows:
            shared = _show_values(dict(zip(key_columns, key, strict=True)))
            raise InvalidInput(
                f"More than one row of {description} has the key {shared}, so rows cannot "
                "be matched before and after. Declare key columns that identify one row each."
            )
        rows[key] = record
    return rows


def _names(columns: str | Sequence[str]) -> tuple[str, ...]:
    return (columns,) if isinstance(columns, str) else tuple(columns)


# --------------------------------------------------------------------------------------
# Private: comparing with expectations, and rendering
# --------------------------------------------------------------------------------------


def _problems(diff: SnapshotDiff, expected: Sequence[ExpectedChange]) -> list[str]:
    """One line per difference between ``diff`` and ``expected``."""
    problems: list[str] = []
    accounted: set[tuple[int, str]] = set()  # (index in diff.changed, column)
    several = len(diff.changed) > 1
    if several and any(change.where is None for change in expected):
        problems.append(
            f"ambiguous: {len(diff.changed)} rows changed, and an expected change does not "
            f"say which row it is about; add the key column(s) "
            f"{', '.join(diff.before.key_columns)} to the expected changes"
        )
        accounted.update((index, c) for index, row in enumerate(diff.changed) for c in row.changes)
    for change in expected:
        wanted = f"{change.column} {_show(change.before)} -> {_show(change.after)}"
        if change.where is None:
            if several:
                continue
            if not diff.changed:
                problems.append(f"missing: {wanted} (actual: no row changed)")
                continue
            targets = [0]
        else:
            targets = [
                index
                for index, row in enumerate(diff.changed)
                if _matches(change.where, diff.before.rows[tuple(row.key.values())])
            ]
            if not targets:
                actual = _what_became_of(change.where, diff)
                problems.append(
                    f"missing: {wanted} (actual: {actual}) in row {_show_values(change.where)}"
                )
                continue
        for index in targets:
            row = diff.changed[index]
            accounted.add((index, change.column))
            if change.column not in row.changes:
                value = diff.before.rows[tuple(row.key.values())][change.column]
                actual = f"unchanged at {_show(value)}"
            else:
                old, new = row.changes[change.column]
                if _same_expected(change.before, old) and _same_expected(change.after, new):
                    continue
                actual = f"{_show(old)} -> {_show(new)}"
            where = f" in row {_show_values(row.key)}" if several else ""
            problems.append(f"missing: {wanted} (actual: {actual}){where}")
    for index, row in enumerate(diff.changed):
        where = f" in row {_show_values(row.key)}" if several else ""
        problems.extend(
            f"unexpected: {column} {_show(old)} -> {_show(new)}{where}"
            for column, (old, new) in row.changes.items()
            if (index, column) not in accounted
        )
    key_columns = diff.before.key_columns
    problems.extend(f"unexpected inserted row: {_show_row(r, key_columns)}" for r in diff.inserted)
    problems.extend(f"unexpected deleted row: {_show_row(r, key_columns)}" for r in diff.deleted)
    return problems


def _what_became_of(where: Mapping[str, object], diff: SnapshotDiff) -> str:
    """Why no changed row matches ``where``: the row stayed, came, went, or never was."""
    before = any(_matches(where, row) for row in diff.before.rows.values())
    after = any(_matches(where, row) for row in diff.after.rows.values())
    if before and after:
        return "that row did not change"
    if after:
        return "that row was inserted"
    return "that row was deleted" if before else "no such row"


def _matches(where: Mapping[str, object], row: Row) -> bool:
    return all(_same_expected(value, row[column]) for column, value in where.items())


def _same_expected(expected: object, actual: object) -> bool:
    """:func:`~asyncbdd.matching.same_value`, with an expected NaN matching a NaN read."""
    if _is_nan(expected) or _is_nan(actual):
        return _is_nan(expected) and _is_nan(actual)
    return same_value(expected, actual)


def _is_nan(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, Decimal) and value.is_nan()


def _same(left: object, right: object) -> bool:
    """Equality of captured values, with NaN equal to NaN (floats and ``Decimal``), also
    inside tuples, lists and mappings; anything else compares with ``==``."""
    if left is right:
        return True
    if _is_nan(left) or _is_nan(right):
        return _is_nan(left) and _is_nan(right)
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, (tuple, list)) and type(left) is type(right):
        assert isinstance(right, (tuple, list))
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)


def _same_fields(left: Any, right: Any) -> bool:
    """Dataclass equality (fields with ``compare``) with :func:`_same` for each field."""
    return all(
        _same(getattr(left, each.name), getattr(right, each.name))
        for each in fields(left)
        if each.compare
    )


# --------------------------------------------------------------------------------------
# Private: settling
# --------------------------------------------------------------------------------------


class _UntilSettled:
    """An interval strategy: ``then``'s pause, shortened so that a read starts when the
    current change will have held for the settle window (so a verdict comes on time)."""

    def __init__(self, settling: _Settling, then: IntervalStrategy) -> None:
        self.settling, self.then = settling, then

    def __call__(self, state: WaitState[Any], /) -> float:
        pause = next_pause(self.then, state)
        settles_at = self.settling.settles_at()
        if settles_at is not None:
            pause = min(pause, max(settles_at - time.monotonic(), 0.0))
        return pause

    def __str__(self) -> str:
        return f"{self.then}, shorter to read again as the settle window ends"


class _Unsettled(AssertionError):
    """A matching change read, but not yet for the whole settle window: "not yet"."""


class _Settling:
    """The reads of :func:`expect_exact_change`, and since when they have not moved.

    ``since`` is when the current diff was first read (the ``taken_at`` of that capture);
    a diff has held for the time from then to the ``taken_at`` of the latest read. The
    probe, condition and ``fail_if`` of one check run one after the other.
    """

    def __init__(
        self, before: Snapshot, expected: Sequence[ExpectedChange], settle: Seconds | None
    ) -> None:
        self.before, self.expected = before, expected
        if settle is None:
            self.window, self.named = get_settings().settle, "setting asyncbdd.settle"
        else:
            self.window = to_seconds(settle)
            self.named = f"settle={format_duration(self.window)}"
        self.current: SnapshotDiff | None = None
        self.since = 0.0

    def refuse_unfitting(self, timeout: Seconds | None) -> None:
        """Refuse a settle window as long as the deadline or longer, before waiting."""
        settings = get_settings()
        seconds = settings.timeout if timeout is None else to_seconds(timeout)
        deadline = seconds * settings.timeout_scale
        if self.window and 0 < deadline <= self.window:
            relation = "as long as" if self.window == deadline else "longer than"
            scale = ", timeout scale included" if settings.timeout_scale != 1 else ""
            raise InvalidInput(
                f"The settle window ({format_duration(self.window)}, {self.named}) is "
                f"{relation} the timeout ({format_duration(deadline)}{scale}): a change must "
                "hold that long before the deadline, so the check could never pass. Give a "
                "shorter asyncbdd.settle (or settle=...) or a longer timeout."
            )

    def read(self) -> SnapshotDiff:
        """The probe: the diff from the snapshot now; notes when it last moved."""
        diff = self.before.diff(self.before.recapture())
        if self.current is None or diff != self.current:
            self.current, self.since = diff, diff.after.taken_at
        return diff

    def held_for(self, diff: SnapshotDiff) -> float:
        return diff.after.taken_at - self.since

    def settles_at(self) -> float | None:
        """When the current change will have held for the window, if that is still ahead."""
        if not self.current or self.held_for(self.current) >= self.window:
            return None
        return self.since + self.window

    def settled_match(self, diff: SnapshotDiff) -> bool:
        """The condition: the expected change, unmoved for the whole window."""
        assert_change(diff, self.expected)  # its SnapshotMismatch means "not yet"
        held = self.held_for(diff)
        if held < self.window:
            raise _Unsettled(
                f"The change is the one expected, but has held for only "
                f"{format_duration(held)} of the settle window of "
                f"{format_duration(self.window)} ({self.named})."
            )
        return True

    def settled_mismatch(self, diff: SnapshotDiff) -> str | None:
        """``fail_if``: a change, not the expected one, unmoved for the whole window."""
        if not diff or self.held_for(diff) < self.window:
            return None
        try:
            assert_change(diff, self.expected)
        except SnapshotMismatch:
            return (
                "the rows changed, but not as expected, and settled: no change for "
                f"{format_duration(self.window)} ({self.named})"
            )
        return None

    def report(self, state: WaitState[SnapshotDiff]) -> SnapshotChange | None:
        """``on_timeout``: no change at all, or how long the last change had held; with
        the last change judged against the expected one."""
        if not state.has_value:
            return None
        diff = state.last_value
        if not diff:
            return _report_no_change(state)
        held = self.held_for(diff)
        text: tuple[str, ...] = ()
        if held < self.window:  # else it settled: the failure's reason says so
            text = (
                f"The rows read as they last did for {format_duration(held)}: it had not "
                f"settled (no change for {format_duration(self.window)}, {self.named}) by "
                "the deadline.",
            )
        return SnapshotChange(diff.before.description, _diff_rows(diff, self.expected), text)


def _report_no_change(state: WaitState[SnapshotDiff]) -> SnapshotChange | None:
    if not state.has_value:
        return None
    diff = state.last_value
    age = format_duration(diff.after.taken_at - diff.before.taken_at)
    text = (
        f"No row changed, appeared or disappeared since the snapshot taken {age} before the "
        f"last check. Rows as they stand:\n{diff.after}"
    )
    return SnapshotChange(diff.before.description, (), tuple(text.splitlines()))


def _report_change(state: WaitState[SnapshotDiff]) -> SnapshotChange | None:
    if not state.has_value:
        return None
    diff = state.last_value
    text = f"What changed since the snapshot:\n{diff}"
    return SnapshotChange(diff.before.description, _diff_rows(diff, ()), tuple(text.splitlines()))


def _diff_rows(diff: SnapshotDiff, expected: Sequence[ExpectedChange]) -> tuple[DiffRow, ...]:
    """Every cell of ``diff``, judged against ``expected`` (nothing expected: every change
    is unexpected), and the expected changes it lacks."""
    rows: list[DiffRow] = []
    found: set[int] = set()  # the expected changes seen in the diff
    for row in diff.changed:
        before_row = diff.before.rows[tuple(row.key.values())]
        for column, (old, new) in row.changes.items():
            matching = [
                index
                for index, change in enumerate(expected)
                if change.column == column
                and (change.where is None or _matches(change.where, before_row))
                and _same_expected(change.before, old)
                and _same_expected(change.after, new)
            ]
            found.update(matching)
            verdict = "expected" if matching else "unexpected"
            rows.append(
                DiffRow(_show_values(row.key), column, _show(old), _show(new), "changed", verdict)
            )
    key_columns = diff.before.key_columns
    for change, rows_of in (("inserted", diff.inserted), ("deleted", diff.deleted)):
        for whole in rows_of:
            key = _show_values({column: whole[column] for column in key_columns})
            values = ", ".join(
                f"{c}: {_show(value)}" for c, value in whole.items() if c not in key_columns
            )
            old, new = ("", values) if change == "inserted" else (values, "")
            rows.append(DiffRow(key, "(row)", old, new, change, "unexpected"))
    for index, wanted in enumerate(expected):
        if index not in found:
            rows.append(
                DiffRow(
                    _show_values(wanted.where) if wanted.where else "(the row that changed)",
                    wanted.column,
                    _show(wanted.before),
                    _show(wanted.after),
                    "expected",
                    "missing",
                )
            )
    return tuple(rows)


_MAX_LINES = 20
_MAX_VALUE_LENGTH = 120


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= _MAX_LINES:
        return lines
    return [*lines[:_MAX_LINES], f"  ... and {len(lines) - _MAX_LINES} more"]


def _show(value: object) -> str:
    return show_value(value, _MAX_VALUE_LENGTH)


def _show_values(values: Mapping[str, object], separator: str = " ") -> str:
    return separator.join(f"{column}={_show(value)}" for column, value in values.items())


def _show_row(row: Row, key_columns: Sequence[str]) -> str:
    key = _show_values({column: row[column] for column in key_columns})
    rest = ", ".join(f"{c}: {_show(value)}" for c, value in row.items() if c not in key_columns)
    return f"{key}  {{{rest}}}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number or 'no'} {noun}s"


def _sorted_keys(keys: Iterable[Key]) -> list[Key]:
    """Keys in a stable, readable order, whatever the types of their values."""
    return sorted(keys, key=lambda key: tuple(_orderable(value) for value in key))


def _orderable(value: object) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float, Decimal)):
        return (1, value)
    return (2, str(value))
