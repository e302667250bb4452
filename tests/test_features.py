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
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from asyncbdd.infra.kafka_broker import EmbeddedKafka
from asyncbdd.infra.sqs_server import EMBEDDED_REGION, EmbeddedSqs

ROOT = Path(__file__).resolve().parents[1]
MUST_FAIL = "tests/acceptance/must_fail.feature"
SHARED_BROKERS = "tests/acceptance/shared_brokers.feature"

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
ALL_SCENARIOS = {
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
NEGATIVE_ABOUT_UNPAID = {UNPAID_BILLS_NOBODY, UNPAID_NO_WEBHOOK, DECLINED_NO_PAYMENT}


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
    return {
        name: Outcome(status, reports.get(name.strip(), "")) for name, status in statuses.items()
    }


def _split_by_scenario(output: str) -> dict[str, str]:
    parts = re.split(r"^\s*Scenario(?: Outline)?: (.+)$", output, flags=re.MULTILINE)
    return {name.strip(): text for name, text in zip(parts[1::2], parts[2::2], strict=True)}


def failed(outcomes: dict[str, Outcome]) -> set[str]:
    return {name for name, outcome in outcomes.items() if outcome.status != "passed"}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    return run_behave(tmp_path_factory.mktemp("healthy"), defines={}, environment={})


FAULT_DEFINES: dict[str, dict[str, str]] = {
    "never-process": {},
    "wrong-quantity": {},
    "fail-payment": {},
    "drop-billing-message": {},
    "duplicate-billing-message": {},
    "late-billing-message": {"demo.late_message_delay": "4"},  # after the 3 s deadline
    "wrong-billing-field": {},
    "skip-webhook": {},
    "wrong-webhook-amount": {},
    "drop-trace-event": {},
    "duplicate-trace-event": {},
    "swap-trace-events": {},
    "stop-mid-chain": {},
    "slow-trace-step": {"demo.slow_step_delay": "5"},  # after the 4.5 s deadline
}
FaultRuns = dict[str, "Future[dict[str, Outcome]]"]


@pytest.fixture(scope="module")
def fault_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRuns]:
    """One behave run per fault switch, all started at once (they mostly wait)."""
    # Failing waits run out their deadlines: 30 % of them keeps the runs short, and still
    # leaves a healthy order, queued behind the previous scenario's, room to ship.
    with ThreadPoolExecutor(4) as pool:
        yield {
            fault: pool.submit(
                run_behave,
                tmp_path_factory.mktemp(fault),
                defines={"demo.faults": fault, **defines},
                environment={"ASYNCBDD_TIMEOUT_SCALE": "0.3"},
            )
            for fault, defines in FAULT_DEFINES.items()
        }


def test_every_demo_scenario_passes_against_the_healthy_service(
    healthy: dict[str, Outcome],
) -> None:
    """The demo features pass, every scenario, when the service behaves."""
    assert set(healthy) == ALL_SCENARIOS
    assert failed(healthy) == set(), {name: healthy[name].report for name in failed(healthy)}


def test_an_order_never_processed_fails_every_scenario(fault_runs: FaultRuns) -> None:
    """never-process: no order row appears, so every scenario about the order fails."""
    outcomes = fault_runs["never-process"].result()
    assert failed(outcomes) == ALL_SCENARIOS - {ON_THE_TOPIC}  # it checks only the topic
    assert "last value:  None" in outcomes[PENDING].report
    assert "values seen:" in outcomes[PENDING].report
    assert "No row changed" in outcomes[STOCK_100_TO_97].report


def test_a_wrong_quantity_fails_exactly_the_stock_scenarios(fault_runs: FaultRuns) -> None:
    """wrong-quantity: the stock scenarios fail with the unexpected diff; the rest pass."""
    outcomes = fault_runs["wrong-quantity"].result()
    assert failed(outcomes) == {STOCK_100_TO_97, ONE_ROW_CHANGES, INVENTORY_MESSAGE, KAFKA_STOCK}
    assert "quantity_change: expected -3, got -4" in outcomes[INVENTORY_MESSAGE].report
    assert "missing: quantity 100 -> 97 (actual: 100 -> 96)" in outcomes[STOCK_100_TO_97].report
    assert "changed  product_id='prod-789'  quantity: 100 -> 96" in (
        outcomes[ONE_ROW_CHANGES].report
    )


def test_a_failed_payment_fails_every_scenario_past_pending(fault_runs: FaultRuns) -> None:
    """fail-payment: only "pending" and the unpaid scenarios pass; "but never failed" stops."""
    outcomes = fault_runs["fail-payment"].result()
    assert failed(outcomes) == ALL_SCENARIOS - {PENDING, ON_THE_TOPIC} - NEGATIVE_ABOUT_UNPAID
    assert "the billing queue received 0 of 1" in outcomes[EACH_QUEUE].report
    assert "it reached a state it must never reach: 'failed'" in outcomes[SHIPS].report
    assert "'failed'" in outcomes[NEVER_INSTANT].report
    assert "No row changed" in outcomes[STOCK_100_TO_97].report


