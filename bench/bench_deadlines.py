"""Deadlines that hold: a hung probe cannot stretch a wait, and a failed order fails fast.

1. Hung probe: a probe that never returns (it blocks on an event released after the
   run) against a 200 ms deadline, 20 times. The figure is how long after its deadline
   the wait returned (median and worst); the baseline is the same wait on a probe that
   answers at once, which overshoots by its last pause and check.
2. Tripwires: the demo's features under the ``fail-payment`` fault (every order fails)
   with deadlines scaled to 0.3, as the fault matrix runs them. The scenarios declare
   "fails at once if the order status becomes failed" (or "payment.failed" occurs), so
   each failing scenario stops at once instead of at its deadline. Figures: the faulted
   run against the healthy run (target <= 1.3x), and against the same faulted run with
   the tripwire steps removed from a copy of the features.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from asyncbdd.config import Settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.wait import wait_until
from bench.core import Result, median, settings_in_force

__all__ = ["run"]

DEADLINE = 0.2
OVERSHOOT_TARGET_MS = 100.0
FAULT_TARGET = 1.3
TIMEOUT_SCALE = "0.3"
ROOT = Path(__file__).resolve().parent.parent


def run(quick: bool) -> list[Result]:
    """Measure the hung-probe overshoot and the demo's fault runs with tripwires."""
    with settings_in_force(Settings()):
        hung = _overshoots(hangs=True, times=20)
        answering = _overshoots(hangs=False, times=20)
    results = [
        Result(
            f"hung probe, {figure}: returns after its deadline by",
            1000 * value,
            "ms",
            "probe answering at once",
            1000 * baseline,
            "lower",
            target=f"<= {OVERSHOOT_TARGET_MS:g} ms",
            met=1000 * value <= OVERSHOOT_TARGET_MS,
        )
        for figure, value, baseline in (
            ("median", median(hung), median(answering)),
            ("worst of 20", max(hung), max(answering)),
        )
    ]
    healthy = _behave_seconds(ROOT, faults="")
    tripped = _behave_seconds(ROOT, faults="fail-payment")
    with tempfile.TemporaryDirectory() as scratch:
        plain = _copy_without_tripwires(Path(scratch))
        untripped = _behave_seconds(plain, faults="fail-payment")
    results += [
        Result(
            "fail-payment run with tripwires",
            tripped,
            "s",
            "healthy run",
            healthy,
            "lower",
            target=f"<= {FAULT_TARGET:g}x the healthy run",
            met=tripped <= FAULT_TARGET * healthy,
        ),
        Result(
            "fail-payment run with tripwires",
            tripped,
            "s",
            "same run without tripwires",
            untripped,
            "lower",
        ),
    ]
    return results


def _overshoots(*, hangs: bool, times: int) -> list[float]:
    """How long after its deadline each of ``times`` waits returned; the probe blocks
    until the end of the run if ``hangs``, else it answers False at once."""
    release = threading.Event()

    def probe() -> bool:
        if hangs:
            release.wait()
        return False

    overshoots = []
    try:
        for _ in range(times):
            started = time.monotonic()
            try:
                wait_until(probe, timeout=DEADLINE)
            except WaitTimeout:
                overshoots.append(time.monotonic() - started - DEADLINE)
    finally:
        release.set()
    return overshoots


def _behave_seconds(directory: Path, *, faults: str) -> float:
    """Wall time of one behave run of the demo in ``directory`` (exit status ignored:
    a faulted run fails by design)."""
    command = [sys.executable, "-m", "behave", "-f", "null", "--no-capture"]
    command += ["-D", f"asyncbdd.timeout_scale={TIMEOUT_SCALE}"]
    if faults:
        command += ["-D", f"demo.faults={faults}"]
    started = time.monotonic()
    subprocess.run(
        command,
        cwd=directory,
        check=False,
        capture_output=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return time.monotonic() - started


def _copy_without_tripwires(scratch: Path) -> Path:
    """The demo's features, steps and environment in ``scratch``, tripwire steps removed."""
    for name in ("steps", "features"):
        shutil.copytree(ROOT / name, scratch / name)
    for name in ("environment.py", "setup.cfg"):
        shutil.copy(ROOT / name, scratch / name)
    for feature in (scratch / "features").glob("*.feature"):
        lines = feature.read_text().splitlines(keepends=True)
        feature.write_text("".join(line for line in lines if "fails at once if" not in line))
    return scratch
