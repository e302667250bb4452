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
values (``order_id``, ``correlation_id``, ``scenario_id``). Then wait on it::

    expect_value("the order status", "shipped", timeout=10, never="failed")
    expect_stays("the order status", "pending", during=2)
    expect_never("the order status", "shipped", during=2)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import ArgumentError

from asyncbdd import waiting
from asyncbdd.budget import Seconds
from asyncbdd.database import connect
from asyncbdd.deprecation import deprecated
from asyncbdd.drivers import Plan, blocking
from asyncbdd.errors import InvalidInput
from asyncbdd.matching import mismatch_hint, same_value
from asyncbdd.registry import Registry
from asyncbdd.scenario import Scenario, current_scenario
from asyncbdd.tripwires import Tripwire
from asyncbdd.wait import WaitState

__all__ = [
    "PROBES",
    "expect_never",
    "expect_never_plan",
    "expect_stays",
    "expect_stays_plan",
    "expect_value",
    "expect_value_plan",
    "fail_at_once_if_value",
    "probe",
    "read_probe",
    "register_probe",
    "sql_probe",
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

    if inspect.iscoroutinefunction(function):  # awaited, it stays on the event loop

        async def read_async() -> Any:
            return await function(**arguments)

        read_async.__name__ = resolved.name
        return read_async

    def read() -> Any:
        return function(**arguments)

    read.__name__ = resolved.name
    return read


def expect_value_plan(
    phrase: str,
    expected: object,
    *,
    timeout: Seconds | None = None,
    never: object = _ANY,
    at_least: Seconds = 0.0,
    hold: Seconds = 0.0,
    description: str | None = None,
) -> Plan[Any]:
    """Wait until the probe ``phrase`` reads ``expected``; return the value read.

    ``never``: a value that fails the wait at once if read (a terminal wrong state).
    ``at_least`` and ``hold`` are those of :func:`asyncbdd.wait.wait_until`. Values compare
    as :func:`~asyncbdd.matching.same_value` does.
    """
    fail_if = None if never is _ANY else (lambda value: same_value(never, value))
    return (
        yield from waiting.wait_until(
            read_probe(phrase),
            lambda value: same_value(expected, value),
            timeout=timeout,
            at_least=at_least,
            hold=hold,
            fail_if=fail_if,
            description=description or f"{phrase} is {expected!r}",
            on_timeout=_explain(expected),
        )
    )


def expect_stays_plan(
    phrase: str, expected: object, *, during: Seconds, description: str | None = None
) -> Plan[Any]:
    """Check that the probe ``phrase`` reads ``expected`` now and throughout ``during``;
    return the value last read.

    ``during`` is a window the value must hold for, not a deadline: the timeout scale
    does not stretch it.
    """
    return (
        yield from waiting.wait_stays(
            read_probe(phrase),
            lambda value: same_value(expected, value),
            during=during,
            description=description or f"{phrase} stays {expected!r}",
            on_timeout=_explain(expected),
        )
    )


def expect_never_plan(
    phrase: str, unwanted: object, *, during: Seconds, description: str | None = None
) -> Plan[Any]:
    """Check that the probe ``phrase`` does not read ``unwanted`` at any check during
    ``during``; return the value last read."""
    return (
        yield from waiting.wait_stays(
            read_probe(phrase),
            lambda value: not same_value(unwanted, value),
            during=during,
            description=description or f"{phrase} does not become {unwanted!r}",
        )
    )


expect_value = blocking(expect_value_plan)
expect_stays = blocking(expect_stays_plan)
expect_never = blocking(expect_never_plan)


wait_for_value = deprecated("wait_for_value", expect_value)
check_stays = deprecated(
    "check_stays", expect_stays, renamed={"duration": "during"}, positional=("during",)
)
check_never_reads = deprecated(
    "check_never_reads", expect_never, renamed={"duration": "during"}, positional=("during",)
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
