"""Trace events in a SQL table, on SQLite and on PostgreSQL.

Each test makes its own uniquely named table (and drops it), so parallel runs cannot
collide. Rows are inserted before a check starts, or while it waits, from a thread that
starts once the check has read the table.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
)
from trace_fakes import HEALTHY_CHAIN, SERVICES, T0

from asyncbdd.config import Settings, set_settings
from asyncbdd.errors import DatabaseUnavailable, InvalidInput, UnknownName, WaitAborted
from asyncbdd.scenario import Scenario
from asyncbdd.traces import SqlTraceStore, TraceEvent, expect_before, expect_chain

Row = tuple[str, int, float]
"""An event to insert: type, sequence, milliseconds after T0."""


def rows_of(*kinds: str) -> list[Row]:
    """Rows of ``kinds`` numbered 1, 2, 3 ... in this order, 50 ms apart."""
    return [(kind, number, (number - 1) * 50.0) for number, kind in enumerate(kinds, 1)]


class TraceTable:
    """A uniquely named trace_events-shaped table, with a way to record events in it."""

    def __init__(self, url: str, *, native_json: bool = False) -> None:
        self.url = url
        self.name = f"trace_events_{uuid.uuid4().hex[:10]}"
        self.engine = create_engine(url)
        self.table = Table(
            self.name,
            MetaData(),
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("correlation_id", String(64), nullable=False, index=True),
            Column("sequence", Integer),
            Column("event_type", String(100), nullable=False),
            Column("service", String(50)),
            Column("occurred_at", DateTime(timezone=True)),
            Column("attributes", JSON if native_json else Text),
        )
        self.table.create(self.engine)
        self.native_json = native_json

    def record(self, correlation_id: str, rows: Sequence[Row]) -> None:
        """Insert one row per event, in this order, in one transaction."""
        attributes: Any = {"order_id": "ord-1"}
        if not self.native_json:
            attributes = '{"order_id": "ord-1"}'
        with self.engine.begin() as connection:
            connection.execute(
                insert(self.table),
                [
                    {
                        "correlation_id": correlation_id,
                        "sequence": sequence,
                        "event_type": kind,
                        "service": SERVICES.get(kind, "tests"),
                        "occurred_at": T0 + timedelta(milliseconds=ms),
                        "attributes": attributes,
                    }
                    for kind, sequence, ms in rows
                ],
            )

    def drop(self) -> None:
        self.table.drop(self.engine)
        self.engine.dispose()


class SignallingStore(SqlTraceStore):
    """A SQL trace store that signals each time it has read the table."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read = threading.Event()

    def events(self, correlation_id: str) -> list[TraceEvent]:
        events = super().events(correlation_id)
        self.read.set()
        return events


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file's URL, or the test PostgreSQL server's."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'traces.db'}"
    url: str = request.getfixturevalue("postgresql_url")
    return url


@pytest.fixture
def traces(database_url: str) -> Iterator[TraceTable]:
    """A fresh trace table in the database, dropped afterwards."""
    table = TraceTable(database_url)
    yield table
    table.drop()


def test_reads_the_events_of_one_correlation_id(traces: TraceTable) -> None:
    """Only the correlation id's rows are read, each field in its Python type."""
    traces.record("cid-1", rows_of("order.created", "payment.completed"))
    traces.record("cid-2", rows_of("order.created"))
    store = SqlTraceStore(traces.name, url=traces.url)
    events = store.events("cid-1")
    assert [(e.type, e.sequence, e.service) for e in events] == [
        ("order.created", 1, "orders"),
        ("payment.completed", 2, "payments"),
    ]
    assert [e.timestamp for e in events] == [T0, T0 + timedelta(milliseconds=50)]
    assert events[0].attributes == {"order_id": "ord-1"}
    assert events[0].source.startswith(f"table {traces.name}, id ")
    assert store.events("cid-3") == []
    assert store.describe().startswith(f"table {traces.name} at ")


def test_a_native_json_attributes_column_is_read(database_url: str) -> None:
    """Attributes in a JSON column read the same as JSON text."""
    table = TraceTable(database_url, native_json=True)
    try:
        table.record("cid-1", rows_of("order.created"))
        (event,) = SqlTraceStore(table.name, url=table.url).events("cid-1")
        assert event.attributes == {"order_id": "ord-1"}
    finally:
        table.drop()


def test_a_chain_waits_while_rows_are_inserted(traces: TraceTable, scenario: Scenario) -> None:
    """The check polls the table and passes as soon as the last row is in."""
    rows = rows_of(*HEALTHY_CHAIN)
    traces.record(scenario.correlation_id, rows[:2])
    store = SignallingStore(traces.name, url=traces.url)

    def insert_the_rest() -> None:
        if store.read.wait(10):
            traces.record(scenario.correlation_id, rows[2:])

    thread = threading.Thread(target=insert_the_rest, daemon=True)
    thread.start()
    started = time.monotonic()
    trace = expect_chain(HEALTHY_CHAIN, trace=store, timeout=30)
    assert time.monotonic() - started < 5
    assert trace.types == HEALTHY_CHAIN
    thread.join(5)


