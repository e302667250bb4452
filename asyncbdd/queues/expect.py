"""Assertions about the messages a scenario receives, and sending messages.

Every expectation waits on the scenario's inbox (see :mod:`asyncbdd.queues.inbox`), so
it returns the moment the messages are in, and waits on several queues at once take as
long as the slowest of them, not the sum::

    expect_messages(["billing", "shipping", "inventory"], 1, timeout=10)
    expect_messages("billing", 1, where=MessageMatcher(fields=[("order_id", '"ord-1"')]))
    expect_no_messages("billing", within=2)

"Exactly N" means: N arrived within the deadline, and no further one within the grace
window after the Nth (setting ``asyncbdd.grace``); the failure message states the window.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asyncbdd.config import get_settings
from asyncbdd.durations import format_duration
from asyncbdd.errors import AsyncBddError, ExpectationFailed, InvalidInput, WaitTimeout
from asyncbdd.matching import (
    json_expectation,
    json_mismatches,
    parse_value,
    same_value,
    show_value,
    table_mismatches,
)
from asyncbdd.queues.aliases import queue_named
from asyncbdd.queues.inbox import Inbox, inbox, start_reader
from asyncbdd.queues.message import NOT_JSON, Message
from asyncbdd.scenario import current_scenario
from asyncbdd.wait import reserve_deadline

__all__ = [
    "MessageMatcher",
    "check_last_message",
    "expect_message",
    "expect_messages",
    "expect_no_messages",
    "last_message",
    "send_message",
]

_MAX_LISTED = 10
"""Messages listed per queue in a failure; the rest are counted."""

_NOTHING: Any = object()


@dataclass(frozen=True)
class MessageMatcher:
    """What a message must carry. Every part given must match; none given matches all.

    ``body``: a JSON document the body must contain (a subset, or all of it with
    ``exact_body``). ``fields``: (dotted path, expected value as a feature writes it)
    pairs for the JSON body. ``attributes``: (name, expected value) pairs for SQS message
    attributes or Kafka headers. ``key``: the expected Kafka key, as written.
    """

    body: Any = _NOTHING
    exact_body: bool = False
    fields: tuple[tuple[str, str], ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    key: str | None = None

    def __post_init__(self) -> None:
        if self.body is not _NOTHING:  # a mistyped marker fails now, not when a message comes
            object.__setattr__(self, "body", json_expectation(self.body, "the expected body"))

    @classmethod
    def from_table(cls, headings: Sequence[str], rows: Iterable[Sequence[str]]) -> MessageMatcher:
        """From a two-column table: ``| field | value |`` (body) or ``| attribute | value |``
        (``| header | value |``) for SQS attributes or Kafka headers."""
        kind = headings[0].strip().lower() if headings else ""
        if len(headings) != 2 or kind not in ("field", "attribute", "header"):
            raise InvalidInput(
                f"A message table has the columns | field | value | (body fields) or "
                f"| attribute | value | (attributes or headers), not "
                f"| {' | '.join(headings)} |."
            )
        pairs = tuple((row[0].strip(), row[1]) for row in rows)
        return cls(fields=pairs) if kind == "field" else cls(attributes=pairs)

    def problems(self, message: Message) -> list[str]:
        """Why ``message`` does not match, one line each; empty when it matches."""
        found: list[str] = []
        document = message.json
        if (self.body is not _NOTHING or self.fields) and document is NOT_JSON:
            return [f"the body is not JSON: {show_value(message.body, 80)}"]
        if self.body is not _NOTHING:
            found += [str(m) for m in json_mismatches(self.body, document, exact=self.exact_body)]
        if self.fields:
            found += [str(m) for m in table_mismatches(self.fields, document)]
        for name, text in self.attributes:
            expected = parse_value(text)
            if name not in message.attributes:
                found.append(
                    f"attribute/header {name!r}: missing (expected {show_value(expected)})"
                )
            elif not same_value(expected, message.attributes[name]):
                found.append(
                    f"attribute/header {name!r}: expected {show_value(expected)}, "
                    f"got {show_value(message.attributes[name])}"
                )
        if self.key is not None:
            expected = parse_value(self.key)
            if not same_value(expected, message.key):
                found.append(f"key: expected {show_value(expected)}, got {show_value(message.key)}")
        return found

    def __str__(self) -> str:
        parts = []
        if self.body is not _NOTHING:
            which = "exactly" if self.exact_body else "containing"
            parts.append(f"{which} {show_value(json.dumps(self.body), 120)}")
        parts += [f"{path} = {text.strip()}" for path, text in self.fields]
        parts += [f"attribute {name} = {text.strip()}" for name, text in self.attributes]
        if self.key is not None:
            parts.append(f"key {self.key}")
        return "with " + ", ".join(parts) if parts else "of any content"


def expect_messages(
    queues: str | Sequence[str],
    count: int,
    *,
    exactly: bool = True,
    where: MessageMatcher | None = None,
    timeout: float | None = None,
    grace: float | None = None,
    description: str | None = None,
) -> dict[str, list[Message]]:
    """Wait until each queue has received ``count`` messages matching ``where``.

    With ``exactly`` (the default) a further matching message arriving within ``grace``
    seconds (default: setting ``asyncbdd.grace``) after the ``count``-th is a failure.
    Returns the matching messages per alias, in arrival order; the first one becomes
    :func:`last_message`. A ``count`` of 0 is :func:`expect_no_messages`.

    :raises WaitTimeout: too few arrived before the deadline, or too many.
    """
    if count < 0:
        raise InvalidInput(f"A message count cannot be negative ({count}).")
    aliases = _aliases(queues)
    what = description or _describe(aliases, count, exactly, where)
    if count == 0:
        seconds = get_settings().timeout if timeout is None else timeout
        expect_no_messages(aliases, within=seconds, where=where, description=what)
        return {alias: [] for alias in aliases}
    seconds, _ = reserve_deadline(timeout, f"Waiting for {what}")
    window = get_settings().grace if grace is None else grace
    watch = _Watch(_ready(aliases), aliases, where, what, seconds)
    expectation = f"{'exactly' if exactly else 'at least'} {count}"
    watch.wait_until(lambda counts: all(n >= count for n in counts.values()), watch.deadline)
    short = [alias for alias in aliases if len(watch.matched[alias]) < count]
    if short:
        watch.fail(
            "the deadline passed: "
            + "; ".join(f"{_name(a)} received {len(watch.matched[a])} of {count}" for a in short),
            expectation,
        )
    if exactly and window > 0:
        last_needed = max(watch.matched[alias][count - 1].received_at for alias in aliases)
        watch.wait_until(
            lambda counts: any(n > count for n in counts.values()), last_needed + window
        )
        extra = [alias for alias in aliases if len(watch.matched[alias]) > count]
        if extra:
            reasons = []
            for alias in extra:
                found = watch.matched[alias]
                gap = found[count].received_at - found[count - 1].received_at
                reasons.append(
                    f"{_name(alias)} received {len(found)}, more than the {count} expected "
                    f"(the extra one arrived {format_duration(max(gap, 0))} after the "
                    f"{_ordinal(count)}, within the {format_duration(window)} grace window)"
                )
            watch.fail("; ".join(reasons), expectation)
    result = {alias: watch.matched[alias][:] for alias in aliases}
    watch.box.last = result[aliases[-1]][0]
    return result


def expect_message(
    queue: str,
    where: MessageMatcher,
    *,
    timeout: float | None = None,
    description: str | None = None,
) -> Message:
    """Wait for one message matching ``where`` (others may arrive too); return it."""
    return expect_messages(
        queue, 1, exactly=False, where=where, timeout=timeout, description=description
    )[queue][0]


def expect_no_messages(
    queues: str | Sequence[str],
    *,
    within: float,
    where: MessageMatcher | None = None,
    description: str | None = None,
) -> None:
    """Fail as soon as a message (matching ``where``) reaches a queue within ``within`` s.

    ``within`` is a window the system must stay quiet for, not a deadline: the timeout
    scale does not stretch it.
    """
    aliases = _aliases(queues)
    what = description or f"no message {where or ''} on {_names(aliases)}".replace("  ", " ")
    seconds, _ = reserve_deadline(within, f"Watching for {what}", scaled=False)
    watch = _Watch(_ready(aliases), aliases, where, what, seconds, window=True)
    watch.wait_until(lambda counts: any(counts.values()), watch.deadline)
    found = sorted(
        (message for alias in aliases for message in watch.matched[alias]),
        key=lambda message: message.received_at,
    )
    if found:
        first = found[0]
        offset = first.received_at - watch.started
        when = (
            f"{format_duration(offset)} into the {format_duration(seconds)} window"
            if offset >= 0
            else f"{format_duration(-offset)} before the window began"
        )
        watch.fail(f"a message reached {_name(first.queue)} {when}", "none")


def last_message() -> Message:
    """The message the scenario's latest queue step matched ("the message")."""
    message = inbox().last
    if message is None:
        raise AsyncBddError(
            'No message has been received in this scenario yet, so there is no "the '
            "message\" to check. Put a step such as 'Then the billing queue receives 1 "
            "message' before it."
        )
    return message


