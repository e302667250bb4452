"""Poll and wait: phrases about a named probe's value over time.

::

    Then within 10 seconds the order status is "pending"
    Then eventually the order status is "shipped"
    Then within 10 seconds the order status becomes "shipped" but never "failed"
    Then within 10 seconds the order status is "paid" and stays so for 1 second
    Then the order status becomes "shipped" no sooner than 50 ms and within 10 seconds
    Then the order status stays "pending" for 2 seconds
    Then the order status does not become "shipped" within 2 seconds
    Given the scenario fails at once if the order status becomes "failed"

Probes are registered in Python (:mod:`asyncbdd.probes`).
"""

from __future__ import annotations

from typing import Any

from asyncbdd.probes import expect_never, expect_stays, expect_value, fail_at_once_if_value
from asyncbdd.steps import parameter_types  # noqa: F401  (registers {x:Duration} and co.)
from asyncbdd.steps.decorators import given, then
from asyncbdd.steps.step_text import step_text


@then("within {timeout:Duration} {probe:Phrase} is {expected:Value}")
def step_within_probe_is(context: Any, timeout: float, probe: str, expected: object) -> None:
    """Wait up to ``timeout`` for the probe to read ``expected``."""
    expect_value(probe, expected, timeout=timeout, description=step_text(context))


@then("eventually {probe:Phrase} is {expected:Value}")
def step_eventually_probe_is(context: Any, probe: str, expected: object) -> None:
    """Wait, up to the configured default timeout, for the probe to read ``expected``."""
    expect_value(probe, expected, description=step_text(context))


@then(
    "within {timeout:Duration} {probe:Phrase} becomes {expected:Value} but never {forbidden:Value}"
)
def step_within_probe_becomes_but_never(
    context: Any, timeout: float, probe: str, expected: object, forbidden: object
) -> None:
    """Wait for ``expected``; fail at once if the probe reads ``forbidden`` first."""
    expect_value(probe, expected, timeout=timeout, never=forbidden, description=step_text(context))


@then(
    "within {timeout:Duration} {probe:Phrase} is {expected:Value}"
    " and stays so for {window:Duration}"
)
def step_within_probe_is_and_stays(
    context: Any, timeout: float, probe: str, expected: object, window: float
) -> None:
    """Wait for ``expected``, then require it to hold for ``window`` (all within ``timeout``)."""
    expect_value(probe, expected, timeout=timeout, hold=window, description=step_text(context))


@then(
    "{probe:Phrase} becomes {expected:Value} no sooner than {minimum:Duration}"
    " and within {timeout:Duration}"
)
def step_probe_becomes_between(
    context: Any, probe: str, expected: object, minimum: float, timeout: float
) -> None:
    """Wait for ``expected``; reading it before ``minimum`` has passed is a failure."""
    expect_value(probe, expected, timeout=timeout, at_least=minimum, description=step_text(context))


@then("{probe:Phrase} stays {expected:Value} for {window:Duration}")
def step_probe_stays(context: Any, probe: str, expected: object, window: float) -> None:
    """Require the probe to read ``expected`` now and throughout ``window``."""
    expect_stays(probe, expected, during=window, description=step_text(context))


@then("{probe:Phrase} does not become {unwanted:Value} within {window:Duration}")
def step_probe_does_not_become(context: Any, probe: str, unwanted: object, window: float) -> None:
    """Require the probe not to read ``unwanted`` at any check during ``window``."""
    expect_never(probe, unwanted, during=window, description=step_text(context))


@given("the scenario fails at once if {probe:Phrase} becomes {value:Value}")
def step_fails_at_once_if_probe_becomes(context: Any, probe: str, value: object) -> None:
    """A tripwire: every later wait of the scenario fails at once if the probe reads ``value``."""
    fail_at_once_if_value(probe, value)
