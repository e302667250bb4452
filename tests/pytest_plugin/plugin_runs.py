"""How the tests run pytest: quickly, and without warnings of their own."""

from __future__ import annotations

import pytest

INI = """[pytest]
asyncio_default_fixture_loop_scope = function
"""
"""The ini every run starts from (pytest-asyncio warns without a loop scope); a test adds
its own lines below it."""

QUICK = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
"""Options of every run: no cache files, and no hypothesis summary (most of a small run)."""


def run(pytester: pytest.Pytester, *args: str, ini: str = "") -> pytest.RunResult:
    """Run pytest in this process on the files the test made, with ``INI + ini``."""
    pytester.makeini(INI + ini)
    return pytester.runpytest(*QUICK, *args)


def run_apart(
    pytester: pytest.Pytester, *args: str, ini: str = "", timeout: float = 120
) -> pytest.RunResult:
    """Run pytest in a process of its own (for what must not touch this one: parallel
    workers, a reset of moto's state)."""
    pytester.makeini(INI + ini)
    return pytester.runpytest_subprocess(*QUICK, *args, timeout=timeout)