def check_last_message(matcher: MessageMatcher, *, description: str | None = None) -> Message:
    """Assert that :func:`last_message` matches ``matcher``; return it."""
    message = last_message()
    problems = matcher.problems(message)
    if problems:
        lines = [
            f"Checked: {description or 'the message ' + str(matcher)}",
            f"Failed because the message on {_name(message.queue)} does not match:",
            *(f"  {problem}" for problem in problems),
            f"  message: {message.summary(300)}",
        ]
        if message.attributes:
            lines.append(f"  attributes/headers: {dict(message.attributes)}")
        raise ExpectationFailed("\n".join(lines))
    return message


def send_message(
    queue: str,
    body: str | Mapping[str, Any] | list[Any],
    *,
    attributes: Mapping[str, str] | None = None,
    key: str | None = None,
) -> None:
    """Send ``body`` (text, or a document sent as JSON) to a queue or topic alias.

    The scenario's correlation id is added where the correlation setting says (an
    attribute/header, or a body field) unless the message carries one already.
    """
    target = queue_named(queue)
    document: Any = json.loads(json.dumps(body)) if not isinstance(body, str) else None
    if isinstance(body, str) and target.correlation.kind == "field":
        try:
            document = json.loads(body)
        except ValueError:
            document = None
    headers = dict(attributes or {})
    if target.correlation.kind == "field" and not isinstance(document, dict):
        raise InvalidInput(
            f"The message for {_name(queue)} must be a JSON object: the scenario's "
            f"correlation id goes into its field {target.correlation.name!r} (setting "
            f"asyncbdd.queues.correlation). Got: {show_value(body, 80)}"
        )
    if target.correlation.enabled:
        document, headers = target.correlation.stamp(
            document, headers, current_scenario().correlation_id
        )
    text = body if isinstance(body, str) and document is None else json.dumps(document)
    target.send(text, attributes=headers, key=key)


