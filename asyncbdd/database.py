"""Database access shared by probes, snapshots and trace stores.

One SQLAlchemy engine per URL, created on first use with a bounded connect time; every
driver failure becomes a :class:`~asyncbdd.errors.DatabaseUnavailable` that names the
database (password hidden) and what to check, instead of a traceback from the driver.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, inspect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from asyncbdd.config import get_settings
from asyncbdd.errors import ConfigurationError, DatabaseUnavailable, QueryFailed, UnknownName

__all__ = ["connect", "dispose_engines", "engine_for", "reflect_table", "safe_url"]


def engine_for(url: str | None = None) -> Engine:
    """Return the shared engine for ``url`` (default: setting ``asyncbdd.database_url``)."""
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

    ``purpose`` completes the sentence "could not <purpose>" in the error message.

    :raises DatabaseUnavailable: the database cannot be reached.
    :raises QueryFailed: it was reached, but a statement failed.
    """
    engine = engine_for(url)
    try:
        connection = engine.connect()
    except SQLAlchemyError as error:
        raise DatabaseUnavailable(
            f"Could not {purpose}: database {safe_url(engine.url)} cannot be reached: "
            f"{_cause(error)}. Check that the server is running and that "
            "asyncbdd.database_url (or the URL given) is right."
        ) from error
    try:
        with connection, connection.begin():
            yield connection
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise _query_failed(purpose, engine, error) from error
        raise DatabaseUnavailable(
            f"Could not {purpose}: the connection to database {safe_url(engine.url)} was "
            f"lost: {_cause(error)}. Check that the server is still running."
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
    """Render a database URL with its password hidden."""
    try:
        return make_url(str(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _create(url: str) -> Engine:
    timeout = get_settings().connect_timeout
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"{url!r} is not a SQLAlchemy database URL; write e.g. sqlite:///app.db or "
            "postgresql+psycopg://user@localhost:5432/app."
        ) from None
    connect_args: dict[str, object] = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        connect_args["timeout"] = timeout
    elif backend in {"postgresql", "mysql", "mariadb"}:
        connect_args["connect_timeout"] = max(int(timeout), 1)
    try:
        return create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError) as error:
        raise ConfigurationError(
            f"No driver for database {safe_url(parsed)}: {error}. Install it, e.g. "
            "pip install 'asyncbdd[postgresql]' for PostgreSQL."
        ) from None


def _cause(error: SQLAlchemyError) -> str:
    """The driver's own words: the first line of the original error."""
    original = error.orig if isinstance(error, DBAPIError) else error
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
