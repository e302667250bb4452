"""The trace steps under behave: every phrase passes on a good trace and fails on a bad one.

behave runs in a child process, as CI runs it, on a feature written here. Its one extra
step, "Given the system recorded:", writes the table's events into a SQLite trace table
under the scenario's correlation id; ``asyncbdd.traces.table`` names that table.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine

HEALTHY = """
      | sequence | event_type             | service       | at_ms |
      | 1        | order.created          | orders        | 0     |
      | 2        | payment.initiated      | payments      | 50    |
      | 3        | payment.completed      | payments      | 120   |
      | 4        | inventory.reserved     | inventory     | 160   |
      | 5        | shipping.label_created | shipping      | 300   |
      | 6        | notification.sent      | notifications | 900   |
"""
SWAPPED = """
      | sequence | event_type             | service       | at_ms |
      | 1        | order.created          | orders        | 0     |
      | 2        | shipping.label_created | shipping      | 50    |
      | 3        | payment.completed      | payments      | 120   |
      | 4        | notification.sent      | notifications | 3200  |
      | 5        | payment.completed      | payments      | 3300  |
      | 6        | payment.failed         | payments      | 3400  |
"""
CHAIN = """
      | event_type             |
      | order.created          |
      | payment.completed      |
      | shipping.label_created |
"""
EXACT = """
      | event_type             |
      | order.created          |
      | payment.initiated      |
      | payment.completed      |
      | inventory.reserved     |
      | shipping.label_created |
      | notification.sent      |
"""

# (scenario name, recorded events, the step under test, its table, expected outcome:
# "passed", text the failure prints, or "error: " and text the error prints)
CASES = [
    (
        "chain within passes",
        HEALTHY,
        "Then within 5 seconds the trace for this order contains, in order:",
        CHAIN,
        "passed",
    ),
    (
        "chain within fails",
        SWAPPED,
        "Then within 5 seconds the trace for this order contains, in order:",
        CHAIN,
        "shipping.label_created (#2) came before payment.completed (#3)",
    ),
    ("chain passes", HEALTHY, "Then the trace contains, in order:", CHAIN, "passed"),
    ("chain fails", SWAPPED, "Then the trace contains, in order:", CHAIN, "<- out of order"),
    (
        "exact within passes",
        HEALTHY,
        "Then within 5 seconds the trace contains exactly, in order:",
        EXACT,
        "passed",
    ),
    (
        "exact within fails",
        SWAPPED,
        "Then within 5 seconds the trace contains exactly, in order:",
        CHAIN,
        "the trace has events the chain does not: notification.sent (#4)",
    ),
    (
        "exact passes",
        HEALTHY,
        "Then the trace for this order contains exactly, in order:",
        EXACT,
        "passed",
    ),
    (
        "exact fails",
        SWAPPED,
        "Then the trace for this order contains exactly, in order:",
        CHAIN,
        "<- duplicate",
    ),
    (
        "before passes",
        HEALTHY,
        'Then "payment.completed" occurs before "shipping.label_created"',
        None,
        "passed",
    ),
    (
        "before fails",
        SWAPPED,
        'Then "payment.completed" occurs before "shipping.label_created"',
        None,
        "Failed because the events are out of order",
    ),
    (
        "before in passes",
        HEALTHY,
        'Then in the trace for this order "order.created" occurs before "payment.completed"',
        None,
        "passed",
    ),
    (
        "before in fails",
        SWAPPED,
        'Then in the trace for this order "payment.completed" occurs before'
        ' "shipping.label_created"',
        None,
        "came before payment.completed (#3)",
    ),
    (
        "before within passes",
        HEALTHY,
        'Then within 5 seconds "payment.completed" occurs before "shipping.label_created"',
        None,
        "passed",
    ),
    (
        "before within fails",
        SWAPPED,
        'Then within 5 seconds in the trace "payment.completed" occurs before'
        ' "shipping.label_created"',
        None,
        "deadline:    5 s",
    ),
    (
        "within after passes",
        HEALTHY,
        'Then "notification.sent" occurs within 2 seconds after "payment.completed"',
        None,
        "passed",
    ),
    (
        "within after fails",
        SWAPPED,
        'Then "notification.sent" occurs within 2 seconds after "payment.completed"',
        None,
        "notification.sent (#4) came 3.08 s after payment.completed (#3), later than the 2 s"
        " allowed",
    ),
    (
        "within after in passes",
        HEALTHY,
        'Then within 5 seconds in the trace "shipping.label_created" occurs within 500 ms'
        ' after "order.created"',
        None,
        "passed",
    ),
    (
        "within after in fails",
        HEALTHY,
        'Then in the trace for this order "notification.sent" occurs within 500 ms after'
        ' "inventory.reserved"',
        None,
        "later than the 500 ms allowed",
    ),
    (
        "within after within fails",
        SWAPPED,
        'Then within 5 seconds "shipping.label_created" occurs within 1 second after'
        ' "payment.completed"',
        None,
        "the events are out of order",
    ),
    ("once passes", HEALTHY, 'Then "payment.completed" occurs exactly once', None, "passed"),
    (
        "once fails",
        SWAPPED,
        'Then "payment.completed" occurs exactly once',
        None,
        "payment.completed occurs 2 times: payment.completed (#3), payment.completed (#5)",
    ),
    (
        "once in passes",
        HEALTHY,
        'Then in the trace for this order "payment.completed" occurs exactly once',
        None,
        "passed",
    ),
    (
        "once within fails",
        SWAPPED,
        'Then within 5 seconds in the trace "payment.completed" occurs exactly once',
        None,
        "<- duplicate",
    ),
    (
        "once within passes",
        HEALTHY,
        'Then within 5 seconds "order.created" occurs exactly once',
        None,
        "passed",
    ),
    (
        "none passes",
        HEALTHY,
        'Then the trace for this order has no "payment.failed" event within 200 ms',
        None,
        "passed",
    ),
    (
        "none fails",
        SWAPPED,
        'Then the trace for this order has no "payment.failed" event within 200 ms',
        None,
        "Failed because payment.failed (#6) is in the trace.",
    ),
    (
        "short none passes",
        HEALTHY,
        'Then no "payment.failed" event occurs within 200 ms',
        None,
        "passed",
    ),
    (
        "short none fails",
        SWAPPED,
        'Then no "payment.failed" event occurs within 2 seconds',
        None,
        "<- must not occur",
    ),
    (
        "bad table",
        HEALTHY,
        "Then the trace contains, in order:",
        "\n      | event | service |\n      | a     | b       |\n",
        "error: A trace table has one column, | event_type |",
    ),
]

STEPS = """
from asyncbdd.steps import *  # noqa: F403
from behave import given
from sqlalchemy import create_engine, text

