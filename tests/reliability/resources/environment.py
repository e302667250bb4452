"""behave environment of the resource checks: asyncbdd's hooks and a small SQLite schema.

Nothing is started here: the brokers, the capture server and the queue readers are the
ones the steps start through the engine, so whatever outlives the run is the engine's.
The run names its database (``-D asyncbdd.database_url=sqlite:///...``) and its queues
(``-D asyncbdd.queues=...``). An in-process caller may put a function under the userdata
key ``resources.after_scenario``; it is called after every scenario, to sample the
process's resources while the run goes on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from asyncbdd import sql_probe
from asyncbdd.database import connect
from asyncbdd.hooks import install_hooks

TRACE_LENGTH = "the trace length of this scenario"
AFTER_SCENARIO_KEY = "resources.after_scenario"

_TABLES = (
    "CREATE TABLE IF NOT EXISTS pokes (id INTEGER PRIMARY KEY, count INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO pokes (id, count) VALUES (1, 0)",
    "CREATE TABLE IF NOT EXISTS trace_events ("
    " id INTEGER PRIMARY KEY, correlation_id VARCHAR NOT NULL, sequence INTEGER,"
    " event_type VARCHAR NOT NULL, service VARCHAR, occurred_at VARCHAR, attributes TEXT)",
)


def before_all(context: Any) -> None:
    with connect(purpose="create the tables of the resource checks") as connection:
        for statement in _TABLES:
            connection.execute(text(statement))
    sql_probe(
        TRACE_LENGTH,
        "SELECT count(*) FROM trace_events WHERE correlation_id = :correlation_id",
    )


def after_scenario(context: Any, scenario: Any) -> None:
    sample = context.config.userdata.get(AFTER_SCENARIO_KEY)
    if callable(sample):
        sample()


install_hooks(globals())
