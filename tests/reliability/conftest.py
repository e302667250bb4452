"""Reports the reliability tests print after the run: the fault matrix, soak headroom, ...

A test adds a table with the ``reliability_report`` fixture; the tables are printed in
pytest's terminal summary, after the progress dots, whether the tests passed or not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

_TABLES: list[tuple[str, list[str]]] = []


@pytest.fixture
def reliability_report() -> Callable[[str, Sequence[str], Sequence[Sequence[object]]], None]:
    """``report(title, header, rows)``: print this table in the terminal summary."""

    def report(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        _TABLES.append((title, format_table(header, rows)))

    return report


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """The rows as left-aligned text columns under ``header``."""
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return [line.rstrip() for line in lines]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for title, lines in _TABLES:
        terminalreporter.section(title, sep="-")
        for line in lines:
            terminalreporter.write_line(line)
