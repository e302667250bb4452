"""Database access shared by probes, snapshots and trace stores.

One SQLAlchemy engine per URL, created on first use; every driver failure becomes a
:class:`~asyncbdd.errors.DatabaseUnavailable` that names the database (password hidden)
and what to check, instead of a traceback from the driver.

Every call through :func:`connect` ends by a deadline: the deadline of the wait in
progress (:mod:`asyncbdd.deadline`), or outside a wait the default one
(``asyncbdd.timeout`` x ``asyncbdd.timeout_scale``). The time left becomes the
database's own limits, set when a connection is checked out and again before a statement
when earlier ones have used some of the time:

* PostgreSQL: ``statement_timeout`` and ``lock_timeout`` for the transaction (``SET
  LOCAL``); with libpq drivers, TCP keepalives and ``tcp_user_timeout`` against a server
  that vanished, and a connect timeout of the time left in whole seconds.
* MariaDB: ``max_statement_time``; MySQL: ``max_execution_time``; both
  ``lock_wait_timeout`` and ``innodb_lock_wait_timeout`` (whole seconds), for the session;
  with PyMySQL or mysqlclient, the client's read and write timeouts too (a server that
  accepts and never answers).
* SQLite: the busy timeout, and a progress handler that interrupts a statement still
  running at the deadline.

A call stopped that way is a :class:`~asyncbdd.errors.DatabaseTimeout`.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event, inspect, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from asyncbdd import deadline
from asyncbdd.config import get_settings
from asyncbdd.errors import (
    ConfigurationError,
    DatabaseTimeout,
    DatabaseUnavailable,
    QueryFailed,
    UnknownName,
)
from asyncbdd.probe_calls import PATIENCE
from asyncbdd.secrets import mask_url

__all__ = ["connect", "dispose_engines", "engine_for", "reflect_table", "safe_url"]


def engine_for(url: str | None = None) -> Engine:
    """Return the shared engine for ``url`` (default: setting ``asyncbdd.database_url``).

    :raises ConfigurationError: no URL, a malformed one, or no driver for it.
    """
    url = url or get_settings().database_url
    if not url:
        raise ConfigurationError(
            "No database is configured. Set asyncbdd.database_url in setup.cfg "
            "[behave.userdata], or ASYNCBDD_DATABASE_URL, to a SQLAlchemy URL such as "
            "sqlite:///app.db or postgresql+psycopg://user@localhost/app."
        )
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _create(url)
        return engine


@contextmanager
def connect(url: str | None = None, *, purpose: str = "run a query") -> Iterator[Connection]:
    """Open a connection in a transaction, translating driver errors into clear ones.

    Connecting and every statement end by the wait's deadline, or outside a wait by the
    default deadline (see the module's documentation). ``purpose`` completes the sentence
    "could not <purpose>" in the error message.

    :raises ConfigurationError: no URL, a malformed one, no driver, or an argument that
        the driver refuses.
    :raises DatabaseTimeout: the call was stopped at the deadline.
    :raises DatabaseUnavailable: the database cannot be reached.
    :raises QueryFailed: it was reached, but a statement failed.
    """
    started = time.monotonic()
    left = deadline.time_left()
    engine = engine_for(url)
    settings = get_settings()
    default = settings.timeout * settings.timeout_scale
    call = _Call(
        started=started,
        deadline=started + (default if left is None else max(left, _AT_LEAST)),
        in_wait=left is not None,
        default=default,
    )
    # outside a wait, the default deadline bounds connecting too (see _on_connect)
    with nullcontext() if call.in_wait else deadline.until(call.deadline):
        try:
            connection = engine.connect()
        except SQLAlchemyError as error:
            if call.expired():
                raise _timed_out(purpose, engine, call, _cause(error)) from error
            raise DatabaseUnavailable(
                f"Could not {purpose}: database {safe_url(engine.url)} cannot be reached: "
                f"{_cause(error)}. Check that the server is running and that "
                "asyncbdd.database_url (or the URL given) is right."
            ) from error
        except Exception as error:  # not the driver's error type: it refused an argument
            raise ConfigurationError(
                f"Could not {purpose}: the driver of database {safe_url(engine.url)} failed "
                f"to connect ({type(error).__name__}: {error}). Check the arguments after ? "
                "in asyncbdd.database_url (or the URL given)."
            ) from error
        try:
            with connection:
                _check_out(connection, call)
                try:
                    with connection.begin():
                        yield connection
                finally:
                    _check_in(connection)
        except _Expired as error:
            raise _timed_out(purpose, engine, call, "no time was left for a statement") from error
        except DBAPIError as error:
            if _is_timeout(error, call):
                raise _timed_out(purpose, engine, call, _cause(error)) from error
            if not error.connection_invalidated:
                raise _query_failed(purpose, engine, error) from error
            raise DatabaseUnavailable(
                f"Could not {purpose}: the connection to database {safe_url(engine.url)} "
                f"was lost: {_cause(error)}. Check that the server is still running."
            ) from error
        except SQLAlchemyError as error:
            raise _query_failed(purpose, engine, error) from error


def dispose_engines() -> None:
    """Close every pooled connection (end of a run, or between tests)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def reflect_table(connection: Connection, name: str, *, if_missing: str) -> Table:
    """The table's definition, read from the database once per engine and table.

    A missing table is an :class:`~asyncbdd.errors.UnknownName` listing the database's
    tables and views; ``if_missing`` says what the caller should check.
    """
    with _tables_lock:
        table = _tables.setdefault(connection.engine, {}).get(name)
    if table is None:
        inspector = inspect(connection)
        if not inspector.has_table(name):
            raise UnknownName(
                "table",
                name,
                [*inspector.get_table_names(), *inspector.get_view_names()],
                if_missing,
                where=f"database {safe_url(connection.engine.url)}",
            )
        table = Table(name, MetaData(), autoload_with=connection)
        with _tables_lock:
            table = _tables[connection.engine].setdefault(name, table)
    return table


def safe_url(url: object) -> str:
    """Render a database URL with its secrets hidden (the password, secret query
    parameters: :func:`asyncbdd.secrets.mask_url`), even when it is malformed."""
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
    return mask_url(text)


_engines: dict[str, Engine] = {}
_lock = threading.Lock()

_AT_LEAST = PATIENCE
"""However close the deadline, a call may take this long: the wait still takes a check's
value this late, to show it."""
_REAPPLY_AFTER = 0.1
"""Seconds a checkout may spend before its limits are set again from the time left: a
statement then ends at most this much after the deadline."""
_NEAR_DEADLINE = 0.05
"""An error this close to the deadline (seconds) is taken as caused by it."""
_CLIENT_SLACK = 1.0
"""How much longer than the time left a client-side read timeout waits, so that the
server's own timeout, which explains itself better, comes first."""
_PROGRESS_STEPS = 1000
"""SQLite virtual machine steps between two checks of the deadline."""
_LIBPQ_DRIVERS = {"psycopg", "psycopg2", "psycopg2cffi"}
_MAX_PORT = 65535
_CALL_KEY = "asyncbdd_call"


@dataclass
class _Call:
    """One :func:`connect` call: its deadline, and when its limits were last set."""

    started: float
    deadline: float
    in_wait: bool
    default: float
    limits_set_at: float | None = None

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        return self.left() <= _NEAR_DEADLINE

    def elapsed_ms(self) -> int:
        return round((time.monotonic() - self.started) * 1000)


class _Expired(Exception):
    """Raised before a statement when no time is left (translated by :func:`connect`)."""


def _create(url: str) -> Engine:
    parsed = _parse(url)
    timeout = get_settings().connect_timeout
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    connect_args: dict[str, object] = {}
    if backend == "sqlite":
        connect_args["timeout"] = timeout
    elif backend in {"postgresql", "mysql", "mariadb"}:
        connect_args["connect_timeout"] = max(math.ceil(timeout), 1)
    if backend == "postgresql" and driver in _LIBPQ_DRIVERS:
        # A server host or network that vanished: sent data unacknowledged, or an idle
        # connection whose peer no longer answers keepalives. (A server process that is
        # alive but silent is ended by the statement timeout, or not at all by libpq.)
        whole = max(math.ceil(timeout), 1)
        connect_args.update(
            keepalives=1,
            keepalives_idle=whole,
            keepalives_interval=1,
            keepalives_count=3,
            tcp_user_timeout=whole * 1000,
        )
    try:
        engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError) as error:
        raise ConfigurationError(
            f"No driver for database {safe_url(parsed)}: {error}. Install it, e.g. "
            "pip install 'asyncbdd[postgresql]' for PostgreSQL, 'asyncbdd[mysql]' for "
            "MySQL or MariaDB."
        ) from None
    except (ArgumentError, ValueError, TypeError):
        raise _malformed(url, "a query argument of it has a wrong value") from None
    event.listen(engine, "do_connect", _on_connect)
    event.listen(engine, "before_cursor_execute", _before_statement, named=True)
    event.listen(engine, "begin", _on_begin)
    return engine


