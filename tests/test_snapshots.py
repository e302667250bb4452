"""Snapshots: capture, diff, exact-change assertions and waits, and their messages.

Comparison tests build snapshots by hand. Database tests run on a SQLite file and on
the PostgreSQL server of the ``postgresql_url`` fixture, each in its own uniquely named
table, so parallel runs cannot collide.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from asyncbdd.config import Settings, set_settings
from asyncbdd.database import connect, dispose_engines
from asyncbdd.errors import (
    DatabaseUnavailable,
    InvalidInput,
    UnknownName,
    WaitAborted,
    WaitTimeout,
)
from asyncbdd.evidence import SnapshotChange, evidence_of
from asyncbdd.matching import parse_value
from asyncbdd.scenario import scenario
from asyncbdd.snapshot_subjects import (
    expect_exact_subject_change,
    expect_last_change,
    expect_subject_change,
    take_snapshot,
)
from asyncbdd.snapshots import (
    ExpectedChange,
    RowChange,
    Snapshot,
    SnapshotMismatch,
    SnapshotSource,
    assert_change,
    expect_change,
    expect_exact_change,
    expect_no_change,
)

INVENTORY = SnapshotSource(table="inventory", name="the inventory")
COLUMNS = ("product_id", "quantity", "status")


@pytest.fixture(autouse=True)
def default_settings() -> Iterator[None]:
    set_settings(Settings())
    yield
    set_settings(None)
    dispose_engines()


def snapshot(*rows: tuple[object, ...], columns: tuple[str, ...] = COLUMNS) -> Snapshot:
    """A snapshot of the inventory keyed by its first column, built without a database."""
    records: dict[tuple[object, ...], dict[str, object]] = {
        (row[0],): dict(zip(columns, row, strict=True)) for row in rows
    }
    return Snapshot(INVENTORY, {}, (columns[0],), columns, records, taken_at=0.0)


def mismatch(diff_before: Snapshot, diff_after: Snapshot, *expected: ExpectedChange) -> str:
    """The message of the SnapshotMismatch that ``assert_change`` must raise."""
    with pytest.raises(SnapshotMismatch) as failure:
        assert_change(diff_before.diff(diff_after), expected)
    return str(failure.value)


# --------------------------------------------------------------------------------------
# Comparing snapshots
# --------------------------------------------------------------------------------------


def test_diff_matches_rows_by_key_whatever_their_order() -> None:
    """Rows are paired by key, so the order they were read in never matters."""
    before = snapshot(("prod-1", 10, "ok"), ("prod-2", 20, "ok"), ("prod-3", 30, "ok"))
    after = snapshot(("prod-4", 40, "new"), ("prod-2", 19, "low"), ("prod-1", 10, "ok"))
    diff = before.diff(after)
    assert diff.changed == (
        RowChange({"product_id": "prod-2"}, {"quantity": (20, 19), "status": ("ok", "low")}),
    )
    assert diff.inserted == ({"product_id": "prod-4", "quantity": 40, "status": "new"},)
    assert diff.deleted == ({"product_id": "prod-3", "quantity": 30, "status": "ok"},)


def test_diff_renders_one_line_per_row_with_values_shown_by_type() -> None:
    """A diff reads as changed/inserted/deleted lines, text quoted and numbers bare."""
    before = snapshot(("prod-789", 100, "pending"), ("prod-123", 5, "ok"))
    after = snapshot(("prod-789", 96, "paid"), ("prod-999", 5, "97"))
    assert str(before.diff(after)) == (
        "changed  product_id='prod-789'  quantity: 100 -> 96, status: 'pending' -> 'paid'\n"
        "inserted product_id='prod-999'  {quantity: 5, status: '97'}\n"
        "deleted  product_id='prod-123'  {quantity: 5, status: 'ok'}"
    )
    assert repr(before.diff(after)) == (
        "<SnapshotDiff: changed  product_id='prod-789'  quantity: 100 -> 96, status: 'pending'"
        " -> 'paid'; inserted product_id='prod-999'  {quantity: 5, status: '97'}; deleted  "
        "product_id='prod-123'  {quantity: 5, status: 'ok'}>"
    )


def test_an_empty_diff_is_false_and_reads_no_change() -> None:
    """Two captures of the same rows give a diff that is false and says so."""
    diff = snapshot(("prod-1", 10, "ok")).diff(snapshot(("prod-1", 10, "ok")))
    assert not diff
    assert str(diff) == "no change"
    assert repr(diff) == "<SnapshotDiff: no change>"


def test_diff_refuses_snapshots_of_different_rows() -> None:
    """Comparing captures of different sources is an error, not a misleading diff."""
    other = Snapshot(SnapshotSource(table="orders"), {}, ("product_id",), COLUMNS, {}, taken_at=0.0)
    with pytest.raises(InvalidInput, match=r"Cannot compare a snapshot of the inventory"):
        snapshot().diff(other)


# --------------------------------------------------------------------------------------
# Asserting the exact change
# --------------------------------------------------------------------------------------


def test_assert_change_passes_on_the_exact_change() -> None:
    """The expected column changes, and nothing else, pass."""
    diff = snapshot(("prod-789", 100, "pending")).diff(snapshot(("prod-789", 97, "paid")))
    assert_change(
        diff,
        [ExpectedChange("quantity", 100, 97), ExpectedChange("status", "pending", "paid")],
    )


def test_assert_change_compares_numbers_by_value_and_dates_by_iso_text() -> None:
    """Values parsed from a feature match Decimal, float and datetime columns of equal value."""
    columns = ("order_id", "amount", "shipped_at")
    before = snapshot(("ord-1", Decimal("100.00"), None), columns=columns)
    after = snapshot(("ord-1", Decimal("99.99"), datetime(2024, 5, 1, 10, 30)), columns=columns)
    assert_change(
        before.diff(after),
        [
            ExpectedChange("amount", parse_value("100"), parse_value("99.99")),
            ExpectedChange("shipped_at", parse_value("null"), parse_value("2024-05-01T10:30:00")),
        ],
    )


def test_wrong_value_message_lists_expected_actual_and_the_problem() -> None:
    """A wrong after-value fails with the expectation, the diff and a 'missing' line."""
    message = mismatch(
        snapshot(("prod-789", 100, "pending")),
        snapshot(("prod-789", 96, "pending")),
        ExpectedChange("quantity", 100, 97),
    )
    assert message == (
        "The change to the inventory (table inventory) is not the one expected.\n"
        "Expected exactly:\n"
        "  quantity: 100 -> 97\n"
        "Actual:\n"
        "  changed  product_id='prod-789'  quantity: 100 -> 96\n"
        "Problems:\n"
        "  missing: quantity 100 -> 97 (actual: 100 -> 96)"
    )


def test_text_expected_value_does_not_match_a_number() -> None:
    """``"97"`` in a feature is text: it does not match the number 97, and the message shows so."""
    message = mismatch(
        snapshot(("prod-789", 100, "pending")),
        snapshot(("prod-789", 97, "pending")),
        ExpectedChange("quantity", parse_value("100"), parse_value('"97"')),
    )
    assert "  missing: quantity 100 -> '97' (actual: 100 -> 97)" in message.splitlines()


def test_an_extra_column_change_fails() -> None:
    """A column that changed but was not expected is reported as unexpected."""
    message = mismatch(
        snapshot(("prod-789", 100, "pending")),
        snapshot(("prod-789", 97, "paid")),
        ExpectedChange("quantity", 100, 97),
    )
    assert message.splitlines()[-2:] == [
        "Problems:",
        "  unexpected: status 'pending' -> 'paid'",
    ]


def test_inserted_and_deleted_rows_fail() -> None:
    """Any inserted or deleted row breaks "nothing else changed"."""
    message = mismatch(
        snapshot(("prod-789", 100, "ok"), ("prod-123", 5, "ok")),
        snapshot(("prod-789", 97, "ok"), ("prod-999", 1, "new")),
        ExpectedChange("quantity", 100, 97),
    )
    assert message.splitlines()[-3:] == [
        "Problems:",
        "  unexpected inserted row: product_id='prod-999'  {quantity: 1, status: 'new'}",
        "  unexpected deleted row: product_id='prod-123'  {quantity: 5, status: 'ok'}",
    ]


def test_a_column_that_did_not_change_is_missing_with_its_value() -> None:
    """An expected change of a column that kept its value says what the value still is."""
    message = mismatch(
        snapshot(("prod-789", 100, "pending")),
        snapshot(("prod-789", 97, "pending")),
        ExpectedChange("quantity", 100, 97),
        ExpectedChange("status", "pending", "paid"),
    )
    assert message.splitlines()[-1] == (
        "  missing: status 'pending' -> 'paid' (actual: unchanged at 'pending')"
    )


def test_expected_change_when_nothing_changed() -> None:
    """With no change at all, every expected change is missing."""
    message = mismatch(
        snapshot(("prod-789", 100, "ok")),
        snapshot(("prod-789", 100, "ok")),
        ExpectedChange("quantity", 100, 97),
    )
    assert message.splitlines()[-3:] == [
        "  no change",
        "Problems:",
        "  missing: quantity 100 -> 97 (actual: no row changed)",
    ]


def test_no_expected_changes_asserts_that_nothing_changed() -> None:
    """An empty expectation passes on no change and fails on any change."""
    unchanged = snapshot(("prod-789", 100, "ok"))
    assert_change(unchanged.diff(unchanged), [])
    message = mismatch(unchanged, snapshot(("prod-789", 99, "ok")))
    assert message.splitlines()[1:3] == ["Expected exactly:", "  no change"]
    assert message.splitlines()[-1] == "  unexpected: quantity 100 -> 99"


def test_expectations_without_a_row_are_ambiguous_when_several_rows_changed() -> None:
    """When several rows changed, the message asks for the key columns."""
    message = mismatch(
        snapshot(("prod-1", 10, "ok"), ("prod-2", 20, "ok")),
        snapshot(("prod-1", 9, "ok"), ("prod-2", 19, "ok")),
        ExpectedChange("quantity", 10, 9),
    )
    assert message.splitlines()[-1] == (
        "  ambiguous: 2 rows changed, and an expected change does not say which row it is "
        "about; add the key column(s) product_id to the expected changes"
    )


def test_where_says_which_row_an_expected_change_is_about() -> None:
    """Keyed expectations pass on their rows, and name the row and its fate when they fail."""
    before = snapshot(("prod-1", 10, "ok"), ("prod-2", 20, "ok"), ("prod-3", 30, "ok"))
    after = snapshot(
        ("prod-1", 9, "ok"), ("prod-2", 18, "low"), ("prod-3", 30, "ok"), ("prod-5", 1, "new")
    )
    message = mismatch(
        before,
        after,
        ExpectedChange("quantity", 10, 9, where={"product_id": "prod-1"}),
        ExpectedChange("quantity", 20, 19, where={"product_id": "prod-2"}),
        ExpectedChange("quantity", 30, 29, where={"product_id": "prod-3"}),
        ExpectedChange("quantity", 0, 1, where={"product_id": "prod-4"}),
        ExpectedChange("quantity", None, 1, where={"product_id": "prod-5"}),
    )
    assert message.splitlines()[1:7] == [
        "Expected exactly:",
        "  product_id='prod-1'  quantity: 10 -> 9",
        "  product_id='prod-2'  quantity: 20 -> 19",
        "  product_id='prod-3'  quantity: 30 -> 29",
        "  product_id='prod-4'  quantity: 0 -> 1",
        "  product_id='prod-5'  quantity: None -> 1",
    ]
    assert message.splitlines()[-7:] == [
        "Problems:",
        "  missing: quantity 20 -> 19 (actual: 20 -> 18) in row product_id='prod-2'",
        "  missing: quantity 30 -> 29 (actual: that row did not change) in row product_id='prod-3'",
        "  missing: quantity 0 -> 1 (actual: no such row) in row product_id='prod-4'",
        "  missing: quantity None -> 1 (actual: that row was inserted) in row product_id='prod-5'",
        "  unexpected: status 'ok' -> 'low' in row product_id='prod-2'",
        "  unexpected inserted row: product_id='prod-5'  {quantity: 1, status: 'new'}",
    ]


def test_an_expected_column_that_is_not_captured_is_named() -> None:
    """A misspelt expected column is an error listing the captured columns."""
    diff = snapshot(("prod-1", 10, "ok")).diff(snapshot(("prod-1", 9, "ok")))
    with pytest.raises(UnknownName) as error:
        assert_change(diff, [ExpectedChange("quantiy", 10, 9)])
    assert str(error.value).splitlines()[:3] == [
        "No column named 'quantiy' in the capture of the inventory (table inventory).",
        "Did you mean 'quantity'?",
        "Columns there: 'product_id', 'quantity', 'status'",
    ]


# --------------------------------------------------------------------------------------
# Defining a source
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give exactly one of table=... and query=..."),
        ({"table": "t", "query": "SELECT 1"}, "give exactly one of table=... and query=..."),
        ({"query": "SELECT 1 AS id"}, "A snapshot of a query needs the columns that identify"),
        ({"query": "SELECT 1 AS id", "key": "id", "where": {"id": 1}}, "where=... selects rows"),
        ({"table": "t", "key": "id", "ignore": ["id"]}, "Column 'id' is both a key column"),
    ],
)
def test_a_source_is_checked_when_defined(options: dict[str, object], message: str) -> None:
    """Impossible source definitions fail at once, saying what to write instead."""
    with pytest.raises(InvalidInput, match=message.replace(".", r"\.")):
        SnapshotSource(**options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Capturing from a database
# --------------------------------------------------------------------------------------


class Inventory:
    """A uniquely named inventory table in a test database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.table = f"inventory_{uuid.uuid4().hex[:10]}"

    def run(self, statement: str, **params: object) -> None:
        """Run SQL in which ``{table}`` names this table, and commit."""
        with connect(self.url) as connection:
            connection.execute(text(statement.format(table=self.table)), params)

    def source(self, **options: object) -> SnapshotSource:
        """A snapshot source reading this table."""
        return SnapshotSource(table=self.table, database_url=self.url, **options)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/snapshots.db"
    url: str = request.getfixturevalue("postgresql_url")
    return url


