"""Run the benchmarks: ``python -m bench [--quick] [--only NAME]``.

Every ``bench_<name>.py`` module of this package is a benchmark named ``<name>``; it
exposes ``run(quick: bool) -> list[Result]``. The results are printed as one table and
written, with the run's context, to ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import cast

from bench.core import Result, format_table

PACKAGE = Path(__file__).parent
RESULTS_FILE = PACKAGE / "results" / "latest.json"
Benchmark = Callable[[bool], list[Result]]


def discover() -> list[str]:
    """The names of the benchmarks in this package (``bench_wait.py`` is ``wait``)."""
    return sorted(
        module.name.removeprefix("bench_")
        for module in pkgutil.iter_modules([str(PACKAGE)])
        if module.name.startswith("bench_")
    )


def load(name: str) -> Benchmark:
    """The ``run`` function of the benchmark ``name`` (imported only when it is chosen)."""
    return cast(Benchmark, importlib.import_module(f"bench.bench_{name}").run)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks, print the table, save it as JSON; return the exit code."""
    known = discover()
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Run the asyncbdd benchmarks; print one table."
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples: a CI-sized run")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        choices=known,
        help=f"run only this benchmark (repeatable): {', '.join(known)}",
    )
    options = parser.parse_args(argv)
    started, began = datetime.now(timezone.utc), time.monotonic()
    results: list[Result] = []
    for name in options.only or known:
        print(f"running {name}{' (quick)' if options.quick else ''} ...", file=sys.stderr)
        results += [dataclasses.replace(r, benchmark=name) for r in load(name)(options.quick)]
    seconds = time.monotonic() - began
    save(results, quick=options.quick, started=started, seconds=seconds)
    print(format_table(results))
    print(f"\n{len(results)} figures in {seconds:.1f} s; saved to {RESULTS_FILE}")
    return 0


def save(results: Sequence[Result], *, quick: bool, started: datetime, seconds: float) -> None:
    """Write ``results`` and the run's context to :data:`RESULTS_FILE`."""
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    document = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 2),
        "quick": quick,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "ratio": "value / baseline_value; 'better' says which direction is good",
        "results": [
            {**dataclasses.asdict(r), "ratio": r.ratio, "verdict": r.verdict()} for r in results
        ],
    }
    RESULTS_FILE.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
