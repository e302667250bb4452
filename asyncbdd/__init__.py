"""asyncbdd: behaviour-driven testing for asynchronous, event-driven systems.

The engine works with or without behave; behave users import :mod:`asyncbdd.steps`
and call :func:`asyncbdd.hooks.install_hooks` in ``environment.py``.
"""

from asyncbdd import probes as _probes
from asyncbdd import snapshots as _snapshots
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
from asyncbdd.scenario import Scenario, current_scenario, scenario
from asyncbdd.secrets import add_secret_names
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
from asyncbdd.tripwires import Tripwire
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

# The names of the last release: each warns when called, and goes in the next one.
check_never_reads = _probes.check_never_reads
check_stays = _probes.check_stays
wait_for_value = _probes.wait_for_value
wait_for_change = _snapshots.wait_for_change
wait_for_no_change = _snapshots.wait_for_no_change
