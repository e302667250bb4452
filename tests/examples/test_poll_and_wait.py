"""Poll and wait: read a value until it is what the test expects, within a deadline.

A probe is anything that reads the system's state: here a SQL query on the shop's SQLite
database, registered once under the phrase the tests use (``sql_probe``), or a plain
function given to the generic engine (``wait_until``). The first check is immediate and
the pauses grow with the time waited, so a test returns within milliseconds of the
value arriving. The system under test is played by a timer that moves the order from
"pending" to "paid" to "shipped" 50 ms later, through its own database connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from asyncbdd import WaitTimeout, aio, expect_stays, expect_value, sql_probe
from asyncbdd.probes import PROBES


class Shop:
    """The system under test's database: one order, "pending" until the shop moves it."""

    def __init__(self, path):
        self.path = path
        self.url = f"sqlite:///{path}"
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE orders (id TEXT PRIMARY KEY, status TEXT NOT NULL)")
            db.execute("INSERT INTO orders VALUES ('ord-1', 'pending')")

    def set_status(self, *statuses: str) -> None:
        for status in statuses:  # one transaction each, as a service writes them
            with sqlite3.connect(self.path) as db:
                db.execute("UPDATE orders SET status = ? WHERE id = 'ord-1'", (status,))

    def status(self) -> str:
        """A plain function that reads the status: a probe for the generic ``wait_until``."""
        with sqlite3.connect(self.path) as db:
            return db.execute("SELECT status FROM orders WHERE id = 'ord-1'").fetchone()[0]


@pytest.fixture
def shop(tmp_path):
    shop = Shop(tmp_path / "shop.db")
    with PROBES.isolated():  # the probe is this module's own: gone after each test
        sql_probe(
            "the order status",
            "SELECT status FROM orders WHERE id = :order_id",
            database_url=shop.url,
        )
        yield shop


def test_the_order_ships(shop, asyncbdd_scenario):
    asyncbdd_scenario.values["order_id"] = "ord-1"  # the probe's :order_id
    threading.Timer(0.05, shop.set_status, ("paid", "shipped")).start()

    expect_value("the order status", "shipped", timeout=5, never="failed")
    expect_stays("the order status", "shipped", during=0.1)


@pytest.mark.asyncio
async def test_awaiting_the_shipped_status(shop, asyncbdd_scenario):
    # shop.status is a plain function: awaited, each check runs it in a worker thread,
    # so the query never stalls the loop, where the shop ships the order 50 ms from now
    asyncio.get_running_loop().call_later(0.05, shop.set_status, "paid", "shipped")

    status = await aio.wait_until(shop.status, lambda status: status == "shipped", timeout=5)

    assert status == "shipped"


def test_a_terminal_state_fails_at_once(shop, asyncbdd_scenario):
    asyncbdd_scenario.values["order_id"] = "ord-1"
    shop.set_status("failed")  # the payment was declined

    with pytest.raises(WaitTimeout) as failure:
        expect_value("the order status", "shipped", timeout=5, never="failed")

    report = str(failure.value)
    assert "it reached a state it must never reach: 'failed'" in report
    assert "values seen" in report
