"""asyncbdd: behaviour-driven testing for asynchronous, event-driven systems.

The engine works with or without behave; behave users import :mod:`asyncbdd.steps`
and call :func:`asyncbdd.hooks.install_hooks` in ``environment.py``; pytest users get
the plugin's fixtures (:mod:`asyncbdd.pytest_plugin`); code in an event loop awaits the
twins in :mod:`asyncbdd.aio`.

The waits, probes and snapshots named here are imported on first use: the pytest plugin
imports this package in every pytest run of a project that has asyncbdd installed, and a
run that uses none of it should not pay for SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from asyncbdd.config import Settings, get_settings, load_settings, set_settings
from asyncbdd.durations import parse_count, parse_duration
from asyncbdd.errors import (
    AsyncBddError,
    BudgetExceeded,
    ConfigurationError,
    DatabaseUnavailable,
    ExpectationFailed,
    InvalidInput,
    TripwireTripped,
    UnknownName,
    WaitAborted,
    WaitTimeout,
)
from asyncbdd.scenario import Scenario, current_scenario, scenario
from asyncbdd.secrets import add_secret_names
from asyncbdd.tripwires import Tripwire

if TYPE_CHECKING:
    from asyncbdd.probes import (
        expect_never,
        expect_stays,
        expect_value,
        fail_at_once_if_value,
        probe,
        read_probe,
        register_probe,
        sql_probe,
    )
    from asyncbdd.snapshot_subjects import ignore_columns, snapshot_source, take_snapshot
    from asyncbdd.snapshots import (
        ExpectedChange,
        Snapshot,
        SnapshotDiff,
        SnapshotSource,
        assert_change,
        expect_change,
        expect_exact_change,
        expect_no_change,
    )
    from asyncbdd.wait import (
        Exponential,
        Fibonacci,
        Fixed,
        Proportional,
        WaitOutcome,
        met_within,
        time_budget,
        wait_stays,
        wait_until,
        wait_until_asserted,
    )

__version__ = "0.1.0"

_ON_FIRST_USE = {
    "asyncbdd.probes": (
        "expect_never",
        "expect_stays",
        "expect_value",
        "fail_at_once_if_value",
        "probe",
        "read_probe",
        "register_probe",
        "sql_probe",
    ),
    "asyncbdd.snapshot_subjects": ("ignore_columns", "snapshot_source", "take_snapshot"),
    "asyncbdd.snapshots": (
        "ExpectedChange",
        "Snapshot",
        "SnapshotDiff",
        "SnapshotSource",
        "assert_change",
        "expect_change",
        "expect_exact_change",
        "expect_no_change",
    ),
    "asyncbdd.wait": (
        "Exponential",
        "Fibonacci",
        "Fixed",
        "Proportional",
        "WaitOutcome",
        "met_within",
        "time_budget",
        "wait_stays",
        "wait_until",
        "wait_until_asserted",
    ),
}
_DEPRECATED = {
    # the names of the last release: each warns when called, and goes in the next one
    "asyncbdd.probes": ("check_never_reads", "check_stays", "wait_for_value"),
    "asyncbdd.snapshots": ("wait_for_change", "wait_for_no_change"),
}
_MODULE_OF = {
    name: module
    for table in (_ON_FIRST_USE, _DEPRECATED)
    for module, names in table.items()
    for name in names
}

__all__ = [
    "AsyncBddError",
    "BudgetExceeded",
    "ConfigurationError",
    "DatabaseUnavailable",
    "ExpectationFailed",
    "ExpectedChange",
    "Exponential",
    "Fibonacci",
    "Fixed",
    "InvalidInput",
    "Proportional",
    "Scenario",
    "Settings",
    "Snapshot",
    "SnapshotDiff",
    "SnapshotSource",
    "Tripwire",
    "TripwireTripped",
    "UnknownName",
    "WaitAborted",
    "WaitOutcome",
    "WaitTimeout",
    "__version__",
    "add_secret_names",
    "assert_change",
    "current_scenario",
    "expect_change",
    "expect_exact_change",
    "expect_never",
    "expect_no_change",
    "expect_stays",
    "expect_value",
    "fail_at_once_if_value",
    "get_settings",
    "ignore_columns",
    "load_settings",
    "met_within",
    "parse_count",
    "parse_duration",
    "probe",
    "read_probe",
    "register_probe",
    "scenario",
    "set_settings",
    "snapshot_source",
    "sql_probe",
    "take_snapshot",
    "time_budget",
    "wait_stays",
    "wait_until",
    "wait_until_asserted",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'asyncbdd' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})