@pytest.fixture
def inventory(database_url: str) -> Iterator[Inventory]:
    table = Inventory(database_url)
    table.run(
        "CREATE TABLE {table} (product_id VARCHAR(20) PRIMARY KEY, warehouse VARCHAR(20) "
        "NOT NULL, quantity INTEGER NOT NULL, status VARCHAR(20) NOT NULL, updated_at TIMESTAMP)"
    )
    table.run(
        "INSERT INTO {table} VALUES "
        "('prod-789', 'main', 100, 'in stock', '2024-05-01 10:00:00'), "
        "('prod-123', 'main', 5, 'in stock', '2024-05-01 10:00:00'), "
        "('prod-456', 'north', 0, 'sold out', NULL)"
    )
    yield table
    table.run("DROP TABLE {table}")


def test_capture_reads_a_table_filtered_by_where(inventory: Inventory) -> None:
    """A table source reads the rows its where selects, keyed by the primary key."""
    before = inventory.source(where={"warehouse": "main"}, ignore=["updated_at"]).capture()
    assert before.key_columns == ("product_id",)
    assert before.columns == ("product_id", "warehouse", "quantity", "status")
    assert before.rows == {
        ("prod-123",): {"product_id": "prod-123", "warehouse": "main", "quantity": 5,
                        "status": "in stock"},
        ("prod-789",): {"product_id": "prod-789", "warehouse": "main", "quantity": 100,
                        "status": "in stock"},
    }  # fmt: skip


