"""The HTML report's cost: what ``-f asyncbdd.report`` adds to the demo run, and its size.

Both runs are behave on the demo features in a child process, as CI runs them, with
the same arguments (``-f progress`` to ``/dev/null``) except the report: the baseline
writes none, the other adds the HTML formatter (:class:`TimedHtmlFormatter`: asyncbdd's,
adding up the time its own callbacks take). Runs alternate, the baseline first in even
rounds and second in odd ones, so a machine getting busier weighs on both. The figures
are the median of each side's wall times, and the formatter's own time as a share of
its run's wall time: the demo's waits make two runs differ by a few percent whatever
they write, so the share is the steadier measure of what the report costs.

The size of the report is that of the demo run (every scenario passed, its waits
listed) and of the same run with ``tests/report/failing_chain.feature`` beside it (one
failure, its evidence text and timeline picture inline).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asyncbdd.report import HtmlFormatter
from bench.core import Result, median

__all__ = ["TimedHtmlFormatter", "run"]

ROOT = Path(__file__).resolve().parents[1]
FAILING_CHAIN = "tests/report/failing_chain.feature"
OVERHEAD_TARGET = 1.05
SIZE_LIMIT = 2 * 1024 * 1024
SPENT = "html formatter seconds: "


def _timed(method: Callable[..., Any]) -> Callable[..., Any]:
    def timed(self: TimedHtmlFormatter, *arguments: Any) -> Any:
        began = time.perf_counter()
        try:
            return method(self, *arguments)
        finally:
            self.spent += time.perf_counter() - began

    return timed


class TimedHtmlFormatter(HtmlFormatter):
    """asyncbdd's HTML formatter, adding up the time its callbacks take; it prints the
    sum on stderr when the run ends."""

    spent = 0.0
    feature = _timed(HtmlFormatter.feature)
    scenario = _timed(HtmlFormatter.scenario)
    result = _timed(HtmlFormatter.result)
    eof = _timed(HtmlFormatter.eof)

    def close(self) -> None:
        """Write the page, then say how long the formatter took in all."""
        _timed(HtmlFormatter.close)(self)
        print(f"{SPENT}{self.spent:.6f}", file=sys.stderr)


def run(quick: bool) -> list[Result]:
    """Time the demo run with and without the report; measure the report's size.

    ``quick``: one round (about 1 minute), otherwise 3 (about 2.5 minutes).
    """
    rounds = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="asyncbdd-bench-report-") as directory:
        report = Path(directory) / "report.html"
        plain: list[float] = []
        with_report: list[float] = []
        shares: list[float] = []
        spent_ms: list[float] = []
        for number in range(rounds):
            for output in (None, report) if number % 2 == 0 else (report, None):
                seconds, spent = _demo_run(output)
                (plain if output is None else with_report).append(seconds)
                if spent is not None:
                    shares.append(100 * spent / seconds)
                    spent_ms.append(1000 * spent)
        demo_size = report.stat().st_size
        failing = Path(directory) / "failing.html"
        _demo_run(failing, FAILING_CHAIN, expect_failure=True)
        failing_size = failing.stat().st_size
    ratio = median(with_report) / median(plain)
    spread = ", ".join(f"{w / p:.3f}" for w, p in zip(with_report, plain, strict=True))
    return [
        Result(
            name="HTML formatter's own time, share of the run",
            value=median(shares),
            unit="%",
            baseline_name="target",
            baseline_value=100 * (OVERHEAD_TARGET - 1),
            better=None,
            target="<= 5 %",
            met=median(shares) <= 100 * (OVERHEAD_TARGET - 1),
            note=f"median of {rounds}: its callbacks' time / the run's wall time; "
            f"{median(spent_ms):.1f} ms in all (worst {max(shares):.3f} %)",
        ),
        Result(
            name="demo run with the HTML report",
            value=median(with_report),
            unit="s",
            baseline_name="without it",
            baseline_value=median(plain),
            better="lower",
            target=f"<= {OVERHEAD_TARGET:.2f}x",
            met=ratio <= OVERHEAD_TARGET,
            note=f"ratio {ratio:.3f}; median of {rounds} alternated runs each; per round {spread}",
        ),
        Result(
            name="HTML report size: demo run",
            value=demo_size / 1024,
            unit="KiB",
            baseline_name="limit",
            baseline_value=SIZE_LIMIT / 1024,
            better=None,
            target="<= 2 MiB",
            met=demo_size <= SIZE_LIMIT,
            note=f"{demo_size:,} bytes; every scenario passed",
        ),
        Result(
            name="HTML report size: demo + one failure",
            value=failing_size / 1024,
            unit="KiB",
            baseline_name="limit",
            baseline_value=SIZE_LIMIT / 1024,
            better=None,
            target="<= 2 MiB",
            met=failing_size <= SIZE_LIMIT,
            note=f"{failing_size:,} bytes; {FAILING_CHAIN} failed, with its timeline",
        ),
    ]


def _demo_run(
    report: Path | None, *more: str, expect_failure: bool = False
) -> tuple[float, float | None]:
    """Wall seconds of one behave run of the demo features (and ``more``), writing the
    HTML report to ``report`` if given, and the seconds the formatter took then."""
    arguments = [sys.executable, "-m", "behave", "features", *more]
    arguments += ["-f", "progress", "-o", os.devnull, "--no-timings"]
    if report is not None:
        arguments += ["-f", "bench.bench_report:TimedHtmlFormatter", "-o", str(report)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    began = time.monotonic()
    finished = subprocess.run(
        arguments, cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - began
    if (finished.returncode != 0) != expect_failure:
        raise RuntimeError(
            f"behave {'passed' if expect_failure else 'failed'} unexpectedly "
            f"({' '.join(arguments[3:])}):\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}"
        )
    spent = re.search(rf"^{SPENT}([\d.]+)$", finished.stderr, re.MULTILINE)
    if report is not None and spent is None:
        raise RuntimeError(f"the formatter did not say how long it took:\n{finished.stderr}")
    return seconds, float(spent.group(1)) if spent else None
