"""Database calls: bounded by the wait's deadline, and malformed URLs reported cleanly.

Every call through :func:`asyncbdd.database.connect` ends by the deadline of the wait in
progress (:mod:`asyncbdd.deadline`), or outside a wait by the default deadline
(``asyncbdd.timeout`` x ``asyncbdd.timeout_scale``): a slow statement, a lock held by
another transaction, a busy SQLite file, a server that accepts and never answers.

PostgreSQL and MariaDB tests use the servers of the ``postgresql_url`` and
``mariadb_url`` fixtures, each in its own uniquely named table, dropped at the end. The
lock holders carry a server-side idle timeout, so that a regression fails on the elapsed
time instead of hanging the run.
"""

from __future__ import annotations

import importlib
import re
import select
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url, text

from asyncbdd.config import Settings, set_settings
from asyncbdd.database import connect, dispose_engines, safe_url
from asyncbdd.deadline import until
from asyncbdd.errors import AsyncBddError, ConfigurationError, DatabaseUnavailable

PASSWORD = "pw-S3cr3t"
"""Sent in test URLs; the servers use trust authentication, so it must only be hidden."""
SLACK = 0.5
"""How much later than its bound a call may end: driver overhead, a loaded machine."""


@pytest.fixture(autouse=True)
def own_settings() -> Iterator[None]:
    """A connect timeout longer than the deadlines below, so that it is not what ends them."""
    set_settings(Settings(connect_timeout=5.0))
    yield
    dispose_engines()
    set_settings(None)


def elapsed_call(call: Callable[[], object]) -> tuple[BaseException | None, float]:
    """Run ``call``; the exception it raised (or ``None``) and the seconds it took."""
    start = time.monotonic()
    try:
        call()
    except BaseException as error:
        return error, time.monotonic() - start
    return None, time.monotonic() - start


def run(url: str, sql: str, deadline_in: float | None) -> Callable[[], object]:
    """A call running ``sql`` through connect(), within a wait ending in ``deadline_in`` s."""

    def call() -> object:
        if deadline_in is None:
            with connect(url, purpose="read the probe") as connection:
                return connection.execute(text(sql)).all()
        with until(time.monotonic() + deadline_in), connect(url, purpose="read the probe") as c:
            return c.execute(text(sql)).all()

    return call


def assert_stopped_at_deadline(
    error: BaseException | None, took: float, bound: float, url: str
) -> str:
    """``error`` is the clear deadline error naming the database, raised within ``bound``."""
    assert took < bound + SLACK, f"took {took:.2f} s, bound {bound} s"
    assert isinstance(error, DatabaseUnavailable), repr(error)
    message = str(error)
    assert PASSWORD not in message
    assert safe_url(url) in message
    assert re.search(r"stopped at the .*deadline after \d+ ms", message), message
    return message


def with_password(url: str) -> str:
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def table_name() -> str:
    return f"asyncbdd_deadline_{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------


@contextmanager
def postgresql_row_lock(url: str) -> Iterator[str]:
    """A table with row id 1 locked by another session's open transaction; its name.

    The holder ends its transaction by itself after 8 s idle (a bound for a regression).
    """
    name = table_name()
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    holder = psycopg.connect(conninfo, connect_timeout=3)
    try:
        holder.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, v INTEGER)")
        holder.execute(f"INSERT INTO {name} VALUES (1, 1)")
        holder.commit()
        holder.execute("SET idle_in_transaction_session_timeout = '8s'")
        holder.execute(f"SELECT * FROM {name} WHERE id = 1 FOR UPDATE")
        yield name
    finally:
        holder.close()
        with psycopg.connect(conninfo, connect_timeout=3, autocommit=True) as cleaner:
            cleaner.execute("SET lock_timeout = '5s'")
            cleaner.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.mark.postgresql
