"""Named things that steps refer to: probes, snapshot sources, and later queues.

A name is the phrase a feature file uses ("the order status"). It may hold ``parse``
fields, so one registration serves many phrases::

    registry.register('the status of order "{order_id}"', lookup_status)
    registry.resolve('the status of order "ord-1"')  # -> (lookup_status, {"order_id": "ord-1"})

An unknown phrase raises :class:`~asyncbdd.errors.UnknownName` listing what is
registered, with a close-match suggestion.

A name registers once. The same line registering it again replaces it: that is the same
code run again, as when a runner such as behavex runs behave several times in one process
and so executes ``environment.py`` once per run.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Generic, TypeVar

import parse

from asyncbdd.errors import AsyncBddError, UnknownName

__all__ = ["Registry", "Resolved"]

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
        self._sites: dict[str, tuple[str, int] | None] = {}
        self._lock = threading.Lock()

    def register(self, name: str, item: T, *, replace: bool = False) -> None:
        """Register ``item`` under ``name``; a second registration of a name is an error,
        unless it comes from the line that made the first (see the module docstring)."""
        name = _normalise(name)
        site = _registration_site()
        try:
            parser = parse.compile(name, case_sensitive=True)
        except ValueError as error:
            message = f"{self.kind} name {name!r} is not a valid pattern: {error}"
            raise AsyncBddError(message) from None
        with self._lock:
            again = site is not None and self._sites.get(name) == site
            if name in self._items and not (replace or again):
                raise AsyncBddError(
                    f"A {self.kind} named {name!r} is already registered; "
                    "register each name once, or pass replace=True."
                )
            self._items[name] = (parser, item)
            self._sites[name] = site

    def unregister(self, name: str) -> None:
        """Forget ``name`` (no error if it was not registered)."""
        with self._lock:
            self._items.pop(_normalise(name), None)
            self._sites.pop(_normalise(name), None)

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
            saved = dict(self._items), dict(self._sites)
        try:
            yield self
        finally:
            with self._lock:
                self._items, self._sites = saved

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalise(name) in self._items


def _normalise(name: str) -> str:
    return " ".join(name.split())


_PACKAGE_DIRECTORY = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _registration_site() -> tuple[str, int] | None:
    """The file and line, outside asyncbdd, of the call that led to this registration."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIRECTORY):
            return filename, frame.f_lineno
        frame = frame.f_back
    return None
