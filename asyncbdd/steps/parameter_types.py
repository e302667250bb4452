"""Parameter types of the step vocabulary, registered with behave once.

* ``{name:Duration}`` -- "10 seconds", "500 ms", "1 minute 30 seconds"; seconds as float.
  The pattern is loose on purpose: "ten seconds" or "10 secnds" reach the converter and
  fail with a message naming the text, rather than leaving the step undefined.
* ``{name:Value}`` -- a typed value: ``"pending"`` (text), ``97`` (number), ``true``.
* ``{name:Count}`` -- "1 message", "no messages", "one call"; an int.
* ``{name:Phrase}`` -- the name of a probe or snapshot subject ("the order status"). It
  never starts with "within" or "eventually", so a step about a phrase cannot swallow
  the deadline of another step's text and report a nonsense name.

Values and phrases have the running scenario's placeholders expanded before they are
read, as doc strings and table cells do: ``"{correlation_id}"`` is the scenario's id, and
``the status of order "{order_id}"`` names the order it placed.
"""

from __future__ import annotations

import parse
from behave import register_type

from asyncbdd.durations import parse_count, parse_duration
from asyncbdd.errors import AsyncBddError
from asyncbdd.matching import parse_value
from asyncbdd.scenario import current_scenario

__all__ = ["parse_count_text", "parse_duration_text", "parse_phrase_text", "parse_value_text"]

_NUMBER = r"(?:\d[\d.,]*|\.\d+)"


@parse.with_pattern(
    rf"(?:{_NUMBER}|[A-Za-z]+)\s*[A-Za-z]+(?:,?\s+(?:and\s+)?{_NUMBER}\s*[A-Za-z]+)*"
)
def parse_duration_text(text: str) -> float:
    """Seconds in a duration written in a step."""
    return parse_duration(text)


@parse.with_pattern(r'"[^"]*"|[^\s"]+')
def parse_value_text(text: str) -> object:
    """A typed value written in a step, placeholders expanded."""
    return parse_value(_expanded(text))


@parse.with_pattern(r"(?:\d+|[A-Za-z]+)\s+[A-Za-z]+")
def parse_count_text(text: str) -> int:
    """A count written in a step."""
    return parse_count(text)


@parse.with_pattern(r"(?!(?:within|eventually)\b).+?")
def parse_phrase_text(text: str) -> str:
    """The name of a probe or snapshot subject, as written, placeholders expanded."""
    return _expanded(text)


register_type(
    Duration=parse_duration_text,
    Value=parse_value_text,
    Count=parse_count_text,
    Phrase=parse_phrase_text,
)


def _expanded(text: str) -> str:
    """``text`` with the running scenario's placeholders expanded; as written outside a
    scenario (behave matches steps without one for ``--dry-run`` and the step catalog)."""
    try:
        scenario = current_scenario()
    except AsyncBddError:
        return text
    return scenario.expand(text)
