"""Named things that steps refer to: probes, snapshot sources, and later queues.

A name is the phrase a feature file uses ("the order status"). It may hold ``parse``
fields, so one registration serves many phrases::

    registry.register('the status of order "{order_id}"', lookup_status)
    registry.resolve('the status of order "ord-1"')  # -> (lookup_status, {"order_id": "ord-1"})

An unknown phrase raises :class:`~asyncbdd.errors.UnknownName` listing what is
registered, with a close-match suggestion.

Registrations made during a behave run (in ``before_all``, or by steps) belong to that
run: :func:`run_registrations`, entered by the hooks, forgets them when the run ends, so
that a runner that runs behave several times in one process (behavex) registers afresh
each time instead of failing on names it registered before.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import parse

from asyncbdd.errors import AsyncBddError, UnknownName

__all__ = ["Registry", "Resolved", "run_registrations"]

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
        self._lock = threading.Lock()
        _registries.add(self)

    def register(self, name: str, item: T, *, replace: bool = False) -> None:
        """Register ``item`` under ``name``; a second registration of a name is an error."""
        name = _normalise(name)
        try:
            parser = parse.compile(name, case_sensitive=True)
        except ValueError as error:
            message = f"{self.kind} name {name!r} is not a valid pattern: {error}"
            raise AsyncBddError(message) from None
        with self._lock:
            if name in self._items and not replace:
                raise AsyncBddError(
                    f"A {self.kind} named {name!r} is already registered; "
                    "register each name once, or pass replace=True."
                )
            self._items[name] = (parser, item)

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


_registries: weakref.WeakSet[Registry[Any]] = weakref.WeakSet()


@contextmanager
def run_registrations() -> Iterator[None]:
    """Within the block, every registry's registrations are temporary (one run's own)."""
    with ExitStack() as stack:
        for registry in list(_registries):
            stack.enter_context(registry.isolated())
        yield
