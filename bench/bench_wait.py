"""The poll engine: how soon ``wait_until`` sees a condition, and what polling costs.

Measured with the real clock, side by side in one run, against the hand-written loops
a test would otherwise contain (``Fixed(0.5)``, ``Fixed(0.1)``):

1. Detection delay: the probe compares ``time.monotonic()`` with an instant ``T`` seconds
   after the wait starts, so the moment the condition becomes true is exact. The delay is
   from that instant to ``wait_until``'s return. Every strategy waits for the same ``T``
   values, interleaved in one thread pool, so they share the machine's load. Each delay
   is close to a random fraction of the pause in progress, so a median needs many
   samples to settle: about 150 keep it within +-1 ms.
2. The same for slow conditions (``T`` of 2 to 8 s), as a share of the time waited.
3. Probe load: the probe calls of a wait on a condition that never holds; the mean gap
   between calls in the first second, and the longest gap later against the configured
   cap (setting ``max_interval``).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from asyncbdd.config import Settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.wait import Fixed, IntervalStrategy, default_interval, wait_until
from bench.core import Result, median, p90, settings_in_force, uniform

__all__ = ["detection_delays", "probe_call_times", "run"]

STRATEGIES: dict[str, IntervalStrategy | None] = {
    "default": None,  # wait_until's own choice: default_interval()
    "Fixed(0.5)": Fixed(0.5),  # the common hand-written loop
    "Fixed(0.1)": Fixed(0.1),  # an impatient hand-written loop
}
BASELINE = "Fixed(0.5)"
SEED = 20_240_601
FAST_TARGET_MS = 15.0
SLOW_TARGET_PERCENT = 5.0
LOAD_TARGET_MS = 10.0
LOAD_SECONDS = 3.0
WORKERS = 90
"""Waits run at once: they sleep nearly all the time (delays at 90 match those at 12)."""
CAPS = (0.5, 0.1)
"""``max_interval`` values tried: 0.5 s is not reached within the wait, 0.1 s is."""


def run(quick: bool) -> list[Result]:
    """Measure every figure of this module; ``quick`` takes fewer samples (about 10 s)."""
    fast_times = uniform(SEED, 60 if quick else 150, 0.02, 1.0)
    slow_times = uniform(SEED + 1, 12 if quick else 30, 2.0, 8.0)
    with settings_in_force(Settings()):  # the built-in defaults, whatever the environment says
        fast = detection_delays(fast_times, workers=WORKERS)
        capped = [_default_interval_with(cap) for cap in CAPS]
        with ThreadPoolExecutor(1) as beside:  # both sleep nearly all the time: run together
            load = beside.submit(_probe_load, capped)
            slow = detection_delays(slow_times, workers=len(slow_times) * len(STRATEGIES))
            load_results = load.result()
    shares = {
        name: [100 * d / (t + d) for d, t in zip(delays, slow_times, strict=True)]
        for name, delays in slow.items()
    }
    return [
        *_delay_results(
            "T 20ms-1s",
            {name: [1000 * d for d in delays] for name, delays in fast.items()},
            "ms",
            [("median", median, FAST_TARGET_MS), ("p90", p90, None)],
        ),
        *_delay_results(
            "T 2-8s",
            shares,
            "%",
            [("median", median, SLOW_TARGET_PERCENT), ("worst", max, SLOW_TARGET_PERCENT)],
        ),
        *load_results,
    ]


def detection_delays(times: Sequence[float], workers: int) -> dict[str, list[float]]:
    """For each strategy, the delays (s) to notice conditions that hold after ``times``."""
    jobs = [(name, after) for after in times for name in STRATEGIES]
    with ThreadPoolExecutor(workers) as pool:
        delays = pool.map(lambda job: _detection_delay(job[1], STRATEGIES[job[0]]), jobs)
        found: dict[str, list[float]] = {name: [] for name in STRATEGIES}
        for (name, _), delay in zip(jobs, delays, strict=True):
            found[name].append(delay)
    return found


def probe_call_times(interval: IntervalStrategy, seconds: float) -> list[float]:
    """When (s since the start) the probe of a ``seconds`` long, never-true wait ran."""
    calls: list[float] = []
    start = time.monotonic()

    def never() -> bool:
        calls.append(time.monotonic() - start)
        return False

    with contextlib.suppress(WaitTimeout):
        wait_until(never, timeout=seconds, interval=interval)
    return calls


def _detection_delay(after: float, interval: IntervalStrategy | None) -> float:
    became_true = time.monotonic() + after
    wait_until(
        time.monotonic,
        lambda now: now >= became_true,
        timeout=after + 5.0,
        interval=interval,
        description=f"the clock to pass {after:.3f} s",
    )
    return time.monotonic() - became_true


def _delay_results(
    figure: str,
    samples: dict[str, list[float]],
    unit: str,
    statistics: Sequence[tuple[str, Callable[[list[float]], float], float | None]],
) -> list[Result]:
    """Rows comparing each strategy with the baseline, per (label, statistic, target)."""
    results = []
    for label, statistic, target in statistics:
        baseline = statistic(samples[BASELINE])
        for name in ("default", "Fixed(0.1)"):
            value = statistic(samples[name])
            goal = target if name == "default" else None
            results.append(
                Result(
                    f"delay {label}, {figure}: {name}",
                    value,
                    unit,
                    BASELINE,
                    baseline,
                    "lower",
                    target="" if goal is None else f"<= {goal:g} {unit}",
                    met=None if goal is None else value <= goal,
                    note=f"{label} of {len(samples[name])} waits: condition true -> wait returns"
                    + (", as a share of the whole wait" if unit == "%" else ""),
                )
            )
    return results


def _probe_load(capped: Sequence[IntervalStrategy]) -> list[Result]:
    with ThreadPoolExecutor(len(capped) + 1) as pool:
        runs = list(pool.map(lambda s: probe_call_times(s, LOAD_SECONDS), [*capped, Fixed(0.1)]))
    gaps = [1000 / sum(1 for at in calls if at < 1.0) for calls in runs]
    results = [
        Result(
            "probe gap, first 1s: default",
            gaps[0],
            "ms",
            "Fixed(0.1)",
            gaps[-1],
            "higher",
            target=f">= {LOAD_TARGET_MS:g} ms",
            met=gaps[0] >= LOAD_TARGET_MS,
            note=f"1 s / probe calls in the first second ({1000 / gaps[0]:.0f} calls)",
        )
    ]
    for cap, calls in zip(CAPS, runs[:-1], strict=True):
        later = [(b - a, a) for a, b in itertools.pairwise(calls) if a >= 1.0]
        longest = max(gap for gap, _ in later)
        reached = next((at for gap, at in later if gap >= 0.95 * cap), None)
        results.append(
            Result(
                f"longest gap after 1s, cap {cap:g}s",
                1000 * longest,
                "ms",
                "max_interval",
                1000 * cap,
                None,
                target="<= cap",
                met=longest <= 1.05 * cap,  # 5 % for the probe's and the timer's overhead
                note=f"{LOAD_SECONDS:g} s never-true wait, default strategy; the cap was "
                + (f"first reached at {reached:.2f} s" if reached else "never reached"),
            )
        )
    return results


def _default_interval_with(max_interval: float) -> IntervalStrategy:
    """The engine's default strategy as built when ``max_interval`` is configured."""
    with settings_in_force(Settings(max_interval=max_interval)):
        return default_interval()
