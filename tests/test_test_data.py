"""Test data steps: rows a scenario upserts or deletes, and puts back when it ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from asyncbdd.config import Settings, set_settings
from asyncbdd.database import dispose_engines
from asyncbdd.errors import InvalidInput, UnknownName
from asyncbdd.scenario import end_scenario, scenario
from asyncbdd.test_data import delete_rows, put_rows


@pytest.fixture
def stock(tmp_path: Path) -> Iterator[str]:
    """A SQLite database with a ``stock`` table of two rows, in force as the database."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE stock (sku TEXT PRIMARY KEY, quantity INTEGER)"))
        connection.execute(text("CREATE TABLE notes (line TEXT)"))
        connection.execute(text("INSERT INTO stock VALUES ('sku-1', 5), ('sku-2', 7)"))
    engine.dispose()
    set_settings(Settings(database_url=url))
    yield url
    end_scenario()
    dispose_engines()
    set_settings(None)


def rows(url: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT sku, quantity FROM stock ORDER BY sku")).all()
    engine.dispose()
    return [tuple(row) for row in found]


def test_rows_are_upserted_by_key_and_put_back_at_the_end(stock: str) -> None:
    """An existing key is updated and a new one inserted; after the scenario both are as
    they were."""
    with scenario("seed"):
        put_rows("stock", [{"sku": "sku-1", "quantity": 50}, {"sku": "sku-9", "quantity": 10}])
        assert rows(stock) == [("sku-1", 50), ("sku-2", 7), ("sku-9", 10)]
    assert rows(stock) == [("sku-1", 5), ("sku-2", 7)]


def test_deleted_rows_come_back_at_the_end(stock: str) -> None:
    """Rows deleted by a scenario are there again once it ends."""
    with scenario("delete"):
        assert delete_rows("stock", {"sku": "sku-2"}) == 1
        assert rows(stock) == [("sku-1", 5)]
    assert rows(stock) == [("sku-1", 5), ("sku-2", 7)]


def test_kept_rows_stay(stock: str) -> None:
    """Data given with keep=True outlives the scenario."""
    with scenario("keep"):
        put_rows("stock", [{"sku": "sku-3", "quantity": 1}], keep=True)
    assert ("sku-3", 1) in rows(stock)


def test_changes_are_undone_in_reverse_order(stock: str) -> None:
    """A row set twice in one scenario ends as it was before the first."""
    with scenario("twice"):
        put_rows("stock", [{"sku": "sku-1", "quantity": 50}])
        put_rows("stock", [{"sku": "sku-1", "quantity": 60}])
    assert rows(stock) == [("sku-1", 5), ("sku-2", 7)]


def test_a_row_without_its_key_is_refused(stock: str) -> None:
    """A row that does not name its primary key cannot be upserted: the error names it."""
    with scenario("no key"), pytest.raises(InvalidInput, match="must give its key \\(sku\\)"):
        put_rows("stock", [{"quantity": 1}])


def test_an_unknown_column_is_named(stock: str) -> None:
    """A mistyped column is an UnknownName listing the table's columns."""
    with scenario("typo"), pytest.raises(UnknownName, match="quantitty"):
        put_rows("stock", [{"sku": "sku-1", "quantitty": 1}])


def test_a_table_without_a_primary_key_is_refused(stock: str) -> None:
    """Rows of a table with no key could not be put back: refused with the reason."""
    with scenario("no primary key"), pytest.raises(InvalidInput, match="no primary key"):
        put_rows("notes", [{"line": "x"}])
