"""What a benchmark returns, and how results are shown: one row per measured figure."""

from __future__ import annotations

import contextlib
import random
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from asyncbdd.config import Settings, get_settings, set_settings

__all__ = [
    "Result",
    "format_table",
    "median",
    "p90",
    "percentile",
    "settings_in_force",
    "uniform",
]

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Result:
    """One measured figure, compared with a baseline measured in the same run.

    ``ratio`` is always ``value / baseline_value``; ``better`` says which way is good
    (``None`` when the baseline is a reference, such as a configured cap, not a rival).
    """

    name: str
    value: float
    unit: str
    baseline_name: str
    baseline_value: float
    better: Better | None
    target: str = ""
    met: bool | None = None
    note: str = ""
    benchmark: str = ""

    @property
    def ratio(self) -> float | None:
        """``value / baseline_value``, or ``None`` when the baseline is zero."""
        return self.value / self.baseline_value if self.baseline_value else None

    def verdict(self) -> str:
        """The ratio in words: ``"12.0x better"``, ``"3.1x worse"``, or ``"0.24x base"``."""
        ratio = self.ratio
        if ratio is None:
            return "n/a"
        if self.better is None:
            return f"{ratio:.2f}x base"
        advantage = ratio if self.better == "higher" else (1 / ratio if ratio else float("inf"))
        if advantage >= 1:
            return f"{advantage:.1f}x better"
        return f"{1 / advantage:.1f}x worse" if advantage else "0x (worse)"


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (0.5: the median), interpolated linearly."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return percentile(values, 0.5)


def p90(values: Sequence[float]) -> float:
    """The 90th percentile of ``values``."""
    return percentile(values, 0.9)


def uniform(seed: int, count: int, low: float, high: float) -> list[float]:
    """``count`` values drawn uniformly from ``low`` to ``high``, the same for a seed."""
    rng = random.Random(seed)
    return [rng.uniform(low, high) for _ in range(count)]


@contextlib.contextmanager
def settings_in_force(settings: Settings) -> Iterator[None]:
    """Put ``settings`` in force for the block, then restore the previous ones."""
    previous = get_settings()
    set_settings(settings)
    try:
        yield
    finally:
        set_settings(previous)


def format_table(results: Sequence[Result]) -> str:
    """An aligned text table of ``results``, each row followed by its note."""
    header = ("bench", "figure", "value", "baseline", "vs baseline", "target", "met")
    rows = [
        (
            result.benchmark,
            result.name,
            _quantity(result.value, result.unit),
            f"{result.baseline_name} {_quantity(result.baseline_value, result.unit)}",
            result.verdict(),
            result.target or "-",
            {True: "yes", False: "NO", None: "-"}[result.met],
        )
        for result in results
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    right_aligned = {2, 4}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if index in right_aligned else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    lines = [line(header), line(["-" * width for width in widths])]
    indent = " " * (widths[0] + 2)
    for result, row in zip(results, rows, strict=True):
        lines.append(line(row))
        if result.note:
            lines.append(f"{indent}  {result.note}")
    return "\n".join(lines)


def _quantity(value: float, unit: str) -> str:
    return f"{value:,.1f} {unit}" if abs(value) < 100 else f"{value:,.0f} {unit}"