from asyncbdd.config import get_settings


@given("the system recorded:")
def step_recorded(context):
    engine = create_engine(get_settings().database_url)
    with engine.begin() as connection:
        for row in context.table:
            connection.execute(
                text(
                    "INSERT INTO trace_events (correlation_id, sequence, event_type, service,"
                    " occurred_at) VALUES (:cid, :sequence, :event_type, :service,"
                    " strftime('%Y-%m-%dT%H:%M:%f', '2024-05-01 10:00:00', :offset))"
                ),
                {
                    "cid": context.asyncbdd.correlation_id,
                    "sequence": int(row["sequence"]),
                    "event_type": row["event_type"],
                    "service": row["service"],
                    "offset": f"+{int(row['at_ms']) / 1000} seconds",
                },
            )
    engine.dispose()
"""

ENVIRONMENT = """
from asyncbdd.hooks import install_hooks

install_hooks(globals())
"""


def feature_text() -> str:
    """One scenario per case: record the events, then the step under test."""
    scenarios = []
    for name, recorded, step, table, _ in CASES:
        scenarios.append(
            f"  Scenario: {name}\n    Given the system recorded:{recorded}    {step}"
            + (table or "\n")
        )
    return "Feature: trace steps\n\n" + "\n".join(scenarios)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """Run the feature once; each scenario's status and what behave printed for it."""
    root = tmp_path_factory.mktemp("trace_steps")
    (root / "features" / "steps").mkdir(parents=True)
    (root / "features" / "trace.feature").write_text(feature_text())
    (root / "features" / "steps" / "trace_test_steps.py").write_text(STEPS)
    (root / "features" / "environment.py").write_text(textwrap.dedent(ENVIRONMENT))
    database = f"sqlite:///{root / 'traces.db'}"
    engine = create_engine(database)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE trace_events (id INTEGER PRIMARY KEY, correlation_id TEXT NOT NULL,"
            " sequence INTEGER, event_type TEXT NOT NULL, service TEXT,"
            " occurred_at TEXT, attributes TEXT)"
        )
    engine.dispose()
    report = root / "report.json"
    defines = {
        "asyncbdd.database_url": database,
        "asyncbdd.traces.table": "trace_events",
        "asyncbdd.timeout": "5 seconds",
        "asyncbdd.grace": "100 ms",
    }
    command = [sys.executable, "-m", "behave", "features", "-f", "json", "-o", str(report)]
    command += ["-f", "plain", "--no-timings", "--no-capture"]
    for key, value in defines.items():
        command += ["-D", f"{key}={value}"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    completed = subprocess.run(
        command,
        cwd=root,
        env={**environment, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert report.exists(), completed.stdout + completed.stderr
    statuses = {
        element["name"]: element["status"]
        for feature in json.loads(report.read_text())
        for element in feature.get("elements", [])
    }
    parts = re.split(r"^\s*Scenario: (.+)$", completed.stdout, flags=re.MULTILINE)
    printed = {name.strip(): text for name, text in zip(parts[1::2], parts[2::2], strict=True)}
    assert statuses, completed.stdout + completed.stderr
    return {name: (status, printed.get(name, "")) for name, status in statuses.items()}


@pytest.mark.parametrize(
    ("name", "expected"), [(case[0], case[4]) for case in CASES], ids=[case[0] for case in CASES]
)
def test_each_step_passes_or_fails_as_it_should(
    outcomes: dict[str, tuple[str, str]], name: str, expected: str
) -> None:
    """A good trace passes the step; a bad one fails it, and a malformed step errs, saying why."""
    status, printed = outcomes[name]
    if expected == "passed":
        assert status == "passed", printed
    elif expected.startswith("error: "):
        assert status == "error", printed
        assert expected.removeprefix("error: ") in printed
    else:
        assert status == "failed", printed
        assert expected in printed
