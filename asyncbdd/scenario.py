"""Per-scenario state: a fresh correlation id, facts learned, snapshots taken, a budget.

behave's hooks (:mod:`asyncbdd.hooks`) start one :class:`Scenario` per scenario; the
pytest plugin's ``asyncbdd_scenario`` fixture starts one per test, and scripts write
``with scenario("name") as state: ...``. Code that needs the state calls
:func:`current_scenario`.

The current scenario is a context variable: every thread and every asyncio task has its
own, so concurrent tasks (or the workers of a parallel run) each run their own scenario.
A task started inside a scenario inherits it, as tasks inherit their context.

Each pattern keeps its per-scenario state in a :class:`Slot` it owns, never in a module
global: ``INBOX = Slot("queue inbox", Inbox)`` and then ``INBOX.of(scenario)``. A slot's
value is made on first use and lives as long as its scenario.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from asyncbdd.budget import time_budget
from asyncbdd.config import get_settings
from asyncbdd.errors import AsyncBddError, InvalidInput
from asyncbdd.tripwires import Tripwires, armed

__all__ = [
    "Scenario",
    "Slot",
    "current_scenario",
    "end_scenario",
    "on_scenario_start",
    "running_scenario",
    "scenario",
    "start_scenario",
]


@dataclass
class Scenario:
    """What one scenario knows: its ids, values its steps learned, and what it captured."""

    name: str
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    scenario_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    values: dict[str, Any] = field(default_factory=dict)
    """Facts steps learned (``order_id``): bound into SQL probes and placeholders."""
    current_step: str | None = None
    """The text of the step being run, used to describe waits in its words."""
    started_at: float = field(default_factory=time.monotonic)
    tripwires: Tripwires = field(default_factory=Tripwires, repr=False)
    """Terminal states that end every wait of the scenario at once (:mod:`asyncbdd.tripwires`)."""
    waits: list[Any] = field(default_factory=list, repr=False)
    """The evidence of every wait finished in it, in order (:mod:`asyncbdd.evidence`)."""
    _cleanup: ExitStack = field(default_factory=ExitStack, repr=False)
    _providers: dict[str, tuple[Callable[[str | None], object], str | None]] = field(
        default_factory=dict, repr=False
    )
    _slots: dict[Slot[Any], Any] = field(default_factory=dict, repr=False)
    _slots_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    ended: bool = field(default=False, repr=False)
    """Whether the scenario has ended (its cleanup ran)."""

    def on_end(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` when the scenario ends (last registered, first called)."""
        self._cleanup.callback(callback)

    def placeholders(self) -> dict[str, Any]:
        """Values available as ``{name}`` in doc strings, table cells and SQL parameters."""
        return {
            **self.values,
            "correlation_id": self.correlation_id,
            "scenario_id": self.scenario_id,
        }

    def provide(
        self,
        name: str,
        provider: Callable[[str | None], object],
        *,
        argument: str | None = None,
    ) -> None:
        """Make ``{name}`` expand to ``provider(None)``, computed when it is expanded.

        With ``argument`` (what it stands for, such as ``receiver``), ``{name:some-text}``
        expands to ``provider("some-text")`` too. Engine modules call this as a scenario
        starts (:func:`on_scenario_start`): ``{webhook_url:payment-complete}``. A provider
        raises :class:`~asyncbdd.errors.InvalidInput` for an argument it does not know.
        """
        if not _NAME.fullmatch(name):
            raise InvalidInput(f"A placeholder name is an identifier, not {name!r}.")
        self._providers[name] = (provider, argument)

    def expand(self, text: str) -> str:
        """Replace ``{correlation_id}``-style placeholders in ``text``.

        Only ``{identifier}`` and ``{identifier:argument}`` forms are placeholders, so JSON
        braces pass through. An unknown placeholder is an error listing the known ones.
        """
        values = self.placeholders()

        def replace(match: re.Match[str]) -> str:
            name, argument = match.group(1), match.group(2)
            provided = None if name in _IDS else self._providers.get(name)
            if provided is not None:
                provider, takes = provided
                if argument is None or takes is not None:
                    return str(provider(argument))
            elif name in values and argument is None:
                return str(values[name])
            if provided is not None or name in values:
                raise InvalidInput(
                    f"Placeholder {{{name}}} takes no argument, but {text!r} gives it one: "
                    f"{match.group()}. Write {{{name}}}."
                )
            raise InvalidInput(
                f"Unknown placeholder {match.group()} in {text!r}. Known placeholders: "
                + ", ".join(self._known(values))
            )

        return _PLACEHOLDER.sub(replace, text)

    def _known(self, values: dict[str, Any]) -> list[str]:
        forms = {name: [f"{{{name}}}"] for name in values}
        for name, (_, argument) in self._providers.items():
            forms[name] = [f"{{{name}}}"] + ([f"{{{name}:{argument}}}"] if argument else [])
        return [form for name in sorted(forms) for form in forms[name]]