def test_capture_takes_more_where_values_as_parameters(inventory: Inventory) -> None:
    """Values given to capture() add to the source's where, and appear in its description."""
    source = inventory.source(where={"warehouse": "main"}, name="the inventory")
    captured = source.capture(product_id="prod-789")
    assert list(captured.rows) == [("prod-789",)]
    assert captured.description == (
        f"the inventory (table {inventory.table} where warehouse='main' and product_id='prod-789')"
    )
    assert str(captured).splitlines() == [
        f"{captured.description}: 1 row",
        "  product_id='prod-789'  {warehouse: 'main', quantity: 100, status: 'in stock', "
        "updated_at: 2024-05-01T10:00:00}",
    ]


def test_capture_reads_a_query_keyed_by_declared_columns(inventory: Inventory) -> None:
    """A query source binds its :parameters and indexes rows by the declared key."""
    source = SnapshotSource(
        query=f"SELECT warehouse, SUM(quantity) AS stock FROM {inventory.table} "
        "WHERE status = :status GROUP BY warehouse",
        key="warehouse",
        database_url=inventory.url,
    )
    captured = source.capture(status="in stock")
    assert captured.key_columns == ("warehouse",)
    assert captured.rows == {("main",): {"warehouse": "main", "stock": 105}}


def test_row_order_never_matters(inventory: Inventory) -> None:
    """Rows read in another order, or stored in another order, compare as unchanged."""
    source = SnapshotSource(
        query=f"SELECT product_id, quantity FROM {inventory.table} ORDER BY random()",
        key=["product_id"],
        database_url=inventory.url,
    )
    before = source.capture()
    inventory.run("DELETE FROM {table}")
    inventory.run(
        "INSERT INTO {table} VALUES ('prod-456', 'north', 0, 'sold out', NULL), "
        "('prod-123', 'main', 5, 'in stock', NULL), ('prod-789', 'main', 100, 'in stock', NULL)"
    )
    assert not before.diff(source.capture())


