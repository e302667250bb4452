"""The demo features, run by behave as CI runs them.

Healthy, every scenario passes. Under each fault switch of the demo service exactly the
scenarios that should break fail, each with the diagnostic that says why; a step that
passes against a broken system is a defect. ``tests/acceptance/must_fail.feature`` holds
one scenario per step that must fail against the healthy service.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
MUST_FAIL = "tests/acceptance/must_fail.feature"

PENDING = "A placed order is pending within seconds"
SHIPS = "A placed order ships and never fails on the way"
SHIPS_AFTER_PAYMENT = "An order ships only after it has been paid, which takes a moment"
NEVER_INSTANT = "Shipping is never instant"
STOCK_100_TO_97 = "Ordering 3 of a product takes its stock from 100 to 97"
ONE_ROW_CHANGES = "An order changes one row of the inventory table and no other"
OTHER_PRODUCT = "An order for one product leaves another product's stock alone"
ALL_SCENARIOS = {
    PENDING,
    SHIPS,
    SHIPS_AFTER_PAYMENT,
    NEVER_INSTANT,
    STOCK_100_TO_97,
    ONE_ROW_CHANGES,
    OTHER_PRODUCT,
}


@dataclass(frozen=True)
class Outcome:
    """How one scenario ended, and what behave printed for it."""

    status: str
    report: str


def run_behave(
    tmp_path: Path, *paths: str, defines: dict[str, str], environment: dict[str, str]
) -> dict[str, Outcome]:
    """Run behave in a child process, as CI does; return each scenario's outcome."""
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "behave", *paths, "-f", "json", "-o", str(report)]
    command += ["-f", "plain", "--no-timings"]
    for key, value in defines.items():
        command += ["-D", f"{key}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    completed = subprocess.run(
        command,
        cwd=ROOT,
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    statuses = {
        element["name"]: element["status"]
        for feature in json.loads(report.read_text())
        for element in feature.get("elements", [])
        if element["type"] == "scenario"
    }
    assert statuses, f"behave ran no scenario:\n{completed.stdout}\n{completed.stderr}"
    reports = _split_by_scenario(completed.stdout)
    return {name: Outcome(status, reports.get(name, "")) for name, status in statuses.items()}


def _split_by_scenario(output: str) -> dict[str, str]:
    parts = re.split(r"^\s*Scenario: (.+)$", output, flags=re.MULTILINE)
    return {name.strip(): text for name, text in zip(parts[1::2], parts[2::2], strict=True)}


def failed(outcomes: dict[str, Outcome]) -> set[str]:
    return {name for name, outcome in outcomes.items() if outcome.status != "passed"}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    return run_behave(tmp_path_factory.mktemp("healthy"), defines={}, environment={})


def run_with_fault(tmp_path: Path, fault: str) -> dict[str, Outcome]:
    # Failing waits run out their deadlines: a fifth of them keeps the suite quick.
    return run_behave(
        tmp_path,
        defines={"demo.faults": fault},
        environment={"ASYNCBDD_TIMEOUT_SCALE": "0.2"},
    )


def test_every_demo_scenario_passes_against_the_healthy_service(
    healthy: dict[str, Outcome],
) -> None:
    """The demo features pass, all seven scenarios, when the service behaves."""
    assert set(healthy) == ALL_SCENARIOS
    assert failed(healthy) == set(), {name: healthy[name].report for name in failed(healthy)}


def test_an_order_never_processed_fails_every_scenario(tmp_path: Path) -> None:
    """never-process: no order row appears, so every scenario fails and shows it saw none."""
    outcomes = run_with_fault(tmp_path, "never-process")
    assert failed(outcomes) == ALL_SCENARIOS
    assert "last value:  None" in outcomes[PENDING].report
    assert "values seen:" in outcomes[PENDING].report
    assert "No row changed" in outcomes[STOCK_100_TO_97].report


def test_a_wrong_quantity_fails_exactly_the_stock_scenarios(tmp_path: Path) -> None:
    """wrong-quantity: the stock scenarios fail with the unexpected diff; the rest pass."""
    outcomes = run_with_fault(tmp_path, "wrong-quantity")
    assert failed(outcomes) == {STOCK_100_TO_97, ONE_ROW_CHANGES}
    assert "missing: quantity 100 -> 97 (actual: 100 -> 96)" in outcomes[STOCK_100_TO_97].report
    assert "changed  product_id='prod-789'  quantity: 100 -> 96" in (
        outcomes[ONE_ROW_CHANGES].report
    )


def test_a_failed_payment_fails_every_scenario_past_pending(tmp_path: Path) -> None:
    """fail-payment: only "pending" passes; "but never failed" stops at once, naming it."""
    outcomes = run_with_fault(tmp_path, "fail-payment")
    assert failed(outcomes) == ALL_SCENARIOS - {PENDING}
    assert "it reached a state it must never reach: 'failed'" in outcomes[SHIPS].report
    assert "'failed'" in outcomes[NEVER_INSTANT].report
    assert "No row changed" in outcomes[STOCK_100_TO_97].report


MUST_FAIL_DIAGNOSTICS = {
    "A status that never comes times out with the statuses seen": [
        'Waited for: Then within 1 second the order status is "lost"',
        "Failed because the deadline passed.",
        "last value:  'shipped'",
        "'pending'",
        "expected 'lost'",
    ],
    "A status that moves on does not stay": [
        "Failed because it stopped holding after",
        "of the required 2 s",
        "last value:  'paid'",
    ],
    "A forbidden status stops the wait at once": [
        "Failed because it reached a state it must never reach: 'paid'.",
    ],
    "A status that does not hold long enough fails the hold": [
        'Waited for: Then within 3 seconds the order status is "pending" and stays so for 2 s',
        "last value:  'shipped'",
    ],
    "A status reached too early fails the minimum time": [
        "earlier than the minimum of 2 s",
    ],
    "A status that is reached fails the negative form": [
        "Failed because it stopped holding after",
        "last value:  'shipped'",
    ],
    "Eventually waits only as long as the default timeout": [
        "deadline:    1 s",
    ],
    "A number written in quotes is not the number": [
        "the value is the number 97; write it without quotes to expect a number",
    ],
    "A different change than expected is shown beside the expectation": [
        "missing: quantity 100 -> 90 (actual: 100 -> 97)",
    ],
    "A change to a row that should not change is reported": [
        "missing: quantity 50 -> 47 (actual: that row did not change)",
        "unexpected: quantity 100 -> 97",
    ],
    "Rows that never change time out": [
        "No row changed",
        "product_id='prod-123'  {quantity: 50}",
    ],
    "Rows that change fail the negative form": [
        "changed  product_id='prod-789'  quantity: 100 -> 97",
    ],
    "A malformed duration is named, not left undefined": [
        "'ten seconds' is not a duration. Write a number and a unit",
    ],
    "An unknown probe is named, with a suggestion": [
        "No probe named 'the ordr status' is registered.",
        "Did you mean 'the order status'?",
    ],
    "A snapshot never taken is named": [
        'No snapshot of the inventory of product "prod-789" was taken in this scenario.',
    ],
}


def test_every_step_fails_with_its_diagnostic_when_the_system_disagrees(
    tmp_path: Path,
) -> None:
    """Each must-fail scenario fails (none passes), and its report explains the failure."""
    outcomes = run_behave(
        tmp_path, MUST_FAIL, defines={"asyncbdd.timeout": "1 second"}, environment={}
    )
    assert set(outcomes) == set(MUST_FAIL_DIAGNOSTICS)
    passed = set(outcomes) - failed(outcomes)
    assert passed == set(), f"steps passed against a system that disagrees: {passed}"
    for name, fragments in MUST_FAIL_DIAGNOSTICS.items():
        for fragment in fragments:
            assert fragment in outcomes[name].report, f"{name}: {fragment!r} missing in\n" + (
                outcomes[name].report
            )


def test_the_features_pass_unchanged_against_postgresql(
    tmp_path: Path, postgresql_url: str
) -> None:
    """Only the database URL changes: the same features pass on PostgreSQL."""
    schema = f"asyncbdd_features_{uuid.uuid4().hex[:8]}"
    engine = create_engine(postgresql_url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = f"{postgresql_url}?options=-csearch_path%3D{schema}"
        outcomes = run_behave(tmp_path, defines={"asyncbdd.database_url": url}, environment={})
        assert set(outcomes) == ALL_SCENARIOS
        assert failed(outcomes) == set(), {name: outcomes[name].report for name in failed(outcomes)}
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
