"""Snapshot comparison: capture rows before an event, then check exactly what it changed.

A :class:`~asyncbdd.SnapshotSource` names the rows that matter (a table filtered by
column values, or a query), here the stock of one product in the shop's SQLite database.
``capture()`` reads them before the event; after it, the wait reads them again until
they differ and the difference has *settled* (not moved for the settle window: a system
may write in several transactions). The change must be exactly the expected one:
another column changing, or a row inserted or deleted, fails too. Ignored columns
(``updated_at``) never count. The system under test is played by a timer that takes the
order's 3 items from stock 50 ms later.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from asyncbdd import (
    ExpectedChange,
    SnapshotSource,
    WaitTimeout,
    aio,
    assert_change,
    expect_exact_change,
)


@pytest.fixture
def stock(tmp_path):
    """The shop's SQLite database (its path), with 100 of product prod-789 in stock."""
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE inventory (product_id TEXT PRIMARY KEY, quantity INTEGER, "
            "updated_at TEXT)"
        )
        db.execute("INSERT INTO inventory VALUES ('prod-789', 100, '2024-05-01')")
        db.execute("INSERT INTO inventory VALUES ('prod-123', 50, '2024-05-01')")
    return path


def take_from_stock(path, product_id: str, quantity: int) -> None:
    """The system under test: it takes the items from stock, then stamps the row."""
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE inventory SET quantity = quantity - ? WHERE product_id = ?",
            (quantity, product_id),
        )
    with sqlite3.connect(path) as db:  # a second transaction, as services often write
        db.execute(
            "UPDATE inventory SET updated_at = datetime('now') WHERE product_id = ?", (product_id,)
        )


def inventory_of(stock):
    return SnapshotSource(
        table="inventory",
        database_url=f"sqlite:///{stock}",
        ignore=["updated_at"],
        name="the inventory",
    )


def test_the_order_takes_its_items_from_stock(stock):
    before = inventory_of(stock).capture(product_id="prod-789")
    threading.Timer(0.05, take_from_stock, (stock, "prod-789", 3)).start()

    expect_exact_change(before, [ExpectedChange("quantity", 100, 97)], timeout=5, settle=0.1)


@pytest.mark.asyncio
async def test_awaiting_the_change_of_the_whole_table(stock):
    before = inventory_of(stock).capture()  # every row: the other product must not change
    asyncio.get_running_loop().call_later(0.05, take_from_stock, stock, "prod-789", 3)

    # each read runs in a worker thread of the wait: a slow query stalls no task
    diff = await aio.expect_change(before, timeout=5)

    assert_change(diff, [ExpectedChange("quantity", 100, 97, where={"product_id": "prod-789"})])


def test_a_wrong_change_fails_once_it_has_settled(stock):
    before = inventory_of(stock).capture(product_id="prod-789")
    take_from_stock(stock, "prod-789", 4)  # one too many: a bug

    with pytest.raises(WaitTimeout) as failure:
        expect_exact_change(before, [ExpectedChange("quantity", 100, 97)], timeout=5, settle=0.1)

    report = str(failure.value)
    assert "the rows changed, but not as expected, and settled" in report
    assert "missing: quantity 100 -> 97 (actual: 100 -> 96)" in report