def test_diff_of_database_changes(inventory: Inventory) -> None:
    """Updates, inserts and deletes in the database show as changed, inserted, deleted."""
    before = inventory.source(ignore="updated_at").capture()
    inventory.run("UPDATE {table} SET quantity = 96 WHERE product_id = 'prod-789'")
    inventory.run("INSERT INTO {table} VALUES ('prod-999', 'north', 5, 'new', NULL)")
    inventory.run("DELETE FROM {table} WHERE product_id = 'prod-456'")
    diff = before.diff(before.recapture())
    assert str(diff) == (
        "changed  product_id='prod-789'  quantity: 100 -> 96\n"
        "inserted product_id='prod-999'  {warehouse: 'north', quantity: 5, status: 'new'}\n"
        "deleted  product_id='prod-456'  {warehouse: 'north', quantity: 0, status: 'sold out'}"
    )


def test_ignored_columns_never_count_as_a_change(inventory: Inventory) -> None:
    """A change to an ignored column alone leaves the diff empty."""
    before = inventory.source(ignore=["updated_at"]).capture()
    inventory.run("UPDATE {table} SET updated_at = '2024-06-01 00:00:00'")
    assert not before.diff(before.recapture())


def test_assert_change_on_a_database_change(inventory: Inventory) -> None:
    """The exact change made in the database passes assert_change; a wrong one fails."""
    before = inventory.source(ignore=["updated_at"]).capture(product_id="prod-789")
    inventory.run("UPDATE {table} SET quantity = 97 WHERE product_id = 'prod-789'")
    diff = before.diff(before.recapture())
    assert_change(diff, [ExpectedChange("quantity", parse_value("100"), parse_value("97"))])
    with pytest.raises(
        SnapshotMismatch, match=r"missing: quantity 100 -> 96 \(actual: 100 -> 97\)"
    ):
        assert_change(diff, [ExpectedChange("quantity", 100, 96)])


def test_unknown_table_lists_the_database_tables(inventory: Inventory) -> None:
    """A table the database does not have is an error listing the tables it has."""
    with pytest.raises(UnknownName) as error:
        SnapshotSource(table="no_such_table", database_url=inventory.url).capture()
    assert error.value.kind == "table"
    assert inventory.table in error.value.known
    lines = str(error.value).splitlines()
    assert lines[0] == f"No table named 'no_such_table' in database {inventory.url}."
    assert lines[1].startswith("Tables there: ")


@pytest.mark.parametrize("role", ["where", "key", "ignore"])
def test_unknown_column_names_it_and_lists_the_columns(inventory: Inventory, role: str) -> None:
    """A misspelt column in where, key or ignore is named, with the table's columns."""
    options: dict[str, object] = {
        "where": {"quantiy": 1},
        "key": ["quantiy"],
        "ignore": ["quantiy"],
    }
    with pytest.raises(UnknownName) as error:
        inventory.source(**{role: options[role]}).capture()
    assert str(error.value).splitlines() == [
        f"No column named 'quantiy' in table {inventory.table!r}.",
        "Did you mean 'quantity'?",
        "Columns there: 'product_id', 'quantity', 'status', 'updated_at', 'warehouse'",
        f"The snapshot's {role} names it; check the column's name.",
    ]


