"""Named probes: what "the order status" means, registered once in Python.

A probe is a function returning the current value of something a step waits on. Its
name is the phrase feature files use, and may hold fields::

    @probe('the status of order "{order_id}"')
    def order_status(order_id: str) -> str | None: ...

    @probe("the order status")             # the order this scenario placed
    def this_order_status(scenario: Scenario) -> str | None:
        return lookup(scenario.values["order_id"])

A function taking a ``scenario`` parameter receives the running :class:`Scenario`. Most
probes are one SQL query, and :func:`sql_probe` registers those without a function::

    sql_probe("the order status", "SELECT status FROM orders WHERE id = :order_id")

The query's ``:parameters`` are bound from the phrase's fields and the scenario's
values (``order_id``, ``correlation_id``, ``scenario_id``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import ArgumentError

from asyncbdd.database import connect
from asyncbdd.errors import InvalidInput
from asyncbdd.matching import mismatch_hint, same_value
from asyncbdd.registry import Registry
from asyncbdd.scenario import Scenario, current_scenario
from asyncbdd.tripwires import Tripwire
from asyncbdd.wait import WaitState, wait_stays, wait_until

__all__ = [
    "PROBES",
    "check_never_reads",
    "check_stays",
    "fail_at_once_if_value",
    "probe",
    "read_probe",
    "register_probe",
    "sql_probe",
    "wait_for_value",
]

ProbeFunction = Callable[..., Any]
_ANY: Any = object()
F = TypeVar("F", bound=ProbeFunction)

PROBES: Registry[ProbeFunction] = Registry(
    "probe",
    "Register one in Python, e.g. in environment.py: "
    "asyncbdd.sql_probe('the order status', 'SELECT status FROM orders WHERE id = :order_id'), "
    "or decorate a function with @asyncbdd.probe('the order status').",
)


def probe(name: str) -> Callable[[F], F]:
    """Decorator: register the function as the probe called ``name``."""

    def register(function: F) -> F:
        register_probe(name, function)
        return function

    return register


def register_probe(name: str, function: ProbeFunction, *, replace: bool = False) -> None:
    """Register ``function`` as the probe called ``name``."""
    PROBES.register(name, function, replace=replace)


def sql_probe(
    name: str, query: str, *, database_url: str | None = None, replace: bool = False
) -> None:
    """Register a probe that runs ``query`` and returns the first column of its first row.

    No row gives ``None`` ("not there yet"). Parameters come from the phrase's fields,
    then from the running scenario's values; a probe whose phrase gives them all reads
    outside a scenario too. ``database_url`` defaults to the setting
    ``asyncbdd.database_url``.
    """
    try:
        statement = text(query)
    except ArgumentError as error:
        raise InvalidInput(f"The query of probe {name!r} is not valid SQL text: {error}") from None

    needed = set(statement.compile().params)

    def run_query(**fields: Any) -> Any:
        missing = sorted(needed - set(fields))
        values = current_scenario().placeholders() if missing else {}
        unknown = sorted(set(missing) - set(values))
        if unknown:
            raise InvalidInput(
                f"The query of probe {name!r} needs :{', :'.join(unknown)}, which neither "
                f"the phrase nor the scenario provides. Scenario values: "
                f"{', '.join(sorted(values))}. A step must first record it, e.g. "
                f"scenario.values[{unknown[0]!r}] = ..."
            )
        parameters = {**values, **fields}
        with connect(database_url, purpose=f"read probe {name!r}") as connection:
            return connection.execute(statement, parameters).scalar()

    run_query.__name__ = f"sql_probe({name!r})"
    register_probe(name, run_query, replace=replace)


def read_probe(phrase: str, scenario: Scenario | None = None) -> Callable[[], Any]:
    """Resolve ``phrase`` to a registered probe, bound to its fields: call it to read."""
    resolved = PROBES.resolve(phrase)
    function = resolved.item
    arguments = dict(resolved.fields)
    if "scenario" in inspect.signature(function).parameters:
        arguments["scenario"] = scenario or current_scenario()

    def read() -> Any:
        return function(**arguments)

    read.__name__ = resolved.name
    return read


def wait_for_value(
    phrase: str,
    expected: object,
    *,
    timeout: float | None = None,
    never: object = _ANY,
    at_least: float = 0.0,
    hold: float = 0.0,
    description: str | None = None,
) -> Any:
    """Wait until the probe ``phrase`` reads ``expected``; return the value read.

    ``never``: a value that fails the wait at once if read (a terminal wrong state).
    ``at_least`` and ``hold`` are those of :func:`asyncbdd.wait.wait_until`.
    """
    fail_if = None if never is _ANY else (lambda value: same_value(never, value))
    return wait_until(
        read_probe(phrase),
        lambda value: same_value(expected, value),
        timeout=timeout,
        at_least=at_least,
        hold=hold,
        fail_if=fail_if,
        description=description or f"{phrase} is {expected!r}",
        on_timeout=_explain(expected),
    )


def check_stays(
    phrase: str, expected: object, duration: float, *, description: str | None = None
) -> Any:
    """Check that the probe ``phrase`` reads ``expected`` now and throughout ``duration``."""
    return wait_stays(
        read_probe(phrase),
        lambda value: same_value(expected, value),
        duration,
        description=description or f"{phrase} stays {expected!r}",
        on_timeout=_explain(expected),
    )


def check_never_reads(
    phrase: str, unwanted: object, duration: float, *, description: str | None = None
) -> Any:
    """Check that the probe ``phrase`` does not read ``unwanted`` during ``duration``."""
    return wait_stays(
        read_probe(phrase),
        lambda value: not same_value(unwanted, value),
        duration,
        description=description or f"{phrase} does not become {unwanted!r}",
    )


def fail_at_once_if_value(
    phrase: str, value: object, *, scenario: Scenario | None = None
) -> Tripwire:
    """Set a tripwire: every later wait of the scenario fails at once when the probe
    ``phrase`` reads ``value`` (compared as waits compare values).

    The probe is resolved now, so an unknown phrase is an error here; a reading that fails
    (the order it reads is not placed yet) does not trip it.
    """
    state = scenario or current_scenario()
    read = read_probe(phrase, state)
    tripwire = Tripwire(
        f'{phrase} becomes "{value}"' if isinstance(value, str) else f"{phrase} becomes {value!r}",
        read,
        lambda reading: same_value(value, reading),
    )
    state.tripwires.add(tripwire)
    return tripwire


def _explain(expected: object) -> Callable[[WaitState[Any]], str]:
    def explain(state: WaitState[Any]) -> str:
        line = f"expected {expected!r}"
        hint = mismatch_hint(expected, state.last_value) if state.has_value else None
        return f"{line}; {hint}" if hint else line

    return explain
