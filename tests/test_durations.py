"""Durations and counts as feature files write them, and durations as failures print them."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from asyncbdd.durations import format_duration, parse_count, parse_duration, to_seconds
from asyncbdd.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10 seconds", 10.0),
        ("500 ms", 0.5),
        ("1.5 minutes", 90.0),
        ("2 s", 2.0),
        ("1 minute 30 seconds", 90.0),
        ("1 minute and 30 seconds", 90.0),
        ("1 minute, 30 seconds", 90.0),
        ("500ms", 0.5),
        ("10 Seconds", 10.0),
        (".5 s", 0.5),
        ("3 sec", 3.0),
        ("2 mins", 120.0),
        ("1 h", 3600.0),
        ("2 hours", 7200.0),
        ("250 milliseconds", 0.25),
        ("  3 seconds  ", 3.0),
        ("0 s", 0.0),
    ],
)
def test_parse_duration_reads_english(text: str, seconds: float) -> None:
    """Numbers with a unit, alone or added up, read as seconds whatever their spelling."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "ten seconds", "10", "10 parsecs", "-5 seconds", "seconds", "1 min 30"],
)
def test_parse_duration_rejects_text_that_is_not_a_duration(text: str) -> None:
    """A malformed duration is an InvalidInput naming the text, the units and examples."""
    with pytest.raises(InvalidInput) as caught:
        parse_duration(text)
    message = str(caught.value)
    assert f"{text!r} is not a duration" in message
    assert "ms, seconds (s), minutes (min), hours (h)" in message
    assert "'500 ms'" in message
    assert "'1 minute 30 seconds'" in message


def test_invalid_input_is_also_a_value_error() -> None:
    """Callers that catch ValueError around a conversion also catch a bad duration."""
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("soon")


@pytest.mark.parametrize("text", ["10 seconds and", "10 seconds,"])
def test_parse_duration_rejects_a_dangling_conjunction(text: str) -> None:
    """A duration cut off after "and" or a comma is rejected rather than read as its start."""
    with pytest.raises(InvalidInput):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("1 message", 1),
        ("3 messages", 3),
        ("no messages", 0),
        ("one call", 1),
        ("2 calls", 2),
        ("a message", 1),
        ("an event", 1),
        ("zero calls", 0),
        ("Three Messages", 3),
        ("ten events", 10),
        ("7", 7),
        ("  4 rows  ", 4),
        ("12 order events", 12),
    ],
)
def test_parse_count_reads_numbers_and_number_words(text: str, count: int) -> None:
    """Digits and the number words up to ten, followed by any noun, read as counts."""
    assert parse_count(text) == count


@pytest.mark.parametrize(
    "text", ["", "eleven messages", "messages", "1.5 messages", "-1 messages", "some calls"]
)
def test_parse_count_rejects_text_that_is_not_a_count(text: str) -> None:
    """A malformed count is an InvalidInput naming the text and showing examples."""
    with pytest.raises(InvalidInput) as caught:
        parse_count(text)
    message = str(caught.value)
    assert f"{text!r} is not a count" in message
    assert "Write a number and a noun" in message
    assert "'no messages'" in message


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (2.5, 2.5),
        (3, 3.0),
        (0, 0.0),
        (timedelta(milliseconds=250), 0.25),
        (timedelta(minutes=1), 60.0),
        ("1 minute", 60.0),
    ],
)
def test_to_seconds_accepts_numbers_timedeltas_and_text(
    value: float | timedelta | str, seconds: float
) -> None:
    """Seconds, a timedelta and English text all normalise to float seconds."""
    result = to_seconds(value)
    assert isinstance(result, float)
    assert result == seconds


@pytest.mark.parametrize(
    "value", [-1, -0.001, timedelta(seconds=-1), math.nan, math.inf, -math.inf, "1e400 seconds"]
)
def test_to_seconds_rejects_negative_nan_and_infinite(value: float | timedelta | str) -> None:
    """A negative, NaN or infinite duration (an unbounded wait) is an InvalidInput that shows
    the value given."""
    with pytest.raises(InvalidInput, match=r"negative, NaN or infinite|not a duration") as caught:
        to_seconds(value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 ms"),
        (0.012, "12 ms"),
        (0.5, "500 ms"),
        (0.9996, "1 s"),
        (1, "1 s"),
        (1.5, "1.50 s"),
        (1.25, "1.25 s"),
        (10.0, "10 s"),
        (60, "1 min"),
        (90, "1 min 30 s"),
        (119.4, "1 min 59 s"),
        (math.inf, "forever"),
    ],
)
def test_format_duration_renders_for_people(seconds: float, text: str) -> None:
    """Sub-second times print in ms, seconds with two decimals at most, minutes split."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(119.6, "2 min"), (59.999, "1 min")])
def test_format_duration_carries_rounded_seconds_into_minutes(seconds: float, text: str) -> None:
    """Seconds that round up to a whole minute are carried into the minutes."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0.012, 0.5, 1.5, 10.0, 90.0, 600.0])
def test_format_duration_output_parses_back(seconds: float) -> None:
    """What a failure message prints can be pasted into a feature file as a duration."""
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)