def test_rows_out_of_order_fail_at_once(traces: TraceTable, scenario: Scenario) -> None:
    """A complete chain whose sequence numbers are in the wrong order fails without waiting."""
    traces.record(
        scenario.correlation_id,
        rows_of("order.created", "shipping.label_created", "payment.completed"),
    )
    store = SqlTraceStore(traces.name, url=traces.url)
    started = time.monotonic()
    with pytest.raises(WaitAborted) as raised:
        expect_before("payment.completed", "shipping.label_created", trace=store, timeout=30)
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert (
        "Failed because the events are out of order: shipping.label_created (#2) came before "
        "payment.completed (#3)."
    ) in message
    assert f"in table {traces.name} at " in message


def test_the_configured_table_is_the_trace_for_this_order(
    traces: TraceTable, scenario: Scenario
) -> None:
    """With asyncbdd.traces.table set, "the trace for this order" reads that table."""
    set_settings(Settings(database_url=traces.url, traces_table=traces.name, grace=0.05))
    traces.record(scenario.correlation_id, rows_of(*HEALTHY_CHAIN))
    expect_chain(HEALTHY_CHAIN, exactly=True, trace="the trace for this order", timeout=30)


def test_columns_can_be_renamed_or_left_out(tmp_path: Path) -> None:
    """A table with other column names, and without some fields, is mapped column by column."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE audit (cid TEXT, action TEXT, step INTEGER)")
        connection.exec_driver_sql(
            "INSERT INTO audit VALUES ('c1', 'paid', 2), ('c1', 'ordered', 1), ('c2', 'x', 1)"
        )
    engine.dispose()
    columns = {
        "correlation_id": "cid",
        "type": "action",
        "sequence": "step",
        "service": None,
        "timestamp": None,
        "attributes": None,
    }
    events = SqlTraceStore("audit", url=url, columns=columns).events("c1")
    assert [(e.type, e.sequence, e.service, e.timestamp) for e in events] == [
        ("paid", 2, None, None),
        ("ordered", 1, None, None),
    ]
    assert events[0].source == "table audit, row 1"


def test_an_unknown_table_lists_the_tables(traces: TraceTable) -> None:
    """A misspelt table name is answered with the database's tables."""
    with pytest.raises(UnknownName) as raised:
        SqlTraceStore(traces.name + "x", url=traces.url).events("cid-1")
    message = str(raised.value)
    assert f"No table named '{traces.name}x' in database " in message
    assert f"Did you mean '{traces.name}'?" in message
    assert "Check the trace store's table name (setting asyncbdd.traces.table)." in message


def test_an_unknown_column_says_how_to_map_it(traces: TraceTable) -> None:
    """A column the table lacks names the table's columns and the mapping to fix it."""
    store = SqlTraceStore(traces.name, url=traces.url, columns={"timestamp": "created_at"})
    with pytest.raises(UnknownName) as raised:
        store.events("cid-1")
    message = str(raised.value)
    assert f"No column named 'created_at' in table {traces.name!r}." in message
    assert "'occurred_at'" in message
    assert "SqlTraceStore(columns={...})" in message


def test_a_mapping_must_name_known_fields_and_keep_the_required_ones() -> None:
    """Unknown fields and a missing type or correlation column are input errors."""
    with pytest.raises(InvalidInput, match=r"columns has 'kind'; the fields are correlation_id"):
        SqlTraceStore(columns={"kind": "event_type"})
    with pytest.raises(InvalidInput, match=r"needs a column for 'type'"):
        SqlTraceStore(columns={"type": None})


def test_an_unreachable_database_fails_at_once(scenario: Scenario) -> None:
    """A database that cannot be reached stops the check with the reason, not a timeout."""
    set_settings(Settings(connect_timeout=1.0))
    store = SqlTraceStore(url="postgresql+psycopg://u:secret@127.0.0.1:1/x")
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as raised:
        expect_chain(["order.created"], trace=store, timeout=30)
    assert time.monotonic() - started < 5
    assert "secret" not in str(raised.value)
    assert "cannot be reached" in str(raised.value)


def test_a_malformed_url_is_described_without_its_password() -> None:
    """A store whose URL cannot be parsed still hides the password when it names itself."""
    store = SqlTraceStore("t", url="postgresql://u:s3cr3t-pw@h:abc/db")
    assert "s3cr3t-pw" not in store.describe()
    assert store.describe().startswith("table t at ")