def test_unknown_query_key_column_lists_the_query_columns(inventory: Inventory) -> None:
    """A key column the query does not return is named, with the columns it does return."""
    source = SnapshotSource(
        query=f"SELECT product_id, quantity FROM {inventory.table}",
        key="id",
        database_url=inventory.url,
    )
    with pytest.raises(UnknownName, match=r"Columns there: 'product_id', 'quantity'"):
        source.capture()


def test_query_parameters_must_match_its_placeholders(inventory: Inventory) -> None:
    """Missing or unknown query parameters are named, with the parameters it takes."""
    source = SnapshotSource(
        query=f"SELECT * FROM {inventory.table} WHERE warehouse = :warehouse",
        key="product_id",
        database_url=inventory.url,
    )
    with pytest.raises(InvalidInput) as error:
        source.capture(warehuse="main")
    assert str(error.value).endswith(
        "needs :warehouse and has no placeholder :warehuse. "
        "Give capture() exactly its parameters: warehouse."
    )


def test_a_key_shared_by_several_rows_is_rejected(inventory: Inventory) -> None:
    """Key columns that do not identify one row are an error, not a silent overwrite."""
    source = SnapshotSource(
        query=f"SELECT warehouse, quantity FROM {inventory.table}",
        key="warehouse",
        database_url=inventory.url,
    )
    with pytest.raises(InvalidInput, match=r"More than one row of .* has the key warehouse='main'"):
        source.capture()


def test_a_table_without_primary_key_needs_declared_key(inventory: Inventory) -> None:
    """Without a primary key, the source must say which columns identify a row."""
    inventory.run("CREATE TABLE {table}_log (event VARCHAR(20), quantity INTEGER)")
    try:
        with pytest.raises(InvalidInput, match=r"has no primary key.*key=\['event'\]"):
            SnapshotSource(table=f"{inventory.table}_log", database_url=inventory.url).capture()
        declared = SnapshotSource(
            table=f"{inventory.table}_log", key="event", database_url=inventory.url
        )
        assert declared.capture().key_columns == ("event",)
    finally:
        inventory.run("DROP TABLE {table}_log")


def test_the_configured_database_is_the_default(inventory: Inventory) -> None:
    """Without a database_url, a source reads the database of asyncbdd.database_url."""
    set_settings(Settings(database_url=inventory.url))
    assert len(SnapshotSource(table=inventory.table).capture().rows) == 3


# --------------------------------------------------------------------------------------
# Waiting
# --------------------------------------------------------------------------------------


def test_expect_change_sees_a_change_made_by_another_thread(inventory: Inventory) -> None:
    """A change written concurrently is returned as the diff."""
    before = inventory.source(ignore=["updated_at"]).capture(product_id="prod-789")
    go = threading.Event()
    errors: list[BaseException] = []

    def sell_four() -> None:
        go.wait(5)
        try:
            inventory.run("UPDATE {table} SET quantity = 96 WHERE product_id = 'prod-789'")
        except BaseException as error:
            errors.append(error)

    writer = threading.Thread(target=sell_four)
    writer.start()
    go.set()
    diff = expect_change(before, timeout=5)
    writer.join(5)
    assert errors == []
    assert diff.changed == (RowChange({"product_id": "prod-789"}, {"quantity": (100, 96)}),)


def test_expect_change_times_out_showing_the_rows_as_they_stand(inventory: Inventory) -> None:
    """Without a change, the timeout says none was seen and shows the current rows."""
    before = inventory.source().capture(product_id="prod-789")
    with pytest.raises(WaitTimeout) as failure:
        expect_change(before, timeout=0.2)
    lines = str(failure.value).splitlines()
    assert lines[:2] == [
        f"Waited for: a change to table {inventory.table} where product_id='prod-789'",
        "Failed because the deadline passed.",
    ]
    assert "  last value:  <SnapshotDiff: no change>" in lines
    assert lines[-3].startswith(
        "    No row changed, appeared or disappeared since the snapshot taken "
    )
    assert lines[-2:] == [
        f"    table {inventory.table} where product_id='prod-789': 1 row",
        "      product_id='prod-789'  {warehouse: 'main', quantity: 100, status: 'in stock', "
        "updated_at: 2024-05-01T10:00:00}",
    ]


def test_expect_no_change_passes_when_rows_stay(inventory: Inventory) -> None:
    """Rows that stay as they were pass, with an empty diff returned."""
    before = inventory.source().capture()
    assert not expect_no_change(before, during=0.2)


def test_expect_no_change_fails_showing_what_changed(inventory: Inventory) -> None:
    """A change during the window fails at once, showing the diff."""
    before = inventory.source(ignore=["updated_at"]).capture()
    inventory.run("UPDATE {table} SET status = 'reserved' WHERE product_id = 'prod-123'")
    with pytest.raises(WaitAborted) as failure:
        expect_no_change(before, during=0.2, description="the inventory does not change")
    lines = str(failure.value).splitlines()
    assert lines[0] == "Waited for: the inventory does not change"
    assert lines[-2:] == [
        "    What changed since the snapshot:",
        "    changed  product_id='prod-123'  status: 'in stock' -> 'reserved'",
    ]


