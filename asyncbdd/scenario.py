"""Per-scenario state: a fresh correlation id, facts learned, snapshots taken, a budget.

behave's hooks (:mod:`asyncbdd.hooks`) start one :class:`Scenario` per scenario; pytest
users do the same with ``with scenario("name") as state: ...``. Code that needs the state
calls :func:`current_scenario`.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from asyncbdd.budget import time_budget
from asyncbdd.config import get_settings
from asyncbdd.errors import AsyncBddError, InvalidInput
from asyncbdd.tripwires import Tripwires, armed

__all__ = [
    "Scenario",
    "current_scenario",
    "end_scenario",
    "on_scenario_start",
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
    captures: dict[str, Any] = field(default_factory=dict)
    """Snapshots and other evidence, by the phrase that captured them."""
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


def start_scenario(name: str, *, budget: float | None = None) -> Scenario:
    """Begin a scenario: it becomes current, and its waits share its time budget."""
    if _current:
        end_scenario()
    state = Scenario(name)
    settings = get_settings()
    # The timeout scale stretches every deadline, so it stretches their sum too.
    seconds = (settings.scenario_budget if budget is None else budget) * settings.timeout_scale
    state._cleanup.enter_context(time_budget(seconds, f"time budget of scenario {name!r}"))
    state.tripwires.scenario_started = state.started_at
    state.tripwires.read_timeout = settings.connect_timeout
    state._cleanup.enter_context(armed(state.tripwires))
    _current.append(state)
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
    while _current:
        _current.pop()._cleanup.close()


def current_scenario() -> Scenario:
    """The running scenario; an error outside one."""
    if not _current:
        raise AsyncBddError(
            "No scenario is running. Under behave, call asyncbdd.hooks.install_hooks(globals()) "
            "in environment.py; under pytest, wrap the test in `with asyncbdd.scenario(...)`."
        )
    return _current[-1]


@contextmanager
def scenario(name: str = "test", *, budget: float | None = None) -> Iterator[Scenario]:
    """Run the block as one scenario (for pytest and scripts)."""
    state = start_scenario(name, budget=budget)
    try:
        yield state
    finally:
        end_scenario()


_current: list[Scenario] = []
_listeners: list[Callable[[Scenario], object]] = []
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}\s\"'](?:[^{}\"']*[^{}\s\"'])?))?\}")
_IDS = ("correlation_id", "scenario_id")
