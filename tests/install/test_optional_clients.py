"""The base install works without the extras' libraries; Kafka clients fit kafka-python 2 and 3."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any, ClassVar

import pytest

from asyncbdd.infra import kafka_broker

kafka_clients = pytest.importorskip(
    "asyncbdd.infra.kafka_clients", reason="asyncbdd's Kafka clients need kafka-python"
)


def run_without(packages: list[str], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in which ``packages`` cannot be imported."""
    blocker = textwrap.dedent(
        f"""
        import sys
        for name in {packages!r}:
            sys.modules[name] = None  # "import name" raises ModuleNotFoundError
        """
    )
    return subprocess.run(
        [sys.executable, "-c", blocker + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_steps_import_without_kafka_python() -> None:
    """Without kafka-python the library and its steps import, and a Kafka alias is an
    error naming the extra that installs it."""
    done = run_without(
        ["kafka", "confluent_kafka"],
        """
        import asyncbdd, asyncbdd.steps, asyncbdd.queues
        from asyncbdd.errors import ConfigurationError
        from asyncbdd.queues.transports import transport_named
        try:
            transport_named("kafka")
        except ConfigurationError as error:
            print(error)
        try:
            asyncbdd.queues.KafkaTopic
        except ImportError as error:
            print(error)
        """,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    assert all("pip install 'asyncbdd[kafka]'" in line for line in lines), lines


def test_the_steps_import_without_moto() -> None:
    """Without moto (the sqs extra) the library and its steps import, and starting the
    embedded SQS server says which extra to install."""
    done = run_without(
        ["moto", "moto.server"],
        """
        import asyncbdd.steps
        from asyncbdd.infra.sqs_server import EmbeddedSqs, EmbeddedSqsError
        try:
            EmbeddedSqs().start()
        except EmbeddedSqsError as error:
            print(error)
        """,
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'asyncbdd[sqs]'" in done.stdout


class Client2:
    """The shape of a kafka-python 2.x client class, as far as settings go."""

    DEFAULT_CONFIG: ClassVar[dict[str, Any]] = {"api_version_auto_timeout_ms": 2000}


class Client3:
    """The shape of a kafka-python 3.0 client class, as far as settings go."""

    DEFAULT_CONFIG: ClassVar[dict[str, Any]] = {"bootstrap_timeout_ms": 2000}


def test_the_connect_timeout_goes_by_the_name_each_release_knows() -> None:
    """2.x calls the connect timeout api_version_auto_timeout_ms, 3.0 bootstrap_timeout_ms."""
    assert kafka_clients.connect_timeout_config(Client2, 1500) == {
        "api_version_auto_timeout_ms": 1500
    }
    assert kafka_clients.connect_timeout_config(Client3, 1500) == {"bootstrap_timeout_ms": 1500}


def test_only_an_embedded_broker_is_spoken_to_in_a_fixed_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The embedded broker's address gets the mock cluster's protocol version (Kafka 2.3,
    whose ApiVersions request is v2, the newest the mock cluster answers); any other
    cluster is left to negotiate."""
    monkeypatch.setattr(kafka_broker, "_addresses", {"127.0.0.1:40001"})
    assert kafka_clients.broker_version_config("127.0.0.1:40001") == {"api_version": (2, 3, 0)}
    assert kafka_clients.broker_version_config("127.0.0.1:40002") == {}
    assert kafka_clients.broker_version_config("kafka.example:9092") == {}
