"""asyncbdd: behaviour-driven testing for asynchronous, event-driven systems.

The engine works with or without behave; behave users import :mod:`asyncbdd.steps`
and call :func:`asyncbdd.hooks.install_hooks` in ``environment.py``.
"""

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
    check_never_reads,
    check_stays,
    fail_at_once_if_value,
    probe,
    read_probe,
    register_probe,
    sql_probe,
    wait_for_value,
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
    wait_for_change,
    wait_for_no_change,
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
    "check_never_reads",
    "check_stays",
    "current_scenario",
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
    "wait_for_change",
    "wait_for_no_change",
    "wait_for_value",
    "wait_stays",
    "wait_until",
    "wait_until_asserted",
]