def test_a_slow_postgresql_statement_ends_at_the_wait_deadline(postgresql_url: str) -> None:
    """pg_sleep(20) in a wait with 1 s left fails after about 1 s, naming the database."""
    url = with_password(postgresql_url)
    error, took = elapsed_call(run(url, "SELECT pg_sleep(20)", deadline_in=1.0))
    message = assert_stopped_at_deadline(error, took, 1.0, url)
    assert "wait's deadline" in message
    assert took > 0.9
    # the connection went back to the pool usable, without the wait's timeouts
    assert run(url, "SELECT pg_sleep(0.2)", deadline_in=None)() == [("",)]


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "sql",
    ["UPDATE {table} SET v = 2 WHERE id = 1", "SELECT * FROM {table} WHERE id = 1 FOR UPDATE"],
)
def test_a_postgresql_row_lock_fails_within_the_time_left(postgresql_url: str, sql: str) -> None:
    """A row locked by another transaction fails the call when the wait's time is up."""
    with postgresql_row_lock(postgresql_url) as name:
        error, took = elapsed_call(run(postgresql_url, sql.format(table=name), deadline_in=1.0))
        assert_stopped_at_deadline(error, took, 1.0, postgresql_url)


@pytest.mark.postgresql
def test_postgresql_calls_outside_a_wait_have_the_default_deadline(postgresql_url: str) -> None:
    """A snapshot step (no wait) is bounded by asyncbdd.timeout x asyncbdd.timeout_scale."""
    set_settings(Settings(connect_timeout=5.0, timeout=0.5, timeout_scale=2.0))
    with postgresql_row_lock(postgresql_url) as name:
        sql = f"SELECT * FROM {name} WHERE id = 1 FOR UPDATE"
        error, took = elapsed_call(run(postgresql_url, sql, deadline_in=None))
    message = assert_stopped_at_deadline(error, took, 1.0, postgresql_url)
    assert "asyncbdd.timeout" in message


@pytest.mark.postgresql
def test_a_postgresql_call_at_the_deadline_gets_only_a_moment(postgresql_url: str) -> None:
    """With no time left, a call may still answer within a moment (the wait shows that
    last value), but a slow one fails then rather than taking a whole timeout."""
    error, took = elapsed_call(run(postgresql_url, "SELECT pg_sleep(5)", deadline_in=0.0))
    assert_stopped_at_deadline(error, took, 0.2, postgresql_url)


# --------------------------------------------------------------------------------------
# MariaDB
# --------------------------------------------------------------------------------------


@contextmanager
def mariadb_row_lock(url: str) -> Iterator[str]:
    """A table with row id 1 locked by another session's open transaction; its name.

    The holder's transaction ends by itself after 8 s idle (a bound for a regression).
    """
    pymysql: Any = importlib.import_module("pymysql")
    name = table_name()
    parsed = make_url(url)
    options: dict[str, Any] = {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 3306,
        "user": parsed.username or "root",
        "password": parsed.password or "",
        "database": parsed.database,
        "connect_timeout": 3,
        "read_timeout": 15,
    }
    holder = pymysql.connect(**options)
    try:
        with holder.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
            cursor.execute(f"INSERT INTO {name} VALUES (1, 1)")
            holder.commit()
            cursor.execute("SET SESSION idle_transaction_timeout = 8")
            cursor.execute("BEGIN")
            cursor.execute(f"SELECT * FROM {name} WHERE id = 1 FOR UPDATE")
        yield name
    finally:
        holder.close()
        cleaner = pymysql.connect(**options)
        try:
            with cleaner.cursor() as cursor:
                cursor.execute("SET SESSION lock_wait_timeout = 5")
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
        finally:
            cleaner.close()


@pytest.mark.mariadb
def test_a_slow_mariadb_statement_ends_at_the_wait_deadline(mariadb_url: str) -> None:
    """SELECT SLEEP(20) in a wait with 1 s left fails after about 1 s, naming the database."""
    error, took = elapsed_call(run(mariadb_url, "SELECT SLEEP(20)", deadline_in=1.0))
    assert_stopped_at_deadline(error, took, 1.0, mariadb_url)
    assert took > 0.9
    assert run(mariadb_url, "SELECT SLEEP(0.2)", deadline_in=None)() == [(0,)]


