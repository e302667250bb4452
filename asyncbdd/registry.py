"""Named things that steps refer to: probes, snapshot sources, and later queues.

A name is the phrase a feature file uses ("the order status"). It may hold ``parse``
fields, so one registration serves many phrases::

    registry.register('the status of order "{order_id}"', lookup_status)
    registry.resolve('the status of order "ord-1"')  # -> (lookup_status, {"order_id": "ord-1"})

An unknown phrase raises :class:`~asyncbdd.errors.UnknownName` listing what is
registered, with a close-match suggestion.

A name registers once per run. A runner that runs behave several times in one process
(behavex) executes ``environment.py`` and the step files again for each run; once a run
has ended (:func:`end_of_run`, called by the hooks), a later run may register its names
again, and the new registration replaces the old.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import parse

from asyncbdd.errors import AsyncBddError, UnknownName

__all__ = ["Registry", "Resolved", "end_of_run"]

T = TypeVar("T")


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
        self._items: dict[str, tuple[parse.Parser, T]] = {}
        self._runs: dict[str, int] = {}
        """The run each name was registered in (see :func:`end_of_run`)."""
        self._lock = threading.Lock()

    def register(self, name: str, item: T, *, replace: bool = False) -> None:
        """Register ``item`` under ``name``; registering a name again in the same run is an
        error (in a later run it replaces the earlier registration)."""
        name = _normalise(name)
        try:
            parser = parse.compile(name, case_sensitive=True)
        except ValueError as error:
            message = f"{self.kind} name {name!r} is not a valid pattern: {error}"
            raise AsyncBddError(message) from None
        with self._lock:
            if name in self._items and not replace and self._runs[name] == _runs_ended[0]:
                raise AsyncBddError(
                    f"A {self.kind} named {name!r} is already registered; "
                    "register each name once, or pass replace=True."
                )
            self._items[name] = (parser, item)
            self._runs[name] = _runs_ended[0]

    def unregister(self, name: str) -> None:
        """Forget ``name`` (no error if it was not registered)."""
        with self._lock:
            self._items.pop(_normalise(name), None)
            self._runs.pop(_normalise(name), None)

    def resolve(self, phrase: str) -> Resolved[T]:
        """Find the registration ``phrase`` refers to, by exact name or by pattern."""
        phrase = _normalise(phrase)
        with self._lock:
            items = dict(self._items)
        if phrase in items:
            return Resolved(phrase, items[phrase][1])
        matches = [
            Resolved(name, item, dict(result.named))
            for name, (parser, item) in items.items()
            if parser.named_fields and (result := parser.parse(phrase)) is not None
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
            saved = dict(self._items), dict(self._runs)
        try:
            yield self
        finally:
            with self._lock:
                self._items, self._runs = saved

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalise(name) in self._items


def _normalise(name: str) -> str:
    return " ".join(name.split())


_runs_ended = [0]
"""How many runs have ended in this process: the number of the run in progress."""


def end_of_run() -> None:
    """Mark the end of a run: names registered so far may be registered again."""
    _runs_ended[0] += 1
