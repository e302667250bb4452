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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asyncbdd.arrivals import (
    MAX_LISTED,
    Channel,
    check_count,
    expect_count,
    expect_none,
    plural,
    relative_time,
)
from asyncbdd.config import get_settings
from asyncbdd.content import BodyMatcher, check_expected_values, named_value_problems
from asyncbdd.durations import to_seconds
from asyncbdd.errors import AsyncBddError, InvalidInput
from asyncbdd.evidence import Mismatch, checked_failure
from asyncbdd.matching import parse_value, same_value, show_value
from asyncbdd.queues.aliases import queue_named
from asyncbdd.queues.inbox import Inbox, inbox, reading_trouble, start_reader
from asyncbdd.queues.message import NOT_JSON, Message
from asyncbdd.scenario import current_scenario
from asyncbdd.secrets import mask_named
from asyncbdd.tripwires import Tripwire
from asyncbdd.wait import reserve_deadline

__all__ = [
    "MessageMatcher",
    "check_last_message",
    "expect_message",
    "expect_messages",
    "expect_no_messages",
    "fail_at_once_if_message",
    "last_message",
    "send_message",
]


@dataclass(frozen=True)
class MessageMatcher(BodyMatcher):
    """What a message must carry. Every part given must match; none given matches all.

    ``body``: a JSON document the body must contain (a subset, or all of it with
    ``exact_body``). ``fields``: (dotted path, expected value as a feature writes it)
    pairs for the JSON body. ``attributes``: (name, expected value) pairs for SQS message
    attributes or Kafka headers. ``key``: the expected Kafka key, as written.
    """

    attributes: tuple[tuple[str, str], ...] = ()
    key: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_expected_values(self.attributes, "attribute/header")

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
        found = self.body_problems(message.body, message.json)
        if found and message.json is NOT_JSON:
            return found
        found += named_value_problems(
            "attribute/header", self.attributes, message.attributes.get, shown=mask_named
        )
        if self.key is not None:
            expected = parse_value(self.key)
            if not same_value(expected, message.key):
                found.append(f"key: expected {show_value(expected)}, got {show_value(message.key)}")
        return found

    def __str__(self) -> str:
        parts = self.body_parts()
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
    count = check_count(count, "message")
    aliases = _aliases(queues)
    what = description or _describe(aliases, count, exactly, where)
    if count == 0:
        seconds = get_settings().timeout if timeout is None else timeout
        expect_no_messages(aliases, within=seconds, where=where, description=what)
        return {alias: [] for alias in aliases}
    grace = get_settings().grace if grace is None else to_seconds(grace)
    seconds, _ = reserve_deadline(timeout, f"Waiting for {what}", then=grace if exactly else 0.0)
    box = _ready(aliases)
    result = expect_count(
        box.changed,
        [_QueueChannel(box, alias) for alias in aliases],
        count,
        exactly=exactly,
        grace=grace,
        where=where,
        what=what,
        seconds=seconds,
    )
    box.last = result[aliases[-1]][0]
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
    box = _ready(aliases)
    channels = [_QueueChannel(box, alias) for alias in aliases]
    expect_none(box.changed, channels, where=where, what=what, seconds=seconds)


def fail_at_once_if_message(queue: str, *, where: MessageMatcher | None = None) -> Tripwire:
    """Set a tripwire: every later wait of the scenario fails at once when ``queue``
    receives a message of the scenario (matching ``where``), such as a dead-letter queue.

    The queue is opened and read from now; an unknown alias is an error here.
    """
    box = _ready([queue])

    def matching() -> list[Message]:
        with box.changed:
            arrived = list(box.messages[queue])
        return [m for m in arrived if where is None or not where.problems(m)]

    tripwire = Tripwire(
        f"{_name(queue)} receives a message {where or ''}".rstrip(),
        matching,
        bool,
        lambda found: found[0].summary(120) if isinstance(found, list) and found else "nothing",
    )
    current_scenario().tripwires.add(tripwire)
    return tripwire


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
        facts = [("message:", message.summary(300))]
        if message.attributes:
            facts.append(("attributes/headers:", str(dict(message.attributes))))
        raise checked_failure(
            description or "the message " + str(matcher),
            f"the message on {_name(message.queue)} does not match",
            Mismatch(tuple(problems), tuple(facts)),
            pattern="queue",
        )
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


class _QueueChannel(Channel[Message]):
    """A queue alias as the arrivals engine sees it: the scenario's messages on it."""

    noun = "message"
    kind = "queue"

    def __init__(self, box: Inbox, alias: str) -> None:
        super().__init__(alias, _name(alias))
        self.box = box
        self.queue = queue_named(alias)

    def arrived(self) -> Sequence[Message]:
        return self.box.messages[self.key]

    def describe(self) -> str:
        return self.queue.describe()

    def error(self) -> BaseException | None:
        error = self.box.errors.get(self.key)
        if error is None:  # a broker that died is told at once, before its reader notices
            gone = self.queue.gone()
            if gone is not None and (gone.at is None or gone.at >= self.box.started_at):
                return gone
        if error is None or isinstance(error, AsyncBddError):
            return error
        wrapped = AsyncBddError(f"Reading {self.title} failed: {error!r}")
        wrapped.__cause__ = error
        return wrapped

    def trouble(self) -> str | None:
        trouble = reading_trouble(self.queue)
        return trouble.summary if trouble is not None else None

    def notes(self, started: float) -> list[str]:
        lines = []
        trouble = reading_trouble(self.queue)
        if trouble is not None:
            lines.append(f"    broker:    {trouble.detail}")
        skipped = self.box.skipped[self.key]
        if skipped:
            lines.append(
                f"    skipped {len(skipped)} {plural(len(skipped), 'message')} not of this "
                f"scenario (its {self.queue.correlation} is {self.box.correlation_id}):"
            )
            for item in skipped[:MAX_LISTED]:
                lines.append(
                    f"      {relative_time(item.message.received_at, started):>9}  "
                    f"{item.why}: {item.message.summary(140)}"
                )
            if len(skipped) > MAX_LISTED:
                lines.append(f"      ... {len(skipped) - MAX_LISTED} more")
        problem = self.queue.problems()
        if problem:
            lines.append(f"    note:      {problem}")
        return lines


def _describe(
    aliases: Sequence[str], count: int, exactly: bool, where: MessageMatcher | None
) -> str:
    amount = f"{'' if exactly else 'at least '}{count} {plural(count, 'message')}"
    each = " each" if len(aliases) > 1 else ""
    text = f"{_names(aliases)}{each} to receive {amount}"
    return f"{text} {where}" if where is not None else text


def _names(aliases: Sequence[str]) -> str:
    if len(aliases) == 1:
        return _name(aliases[0])
    if any(queue_named(alias).noun != "queue" for alias in aliases):
        names = [_name(alias) for alias in aliases]
        return ", ".join(names[:-1]) + f" and {names[-1]}"
    return "the " + ", ".join(aliases[:-1]) + f" and {aliases[-1]} queues"


def _name(alias: str) -> str:
    noun = queue_named(alias).noun
    return f"the {alias} queue" if noun == "queue" else f'the "{alias}" {noun}'
