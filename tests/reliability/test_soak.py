"""Flake soak: the whole demo feature set, run after run, with the CPU kept busy.

A healthy service must pass every scenario of every run, with deadlines at their
defaults (no ``ASYNCBDD_TIMEOUT_SCALE``), while two worker processes keep both cores of a
two-core machine busy. The test also prints the headroom: for each pattern, the slowest
passing wait against its deadline (``within 10 seconds`` that took 1.2 s has 8.3x).

The suite runs a short soak (one run). The soak proper is::

    python3 -m pytest tests/reliability/test_soak.py --soak        # 30 runs, ~10 minutes
    python3 -m pytest tests/reliability/test_soak.py --soak 100    # any number of runs
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from demo_features import ALL_SCENARIOS, StepRun, failed, run_behave

from asyncbdd.durations import format_duration, parse_duration

SHORT_RUNS = 1
RUN_TIMEOUT = 300
"""Seconds one run may take before the soak fails it as hung (a run takes about 20)."""
BUSY_WORKERS = 2
PATTERNS = {
    "waiting_steps": "poll and wait",
    "webhook_steps": "callback capture",
    "queue_steps": "queue drain",
    "trace_steps": "trace correlation",
    "snapshot_steps": "snapshot comparison",
}
# A wait with a deadline starts with "within 10 seconds" or ends "... and within 10 seconds";
# "does not change within 100 ms" is a window that must pass in full, not a deadline.
DEADLINE = re.compile(r"^(?:\w+ )(?:.* and )?within (\d+(?:\.\d+)? ?[a-z]+)\b")


@dataclass(frozen=True)
class Wait:
    """A passing step that waited, with the deadline it had."""

    pattern: str
    step: StepRun
    deadline: float

    @property
    def headroom(self) -> float:
        return self.deadline / max(self.step.seconds, 1e-3)


def waits(steps: tuple[StepRun, ...]) -> Iterator[Wait]:
    """The steps that passed a wait with a deadline, by pattern."""
    for step in steps:
        match = DEADLINE.match(step.text)
        if step.status == "passed" and match and step.module in PATTERNS:
            yield Wait(PATTERNS[step.module], step, parse_duration(match.group(1)))


@pytest.fixture
def busy_cpu() -> Iterator[None]:
    """Two processes that spin for the duration of the test, one per core."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(BUSY_WORKERS)
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


@pytest.mark.timeout(0)  # each run is bounded by run_behave's own timeout; N runs by N of it
def test_the_demo_features_never_flake_on_a_busy_machine(
    busy_cpu: None,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    reliability_report: Callable[..., None],
) -> None:
    """Every scenario of every run passes; the slowest wait per pattern is printed."""
    runs = request.config.getoption("soak") or SHORT_RUNS
    failures: list[tuple[int, str, str]] = []
    slowest: dict[str, Wait] = {}
    for number in range(1, runs + 1):
        output = tmp_path / f"run-{number}"
        output.mkdir()
        outcomes = run_behave(output, timeout=RUN_TIMEOUT)
        assert set(outcomes) == ALL_SCENARIOS
        for name in sorted(failed(outcomes)):
            failures.append((number, name, outcomes[name].report))
        for outcome in outcomes.values():
            for wait in waits(outcome.steps):
                if wait.pattern not in slowest or wait.headroom < slowest[wait.pattern].headroom:
                    slowest[wait.pattern] = wait

    reliability_report(
        f"soak: {runs} run(s) of {len(ALL_SCENARIOS)} scenarios, {BUSY_WORKERS} busy CPU "
        f"workers: {len(failures)} failure(s)",
        ["pattern", "slowest wait", "took", "deadline", "headroom"],
        [
            (
                pattern,
                wait.step.text,
                format_duration(wait.step.seconds),
                format_duration(wait.deadline),
                f"{wait.headroom:.1f}x",
            )
            for pattern, wait in sorted(slowest.items())
        ],
    )
    assert failures == [], "\n\n".join(
        f"run {number}: {name}\n{report}" for number, name, report in failures
    )
    assert set(slowest) == set(PATTERNS.values()), "a pattern's waits were not measured"
