"""behave environment of the demo: asyncbdd's hooks, and the order service under test.

This is what a team writes for its own service: one call installs asyncbdd's hooks, and
a few lines say what "the order status" and "the inventory of product X" mean.

The demo service starts once per run, in-process, and is reached only over HTTP and SQL.
``-D demo.faults=wrong-quantity`` (or ``ASYNCBDD_DEMO_FAULTS``) makes it misbehave, to
prove the features fail when they should.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from asyncbdd import get_settings, ignore_columns, set_settings, snapshot_source, sql_probe
from asyncbdd.demo import OrderService, parse_faults
from asyncbdd.hooks import install_hooks


def before_all(context: Any) -> None:
    settings = get_settings()
    if settings.database_url is None:
        context.demo_directory = tempfile.TemporaryDirectory(prefix="asyncbdd-demo-")
        database = Path(context.demo_directory.name) / "orders.db"
        settings = settings.replace(database_url=f"sqlite:///{database}")
        set_settings(settings)
    faults = context.config.userdata.get("demo.faults", os.environ.get("ASYNCBDD_DEMO_FAULTS", ""))
    context.order_service = OrderService(
        settings.database_url, faults=parse_faults(faults), jitter=(0.05, 0.2)
    )
    context.order_service.start()

    sql_probe("the order status", "SELECT status FROM orders WHERE id = :order_id")
    sql_probe('the status of order "{order_id}"', "SELECT status FROM orders WHERE id = :order_id")
    sql_probe(
        'the stock of product "{product_id}"',
        "SELECT quantity FROM inventory WHERE product_id = :product_id",
    )
    snapshot_source(
        'the inventory of product "{product_id}"', table="inventory", ignore=["updated_at"]
    )
    ignore_columns("inventory", "updated_at")


def after_all(context: Any) -> None:
    context.order_service.stop()
    if hasattr(context, "demo_directory"):
        context.demo_directory.cleanup()


install_hooks(globals())