def test_a_dropped_billing_message_fails_every_scenario_that_expects_it(
    fault_runs: FaultRuns,
) -> None:
    """drop-billing-message: the scenarios reading billing fail, showing nothing arrived."""
    outcomes = fault_runs["drop-billing-message"].result()
    assert failed(outcomes) == {EACH_QUEUE, BILLING_MESSAGE, KAFKA_BILLED}
    report = outcomes[EACH_QUEUE].report
    assert "Failed because the deadline passed: the billing queue received 0 of 1." in report
    assert "received:  no message of this scenario" in report


def test_a_duplicated_billing_message_fails_exactly_one(fault_runs: FaultRuns) -> None:
    """duplicate-billing-message: "receives 1 message" fails; "a message with" still holds."""
    outcomes = fault_runs["duplicate-billing-message"].result()
    assert failed(outcomes) == {EACH_QUEUE}
    assert "the billing queue received 2, more than the 1 expected" in (outcomes[EACH_QUEUE].report)


def test_a_billing_message_sent_after_the_deadline_fails(fault_runs: FaultRuns) -> None:
    """late-billing-message: sent after the (scaled, 3 s) deadline, it counts for nobody."""
    outcomes = fault_runs["late-billing-message"].result()
    assert failed(outcomes) == {EACH_QUEUE, BILLING_MESSAGE, KAFKA_BILLED}
    assert "the billing queue received 0 of 1" in outcomes[EACH_QUEUE].report


def test_a_wrong_billing_field_is_shown_with_expected_and_actual(fault_runs: FaultRuns) -> None:
    """wrong-billing-field: the amount in cents fails the content scenarios, naming it."""
    outcomes = fault_runs["wrong-billing-field"].result()
    assert failed(outcomes) == {BILLING_MESSAGE, KAFKA_BILLED}
    assert "amount: expected 99.99, got 9999" in outcomes[BILLING_MESSAGE].report


def test_a_skipped_webhook_fails_the_webhook_scenarios(fault_runs: FaultRuns) -> None:
    """skip-webhook: the receivers get nothing, and say so; so does the chain across channels."""
    outcomes = fault_runs["skip-webhook"].result()
    assert failed(outcomes) == {WEBHOOK_CALLED, WEBHOOK_RETRIED, ACROSS_CHANNELS}
    assert 'the "payment-complete" webhook received 0 of 1' in outcomes[WEBHOOK_CALLED].report
    report = outcomes[ACROSS_CHANNELS].report
    assert "call to payment-complete is not in the trace" in report
    assert "3 call to payment-complete  <- missing" in report


def test_a_wrong_webhook_amount_is_shown_with_expected_and_actual(fault_runs: FaultRuns) -> None:
    """wrong-webhook-amount: the call arrives, and its amount is named as wrong."""
    outcomes = fault_runs["wrong-webhook-amount"].result()
    assert failed(outcomes) == {WEBHOOK_CALLED, WEBHOOK_RETRIED}
    assert "amount: expected 99.99, got 9999" in outcomes[WEBHOOK_CALLED].report


def test_a_dropped_trace_event_is_marked_missing(fault_runs: FaultRuns) -> None:
    """drop-trace-event: the full chain fails, marking inventory.reserved as missing."""
    outcomes = fault_runs["drop-trace-event"].result()
    assert failed(outcomes) == {FULL_CHAIN}
    assert "4 inventory.reserved  <- missing" in outcomes[FULL_CHAIN].report


def test_a_duplicated_trace_event_fails_exactness(fault_runs: FaultRuns) -> None:
    """duplicate-trace-event: the exact chain and "exactly once" fail, marking the duplicate."""
    outcomes = fault_runs["duplicate-trace-event"].result()
    assert failed(outcomes) == {FULL_CHAIN, CHAIN_LINKS}
    assert "<- duplicate" in outcomes[FULL_CHAIN].report
    assert "<- duplicate" in outcomes[CHAIN_LINKS].report


def test_swapped_trace_events_fail_the_order(fault_runs: FaultRuns) -> None:
    """swap-trace-events: all events are there, out of order; the chain fails at once."""
    outcomes = fault_runs["swap-trace-events"].result()
    assert failed(outcomes) == {FULL_CHAIN}
    assert (
        "the events are out of order: inventory.reserved (#3) came before payment.completed (#4)"
        in outcomes[FULL_CHAIN].report
    )


