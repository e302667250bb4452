"""The fault matrix: every demo fault switch against every scenario it must break.

The healthy service passes every scenario. Under each fault switch exactly the scenarios
it should break fail, and each says why with its intended diagnostic; a scenario that
passes against a broken service is a false pass, one that fails but should not is a false
alarm. The matrix (fault, scenario, detected, message excerpt) is printed after the run.

Failing waits run out their deadlines, so the fault runs scale deadlines to 30 %: room
enough for a healthy order, queued behind the previous scenario's, to ship.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from demo_features import (
    ACROSS_CHANNELS,
    ALL_SCENARIOS,
    BILLING_MESSAGE,
    CHAIN_LINKS,
    DECLINED_NO_PAYMENT,
    EACH_QUEUE,
    FULL_CHAIN,
    INVENTORY_MESSAGE,
    KAFKA_BILLED,
    KAFKA_STOCK,
    NEVER_INSTANT,
    ON_THE_TOPIC,
    ONE_ROW_CHANGES,
    OTHER_PRODUCT,
    PENDING,
    SHIPS,
    SHIPS_AFTER_PAYMENT,
    STOCK_100_TO_97,
    UNPAID_BILLS_NOBODY,
    UNPAID_NO_WEBHOOK,
    WEBHOOK_CALLED,
    WEBHOOK_RETRIED,
    Outcome,
    failed,
    run_behave,
)

from asyncbdd.matching import shorten

TIMEOUT_SCALE = "0.3"

# What a scenario says when the thing it waits for never happens.
NO_ORDER_ROW = "last value:  None"
NO_EVENTS = "last value:  no events"
NO_ROW_CHANGED = "No row changed, appeared or disappeared since the snapshot"
ROW_UNCHANGED = "missing: quantity 100 -> 97 (actual: that row did not change)"
NO_MESSAGES = (
    "the billing queue received 0 of 1; the shipping queue received 0 of 1; "
    "the inventory queue received 0 of 1."
)
NO_BILLING = "the billing queue received 0 of 1."
NO_BILLING_ONLY = "Failed because the deadline passed: the billing queue received 0 of 1."
NO_INVENTORY = "the inventory queue received 0 of 1."
NO_CALL = 'the "payment-complete" webhook received 0 of 1.'
NO_RETRY = 'the "flaky-shop" webhook received 0 of 2.'
TAKES_4 = "missing: quantity 100 -> 97 (actual: 100 -> 96)"
BILLED_IN_CENTS = "amount: expected 99.99, got 9999"
# Scenarios whose order can fail declare it a tripwire: they fail at once, naming it.
TRIPPED_ON_STATUS = 'tripwire tripped: the order status becomes "failed"'
TRIPPED_ON_KAFKA_ORDER = 'tripwire tripped: the status of order "ord-k'
TRIPPED_ON_TRACE = 'tripwire tripped: "payment.failed" occurs in the trace for this order'


@dataclass(frozen=True)
class Fault:
    """A fault switch of the demo service: each scenario it breaks, with its diagnostic."""

    name: str
    breaks: dict[str, str]
    defines: dict[str, str] = field(default_factory=dict)


def _unpaid(**diagnostics: str) -> dict[str, str]:
    """A payment that never completes: everything after "pending" fails the same way."""
    return {
        EACH_QUEUE: NO_MESSAGES,
        BILLING_MESSAGE: NO_BILLING,
        INVENTORY_MESSAGE: NO_INVENTORY,
        WEBHOOK_CALLED: NO_CALL,
        WEBHOOK_RETRIED: NO_RETRY,
        ONE_ROW_CHANGES: ROW_UNCHANGED,
        STOCK_100_TO_97: NO_ROW_CHANGED,
        KAFKA_STOCK: NO_ROW_CHANGED,
        **{_SCENARIO_OF[key]: text for key, text in diagnostics.items()},
    }


_STATUS_TRIPWIRED = [
    EACH_QUEUE,
    BILLING_MESSAGE,
    INVENTORY_MESSAGE,
    WEBHOOK_CALLED,
    WEBHOOK_RETRIED,
    ONE_ROW_CHANGES,
    STOCK_100_TO_97,
    OTHER_PRODUCT,
    SHIPS_AFTER_PAYMENT,
    NEVER_INSTANT,
]
"""Scenarios that declare "the order status becomes failed" a tripwire."""

_SCENARIO_OF = {
    "ships": SHIPS,
    "ships_after_payment": SHIPS_AFTER_PAYMENT,
    "never_instant": NEVER_INSTANT,
    "other_product": OTHER_PRODUCT,
    "kafka_billed": KAFKA_BILLED,
    "full_chain": FULL_CHAIN,
    "chain_links": CHAIN_LINKS,
    "across_channels": ACROSS_CHANNELS,
}

FAULTS = [
    Fault(
        "never-process",
        {
            **_unpaid(
                ships=NO_ORDER_ROW,
                ships_after_payment=NO_ORDER_ROW,
                never_instant=NO_ORDER_ROW,
                other_product=NO_ORDER_ROW,
                kafka_billed=NO_ORDER_ROW,
                full_chain=NO_EVENTS,
                chain_links=NO_EVENTS,
                across_channels="last value:  1 event: order accepted",
            ),
            PENDING: NO_ORDER_ROW,
            UNPAID_BILLS_NOBODY: NO_ORDER_ROW,
            UNPAID_NO_WEBHOOK: NO_ORDER_ROW,
            DECLINED_NO_PAYMENT: NO_ORDER_ROW,
        },
    ),
    Fault(
        "wrong-quantity",
        {
            STOCK_100_TO_97: TAKES_4,
            ONE_ROW_CHANGES: "changed  product_id='prod-201'  quantity: 100 -> 96",
            KAFKA_STOCK: TAKES_4,
            INVENTORY_MESSAGE: "quantity_change: expected -3, got -4",
        },
    ),
    Fault(
        "fail-payment",
        {
            **dict.fromkeys(_STATUS_TRIPWIRED, TRIPPED_ON_STATUS),
            **dict.fromkeys([KAFKA_BILLED, KAFKA_STOCK], TRIPPED_ON_KAFKA_ORDER),
            **dict.fromkeys([FULL_CHAIN, CHAIN_LINKS, ACROSS_CHANNELS], TRIPPED_ON_TRACE),
            SHIPS: "it reached a state it must never reach: 'failed'",
        },
    ),
    Fault(
        "drop-billing-message",
        {EACH_QUEUE: NO_BILLING_ONLY, BILLING_MESSAGE: NO_BILLING, KAFKA_BILLED: NO_BILLING},
    ),
    Fault(
        "duplicate-billing-message",
        {EACH_QUEUE: "the billing queue received 2, more than the 1 expected"},
    ),
    Fault(
        "late-billing-message",
        {EACH_QUEUE: NO_BILLING_ONLY, BILLING_MESSAGE: NO_BILLING, KAFKA_BILLED: NO_BILLING},
        defines={"demo.late_message_delay": "4"},  # after the (scaled) 3 s deadline
    ),
    Fault(
        "wrong-billing-field",
        {BILLING_MESSAGE: BILLED_IN_CENTS, KAFKA_BILLED: BILLED_IN_CENTS},
    ),
    Fault(
        "skip-webhook",
        {
            WEBHOOK_CALLED: NO_CALL,
            WEBHOOK_RETRIED: NO_RETRY,
            ACROSS_CHANNELS: "3 call to payment-complete  <- missing",
        },
    ),
    Fault(
        "wrong-webhook-amount",
        {WEBHOOK_CALLED: BILLED_IN_CENTS, WEBHOOK_RETRIED: "amount: expected 10.0, got 1000"},
    ),
    Fault("drop-trace-event", {FULL_CHAIN: "4 inventory.reserved  <- missing"}),
    Fault(
        "duplicate-trace-event",
        {
            FULL_CHAIN: "events occur more often than the chain has them: payment.completed (#4)",
            CHAIN_LINKS: "payment.completed occurs 2 times",
        },
    ),
    Fault(
        "swap-trace-events",
        {
            FULL_CHAIN: "the events are out of order: inventory.reserved (#3) came before "
            "payment.completed (#4)"
        },
    ),
    Fault(
        "stop-mid-chain",
        _unpaid(
            ships="last value:  'paid'",
            ships_after_payment="last value:  'paid'",
            never_instant="last value:  'paid'",
            other_product="last value:  'paid'",
            kafka_billed="last value:  'paid'",
            full_chain="4 inventory.reserved  <- missing",
            chain_links="last value:  3 events: order.created #1, payment.initiated #2, "
            "payment.completed #3",
            across_channels="last value:  4 events: order accepted, order.created, "
            "payment.initiated, payment.completed",
        ),
    ),
    Fault(
        "slow-trace-step",
        {
            FULL_CHAIN: "6 notification.sent  <- missing",
            CHAIN_LINKS: "notification.sent (within 2 s)  <- missing",
        },
        defines={"demo.slow_step_delay": "5"},  # after the (scaled) 4.5 s deadline
    ),
]
FaultRuns = dict[str, "Future[dict[str, Outcome]]"]


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix: how a scenario fared under a fault."""

    fault: str
    scenario: str
    verdict: str
    excerpt: str

    @property
    def detected(self) -> bool:
        return self.verdict == "detected"


