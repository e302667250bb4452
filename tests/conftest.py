"""Fixtures shared by the engine's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from demo_features import Brokers, started_brokers
from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from asyncbdd.database import safe_url
from asyncbdd.queues import aliases

DEFAULT_POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_MARIADB_URL = "mariadb+pymysql://root@127.0.0.1:3306/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def postgresql_url() -> str:
    """The test PostgreSQL server's URL (``ASYNCBDD_TEST_POSTGRESQL_URL``).

    The server must be reachable within 3 seconds; the tests create and drop their own
    uniquely named tables in it. Where it is not, the tests are skipped, except under CI
    (``CI=true``), where a silently skipped database would hide a broken build.
    """
    return _reachable(
        "PostgreSQL",
        os.environ.get("ASYNCBDD_TEST_POSTGRESQL_URL", DEFAULT_POSTGRESQL_URL),
        {"connect_timeout": 3},
        "or point ASYNCBDD_TEST_POSTGRESQL_URL at a server with trust authentication",
    )


@pytest.fixture(scope="session")
def mariadb_url() -> str:
    """The test MariaDB server's URL (``ASYNCBDD_TEST_MARIADB_URL``), as for PostgreSQL."""
    return _reachable(
        "MariaDB",
        os.environ.get("ASYNCBDD_TEST_MARIADB_URL", DEFAULT_MARIADB_URL),
        {"connect_timeout": 3, "read_timeout": 3, "write_timeout": 3},
        "or point ASYNCBDD_TEST_MARIADB_URL at a server (pip install PyMySQL)",
    )


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis server's URL (``ASYNCBDD_TEST_REDIS_URL``, default the local one),
    once it answered a PING within 3 s; else skipped, as for PostgreSQL."""
    redis = pytest.importorskip("redis", reason="pip install 'asyncbdd[redis]'")
    url = os.environ.get("ASYNCBDD_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
        client.close()
    except redis.RedisError as error:
        _unreachable(f"Redis at {safe_url(url)} is not reachable within 3 s ({error}); start it, "
                     "or point ASYNCBDD_TEST_REDIS_URL at a server.")  # fmt: skip
    return url


def _unreachable(message: str) -> None:
    """Skip the test, or fail it under CI (a silently skipped server hides a broken build)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _reachable(name: str, url: str, connect_args: dict[str, object], fix: str) -> str:
    """``url``, once a connection to it succeeded within 3 s; else skip (fail under CI)."""
    try:
        engine = create_engine(url, connect_args=connect_args)
        with engine.connect():
            pass
        engine.dispose()
    except (SQLAlchemyError, ImportError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        _unreachable(
            f"{name} at {safe_url(url)} is not reachable within 3 s ({reason}); start it, {fix}."
        )
    return url


@pytest.fixture(scope="module")
def separate_brokers() -> Iterator[Brokers]:
    """An SQS server and a Kafka broker started apart from behave, with the demo's queues,
    for the tests of one module: runs reach them only through endpoints in configuration."""
    with started_brokers() as brokers:
        yield brokers


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        nargs="?",
        type=int,
        const=30,
        default=None,
        metavar="RUNS",
        help="run the flake soak in tests/reliability/test_soak.py N times (default 30); "
        "without it the suite runs a short soak",
    )


@pytest.fixture
def own_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's queues only: closing every queue (the end of a run) reaches no queue of
    another test."""
    monkeypatch.setattr(aliases, "_registered", {})
    monkeypatch.setattr(aliases, "_configured", {})