def test_a_chain_stopped_midway_fails_everything_after_payment(fault_runs: FaultRuns) -> None:
    """stop-mid-chain: the order stays paid; the chain shows what is missing."""
    outcomes = fault_runs["stop-mid-chain"].result()
    assert FULL_CHAIN in failed(outcomes)
    assert failed(outcomes) == ALL_SCENARIOS - {PENDING, ON_THE_TOPIC} - NEGATIVE_ABOUT_UNPAID
    assert "4 inventory.reserved  <- missing" in outcomes[FULL_CHAIN].report


def test_a_trace_step_past_the_deadline_fails(fault_runs: FaultRuns) -> None:
    """slow-trace-step: notification.sent comes after the (scaled, 4.5 s) deadline."""
    outcomes = fault_runs["slow-trace-step"].result()
    assert failed(outcomes) == {FULL_CHAIN, CHAIN_LINKS}
    assert "6 notification.sent  <- missing" in outcomes[FULL_CHAIN].report


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
    "A queue that receives one message fails a count of two": [
        "Waited for: And within 1 second the billing queue receives 2 messages",
        "Failed because the deadline passed: the billing queue received 1 of 2.",
        "expected:  exactly 2",
        "received:  1 message of this scenario:",
    ],
    "A second message within the grace window fails exactly one": [
        "the billing queue received 2, more than the 1 expected (the extra one arrived",
        "within the 500 ms grace window)",
    ],
    "A message that arrives fails the negative form": [
        "Failed because a message reached the shipping queue",
        "into the 5 s window.",
    ],
    "A message with a different field is shown beside the expectation": [
        "expected:  at least 1 with amount = 10.5",
        "amount: expected 10.5, got 99.99",
    ],
    "A message body that does not contain the document is explained": [
        "quantity_change: expected -30, got -3",
    ],
    "A wrong message attribute is named": [
        "attribute/header 'event_type': expected 'invoice.requested', got 'billing.requested'",
    ],
    "Nothing published on a topic times out naming the topic": [
        'the "order.created" topic received 0 of 1.',
        "Kafka topic 'order.created' at 127.0.0.1:",
    ],
    "An unknown queue is named, with a suggestion": [
        "No queue named 'biling' is registered.",
        "Did you mean 'billing'?",
    ],
    "A malformed JSON doc string is named with its line and column": [
        "Invalid JSON in the doc string of step",
        "line 1, column 23",
    ],
    "The message before any message is named": [
        "No message has been received in this scenario yet",
    ],
    "Events across channels out of order fail at once, with their timeline": [
        "Failed because the events are out of order: message on shipping (at +",
        "came after payment.completed (at +",
        "all 4 expected events were in the trace, so it was checked at once",
        "timeline (by timestamp):",
        "http     order accepted",
        "webhook  call to payment-complete",
        "queue    message on shipping",
        "<- out of order",
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


@dataclass(frozen=True)
class Brokers:
    """An SQS server and a Kafka broker started apart from behave, and how to reach them."""

    defines: dict[str, str]
    environment: dict[str, str]


@pytest.fixture(scope="module")
def separate_brokers() -> Iterator[Brokers]:
    """Brokers that behave runs reach only through endpoints in their configuration."""
    with EmbeddedSqs() as sqs, EmbeddedKafka() as kafka:
        client = sqs.client()
        for name in ("billing", "shipping", "inventory"):  # nothing creates them for us
            client.create_queue(QueueName=name)
        yield Brokers(
            defines={
                "asyncbdd.sqs.endpoint": sqs.endpoint_url,
                "asyncbdd.sqs.region": EMBEDDED_REGION,
                "asyncbdd.kafka.bootstrap_servers": kafka.bootstrap_servers,
            },
            environment={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        )


def test_the_features_pass_unchanged_against_separately_started_brokers(
    tmp_path: Path, separate_brokers: Brokers
) -> None:
    """Given only endpoints in configuration, the same features pass on other brokers."""
    outcomes = run_behave(
        tmp_path, defines=separate_brokers.defines, environment=separate_brokers.environment
    )
    assert set(outcomes) == ALL_SCENARIOS
    assert failed(outcomes) == set(), {name: outcomes[name].report for name in failed(outcomes)}


def test_two_runs_sharing_the_brokers_see_only_their_own_messages(
    tmp_path: Path, separate_brokers: Brokers
) -> None:
    """Two behave processes at once, same queue and topic: each scenario gets its own."""

    def run(name: str) -> dict[str, Outcome]:
        directory = tmp_path / name
        directory.mkdir()
        return run_behave(
            directory,
            SHARED_BROKERS,
            defines=separate_brokers.defines,
            environment=separate_brokers.environment,
        )

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(run, ["first", "second"])
    for outcomes in (first, second):
        assert len(outcomes) == 8
        assert failed(outcomes) == set(), {n: outcomes[n].report for n in failed(outcomes)}