# --------------------------------------------------------------------------------------


def _aliases(queues: str | Sequence[str]) -> list[str]:
    aliases = [queues] if isinstance(queues, str) else list(queues)
    if not aliases:
        raise InvalidInput("Name at least one queue to wait on.")
    for alias in aliases:
        queue_named(alias)  # an unknown alias fails before any waiting
    return aliases


def _ready(aliases: Sequence[str]) -> Inbox:
    box = inbox()
    for alias in aliases:
        start_reader(queue_named(alias))  # raises at once if the queue cannot be opened
    return box


class _Watch:
    """One wait on the inbox: the messages of each queue that match, kept up to date."""

    def __init__(
        self,
        box: Inbox,
        aliases: Sequence[str],
        where: MessageMatcher | None,
        what: str,
        seconds: float,
        *,
        window: bool = False,
    ) -> None:
        self.box, self.aliases, self.where, self.what = box, aliases, where, what
        self.seconds, self.window = seconds, window
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.matched: dict[str, list[Message]] = {alias: [] for alias in aliases}
        self._scanned = dict.fromkeys(aliases, 0)

    def wait_until(self, done: Callable[[dict[str, int]], bool], until: float) -> None:
        """Block until ``done(matching counts)`` or the monotonic time ``until``."""

        def ready() -> bool:
            self._scan()
            return bool(self._errors()) or done({a: len(m) for a, m in self.matched.items()})

        self.box.wait(ready, until - time.monotonic())
        with self.box.changed:
            errors = self._errors()
        for alias, error in errors.items():
            if isinstance(error, AsyncBddError):
                raise error
            raise AsyncBddError(f"Reading {_name(alias)} failed: {error!r}") from error

    def _scan(self) -> None:
        """Match only what arrived since the last look (called with the inbox locked)."""
        for alias in self.aliases:
            arrived = self.box.messages[alias]
            for message in arrived[self._scanned[alias] :]:
                if self.where is None or not self.where.problems(message):
                    self.matched[alias].append(message)
            self._scanned[alias] = len(arrived)

    def _errors(self) -> dict[str, BaseException]:
        return {alias: self.box.errors[alias] for alias in self.aliases if alias in self.box.errors}

    def fail(self, reason: str, expectation: str) -> None:
        """Raise a :class:`WaitTimeout` that shows, per queue, what arrived and why it
        did not count."""
        elapsed = time.monotonic() - self.started
        limit = "window:" if self.window else "deadline:"
        lines = [
            f"Waited for: {self.what}",
            f"Failed because {reason}.",
            f"  {limit:<12} {format_duration(self.seconds)}, elapsed {format_duration(elapsed)}",
        ]
        box = self.box
        with box.changed:
            seen = {
                alias: (box.messages[alias][:], box.skipped[alias][:]) for alias in self.aliases
            }
        for alias in self.aliases:
            queue = queue_named(alias)
            received, skipped = seen[alias]
            lines.append(f"  {alias}: {queue.describe()}")
            lines.append(f"    expected:  {expectation} {self.where or ''}".rstrip())
            lines += _received_lines(received, self.where, self.started)
            if skipped:
                lines.append(
                    f"    skipped {len(skipped)} {_plural(len(skipped), 'message')} not of this "
                    f"scenario (its {queue.correlation} is {box.correlation_id}):"
                )
                for item in skipped[:_MAX_LISTED]:
                    lines.append(
                        f"      {_offset(item.message.received_at, self.started):>9}  "
                        f"{item.why}: {item.message.summary(140)}"
                    )
                if len(skipped) > _MAX_LISTED:
                    lines.append(f"      ... {len(skipped) - _MAX_LISTED} more")
            problem = queue.problems()
            if problem:
                lines.append(f"    note:      {problem}")
        raise WaitTimeout("\n".join(lines))


