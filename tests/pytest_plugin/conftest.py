"""Runs of pytest inside the tests (``pytester``), with the asyncbdd plugin loaded.

In-process runs drop, when they end, the modules first imported during them; the engine's
modules are imported here first so that every run, and every test after them, shares one
copy of each (a second copy would keep its own readers, listeners and servers).
"""

from __future__ import annotations

import os

import pytest

import asyncbdd.hooks
import asyncbdd.queues
import asyncbdd.queues.sqs
import asyncbdd.wait
import asyncbdd.webhooks  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    # pytest_plugins = ["pytester"] is refused in a conftest below the top one
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture(autouse=True)
def own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ASYNCBDD_* setting of the machine reaches the runs (the timeout scale of a slow
    machine still does, unless a test removes it)."""
    for variable in list(os.environ):
        if variable.startswith("ASYNCBDD_") and variable != "ASYNCBDD_TIMEOUT_SCALE":
            monkeypatch.delenv(variable)