T = TypeVar("T")


class Slot(Generic[T]):
    """One pattern's typed per-scenario state: ``factory(scenario)`` makes it on the
    scenario's first use, and it is gone with the scenario.

    A slot is declared once, at module level, by the module that owns the state; the
    value lives on the :class:`Scenario`, so two scenarios never share it.
    """

    def __init__(self, name: str, factory: Callable[[Scenario], T]) -> None:
        self.name = name
        self._factory = factory

    def of(self, scenario: Scenario) -> T:
        """This slot's value in ``scenario``, made now if it has none yet (once, even when
        two threads ask at the same time)."""
        try:
            return scenario._slots[self]  # type: ignore[no-any-return]
        except KeyError:
            pass
        with scenario._slots_lock:
            if self not in scenario._slots:
                scenario._slots[self] = self._factory(scenario)
            return scenario._slots[self]  # type: ignore[no-any-return]

    def peek(self, scenario: Scenario) -> T | None:
        """This slot's value in ``scenario`` if it has one; never makes it."""
        return scenario._slots.get(self)

    def current(self) -> T:
        """This slot's value in the current scenario (an error outside one)."""
        return self.of(current_scenario())

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


def start_scenario(name: str, *, budget: float | None = None) -> Scenario:
    """Begin a scenario: it becomes current (in this thread or task, and in what it
    starts), and its waits share its time budget. A scenario still current here ends
    first."""
    if _current.get() is not None:
        end_scenario()
    state = Scenario(name)
    settings = get_settings()
    # The timeout scale stretches every deadline, so it stretches their sum too.
    seconds = (settings.scenario_budget if budget is None else budget) * settings.timeout_scale
    state._cleanup.enter_context(time_budget(seconds, f"time budget of scenario {name!r}"))
    state.tripwires.scenario_started = state.started_at
    state.tripwires.read_timeout = settings.connect_timeout
    state._cleanup.enter_context(armed(state.tripwires))
    _current.set(state)
    _live.add(state)
    for listener in list(_listeners):
        listener(state)
    return state


def on_scenario_start(listener: Callable[[Scenario], object]) -> None:
    """Call ``listener`` with every scenario as it starts (once per listener).

    Engine modules use it to set up per-scenario state (queue readers record where the
    scenario starts reading); cleanup goes on ``Scenario.on_end``.
    """
    if listener not in _listeners:
        _listeners.append(listener)


def end_scenario() -> None:
    """End the current scenario (no error if none is running)."""
    state = _current.get()
    if state is None:
        return
    _current.set(None)
    state.ended = True
    try:
        state._cleanup.close()
    finally:
        _live.discard(state)


def current_scenario() -> Scenario:
    """The running scenario; an error outside one.

    A thread started without the scenario's context (``threading.Thread`` does not copy
    it) is given the scenario when exactly one is running in the process; with several,
    it must be started with ``contextvars.copy_context().run`` to say which.
    """
    state = _current.get() or _live.only()
    if state is None:
        if len(_live):
            raise AsyncBddError(
                f"{len(_live)} scenarios are running, and this thread or task is in none "
                "of them: a thread does not inherit the scenario it was started in. Start "
                "it as threading.Thread(target=contextvars.copy_context().run, "
                "args=(function,)), so that it runs in its starter's scenario."
            )
        raise AsyncBddError(
            "No scenario is running. Under behave, call asyncbdd.hooks.install_hooks(globals()) "
            "in environment.py; under pytest, use the asyncbdd_scenario fixture (or "
            "`with asyncbdd.scenario(...)`)."
        )
    return state


def running_scenario() -> Scenario | None:
    """The running scenario, or ``None`` outside one (found as :func:`current_scenario`
    finds it)."""
    return _current.get() or _live.only()


class _Live:
    """The scenarios running in this process (run-scoped): how a thread that was started
    without a scenario's context finds the one scenario that runs, if only one does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scenarios: list[Scenario] = []

    def add(self, scenario: Scenario) -> None:
        with self._lock:
            self._scenarios.append(scenario)

    def discard(self, scenario: Scenario) -> None:
        with self._lock:
            self._scenarios = [live for live in self._scenarios if live is not scenario]

    def only(self) -> Scenario | None:
        with self._lock:
            return self._scenarios[0] if len(self._scenarios) == 1 else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._scenarios)


@contextmanager
def scenario(name: str = "test", *, budget: float | None = None) -> Iterator[Scenario]:
    """Run the block as one scenario (for pytest and scripts)."""
    state = start_scenario(name, budget=budget)
    try:
        yield state
    finally:
        end_scenario()


_current: ContextVar[Scenario | None] = ContextVar("asyncbdd_scenario", default=None)
_live = _Live()
_listeners: list[Callable[[Scenario], object]] = []
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}\s\"'](?:[^{}\"']*[^{}\s\"'])?))?\}")
_IDS = ("correlation_id", "scenario_id")