def judge(fault: Fault, outcomes: dict[str, Outcome]) -> list[Cell]:
    """The matrix row of one fault: each scenario it breaks, and any false alarm."""
    cells = []
    for scenario, diagnostic in sorted(fault.breaks.items()):
        outcome = outcomes.get(scenario)
        if outcome is None:
            verdict, excerpt = "not run", ""
        elif outcome.status == "passed":
            verdict, excerpt = "FALSE PASS", ""
        elif diagnostic not in outcome.report:
            verdict, excerpt = "wrong message", _failure_line(outcome.report)
        else:
            verdict, excerpt = "detected", diagnostic
        cells.append(Cell(fault.name, scenario, verdict, excerpt))
    for scenario in sorted(failed(outcomes) - set(fault.breaks)):
        excerpt = _failure_line(outcomes[scenario].report)
        cells.append(Cell(fault.name, scenario, "FALSE ALARM", excerpt))
    return cells


def _failure_line(report: str) -> str:
    """The line of ``report`` that says why it failed; its first lines if none does."""
    lines = [line.strip() for line in report.splitlines() if line.strip()]
    found = next((line for line in lines if "Failed because" in line or "Error" in line), None)
    if found:
        return found
    errors = [number for number, line in enumerate(lines) if line.endswith("... error")]
    shown = [lines[errors[0]], *lines[errors[0] :][-8:]] if errors else lines[:6]
    return " / ".join(shown) or "(behave reported no text for the failure)"


