"""Test data a scenario puts in the database itself, and takes back when it ends.

::

    Given the "stock" table has:
      | sku   | quantity |
      | sku-9 | 10       |
    And the "stock" table has no rows where sku is "sku-9b"

Rows are upserted by the table's primary key: a row whose key exists is updated, any
other inserted. Only the rows named are touched, so scenarios running in parallel on one
database never undo each other's data as long as they name their own keys. When the
scenario ends, everything is put back as it was (updated rows get their old values,
inserted rows are deleted, deleted rows come back), in reverse order, unless the data
was given with ``keep=True``. Cells are read as step values are: ``10`` is a number,
``"10"`` text, ``null`` is NULL, and placeholders (``{order_id}``) are expanded; text in a
date or time column is read as ISO 8601.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, insert, select, update

from asyncbdd.database import connect, reflect_table
from asyncbdd.errors import InvalidInput, UnknownName
from asyncbdd.scenario import Scenario, current_scenario

__all__ = ["delete_rows", "put_rows"]

Row = Mapping[str, object]


def put_rows(
    table: str,
    rows: Sequence[Row],
    *,
    keep: bool = False,
    database_url: str | None = None,
    scenario: Scenario | None = None,
) -> None:
    """Upsert ``rows`` into ``table`` by its primary key; undone at the scenario's end
    unless ``keep``.

    :raises UnknownName: no such table, or a column it does not have.
    :raises InvalidInput: the table has no primary key, or a row lacks part of it.
    """
    state = scenario or current_scenario()
    with connect(database_url, purpose=f"put rows into table {table!r}") as connection:
        definition = _table(connection, table, rows)
        key = _key_columns(definition)
        undo: list[tuple[str, Row]] = []
        for given in rows:
            row = _typed(definition, given)
            missing = [column for column in key if column not in row]
            if missing:
                raise InvalidInput(
                    f"A row for table {table!r} must give its key ({', '.join(key)}); this one "
                    f"lacks {', '.join(missing)}: {dict(row)}"
                )
            where = _where(definition, {column: row[column] for column in key})
            before = connection.execute(select(definition).where(where)).mappings().first()
            if before is None:
                connection.execute(insert(definition).values(**row))
                undo.append(("delete", {column: row[column] for column in key}))
            else:
                connection.execute(update(definition).where(where).values(**row))
                undo.append(("restore", dict(before)))
    if not keep:
        state.on_end(lambda: _undo(table, undo, database_url))


def delete_rows(
    table: str,
    where: Row,
    *,
    keep: bool = False,
    database_url: str | None = None,
    scenario: Scenario | None = None,
) -> int:
    """Delete the rows of ``table`` matching ``where``; they come back at the scenario's
    end unless ``keep``. Returns how many were deleted."""
    state = scenario or current_scenario()
    with connect(database_url, purpose=f"delete rows of table {table!r}") as connection:
        definition = _table(connection, table, [where])
        condition = _where(definition, where)
        found = connection.execute(select(definition).where(condition)).mappings()
        gone = [dict(row) for row in found]
        connection.execute(delete(definition).where(condition))
    if not keep and gone:
        state.on_end(lambda: _undo(table, [("insert", row) for row in gone], database_url))
    return len(gone)


def _undo(table: str, steps: Sequence[tuple[str, Row]], database_url: str | None) -> None:
    with connect(database_url, purpose=f"put table {table!r} back as it was") as connection:
        definition = reflect_table(connection, table, if_missing="")
        key = _key_columns(definition)
        for action, row in reversed(steps):
            if action == "delete":
                connection.execute(delete(definition).where(_where(definition, row)))
            elif action == "restore":
                where = _where(definition, {column: row[column] for column in key})
                connection.execute(update(definition).where(where).values(**row))
            else:
                connection.execute(insert(definition).values(**row))


def _table(connection: Connection, name: str, rows: Sequence[Row]) -> Table:
    definition = reflect_table(
        connection, name, if_missing="Check the table's name, or create it first."
    )
    for row in rows:
        for column in row:
            if column not in definition.columns:
                raise UnknownName(
                    "column",
                    column,
                    list(definition.columns.keys()),
                    "Check the column's name in the table's heading.",
                    where=f"table {name!r}",
                )
    return definition


def _typed(definition: Table, row: Row) -> Row:
    """``row`` with text given for date and time columns read as ISO 8601."""
    typed = dict(row)
    for name, value in row.items():
        try:
            kind = definition.c[name].type.python_type
        except NotImplementedError:
            continue
        if isinstance(value, str) and kind in (datetime, date):
            try:
                typed[name] = (
                    datetime.fromisoformat(value) if kind is datetime else date.fromisoformat(value)
                )
            except ValueError:
                raise InvalidInput(
                    f"Column {name!r} of table {definition.name!r} holds a date or time; "
                    f'{value!r} is not one. Write it as ISO 8601, e.g. "2026-01-31 12:00:00".'
                ) from None
    return typed


def _key_columns(definition: Table) -> list[str]:
    key = [column.name for column in definition.primary_key.columns]
    if not key:
        raise InvalidInput(
            f"Table {definition.name!r} has no primary key, so its rows cannot be upserted "
            "nor put back. Give it one, or seed it in a hook of your own."
        )
    return key


def _where(definition: Table, values: Row) -> Any:
    return and_(*(definition.c[column] == value for column, value in values.items()))
