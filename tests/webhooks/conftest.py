"""Fixtures of the webhook tests: settings per test, the server stopped at the end.

The tests call the run's capture server over real HTTP (see ``capture_client``); each
runs in a scenario of its own, so its receivers have URLs no other test uses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from asyncbdd.config import Settings, get_settings, load_settings, set_settings
from asyncbdd.scenario import end_scenario
from asyncbdd.webhooks import stop_webhook_server

Configure = Callable[..., Settings]

DEFAULTS = {"asyncbdd.timeout": "5 seconds", "asyncbdd.grace": "0.2 seconds"}
"""Short waits: a passing wait returns as soon as its calls are in anyway."""


@pytest.fixture(scope="session", autouse=True)
def stop_the_server_at_the_end() -> Iterator[None]:
    """The capture server the tests started stops when the session ends."""
    yield
    stop_webhook_server()


@pytest.fixture(autouse=True)
def restore_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ASYNCBDD_* variable leaks in; settings and the scenario are restored after a test."""
    for variable in list(os.environ):
        if variable.startswith("ASYNCBDD_"):
            monkeypatch.delenv(variable)
    previous = get_settings()
    set_settings(load_settings(environ={}, overrides=DEFAULTS))
    yield
    end_scenario()
    set_settings(previous)


@pytest.fixture
def configure() -> Configure:
    """Put settings in force: ``configure(webhooks_secret="s3cret", grace="1 s")``.

    Keyword names are setting names without the ``asyncbdd.`` prefix; short timeout and
    grace by default.
    """

    def apply(**settings: object) -> Settings:
        overrides: dict[str, object] = dict(DEFAULTS)
        overrides.update({f"asyncbdd.{name}": value for name, value in settings.items()})
        loaded = load_settings(environ={}, overrides=overrides)
        set_settings(loaded)
        return loaded

    return apply
