"""Trace events in a SQL table, one row per event, read through SQLAlchemy.

::

    SqlTraceStore()                                   # table trace_events, asyncbdd.database_url
    SqlTraceStore("audit_log", columns={"type": "action", "service": None})

The default columns are those of a table such as::

    CREATE TABLE trace_events (
        id             INTEGER PRIMARY KEY,
        correlation_id VARCHAR NOT NULL,
        sequence       INTEGER,
        event_type     VARCHAR NOT NULL,
        service        VARCHAR,
        occurred_at    TIMESTAMP WITH TIME ZONE,
        attributes     TEXT          -- JSON text, or a native JSON column
    )

A column mapped to ``None`` is one the table does not have. The table's columns are
looked up once per database; rows come in primary key order, which keeps events with
equal sequence numbers in the order they were written.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, RowMapping, column, select, table

from asyncbdd.database import connect, engine_for, reflect_table, safe_url
from asyncbdd.errors import AsyncBddError, InvalidInput, UnknownName
from asyncbdd.traces.event import TraceEvent, make_event
from asyncbdd.traces.store import TraceStore

__all__ = ["DEFAULT_COLUMNS", "SqlTraceStore"]

DEFAULT_COLUMNS: Mapping[str, str | None] = {
    "correlation_id": "correlation_id",
    "type": "event_type",
    "service": "service",
    "timestamp": "occurred_at",
    "sequence": "sequence",
    "attributes": "attributes",
}
"""Each :class:`~asyncbdd.traces.event.TraceEvent` field and the column that holds it."""

_REQUIRED = ("correlation_id", "type")


class SqlTraceStore(TraceStore):
    """A table of trace events in a SQL database.

    :param table: the table (or view) name.
    :param url: SQLAlchemy URL; default: setting ``asyncbdd.database_url``.
    :param columns: the columns that differ from :data:`DEFAULT_COLUMNS`, by field name;
        ``None`` for a field the table does not record (``{"service": None}``).
    :param order_by: ``"sequence"`` or ``"timestamp"``; default: the setting.
    """

    def __init__(
        self,
        table: str = "trace_events",
        *,
        url: str | None = None,
        columns: Mapping[str, str | None] | None = None,
        order_by: str | None = None,
    ) -> None:
        unknown = sorted(set(columns or {}) - set(DEFAULT_COLUMNS))
        if unknown:
            raise InvalidInput(
                f"SqlTraceStore columns has {', '.join(map(repr, unknown))}; the fields "
                f"are {', '.join(DEFAULT_COLUMNS)}, each mapped to a column name or None."
            )
        self.table = table
        self.url = url
        self.columns = {
            name: mapped or None for name, mapped in {**DEFAULT_COLUMNS, **(columns or {})}.items()
        }
        for name in _REQUIRED:
            if not self.columns[name]:
                raise InvalidInput(
                    f"SqlTraceStore needs a column for {name!r}: without it, events cannot "
                    "be told apart by correlation id and type."
                )
        self.order_by = order_by

    def events(self, correlation_id: str) -> list[TraceEvent]:
        purpose = f"read the trace of correlation id {correlation_id} from table {self.table!r}"
        with connect(self.url, purpose=purpose) as connection:
            key = _primary_key(connection, self.table, self._wanted())
            fields = {name: col for name, col in self.columns.items() if col is not None}
            selected = sorted({*fields.values(), *key})
            source = table(self.table, *(column(name) for name in selected))
            correlation = source.c[str(self.columns["correlation_id"])]
            statement = select(source).where(correlation == correlation_id)
            statement = statement.order_by(*(source.c[name] for name in key))
            rows = connection.execute(statement).mappings().all()
        return [
            make_event(
                type=row[fields["type"]],
                service=_value(row, fields.get("service")),
                timestamp=_value(row, fields.get("timestamp")),
                sequence=_value(row, fields.get("sequence")),
                attributes=_value(row, fields.get("attributes")),
                source=self._source(row, key, number),
            )
            for number, row in enumerate(rows, 1)
        ]

    def describe(self) -> str:
        try:
            where = safe_url(engine_for(self.url).url)
        except AsyncBddError:  # an unset or malformed URL is reported when the table is read
            where = safe_url(self.url) if self.url else "asyncbdd.database_url"
        return f"table {self.table} at {where}"

    def _wanted(self) -> list[str]:
        return [name for name in self.columns.values() if name]

    def _source(self, row: RowMapping, key: list[str], number: int) -> str:
        if key:
            values = ", ".join(f"{name} {row[name]}" for name in key)
            return f"table {self.table}, {values}"
        return f"table {self.table}, row {number}"


def _value(row: RowMapping, name: str | None) -> object:
    return None if name is None else row[name]


def _primary_key(connection: Connection, name: str, wanted: list[str]) -> list[str]:
    """The table's primary key columns, once its columns are known to include ``wanted``."""
    reflected = reflect_table(
        connection,
        name,
        if_missing="Check the trace store's table name (setting asyncbdd.traces.table).",
    )
    names = set(reflected.columns.keys())
    key = [column.name for column in reflected.primary_key.columns]
    for wanted_column in wanted:
        if wanted_column not in names:
            raise UnknownName(
                "column",
                wanted_column,
                names,
                "The trace store reads it: map the field to the right column with "
                "SqlTraceStore(columns={...}), or to None.",
                where=f"table {name!r}",
            )
    return key