# --------------------------------------------------------------------------------------
# Unreachable databases
# --------------------------------------------------------------------------------------


def test_an_unreachable_postgresql_server_is_reported() -> None:
    """A closed port gives DatabaseUnavailable naming the database and what to check."""
    set_settings(Settings(connect_timeout=2))
    source = SnapshotSource(
        table="inventory", database_url="postgresql+psycopg://postgres@127.0.0.1:1/test"
    )
    with pytest.raises(DatabaseUnavailable) as error:
        source.capture()
    message = str(error.value)
    assert message.startswith(
        "Could not capture table inventory: database "
        "postgresql+psycopg://postgres@127.0.0.1:1/test cannot be reached: "
    )
    assert message.endswith(
        "Check that the server is running and that asyncbdd.database_url "
        "(or the URL given) is right."
    )


def test_a_sqlite_file_in_a_missing_directory_is_reported(tmp_path: object) -> None:
    """A SQLite file that cannot be opened gives DatabaseUnavailable naming it."""
    url = f"sqlite:///{tmp_path}/missing/inventory.db"
    with pytest.raises(DatabaseUnavailable, match=r"unable to open database file"):
        SnapshotSource(table="inventory", database_url=url).capture()


# --------------------------------------------------------------------------------------
# Not-a-number values: NaN equals NaN in a snapshot
# --------------------------------------------------------------------------------------


def test_nan_equals_nan_in_a_diff() -> None:
    """A float or Decimal NaN read twice is no change; NaN to a number still is one."""
    columns = ("product_id", "price", "cost")
    before = snapshot(("prod-1", float("nan"), Decimal("NaN")), columns=columns)
    same = snapshot(("prod-1", float("nan"), Decimal("NaN")), columns=columns)
    assert not before.diff(same)
    assert before == same
    moved = snapshot(("prod-1", 9.5, Decimal("NaN")), columns=columns)
    assert before.diff(moved).changed == (
        RowChange({"product_id": "prod-1"}, {"price": (before.rows[("prod-1",)]["price"], 9.5)}),
    )


def test_diffs_holding_nan_compare_equal() -> None:
    """Two diffs read apart compare equal when their rows, NaN included, are the same."""
    columns = ("product_id", "price", "cost")
    before = snapshot(("prod-1", 1.0, Decimal("1")), columns=columns)
    first = before.diff(snapshot(("prod-1", float("nan"), Decimal("NaN")), columns=columns))
    second = before.diff(snapshot(("prod-1", float("nan"), Decimal("NaN")), columns=columns))
    assert first == second
    inserted = before.diff(snapshot(("prod-2", float("nan"), Decimal("NaN")), columns=columns))
    assert inserted == before.diff(
        snapshot(("prod-2", float("nan"), Decimal("NaN")), columns=columns)
    )


def test_assert_change_matches_an_expected_nan() -> None:
    """An expected NaN before or after value (float or Decimal) matches a NaN read."""
    columns = ("product_id", "price", "cost")
    before = snapshot(("prod-1", float("nan"), Decimal("NaN")), columns=columns)
    after = snapshot(("prod-1", 9.5, Decimal("NaN")), columns=columns)
    assert_change(before.diff(after), [ExpectedChange("price", float("nan"), 9.5)])
    reverse = after.diff(snapshot(("prod-1", 9.5, Decimal("2")), columns=columns))
    assert_change(reverse, [ExpectedChange("cost", Decimal("NaN"), 2)])


sqlite3.register_converter("NAN_REAL", float)  # SQLite stores a NaN as NULL: read text
sqlite3.register_converter("NAN_DECIMAL", lambda raw: Decimal(raw.decode()))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def priced(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Inventory]:
    """A table whose float ``price`` and decimal ``cost`` columns hold NaN."""
    if request.param == "sqlite":
        table = Inventory(f"sqlite:///{tmp_path}/prices.db?detect_types=1")
        types = "NAN_REAL", "NAN_DECIMAL"
    else:
        table = Inventory(request.getfixturevalue("postgresql_url"))
        types = "DOUBLE PRECISION", "NUMERIC(10, 2)"
    price, cost = types
    table.run(
        f"CREATE TABLE {{table}} (product_id VARCHAR(20) PRIMARY KEY, price {price}, "
        f"cost {cost}, quantity INTEGER NOT NULL)"
    )
    table.run("INSERT INTO {table} VALUES ('prod-1', 'NaN', 'NaN', 100)")
    yield table
    table.run("DROP TABLE {table}")


def test_rows_holding_nan_read_twice_do_not_change(priced: Inventory) -> None:
    """NaN read from the database twice is no change, so waiting for one times out."""
    before = priced.source().capture()
    assert math.isnan(before.rows[("prod-1",)]["price"])  # type: ignore[arg-type]
    assert before.rows[("prod-1",)]["cost"].is_nan()  # type: ignore[attr-defined]
    assert not before.diff(before.recapture())
    with pytest.raises(WaitTimeout, match=r"No row changed, appeared or disappeared"):
        expect_change(before, timeout=0.2)