@pytest.mark.mariadb
@pytest.mark.parametrize(
    "sql",
    ["UPDATE {table} SET v = 2 WHERE id = 1", "SELECT * FROM {table} WHERE id = 1 FOR UPDATE"],
)
def test_a_mariadb_row_lock_fails_within_the_time_left(mariadb_url: str, sql: str) -> None:
    """A row locked by another transaction fails the call when the wait's time is up."""
    with mariadb_row_lock(mariadb_url) as name:
        error, took = elapsed_call(run(mariadb_url, sql.format(table=name), deadline_in=1.0))
        assert_stopped_at_deadline(error, took, 1.0, mariadb_url)


@pytest.mark.mariadb
def test_mariadb_calls_outside_a_wait_have_the_default_deadline(mariadb_url: str) -> None:
    """Outside a wait, a lock blocks no longer than asyncbdd.timeout x timeout_scale."""
    set_settings(Settings(connect_timeout=5.0, timeout=0.5, timeout_scale=2.0))
    with mariadb_row_lock(mariadb_url) as name:
        sql = f"UPDATE {name} SET v = 2 WHERE id = 1"
        error, took = elapsed_call(run(mariadb_url, sql, deadline_in=None))
    assert_stopped_at_deadline(error, took, 1.0, mariadb_url)


# --------------------------------------------------------------------------------------
# SQLite
# --------------------------------------------------------------------------------------

COUNT_TO_20_MILLION = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) "
    "SELECT count(*) FROM c"
)
"""About 10 s of work for SQLite on this kind of machine."""


