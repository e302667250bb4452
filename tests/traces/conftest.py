"""Fixtures of the trace tests: clean settings and names, a scenario, an in-memory store."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from trace_fakes import MemoryStore

import asyncbdd
from asyncbdd.config import Settings, set_settings
from asyncbdd.database import dispose_engines
from asyncbdd.scenario import Scenario, end_scenario
from asyncbdd.traces import TRACE_STORES


@pytest.fixture(autouse=True)
def clean_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ASYNCBDD_* variable leaks in; settings, trace names and engines are restored."""
    for variable in list(os.environ):
        if variable.startswith("ASYNCBDD_"):
            monkeypatch.delenv(variable)
    set_settings(Settings(timeout=5.0, grace=0.1, connect_timeout=2.0))
    with TRACE_STORES.isolated():
        yield
    end_scenario()
    dispose_engines()
    set_settings(None)


@pytest.fixture
def scenario() -> Iterator[Scenario]:
    """A running scenario: its correlation id is the trace's."""
    with asyncbdd.scenario("trace test") as state:
        yield state


@pytest.fixture
def store() -> MemoryStore:
    """An empty in-memory trace store."""
    return MemoryStore()