def _received_lines(
    received: Sequence[Message], where: MessageMatcher | None, started: float
) -> list[str]:
    if not received:
        return ["    received:  no message of this scenario"]
    matched = [m for m in received if where is None or not where.problems(m)]
    header = f"    received:  {len(received)} {_plural(len(received), 'message')} of this scenario"
    if where is not None:
        header += f", {len(matched)} matching"
    lines = [header + ":"]
    for number, message in enumerate(received[:_MAX_LISTED], 1):
        lines.append(
            f"      {number}. {_offset(message.received_at, started):>9}  {message.summary(160)}"
        )
        if where is not None:
            lines += [f"           {problem}" for problem in where.problems(message)[:5]]
    if len(received) > _MAX_LISTED:
        lines.append(f"      ... {len(received) - _MAX_LISTED} more")
    return lines


def _describe(
    aliases: Sequence[str], count: int, exactly: bool, where: MessageMatcher | None
) -> str:
    amount = f"{'' if exactly else 'at least '}{count} {_plural(count, 'message')}"
    each = " each" if len(aliases) > 1 else ""
    text = f"{_names(aliases)}{each} to receive {amount}"
    return f"{text} {where}" if where is not None else text


def _names(aliases: Sequence[str]) -> str:
    if len(aliases) == 1:
        return _name(aliases[0])
    if any(queue_named(alias).kind == "Kafka topic" for alias in aliases):
        names = [_name(alias) for alias in aliases]
        return ", ".join(names[:-1]) + f" and {names[-1]}"
    return "the " + ", ".join(aliases[:-1]) + f" and {aliases[-1]} queues"


def _name(alias: str) -> str:
    return (
        f'the "{alias}" topic' if queue_named(alias).kind == "Kafka topic" else f"the {alias} queue"
    )


def _offset(at: float, started: float) -> str:
    seconds = at - started
    sign = "+" if seconds >= 0 else "-"
    return f"{sign}{format_duration(abs(seconds))}"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _ordinal(number: int) -> str:
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"