HEALTHY = "healthy"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRuns]:
    """The healthy run and one run per fault switch, four at a time (they mostly wait)."""
    with ThreadPoolExecutor(4) as pool:
        healthy = pool.submit(run_behave, tmp_path_factory.mktemp(HEALTHY))
        yield {
            HEALTHY: healthy,
            **{
                fault.name: pool.submit(
                    run_behave,
                    tmp_path_factory.mktemp(fault.name),
                    defines={"demo.faults": fault.name, **fault.defines},
                    environment={"ASYNCBDD_TIMEOUT_SCALE": TIMEOUT_SCALE},
                )
                for fault in FAULTS
            },
        }


def test_every_demo_scenario_passes_against_the_healthy_service(runs: FaultRuns) -> None:
    """The demo features pass, every scenario, when the service behaves."""
    outcomes = runs[HEALTHY].result()
    assert set(outcomes) == ALL_SCENARIOS
    assert failed(outcomes) == set(), {name: outcomes[name].report for name in failed(outcomes)}


def test_every_fault_is_detected_by_every_scenario_it_breaks(
    runs: FaultRuns, reliability_report: Callable[..., None]
) -> None:
    """100 % detection, each with its diagnostic; no false pass and no false alarm."""
    cells = [cell for fault in FAULTS for cell in judge(fault, runs[fault.name].result())]
    expected = sum(len(fault.breaks) for fault in FAULTS)
    detected = sum(cell.detected for cell in cells)
    reliability_report(
        f"fault matrix: {detected} of {expected} detected ({detected / expected:.0%}), "
        f"{sum(cell.verdict == 'FALSE PASS' for cell in cells)} false passes, "
        f"{sum(cell.verdict == 'FALSE ALARM' for cell in cells)} false alarms",
        ["fault", "scenario", "detected", "message excerpt"],
        [
            (cell.fault, shorten(cell.scenario, 48), cell.verdict, shorten(cell.excerpt, 72))
            for cell in cells
        ],
    )
    wrong = [cell for cell in cells if not cell.detected]
    assert wrong == [], "\n".join(
        f"{cell.fault} / {cell.scenario}: {cell.verdict}: {cell.excerpt}" for cell in wrong
    )


def test_every_scenario_is_broken_by_some_fault() -> None:
    """A scenario no fault breaks would prove nothing about the service.

    The one exception checks the test's own message on the topic, not the service.
    """
    broken = {scenario for fault in FAULTS for scenario in fault.breaks}
    assert ALL_SCENARIOS - broken == {ON_THE_TOPIC}
