"""Progress lines of long waits: what printing them costs a wait (nothing, it should be).

Measured with the real clock, waits with progress lines (setting ``asyncbdd.progress =
always``, a line every 250 ms from 250 ms on, so that far more lines are printed than by
default) side by side with the same waits without (``never``), in one run:

1. Probe calls: waits on a condition that never holds, 3 s (1.5 s with ``--quick``);
   the median of the calls made by 8 of them with progress on against 8 with it off.
   Target: equal within 5 % (the real clock's jitter under load; on a fake clock
   ``tests/test_progress.py`` proves them identical).
2. Detection delay: a condition that becomes true ``T`` seconds after the wait starts
   (``T`` from 1 to 3 s, the same values for both), from that instant to the wait's
   return; median. Target: with progress within 20 % (+1 ms) of without.

The lines go to a buffer that stands in for stderr; the note counts them.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from asyncbdd.config import Settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.wait import wait_until
from bench.core import Result, median, settings_in_force, uniform

__all__ = ["run"]

SEED = 20_241_202
EVERY = 0.25
NEVER_WAITS = 8


def run(quick: bool) -> list[Result]:
    """Measure both figures, progress on and off (about 10 s; 6 s with ``quick``)."""
    times = uniform(SEED, 15 if quick else 40, 1.0, 3.0)
    never_seconds = 1.5 if quick else 3.0
    figures: dict[str, tuple[list[int], list[float], int]] = {}
    for mode in ("always", "never"):
        settings = Settings(progress=mode, progress_after=EVERY, progress_every=EVERY)
        buffer = io.StringIO()
        saved = sys.__stderr__
        sys.__stderr__ = buffer  # type: ignore[misc]  # progress lines go to the real stderr
        try:
            with settings_in_force(settings):
                calls, delays = _measure(times, never_seconds)
        finally:
            sys.__stderr__ = saved  # type: ignore[misc]
        figures[mode] = (calls, delays, len(buffer.getvalue().splitlines()))
    on_calls, on_delays, lines = figures["always"]
    off_calls, off_delays, _ = figures["never"]
    calls_on, calls_off = median(on_calls), median(off_calls)
    delay_on, delay_off = median(on_delays) * 1000, median(off_delays) * 1000
    return [
        Result(
            name=f"probe calls, {never_seconds:g}s never-true wait, progress on",
            value=calls_on,
            unit="calls",
            baseline_name="progress off",
            baseline_value=calls_off,
            better="lower",
            target="equal within 5 %",
            met=abs(calls_on - calls_off) <= 0.05 * calls_off,
            note=f"{lines} progress lines printed in all (a line every {EVERY:g} s)",
        ),
        Result(
            name="delay, T 1-3s, progress on",
            value=delay_on,
            unit="ms",
            baseline_name="progress off",
            baseline_value=delay_off,
            better="lower",
            target="within 20 % (+1 ms) of off",
            met=delay_on <= delay_off * 1.2 + 1,
            note=f"median of {len(times)} waits each",
        ),
    ]


def _measure(times: Sequence[float], never_seconds: float) -> tuple[list[int], list[float]]:
    """Probe calls of :data:`NEVER_WAITS` never-true waits, and the detection delay at each of
    ``times``, all running at once."""
    with ThreadPoolExecutor(len(times) + NEVER_WAITS) as pool:
        never = [pool.submit(_never_calls, never_seconds) for _ in range(NEVER_WAITS)]
        delays = [pool.submit(_detection_delay, after) for after in times]
        return [future.result() for future in never], [future.result() for future in delays]


def _never_calls(seconds: float) -> int:
    calls = 0

    def probe() -> bool:
        nonlocal calls
        calls += 1
        return False

    with contextlib.suppress(WaitTimeout):
        wait_until(probe, timeout=seconds, description="a condition that never holds")
    return calls


def _detection_delay(after: float) -> float:
    began = time.monotonic()
    ready_at = began + after
    wait_until(lambda: time.monotonic() >= ready_at, timeout=after + 5,
               description=f"a condition true after {after:.2f} s")  # fmt: skip
    return time.monotonic() - ready_at