def test_rows_holding_nan_pass_does_not_change(priced: Inventory) -> None:
    """Rows holding NaN that nobody writes pass "does not change"."""
    before = priced.source().capture()
    assert not expect_no_change(before, during=0.2)


def test_a_wrong_change_beside_nan_settles(priced: Inventory) -> None:
    """A wrong change on a row holding NaN reads the same each time, so it settles and fails."""
    before = priced.source().capture()
    priced.run("UPDATE {table} SET quantity = 96")
    with pytest.raises(WaitAborted) as failure:
        expect_exact_change(before, [ExpectedChange("quantity", 100, 97)], timeout=2, settle=0.2)
    assert "settled: no change for 200 ms" in str(failure.value)


# --------------------------------------------------------------------------------------
# Settling: a match must hold for the settle window; a stable mismatch fails after it
# --------------------------------------------------------------------------------------

SOLD_THREE = [ExpectedChange("quantity", 100, 97)]


@dataclass(frozen=True)
class WatchedSource(SnapshotSource):
    """A snapshot source that keeps its captures and calls ``after_capture(n)`` after the
    n-th one (the probe-side hook that writes at an exact point of a wait)."""

    after_capture: Callable[[int], None] | None = field(default=None, compare=False)
    captures: list[Snapshot] = field(default_factory=list, compare=False)

    def capture(self, **params: object) -> Snapshot:
        captured = super().capture(**params)
        self.captures.append(captured)
        if self.after_capture is not None:
            self.after_capture(len(self.captures))
        return captured


def watched(
    inventory: Inventory, after_capture: Callable[[int], None] | None = None
) -> WatchedSource:
    """The inventory of prod-789, captured through a :class:`WatchedSource`."""
    return WatchedSource(
        table=inventory.table,
        database_url=inventory.url,
        where={"product_id": "prod-789"},
        ignore=("updated_at",),
        after_capture=after_capture,
    )


def test_a_matching_change_passes_only_once_it_held_for_the_settle_window(
    inventory: Inventory,
) -> None:
    """The first matching read does not pass: the same change must be read again a settle
    window later."""
    source = watched(inventory)
    before = source.capture()
    inventory.run("UPDATE {table} SET quantity = 97 WHERE product_id = 'prod-789'")
    diff = expect_exact_change(before, SOLD_THREE, timeout=5, settle=0.2)
    first_match = source.captures[1]
    assert diff.after.taken_at - first_match.taken_at >= 0.2
    assert diff.changed == (RowChange({"product_id": "prod-789"}, {"quantity": (100, 97)}),)


def test_a_change_that_moves_within_the_settle_window_is_read_again(
    inventory: Inventory,
) -> None:
    """Another column changing right after the first matching read is seen, and fails."""

    def reserve_after_first_read(count: int) -> None:
        if count == 2:  # the snapshot, then the wait's first read (which matched)
            inventory.run("UPDATE {table} SET status = 'reserved' WHERE product_id = 'prod-789'")

    source = watched(inventory, reserve_after_first_read)
    before = source.capture()
    inventory.run("UPDATE {table} SET quantity = 97 WHERE product_id = 'prod-789'")
    with pytest.raises(WaitAborted) as failure:
        expect_exact_change(before, SOLD_THREE, timeout=5, settle=0.2)
    assert "unexpected: status 'in stock' -> 'reserved'" in str(failure.value)
    assert isinstance(failure.value.__cause__, SnapshotMismatch)


def test_a_change_written_in_two_steps_passes_once_complete(inventory: Inventory) -> None:
    """A partial change that moves on to the expected one passes: it never settled wrong."""

    def reserve_after_first_read(count: int) -> None:
        if count == 2:
            inventory.run("UPDATE {table} SET status = 'reserved' WHERE product_id = 'prod-789'")

    source = watched(inventory, reserve_after_first_read)
    before = source.capture()
    inventory.run("UPDATE {table} SET quantity = 97 WHERE product_id = 'prod-789'")
    expected = [*SOLD_THREE, ExpectedChange("status", "in stock", "reserved")]
    diff = expect_exact_change(before, expected, timeout=5, settle=0.2)
    assert diff.changed[0].changes == {"quantity": (100, 97), "status": ("in stock", "reserved")}


def test_a_stable_wrong_change_fails_after_the_settle_window(inventory: Inventory) -> None:
    """A wrong change that stays put fails once settled, with the mismatch, not at the
    deadline."""
    before = watched(inventory).capture()
    inventory.run("UPDATE {table} SET quantity = 96 WHERE product_id = 'prod-789'")
    with pytest.raises(WaitAborted) as failure:
        expect_exact_change(before, SOLD_THREE, timeout=3, settle=0.2)
    message = str(failure.value)
    assert message.splitlines()[1] == (
        "Failed because the rows changed, but not as expected, and settled: no change for "
        "200 ms (settle=200 ms)."
    )
    assert "missing: quantity 100 -> 97 (actual: 100 -> 96)" in message
    assert "it had not settled" not in message
    assert isinstance(failure.value.__cause__, SnapshotMismatch)
    assert failure.value.state.elapsed < 3


