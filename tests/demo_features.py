"""Running the demo features with behave in a child process, as CI does, and reading the result.

The feature-level tests (``test_features.py`` and ``tests/reliability/``) all run behave
this way: one child process per run, the JSON formatter for each scenario's status and
step durations, the plain formatter for the text a user reads when a scenario fails.
They may run behavex instead (:func:`run_behavex`), against brokers and a demo service
started apart from the runs (:func:`started_brokers`, :func:`demo_service`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from asyncbdd.infra.kafka_broker import EmbeddedKafka
from asyncbdd.infra.sqs_server import EMBEDDED_REGION, EmbeddedSqs

ROOT = Path(__file__).resolve().parents[1]

PENDING = "A placed order is pending within seconds"
SHIPS = "A placed order ships and never fails on the way"
SHIPS_AFTER_PAYMENT = "An order ships only after it has been paid, which takes a moment"
NEVER_INSTANT = "Shipping is never instant"
STOCK_100_TO_97 = "Ordering 3 of a product takes its stock from 100 to 97"
ONE_ROW_CHANGES = "An order changes one row of the inventory table and no other"
OTHER_PRODUCT = "An order for one product leaves another product's stock alone"
EACH_QUEUE = "Each downstream queue receives exactly one message for a paid order"
BILLING_MESSAGE = "The billing message names the order and its amount"
INVENTORY_MESSAGE = "The inventory message says how much stock the order took"
UNPAID_BILLS_NOBODY = "An order that cannot be paid bills nobody"
KAFKA_BILLED = "An order published on Kafka ships and is billed"
KAFKA_STOCK = "An order published on Kafka takes its quantity from stock"
ON_THE_TOPIC = "The published order is on the topic once, under its key"
WEBHOOK_CALLED = "The webhook receives the order, its amount and its status"
WEBHOOK_RETRIED = "A webhook that fails once is called again"
UNPAID_NO_WEBHOOK = "An order that cannot be paid calls no webhook"
FULL_CHAIN = "A paid order goes through every step, in order"
CHAIN_LINKS = "Payment completes once, before shipping, and the customer hears soon after"
DECLINED_NO_PAYMENT = "A declined order never completes a payment"
ACROSS_CHANNELS = "An accepted order is paid, then the shop is called, then it ships"
ALL_SCENARIOS = frozenset(
    {
        PENDING,
        SHIPS,
        SHIPS_AFTER_PAYMENT,
        NEVER_INSTANT,
        STOCK_100_TO_97,
        ONE_ROW_CHANGES,
        OTHER_PRODUCT,
        EACH_QUEUE,
        BILLING_MESSAGE,
        INVENTORY_MESSAGE,
        UNPAID_BILLS_NOBODY,
        KAFKA_BILLED,
        KAFKA_STOCK,
        ON_THE_TOPIC,
        WEBHOOK_CALLED,
        WEBHOOK_RETRIED,
        UNPAID_NO_WEBHOOK,
        FULL_CHAIN,
        CHAIN_LINKS,
        DECLINED_NO_PAYMENT,
        ACROSS_CHANNELS,
    }
)
NEGATIVE_ABOUT_UNPAID = frozenset({UNPAID_BILLS_NOBODY, UNPAID_NO_WEBHOOK, DECLINED_NO_PAYMENT})


@dataclass(frozen=True)
class StepRun:
    """One step as behave ran it: its text, the step module that ran it, and how long."""

    text: str
    module: str
    status: str
    seconds: float


@dataclass(frozen=True)
class Outcome:
    """How one scenario ended, what behave printed for it, and its steps."""

    status: str
    report: str
    steps: tuple[StepRun, ...] = ()


def run_behave(
    output: Path,
    *paths: str,
    defines: dict[str, str] | None = None,
    environment: dict[str, str] | None = None,
    command: tuple[str, ...] = (sys.executable, "-m", "behave"),
    timeout: float = 240,
) -> dict[str, Outcome]:
    """Run behave in a child process, as CI does; return each scenario's outcome by name.

    ``ASYNCBDD_*`` variables of this process are not passed on: a run sees only the
    settings the test gives it. ``output`` is a directory for the JSON report.
    """
    report = output / "report.json"
    arguments = [*command, *paths, "-f", "json", "-o", str(report), "-f", "plain", "--no-timings"]
    completed = _run(arguments, defines, environment, timeout)
    outcomes = read_report(report, completed.stdout) if report.exists() else {}
    assert outcomes, f"behave ran no scenario:\n{completed.stdout}\n{completed.stderr}"
    return outcomes


def _run(
    arguments: list[str],
    defines: dict[str, str] | None,
    environment: dict[str, str] | None,
    timeout: float,
    directory: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    """Run a behave-like command in ``directory`` with ``-D`` defines, passing on none of
    this process's ``ASYNCBDD_*`` variables, only those in ``environment``."""
    for key, value in (defines or {}).items():
        arguments = [*arguments, "-D", f"{key}={value}"]
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    return subprocess.run(
        arguments,
        cwd=directory,
        env={**inherited, **(environment or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def read_report(report: Path, plain_output: str) -> dict[str, Outcome]:
    """Each scenario of a behave JSON report, with its part of the plain formatter's text."""
    texts = _split_by_scenario(plain_output)
    return {
        element["name"]: Outcome(
            element["status"],
            texts.get(element["name"].strip(), ""),
            tuple(_step(step) for step in element.get("steps", []) if "result" in step),
        )
        for feature in json.loads(report.read_text())
        for element in feature.get("elements", [])
        if element["type"] == "scenario"
    }


def _step(step: dict[str, object]) -> StepRun:
    match = step.get("match") or {}
    result = step["result"]
    assert isinstance(match, dict)
    assert isinstance(result, dict)
    return StepRun(
        text=f"{step['keyword']} {step['name']}",
        module=Path(str(match.get("location", "")).partition(":")[0]).stem,
        status=str(result["status"]),
        seconds=float(result.get("duration", 0.0)),
    )


def _split_by_scenario(output: str) -> dict[str, str]:
    parts = re.split(r"^\s*Scenario(?: Outline)?: (.+)$", output, flags=re.MULTILINE)
    return {name.strip(): text for name, text in zip(parts[1::2], parts[2::2], strict=True)}


def failed(outcomes: dict[str, Outcome]) -> set[str]:
    """The names of the scenarios that did not pass."""
    return {name for name, outcome in outcomes.items() if outcome.status != "passed"}


def assert_diagnostics(
    outcomes: dict[str, Outcome], diagnostics: Mapping[str, Sequence[str]]
) -> None:
    """Each scenario named in ``diagnostics`` failed, its report holding every fragment."""
    for name, fragments in diagnostics.items():
        assert name in failed(outcomes), f"{name} did not fail"
        for fragment in fragments:
            assert fragment in outcomes[name].report, (
                f"{name}: {fragment!r} missing in\n{outcomes[name].report}"
            )


def statuses(outcomes: dict[str, Outcome]) -> dict[str, str]:
    """Each scenario's status, by name: what two runs of the same features must agree on."""
    return {name: outcome.status for name, outcome in outcomes.items()}


@dataclass(frozen=True)
class ParallelRun:
    """A behavex run: each scenario's outcome, and the worker process that ran it."""

    outcomes: dict[str, Outcome]
    workers: dict[str, str]


def run_behavex(
    output: Path,
    *paths: str,
    processes: int = 4,
    defines: dict[str, str] | None = None,
    environment: dict[str, str] | None = None,
    timeout: float = 240,
    directory: Path = ROOT,
) -> ParallelRun:
    """Run the features with behavex, ``processes`` at a time, one scenario per task.

    Like :func:`run_behave`: a child process that sees only the ``ASYNCBDD_*`` variables
    given. ``output`` is behavex's output folder (emptied first); its JSON report gives
    the statuses, and a failed scenario's error is its outcome's report.
    """
    # behavex keeps its temporary files, multiprocessing's sockets among them (a path of
    # at most 107 bytes), under its output folder: a deep tmp_path (pytest-xdist's) is
    # too long, so it writes to a short folder, copied to ``output`` after.
    with tempfile.TemporaryDirectory(prefix="bhx-") as short:
        arguments = [
            *(sys.executable, "-m", "behavex", *paths, "--output-folder", short),
            *("--parallel-processes", str(processes), "--parallel-scheme", "scenario"),
        ]
        completed = _run(arguments, defines, environment, timeout, directory)
        shutil.copytree(short, output, dirs_exist_ok=True)
    report = output / "report.json"
    scenarios = (
        [
            scenario
            for feature in json.loads(report.read_text())["features"]
            for scenario in feature["scenarios"]
        ]
        if report.exists()
        else []
    )
    assert scenarios, f"behavex ran no scenario:\n{completed.stdout}\n{completed.stderr}"
    return ParallelRun(
        outcomes={
            scenario["name"]: Outcome(scenario["status"], "\n".join(scenario["error_msg"]))
            for scenario in scenarios
        },
        workers={scenario["name"]: scenario["worker_id"] for scenario in scenarios},
    )


@dataclass(frozen=True)
class Brokers:
    """An SQS server and a Kafka broker started apart from behave, and how to reach them."""

    sqs_endpoint: str
    kafka_bootstrap_servers: str

    @property
    def defines(self) -> dict[str, str]:
        """The settings that point a behave run at these brokers."""
        return {
            "asyncbdd.sqs.endpoint": self.sqs_endpoint,
            "asyncbdd.sqs.region": EMBEDDED_REGION,
            "asyncbdd.kafka.bootstrap_servers": self.kafka_bootstrap_servers,
        }

    @property
    def environment(self) -> dict[str, str]:
        """The credentials a client needs (moto accepts any)."""
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@contextmanager
def started_brokers() -> Iterator[Brokers]:
    """Brokers that runs reach only through endpoints in their configuration, with the
    demo's queues created (nothing creates them for a run that is given an endpoint)."""
    with EmbeddedSqs() as sqs, EmbeddedKafka() as kafka:
        client = sqs.client()
        for name in ("billing", "shipping", "inventory"):
            client.create_queue(QueueName=name)
        yield Brokers(sqs.endpoint_url, kafka.bootstrap_servers)


@contextmanager
def postgresql_schema(server_url: str, prefix: str) -> Iterator[str]:
    """A fresh schema on the PostgreSQL server, as a URL whose search path is that schema;
    dropped at the end."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(server_url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{server_url}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@contextmanager
def demo_service(database_url: str, brokers: Brokers, log: Path) -> Iterator[str]:
    """``python -m asyncbdd.demo`` in a child process, as the in-process service of
    ``environment.py`` is set up: Kafka input, SQS output, signed webhooks, the same jitter.

    Yields its URL once it has printed it, which it does when it serves and reads Kafka;
    stopped with Ctrl-C at the end. Its log goes to ``log``.
    """
    command = [
        *(sys.executable, "-m", "asyncbdd.demo", "--database-url", database_url),
        *("--kafka-bootstrap-servers", brokers.kafka_bootstrap_servers),
        *("--sqs-endpoint", brokers.sqs_endpoint, "--sqs-region", EMBEDDED_REGION),
        *("--webhook-secret", "demo-webhook-secret", "--jitter", "0.03,0.1"),
    ]
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    with (
        log.open("w") as errors,
        subprocess.Popen(
            command,
            cwd=ROOT,
            env={**inherited, **brokers.environment},
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        ) as process,
    ):
        assert process.stdout is not None
        try:
            first = process.stdout.readline()  # "" if it exited
            prefix = "order service: "
            assert first.startswith(prefix), f"the demo did not start:\n{log.read_text()}"
            yield first.removeprefix(prefix).strip()
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            finally:
                process.kill()  # only if it did not exit
