"""Database access shared by probes, snapshots and trace stores.

One SQLAlchemy engine per URL, created on first use with a bounded connect time; every
driver failure becomes a :class:`~asyncbdd.errors.DatabaseUnavailable` that names the
database (password hidden) and what to check, instead of a traceback from the driver.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from asyncbdd.config import get_settings
from asyncbdd.errors import ConfigurationError, DatabaseUnavailable, QueryFailed

__all__ = ["connect", "dispose_engines", "engine_for", "safe_url"]


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
