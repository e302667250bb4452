"""Fixtures of the queue drain tests: settings per test, unique names, a raw SQS client.

The queues live on the run's embedded brokers (moto's SQS, librdkafka's mock Kafka), which
every test shares: each test uses queue names and aliases of its own (``uid``), so that
one test's messages and readers never reach another's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

import pytest

from asyncbdd.config import Settings, get_settings, load_settings, set_settings
from asyncbdd.infra.sqs_server import shared_embedded_sqs
from asyncbdd.queues import Skipped, close_readers, inbox
from asyncbdd.scenario import end_scenario

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient

Configure = Callable[..., Settings]

DEFAULTS = {"asyncbdd.timeout": "5 seconds", "asyncbdd.grace": "0.2 seconds"}
"""Short waits: a passing wait returns as soon as its messages are in anyway."""


@pytest.fixture(scope="session", autouse=True)
def stop_readers_at_the_end() -> Iterator[None]:
    """The background readers started by the tests stop when the session ends."""
    yield
    close_readers()


@pytest.fixture(autouse=True)
def restore_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ASYNCBDD_* variable leaks in; settings and the scenario are restored after a test."""
    for variable in list(os.environ):
        if variable.startswith("ASYNCBDD_"):
            monkeypatch.delenv(variable)
    previous = get_settings()
    yield
    end_scenario()
    set_settings(previous)


@pytest.fixture
def configure() -> Configure:
    """Put settings in force: ``configure({"billing-x": "sqs:billing-x"}, grace="1")``.

    Keyword names are setting names without the ``asyncbdd.`` prefix
    (``queues_correlation``, ``sqs_endpoint``); short timeout and grace by default.
    """

    def apply(queues: Mapping[str, str] | None = None, **settings: object) -> Settings:
        overrides: dict[str, object] = dict(DEFAULTS)
        if queues:
            overrides["asyncbdd.queues"] = "\n".join(f"{a} = {s}" for a, s in queues.items())
        overrides.update({f"asyncbdd.{name}": value for name, value in settings.items()})
        loaded = load_settings(environ={}, overrides=overrides)
        set_settings(loaded)
        return loaded

    return apply


@pytest.fixture
def uid() -> str:
    """A suffix no other test uses, for queue names, topics and aliases."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def raw_sqs() -> SQSClient:
    """A plain boto3 client of the embedded SQS server, bypassing asyncbdd's queues.

    One per test: a test that ends the run (behave's after_all) stops the embedded
    server, and the next one starts on another port.
    """
    return shared_embedded_sqs().client()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials for clients of a configured endpoint (moto accepts any)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def wait_for_skipped() -> Callable[..., list[Skipped]]:
    """A function that blocks until the scenario's reader of an alias skipped messages."""

    def wait(alias: str, count: int = 1, seconds: float = 5.0) -> list[Skipped]:
        box = inbox()
        arrived = box.wait(lambda: len(box.skipped[alias]) >= count, seconds)
        with box.changed:
            skipped = box.skipped[alias][:]
        assert arrived, f"the reader of {alias!r} skipped {len(skipped)} of {count} in {seconds} s"
        return skipped

    return wait