def _parse(url: str) -> URL:
    """The URL, or a :class:`ConfigurationError` saying what is wrong with it."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"{_mask(url)!r} is not a SQLAlchemy database URL; write e.g. sqlite:///app.db "
            "or postgresql+psycopg://user@localhost:5432/app."
        ) from None
    except (ValueError, TypeError):  # the port; its text is not shown: it may be the password's
        raise _malformed(url, "what SQLAlchemy reads as its port is not a number") from None
    if "@" in (parsed.host or ""):
        raise _malformed(url, "it has more than one @ before the host")
    if parsed.port is not None and not 0 < parsed.port <= _MAX_PORT:
        raise _malformed(url, f"its port is not between 1 and {_MAX_PORT}")
    return parsed


def _malformed(url: str, reason: str) -> ConfigurationError:
    return ConfigurationError(
        f"{_mask(url)!r} is not a valid SQLAlchemy database URL: {reason}. Write e.g. "
        "postgresql+psycopg://user:password@localhost:5432/app or sqlite:///app.db; "
        "characters such as @ : / # ? % in a user name or password must be percent-encoded "
        "(urllib.parse.quote_plus)."
    )


def _mask(url: str) -> str:
    """``url`` with everything between the user name and the last @ hidden.

    For URLs SQLAlchemy cannot read: which @ ends the password is unknown, so this hides
    as much as could be the password, and keeps the scheme, user and host.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    if "@" not in rest:
        return _PASSWORD_ARGUMENT.sub(_HIDDEN_ARGUMENT, url)
    credentials, _, where = rest.rpartition("@")
    user, colon, _ = credentials.partition(":")
    hidden = f"{user}:***" if colon else "***"
    return f"{scheme}{separator}{hidden}@" + _PASSWORD_ARGUMENT.sub(_HIDDEN_ARGUMENT, where)


