"""Typed values as feature files write them, comparison, and hints for near misses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from asyncbdd.matching import mismatch_hint, parse_value, same_value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("97", 97),
        ("-3", -3),
        ("+5", 5),
        ("99.99", 99.99),
        (".5", 0.5),
        ("1e3", 1000.0),
        ('"97"', "97"),
        ("'97'", "97"),
        ('"true"', "true"),
        ('""', ""),
        ("true", True),
        ("False", False),
        ("null", None),
        ("None", None),
        ("pending", "pending"),
        ("  spaced out  ", "spaced out"),
        ('"  kept  "', "  kept  "),
        ("[1, 2]", [1, 2]),
        ('{"order_id": "ord-1", "amount": 99.99}', {"order_id": "ord-1", "amount": 99.99}),
        ("{not json", "{not json"),
        ('"', '"'),
        ("NaN", "NaN"),
    ],
)
def test_parse_value_reads_typed_values(text: str, value: object) -> None:
    """Bare numbers are numbers, quoted text is text, true/false/null are literals."""
    parsed = parse_value(text)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        (97, 97),
        (97, 97.0),
        (97, Decimal("97.0")),
        (99.99, Decimal("99.99")),
        (99.99, 99.99),
        (0.5, Decimal("0.50")),
        ("97", "97"),
        ("pending", "pending"),
        (True, True),
        (None, None),
        ("2024-01-31", dt.date(2024, 1, 31)),
        ("10:30:00", dt.time(10, 30)),
        ("2024-01-31T10:30:00", dt.datetime(2024, 1, 31, 10, 30)),
        ([1, 2], [1, 2]),
        ({"a": 1}, {"a": 1}),
    ],
)
def test_same_value_accepts_what_the_feature_asks_for(expected: object, actual: object) -> None:
    """Numbers compare by numeric value, dates and times by ISO text, the rest by equality."""
    assert same_value(expected, actual)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("97", 97),
        (97, "97"),
        (True, 1),
        (1, True),
        (False, 0),
        (0, False),
        (None, "None"),
        ("None", None),
        (99.99, 99.98),
        ("pending", "Pending"),
        ("2024-01-31", dt.date(2024, 2, 1)),
        ([1, 2], (1, 2)),
    ],
)
def test_same_value_respects_types(expected: object, actual: object) -> None:
    """Text never equals a number, booleans never equal 0/1, and None is not "None"."""
    assert not same_value(expected, actual)


def test_same_value_accepts_a_datetime_written_with_a_space() -> None:
    """A datetime matches its text with a space as well as with a "T" between date and time."""
    assert same_value("2024-01-31 10:30:00", dt.datetime(2024, 1, 31, 10, 30))


@pytest.mark.parametrize(
    ("expected", "actual", "hint"),
    [
        ("97", 97, "the value is the number 97; write it without quotes to expect a number"),
        (97, "97", "the value is the text '97'; write it in quotes (\"97\")"),
        (99.99, "99.99", "the value is the text '99.99'; write it in quotes (\"99.99\")"),
        (None, "None", "the value is the text 'None'; write it in quotes (\"None\")"),
    ],
)
def test_mismatch_hint_explains_a_near_miss_of_types(
    expected: object, actual: object, hint: str
) -> None:
    """When text and number spell the same, the hint says how to write the expectation."""
    assert mismatch_hint(expected, actual) == hint


@pytest.mark.parametrize(
    ("expected", "actual"),
    [("97", 98), (97, "98"), ("paid", "pending"), (97, 97), ("97", "97"), (None, None)],
)
def test_mismatch_hint_stays_silent_without_a_type_mix_up(expected: object, actual: object) -> None:
    """A plain difference, or no difference, gets no hint."""
    assert mismatch_hint(expected, actual) is None


def test_mismatch_hint_does_not_call_a_boolean_a_number() -> None:
    """A boolean read against quoted text is not described as a number."""
    hint = mismatch_hint("True", True)
    assert hint is None or "number" not in hint


def test_mismatch_hint_shows_a_decimal_as_a_plain_number() -> None:
    """A Decimal from a NUMERIC column is shown as the number a feature would write."""
    assert mismatch_hint("99.99", Decimal("99.99")) == (
        "the value is the number 99.99; write it without quotes to expect a number"
    )
