"""The demo features run in parallel give the results of a serial run, with no cross-talk.

One set of brokers serves every run here (started in this process). Against it:

* a serial run: plain behave against a demo service started on its own
  (``python -m asyncbdd.demo``) on a fresh PostgreSQL schema;
* a parallel run: behavex, 4 processes, one scenario per task, against a fresh service and
  schema (the features fix some order ids, "ord-1", so a second run needs a new database).
  Its workers share the service, its database and the queues, so a scenario's webhook
  receiver is called for the others' orders too, and the queues hold their messages: the
  correlation ids must keep each scenario to its own (setup.cfg sets it for webhooks);
* two full behave runs at once, each with its in-process service and database.

PostgreSQL rather than SQLite is the shared database: it is what a team's service would
use, and five processes then read it while the service writes, which SQLite serialises.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from demo_features import (
    ALL_SCENARIOS,
    Brokers,
    Outcome,
    demo_service,
    failed,
    postgresql_schema,
    run_behave,
    run_behavex,
    statuses,
)

PROCESSES = 4
Report = Callable[[str, Sequence[str], Sequence[Sequence[object]]], None]


@dataclass(frozen=True)
class SerialRun:
    """The outcomes of the serial run, and how long it took."""

    outcomes: dict[str, Outcome]
    seconds: float


@pytest.fixture(scope="module")
def serial_run(
    separate_brokers: Brokers, postgresql_url: str, tmp_path_factory: pytest.TempPathFactory
) -> SerialRun:
    """The features run by plain behave against a demo service of their own; the service
    is stopped after, so that no other reads the Kafka topic the parallel run publishes on."""
    directory = tmp_path_factory.mktemp("serial")
    with (
        postgresql_schema(postgresql_url, "asyncbdd_serial") as database_url,
        demo_service(database_url, separate_brokers, directory / "demo.log") as url,
    ):
        started = time.monotonic()
        outcomes = run_behave(
            directory,
            defines={
                **separate_brokers.defines,
                "demo.url": url,
                "asyncbdd.database_url": database_url,
            },
            environment=separate_brokers.environment,
        )
        seconds = time.monotonic() - started
    assert set(outcomes) == ALL_SCENARIOS
    assert failed(outcomes) == set(), {name: outcomes[name].report for name in failed(outcomes)}
    return SerialRun(outcomes, seconds)


def test_a_parallel_run_gives_the_results_of_a_serial_run(
    tmp_path: Path,
    separate_brokers: Brokers,
    postgresql_url: str,
    serial_run: SerialRun,
    reliability_report: Report,
) -> None:
    """behavex with 4 processes on one service, database and set of brokers: same statuses."""
    with (
        postgresql_schema(postgresql_url, "asyncbdd_parallel") as database_url,
        demo_service(database_url, separate_brokers, tmp_path / "demo.log") as url,
    ):
        started = time.monotonic()
        parallel = run_behavex(
            tmp_path / "behavex",
            "features",
            processes=PROCESSES,
            defines={
                **separate_brokers.defines,
                "demo.url": url,
                "asyncbdd.database_url": database_url,
            },
            environment=separate_brokers.environment,
        )
        seconds = time.monotonic() - started
    reliability_report(
        "parallel run: wall time",
        ["run", "seconds"],
        [
            ("serial (behave)", f"{serial_run.seconds:.1f}"),
            (f"parallel (behavex, {PROCESSES} processes)", f"{seconds:.1f}"),
        ],
    )
    outcomes = parallel.outcomes
    assert failed(outcomes) == set(), {name: outcomes[name].report for name in failed(outcomes)}
    assert statuses(outcomes) == statuses(serial_run.outcomes)
    workers = set(parallel.workers.values()) - {"MainProcess"}  # where @SERIAL ones run
    assert len(workers) > 1, f"the scenarios did not run in parallel: {parallel.workers}"


def test_two_full_runs_at_once_share_the_brokers(
    tmp_path: Path, separate_brokers: Brokers, serial_run: SerialRun, reliability_report: Report
) -> None:
    """Two behave runs at once, each with its own service and database: same statuses."""

    def run(name: str) -> dict[str, Outcome]:
        directory = tmp_path / name
        directory.mkdir()
        # The demo service reads every order on its topic (no consumer group), as two
        # deployments of a service would: each run's service gets a topic of its own. The
        # SQS queues and the brokers stay shared.
        queues = "billing = sqs:billing, shipping = sqs:shipping, inventory = sqs:inventory"
        return run_behave(
            directory,
            defines={
                **separate_brokers.defines,
                "asyncbdd.queues": f"{queues}, order.created = kafka:order.created.{name}",
            },
            environment=separate_brokers.environment,
        )

    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run, ["first", "second"]))
    seconds = time.monotonic() - started
    reliability_report(
        "concurrent runs: wall time",
        ["run", "seconds"],
        [("two at once (behave)", f"{seconds:.1f}")],
    )
    for outcomes in runs:
        assert failed(outcomes) == set(), {n: outcomes[n].report for n in failed(outcomes)}
        assert statuses(outcomes) == statuses(serial_run.outcomes)


MODULE_LEVEL_ENVIRONMENT = """\
from asyncbdd import sql_probe
from asyncbdd.hooks import install_hooks

sql_probe("the answer", "SELECT 42")

install_hooks(globals())
"""


def test_registrations_at_module_level_survive_behavex_running_behave_again(
    tmp_path: Path,
) -> None:
    """behavex executes environment.py more than once in a worker: a probe registered at
    module level, as the README shows, is that code run again, not a duplicate name."""
    features = tmp_path / "project" / "features"
    (features / "steps").mkdir(parents=True)
    (features / "environment.py").write_text(MODULE_LEVEL_ENVIRONMENT)
    (features / "steps" / "asyncbdd_steps.py").write_text("from asyncbdd.steps import *\n")
    scenarios = "".join(
        f"  Scenario: {name}\n    Then within 1 second the answer is 42\n"
        for name in ("one", "two", "three")
    )
    (features / "answer.feature").write_text(f"Feature: the answer\n{scenarios}")
    run = run_behavex(
        tmp_path / "behavex",
        "features",
        processes=2,
        defines={"asyncbdd.database_url": f"sqlite:///{tmp_path / 'answer.db'}"},
        directory=features.parent,
    )
    assert statuses(run.outcomes) == dict.fromkeys(("one", "two", "three"), "passed"), {
        name: outcome.report for name, outcome in run.outcomes.items()
    }
