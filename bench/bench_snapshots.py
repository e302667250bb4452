"""Settled snapshot changes: how soon "the change is" decides once the rows stop moving.

Everything runs with the built-in settings (``asyncbdd.settle`` 0.5 s, the default poll
interval), whatever the environment says, on a SQLite file in a temporary directory:
an ``inventory`` table with one row, quantity 100. Each sample captures the row, starts
:func:`asyncbdd.snapshots.expect_exact_change` (expecting 100 -> 97, deadline 5 s), and
a writer thread (the system under test, with a connection of its own) commits the change
50 to 250 ms into the wait (moments drawn with a fixed seed).

1. **settled change: a stable wrong change fails after**: the writer commits 100 -> 96
   and nothing else; the figure is the time from the commit's return to the failure
   (``WaitAborted``, "settled: no change for 500 ms"). Median of 10 (5 with ``--quick``).
   Baseline: the settle window, the least it can be. Target: at most the window plus one
   poll interval (the default strategy's pause when the wait failed, 4 % of the time
   waited; median of the samples). The wait shortens a pause that would overshoot the
   end of the window, so the delay is the window, the rest of the pause in progress at
   the commit, and a read.
2. **settled change: a matching change passes after**: the same with 100 -> 97; the
   time from the commit to the wait's return. Informative.

Before settle windows, the wrong change failed only at the deadline (5 s here, 10 s for
"the change is", which has no deadline of its own), and the matching one passed at the
first read that saw it, even if another column changed a moment later.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import text

from asyncbdd.config import Settings, get_settings
from asyncbdd.database import connect, dispose_engines
from asyncbdd.errors import WaitAborted
from asyncbdd.intervals import default_interval, next_pause
from asyncbdd.snapshots import ExpectedChange, SnapshotSource, expect_exact_change
from bench.core import Result, median, settings_in_force, uniform

__all__ = ["run"]

DEADLINE = 5.0
EXPECTED = [ExpectedChange("quantity", 100, 97)]


def run(quick: bool) -> list[Result]:
    """Measure how long after the last write a settled change is decided."""
    count = 5 if quick else 10
    moments = uniform(7, count, 0.05, 0.25)
    with settings_in_force(Settings()), tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'inventory.db'}"
        settle = get_settings().settle
        try:
            wrong = [_sample(url, moment, 96) for moment in moments]
            right = [_sample(url, moment, 97) for moment in moments]
        finally:
            dispose_engines()
    delays = [delay for delay, _ in wrong]
    interval = median([pause for _, pause in wrong])
    target = settle + interval
    return [
        Result(
            "settled change: a stable wrong change fails after",
            1000 * median(delays),
            "ms",
            "settle window",
            1000 * settle,
            "lower",
            target=f"<= window + 1 interval ({1000 * target:.0f} ms)",
            met=median(delays) <= target,
            note=(
                f"median of {count}: wrong change committed -> WaitAborted; worst "
                f"{1000 * max(delays):.0f} ms; interval in force at the failure "
                f"{1000 * interval:.1f} ms (median); deadline {DEADLINE:g} s"
            ),
        ),
        Result(
            "settled change: a matching change passes after",
            1000 * median([delay for delay, _ in right]),
            "ms",
            "settle window",
            1000 * settle,
            "lower",
            note=(
                f"median of {count}: matching change committed -> wait returned; worst "
                f"{1000 * max(delay for delay, _ in right):.0f} ms"
            ),
        ),
    ]


def _sample(url: str, moment: float, quantity: int) -> tuple[float, float]:
    """One wait: the seconds from the commit to its verdict, and the default strategy's
    pause at a failure (the interval in force then)."""
    with connect(url) as connection:
        connection.execute(text("DROP TABLE IF EXISTS inventory"))
        connection.execute(
            text("CREATE TABLE inventory (product_id TEXT PRIMARY KEY, quantity INTEGER)")
        )
        connection.execute(text("INSERT INTO inventory VALUES ('prod-789', 100)"))
    before = SnapshotSource(table="inventory", database_url=url).capture()
    started = threading.Event()
    committed: list[float] = []

    def write() -> None:
        started.wait(DEADLINE)
        time.sleep(moment)  # the system under test writes some time after the event
        with connect(url) as connection:
            connection.execute(text("UPDATE inventory SET quantity = :q"), {"q": quantity})
        committed.append(time.monotonic())

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    started.set()
    pause = 0.0
    try:
        expect_exact_change(before, EXPECTED, timeout=DEADLINE)
    except WaitAborted as failure:
        decided = time.monotonic()
        pause = next_pause(default_interval(), failure.state)  # without the settle cap
    else:
        decided = time.monotonic()
    writer.join(DEADLINE)
    return decided - committed[0], pause