_PASSWORD_ARGUMENT = re.compile(r"(password=)[^&]*", re.IGNORECASE)
_HIDDEN_ARGUMENT = r"\1***"


# --------------------------------------------------------------------------------------
# Limits from the deadline
# --------------------------------------------------------------------------------------


def _on_connect(dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
    """A new connection: connect within the connect timeout or the time left, if shorter."""
    del record, cargs
    timeout = deadline.bounded(get_settings().connect_timeout)
    timeout = max(timeout, 0.001)
    backend, driver = dialect.name, dialect.driver
    if backend == "sqlite":
        cparams["timeout"] = timeout
    elif backend == "postgresql":
        cparams["connect_timeout"] = max(math.ceil(timeout), 1)  # libpq: whole seconds
    elif backend in {"mysql", "mariadb"}:
        whole = max(math.ceil(timeout), 1)
        if driver == "pymysql":
            cparams.update(connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout)
        elif driver == "mysqldb":
            cparams.update(connect_timeout=whole, read_timeout=whole, write_timeout=whole)
        else:
            cparams["connect_timeout"] = whole


def _check_out(connection: Connection, call: _Call) -> None:
    """Start ``call`` on ``connection``: its statements will carry the time left."""
    connection.info[_CALL_KEY] = call
    raw: Any = connection.connection.dbapi_connection  # the driver's own connection
    if isinstance(raw, sqlite3.Connection):
        raw.set_progress_handler(lambda: int(time.monotonic() >= call.deadline), _PROGRESS_STEPS)


def _check_in(connection: Connection) -> None:
    """End the call: the pooled connection keeps no deadline of it."""
    connection.info.pop(_CALL_KEY, None)
    if connection.invalidated or connection.closed:
        return
    raw: Any = connection.connection.dbapi_connection
    if isinstance(raw, sqlite3.Connection):
        raw.set_progress_handler(None, 0)
    elif connection.dialect.driver == "pymysql" and raw is not None:
        # between calls (the pool's ping), the connect timeout bounds a silent server
        timeout = get_settings().connect_timeout
        for name in ("_read_timeout", "_write_timeout"):
            if hasattr(raw, name):
                setattr(raw, name, max(timeout, 0.001))


def _on_begin(connection: Connection) -> None:
    """A new transaction: PostgreSQL's limits (SET LOCAL) must be set again."""
    call = connection.info.get(_CALL_KEY)
    if isinstance(call, _Call):
        call.limits_set_at = None


def _before_statement(**arguments: Any) -> None:
    """Before a statement of a :func:`connect` call: stop if no time is left, and give the
    database the time left if the limits set earlier are stale."""
    connection: Connection = arguments["conn"]
    call = connection.info.get(_CALL_KEY)
    if not isinstance(call, _Call):
        return
    now = time.monotonic()
    left = call.deadline - now
    if left <= 0:
        raise _Expired
    if call.limits_set_at is not None and now - call.limits_set_at <= _REAPPLY_AFTER:
        return
    raw = connection.connection.dbapi_connection
    if raw is None:
        return
    for sql in _limit_statements(connection, left):
        limits = raw.cursor()
        try:
            limits.execute(sql)
        finally:
            limits.close()
    if connection.dialect.driver == "pymysql":
        for name in ("_read_timeout", "_write_timeout"):  # PyMySQL reads them at each read
            if hasattr(raw, name):
                setattr(raw, name, left + _CLIENT_SLACK)
    call.limits_set_at = time.monotonic()


def _limit_statements(connection: Connection, left: float) -> list[str]:
    """The statements that make the database stop a statement after ``left`` seconds."""
    dialect = connection.dialect
    milliseconds = max(math.ceil(left * 1000), 1)  # 0 would mean no limit
    if dialect.name == "sqlite":
        return [f"PRAGMA busy_timeout = {milliseconds}"]
    if dialect.name == "postgresql":
        return [
            f"SELECT set_config('statement_timeout', '{milliseconds}', true), "
            f"set_config('lock_timeout', '{milliseconds}', true)"
        ]
    if dialect.name in {"mysql", "mariadb"}:
        seconds = max(math.ceil(left), 1)  # the lock timeouts take whole seconds
        locks = f"lock_wait_timeout = {seconds}, innodb_lock_wait_timeout = {seconds}"
        if getattr(dialect, "is_mariadb", False):
            return [f"SET SESSION max_statement_time = {milliseconds / 1000:.3f}, {locks}"]
        return [f"SET SESSION max_execution_time = {milliseconds}, {locks}"]
    return []


def _is_timeout(error: DBAPIError, call: _Call) -> bool:
    """Whether the database or the driver stopped the statement for the deadline."""
    original = error.orig
    words = str(original)
    if getattr(original, "sqlstate", None) in {"57014", "55P03"}:  # PostgreSQL: cancelled
        return "statement timeout" in words or "lock timeout" in words or call.expired()
    code = original.args[0] if original is not None and original.args else None
    if code in {1969, 3024, 1205}:  # MariaDB, MySQL statement timeouts; lock wait timeout
        return True
    if isinstance(original, sqlite3.OperationalError) and words == "interrupted":
        return True
    return call.expired()  # the busy timeout, a client read timeout, a lost connection


def _timed_out(purpose: str, engine: Engine, call: _Call, cause: str) -> DatabaseTimeout:
    if call.in_wait:
        which = "the wait's deadline"
        fix = 'give the step more time (a longer "within ...")'
    else:
        which = "the step's deadline"
        cause = f"{cause}; asyncbdd.timeout x asyncbdd.timeout_scale = {call.default:g} s"
        fix = "raise asyncbdd.timeout or ASYNCBDD_TIMEOUT_SCALE"
    return DatabaseTimeout(
        f"Could not {purpose}: database {safe_url(engine.url)} did not answer in time: the "
        f"call was stopped at {which} after {call.elapsed_ms()} ms ({cause}). Check for a "
        "slow query or a transaction holding a lock on the rows it reads; if the database "
        f"is only slow, {fix}."
    )


def _cause(error: SQLAlchemyError) -> str:
    """The driver's own words: the first line of the original error."""
    original = error.orig if isinstance(error, DBAPIError) else error
    arguments: tuple[object, ...] = getattr(original, "args", ())
    if len(arguments) == 2 and isinstance(arguments[0], int):  # MySQL: (code, message)
        return f"{arguments[1]} (error {arguments[0]})"
    text = str(original).strip()
    return text.splitlines()[0] if text else type(original).__name__


def _query_failed(purpose: str, engine: Engine, error: SQLAlchemyError) -> QueryFailed:
    return QueryFailed(
        f"Could not {purpose} on database {safe_url(engine.url)}: the database "
        f"answered: {_cause(error)}. Check the query's table and column names."
    )


_tables: weakref.WeakKeyDictionary[Engine, dict[str, Table]] = weakref.WeakKeyDictionary()
"""Reflected tables per engine: disposing of the engines forgets them too."""
_tables_lock = threading.Lock()