def test_no_change_yet_waits_for_the_deadline(inventory: Inventory) -> None:
    """An empty diff is not a settled mismatch: nothing happened yet, so it waits it out."""
    before = watched(inventory).capture()
    with pytest.raises(WaitTimeout) as failure:
        expect_exact_change(before, SOLD_THREE, timeout=0.5, settle=0.1)
    assert type(failure.value) is WaitTimeout  # the deadline ended it, no settled verdict
    assert "No row changed, appeared or disappeared since the snapshot" in str(failure.value)


def test_a_change_that_keeps_moving_never_settles(inventory: Inventory) -> None:
    """Rows that change at every read never settle: the wait runs to its deadline."""

    def sell_one_more(count: int) -> None:
        inventory.run("UPDATE {table} SET quantity = quantity - 1 WHERE product_id = 'prod-789'")

    before = watched(inventory, sell_one_more).capture()
    with pytest.raises(WaitTimeout) as failure:
        expect_exact_change(before, [ExpectedChange("quantity", 100, 50)], timeout=0.5,
                              settle=0.2)  # fmt: skip
    assert type(failure.value) is WaitTimeout  # the deadline ended it, no settled verdict
    assert "it had not settled" in str(failure.value)


def test_a_settle_window_of_zero_decides_at_the_first_read(inventory: Inventory) -> None:
    """With settle 0 the first matching read passes and the first wrong one fails."""
    source = watched(inventory)
    before = source.capture()
    inventory.run("UPDATE {table} SET quantity = 97 WHERE product_id = 'prod-789'")
    expect_exact_change(before, SOLD_THREE, timeout=5, settle=0)
    assert len(source.captures) == 2
    with pytest.raises(WaitAborted) as failure:
        expect_exact_change(before, [ExpectedChange("quantity", 100, 96)], timeout=5,
                              settle=0)  # fmt: skip
    assert failure.value.state.attempts == 1


@pytest.mark.parametrize(
    ("settings", "timeout", "settle", "named"),
    [
        (Settings(), 0.5, None, "The settle window (500 ms, setting asyncbdd.settle)"),
        (Settings(), 1, 2, "The settle window (2 s, settle=2 s)"),
        (Settings(timeout_scale=0.4), 1, None, "(400 ms, timeout scale included)"),
    ],
)
def test_a_settle_window_that_does_not_fit_the_timeout_is_refused(
    inventory: Inventory, settings: Settings, timeout: float, settle: float | None, named: str
) -> None:
    """A settle window as long as the deadline or longer is an input error naming the fix."""
    set_settings(settings)
    before = watched(inventory).capture()
    with pytest.raises(InvalidInput) as error:
        expect_exact_change(before, SOLD_THREE, timeout=timeout, settle=settle)
    assert named in str(error.value)
    assert "Give a shorter asyncbdd.settle (or settle=...) or a longer timeout" in str(error.value)


def test_the_change_is_settles_with_the_setting(inventory: Inventory) -> None:
    """expect_last_change reads asyncbdd.settle and fails a settled wrong change early."""
    set_settings(Settings(database_url=inventory.url, settle=0.2))
    phrase = f'the "{inventory.table}" table where product_id is "prod-789"'
    with scenario("settling"):
        take_snapshot(phrase)
        inventory.run("UPDATE {table} SET quantity = 96 WHERE product_id = 'prod-789'")
        expect_subject_change(phrase, timeout=2)
        with pytest.raises(WaitAborted) as failure:
            expect_last_change(SOLD_THREE, "inventory", timeout=2)
    assert "settled: no change for 200 ms (setting asyncbdd.settle)" in str(failure.value)


def test_changes_to_takes_a_settle_window(inventory: Inventory) -> None:
    """expect_exact_subject_change passes a matching change once it held for ``settle``."""
    set_settings(Settings(database_url=inventory.url))
    phrase = f'the "{inventory.table}" table where product_id is "prod-789"'
    with scenario("settling"):
        before = take_snapshot(phrase)
        inventory.run("UPDATE {table} SET quantity = 97 WHERE product_id = 'prod-789'")
        started = before.taken_at
        diff = expect_exact_subject_change(phrase, SOLD_THREE, timeout=2, settle=0.1)
    assert diff.after.taken_at - started >= 0.1


def test_a_mismatch_carries_its_cells_judged_as_evidence() -> None:
    """The evidence of a mismatch holds each changed cell, judged against the expected
    change, and the expected change it lacks; its text is the message."""
    with pytest.raises(SnapshotMismatch) as failure:
        assert_change(
            snapshot(("prod-789", 100, "pending")).diff(snapshot(("prod-789", 96, "paid"))),
            [ExpectedChange("quantity", 100, 97)],
        )
    evidence = evidence_of(failure.value)
    assert evidence is not None
    assert evidence.pattern == "snapshot"
    assert evidence.to_text() == str(failure.value)
    [change] = evidence.sections
    assert isinstance(change, SnapshotChange)
    assert [(row.column, row.change, row.verdict) for row in change.rows] == [
        ("quantity", "changed", "unexpected"),
        ("status", "changed", "unexpected"),
        ("quantity", "expected", "missing"),
    ]
    assert len(evidence.pictures()) == 1
