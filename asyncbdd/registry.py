"""Named things that steps refer to: probes, snapshot sources, and later queues.

A name is the phrase a feature file uses ("the order status"). It may hold ``parse``
fields, so one registration serves many phrases::

    registry.register('the status of order "{order_id}"', lookup_status)
    registry.resolve('the status of order "ord-1"')  # -> (lookup_status, {"order_id": "ord-1"})

An unknown phrase raises :class:`~asyncbdd.errors.UnknownName` listing what is
registered, with a close-match suggestion.

A name registers once per run. A registration belongs to the run in force when it is made;
:func:`new_run` starts the next one, in which the same names may be registered again: that
is the same code run again, as when a runner such as behavex runs behave several times in
one process and so executes ``environment.py`` and the step modules once per run. behave's
``before_all`` hook (:mod:`asyncbdd.hooks`) starts each run. Within one run, a second
registration of a name to another item is an error naming both; to the very same item it
changes nothing.
"""

from __future__ import annotations

import itertools
import os
import reprlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import parse

from asyncbdd.errors import AsyncBddError, UnknownName

__all__ = ["Registry", "Resolved", "current_run", "new_run"]

T = TypeVar("T")


class _Runs:
    """The number of the run in force, which :func:`new_run` moves on."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self.current = 0

    def start(self) -> None:
        with self._lock:
            self.current = next(self._numbers)


_RUNS = _Runs()


def new_run() -> None:
    """Start a new run: names registered before may be registered again, once each.

    Call it when a run begins, before code that registers names runs again in the same
    process. behave's ``before_all`` hook does; a runner of its own should too.
    """
    _RUNS.start()


def current_run() -> int:
    """The number of the run in force (see :func:`new_run`), for registries of other
    shapes that follow the same once-per-run rule."""
    return _RUNS.current


@dataclass(frozen=True)
class _Entry(Generic[T]):
    parser: parse.Parser
    item: T
    run: int


@dataclass(frozen=True)
class Resolved(Generic[T]):
    """A phrase resolved to its registration, with the values of the name's fields."""

    name: str
    item: T
    fields: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Items registered under phrases, looked up by the phrases steps write."""

    def __init__(self, kind: str, how_to_register: str) -> None:
        self.kind = kind
        self.how_to_register = how_to_register
        self._items: dict[str, _Entry[T]] = {}
        self._lock = threading.Lock()

    def register(self, name: str, item: T, *, replace: bool = False) -> None:
        """Register ``item`` under ``name``; a name registered earlier in the same run to
        another item is an error, unless ``replace`` (see the module docstring)."""
        name = _normalise(name)
        try:
            parser = parse.compile(name, case_sensitive=True)
        except ValueError as error:
            message = f"{self.kind} name {name!r} is not a valid pattern: {error}"
            raise AsyncBddError(message) from None
        with self._lock:
            run = _RUNS.current
            earlier = self._items.get(name)
            if earlier is not None and earlier.run == run and not replace:
                if earlier.item is item:
                    return
                raise AsyncBddError(
                    f"A {self.kind} named {name!r} is already registered in this run, as "
                    f"{_describe(earlier.item)}; it cannot also be {_describe(item)}. "
                    "Register each name once, or pass replace=True to take it over. "
                    "(A runner that runs the same code again in one process calls "
                    "asyncbdd.registry.new_run() before each run; asyncbdd's behave hooks do.)"
                )
            self._items[name] = _Entry(parser, item, run)

    def unregister(self, name: str) -> None:
        """Forget ``name`` (no error if it was not registered)."""
        with self._lock:
            self._items.pop(_normalise(name), None)

    def resolve(self, phrase: str) -> Resolved[T]:
        """Find the registration ``phrase`` refers to, by exact name or by pattern."""
        phrase = _normalise(phrase)
        with self._lock:
            items = dict(self._items)
        if phrase in items:
            return Resolved(phrase, items[phrase].item)
        matches = [
            Resolved(name, entry.item, dict(result.named))
            for name, entry in items.items()
            if entry.parser.named_fields and (result := entry.parser.parse(phrase)) is not None
        ]
        if len(matches) > 1:
            names = ", ".join(repr(match.name) for match in matches)
            raise AsyncBddError(
                f"{phrase!r} matches more than one {self.kind}: {names}. "
                "Rename one so each phrase means one thing."
            )
        if not matches:
            raise UnknownName(self.kind, phrase, items, self.how_to_register)
        return matches[0]

    @property
    def names(self) -> list[str]:
        """The registered names, sorted."""
        with self._lock:
            return sorted(self._items)

    @contextmanager
    def isolated(self) -> Iterator[Registry[T]]:
        """Within the block, registrations are temporary: the previous set is restored."""
        with self._lock:
            saved = dict(self._items)
        try:
            yield self
        finally:
            with self._lock:
                self._items = saved

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalise(name) in self._items


def _normalise(name: str) -> str:
    return " ".join(name.split())


_PACKAGE_DIRECTORY = os.path.dirname(os.path.abspath(__file__)) + os.sep
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 80


def _describe(item: object) -> str:
    """A function by module and qualified name and, outside asyncbdd, where it is defined;
    anything else by a short repr."""
    qualname = getattr(item, "__qualname__", None)
    if not callable(item) or not isinstance(qualname, str):
        return _repr.repr(item)
    name = getattr(item, "__name__", qualname)
    if qualname.rpartition(".")[2] != name:  # renamed to say what it is, as sql_probe does
        return str(name)
    module = getattr(item, "__module__", None)  # None for code behave executes from a file
    described = f"{module}.{qualname}" if module else qualname
    code = getattr(item, "__code__", None)
    if code is None or os.path.abspath(code.co_filename).startswith(_PACKAGE_DIRECTORY):
        return described
    return f"{described} ({_shown(os.path.abspath(code.co_filename))}:{code.co_firstlineno})"


def _shown(filename: str) -> str:
    """The file relative to the working directory when it is inside it."""
    try:
        relative = os.path.relpath(filename)
    except (OSError, ValueError):  # no working directory, or another drive
        return filename
    return filename if relative.startswith(os.pardir) else relative