@contextmanager
def sqlite_locked(path: Path) -> Iterator[None]:
    """The SQLite file at ``path``, held in an exclusive transaction by another connection."""
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY)")
        holder.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_long_sqlite_query_is_interrupted_at_the_wait_deadline(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shop.db"
    error, took = elapsed_call(run(url, COUNT_TO_20_MILLION, deadline_in=1.0))
    assert_stopped_at_deadline(error, took, 1.0, url)
    assert took > 0.9
    assert run(url, "SELECT 1", deadline_in=None)() == [(1,)]


def test_a_locked_sqlite_file_fails_within_the_time_left(tmp_path: Path) -> None:
    """Busy waiting ends with the wait's time left (1 s), not the connect timeout (5 s)."""
    url = f"sqlite:///{tmp_path}/shop.db"
    with sqlite_locked(tmp_path / "shop.db"):
        error, took = elapsed_call(run(url, "SELECT * FROM orders", deadline_in=1.0))
    assert_stopped_at_deadline(error, took, 1.0, url)


def test_sqlite_calls_outside_a_wait_have_the_default_deadline(tmp_path: Path) -> None:
    """Outside a wait, a locked file blocks asyncbdd.timeout x timeout_scale (1 s), not 5 s."""
    set_settings(Settings(connect_timeout=5.0, timeout=0.5, timeout_scale=2.0))
    url = f"sqlite:///{tmp_path}/shop.db"
    with sqlite_locked(tmp_path / "shop.db"):
        error, took = elapsed_call(run(url, "SELECT * FROM orders", deadline_in=None))
    message = assert_stopped_at_deadline(error, took, 1.0, url)
    assert "asyncbdd.timeout" in message


# --------------------------------------------------------------------------------------
# A server that accepts connections and never answers
# --------------------------------------------------------------------------------------


@contextmanager
def silent_server(hold_for: float = 12.0) -> Iterator[int]:
    """A TCP listener on loopback that accepts connections and never sends a byte; its port.

    Each connection is closed after ``hold_for`` seconds at most (a bound for a
    regression), and all of them at the end.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    accepted: dict[socket.socket, float] = {}

    def serve() -> None:
        while not stop.is_set():
            readable, _, _ = select.select([listener, *accepted], [], [], 0.05)
            for ready in readable:
                if ready is listener:
                    peer, _ = listener.accept()
                    accepted[peer] = time.monotonic()
                elif not ready.recv(65536):  # the client hung up
                    del accepted[ready]
                    ready.close()
            for peer, since in list(accepted.items()):
                if time.monotonic() - since > hold_for:
                    del accepted[peer]
                    peer.close()

    thread = threading.Thread(target=serve, name="silent-server", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for peer in accepted:
            peer.close()
        listener.close()


@pytest.mark.parametrize(
    "scheme",
    ["postgresql+psycopg", pytest.param("mysql+pymysql", id="mysql+pymysql")],
)
def test_a_silent_server_fails_within_the_time_left(scheme: str) -> None:
    """Connecting to a server that never answers fails within the time left (1.5 s,
    rounded up to whole seconds where the driver wants them) plus 1 s, not in the connect
    timeout (5 s), and not never."""
    if scheme.startswith("mysql"):
        pytest.importorskip("pymysql")
    with silent_server() as port:
        url = f"{scheme}://app:{PASSWORD}@127.0.0.1:{port}/shop"
        error, took = elapsed_call(run(url, "SELECT 1", deadline_in=1.5))
    assert took < 1.5 + 1.0, f"took {took:.2f} s"
    assert isinstance(error, DatabaseUnavailable), repr(error)
    assert PASSWORD not in str(error)
    assert safe_url(url) in str(error)


def test_a_silent_mysql_server_fails_outside_a_wait_too() -> None:
    """Outside a wait the connect timeout bounds the handshake, which PyMySQL's own
    connect timeout does not (it covers the TCP connect only)."""
    pytest.importorskip("pymysql")
    set_settings(Settings(connect_timeout=1.0))
    with silent_server() as port:
        url = f"mysql+pymysql://app:{PASSWORD}@127.0.0.1:{port}/shop"
        error, took = elapsed_call(run(url, "SELECT 1", deadline_in=None))
    assert took < 1.0 + SLACK, f"took {took:.2f} s"
    assert isinstance(error, DatabaseUnavailable), repr(error)


# --------------------------------------------------------------------------------------
# Malformed URLs
# --------------------------------------------------------------------------------------

SECRET_PIECES = ("Zq@Xw:Jk/Vb#Np", "Zq", "Xw", "Jk", "Vb", "Np")
"""A password with characters that need percent-encoding in a URL, and pieces of it."""

MALFORMED_URLS = [
    pytest.param("postgresql://u:Zq@Xw:Jk/Vb#Np@localhost/db", id="special-characters"),
    pytest.param("postgresql://u:Zq@Xw:Jk/Vb#Np@localhost:abc/db", id="special-and-port"),
    pytest.param("postgresql://u:Zq@Xw@localhost:abc/db", id="non-numeric-port"),
    pytest.param("postgresql+psycopg://u:Zq@Xw@localhost:99999/db", id="port-out-of-range"),
    pytest.param("postgresql+psycopg://u:Zq@Xw@localhost:0/db", id="port-zero"),
    pytest.param("mysql+pymysql://u:Zq@Xw@localhost:3306x/db", id="mysql-bad-port"),
    pytest.param("postgresql+psycopg://u:Zq@Xw@[::1/db", id="unclosed-ipv6-bracket"),
    pytest.param("://u:Zq@Xw@localhost/db", id="missing-driver-name"),
    pytest.param("u:Zq@Xw@localhost/db", id="missing-scheme"),
    pytest.param("postgresql:/u:Zq@Xw@localhost/db", id="one-slash"),
    pytest.param("not a url at all", id="garbage"),
    pytest.param("sqlite:///shop.db?timeout=soon", id="bad-query-argument"),
]


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_a_malformed_url_is_a_configuration_error_without_its_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as raised, connect(url):
        pass
    message = str(raised.value)
    assert "URL" in message
    for piece in SECRET_PIECES:
        assert piece not in message
    assert isinstance(raised.value, AsyncBddError)


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_safe_url_masks_a_malformed_url(url: str) -> None:
    rendered = safe_url(url)
    for piece in SECRET_PIECES:
        assert piece not in rendered


def test_safe_url_keeps_what_identifies_the_database() -> None:
    assert safe_url("postgresql://u:Zq%40Xw@db.internal:abc/shop") == (
        "postgresql://u:***@db.internal:abc/shop"
    )
    assert safe_url("postgresql+psycopg://u:secret@h:5432/shop") == (
        "postgresql+psycopg://u:***@h:5432/shop"
    )
