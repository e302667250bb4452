"""Assertions about the messages a scenario receives, and sending messages.

Every expectation waits on the scenario's inbox (see :mod:`asyncbdd.queues.inbox`), so
it returns the moment the messages are in, and waits on several queues at once take as
long as the slowest of them, not the sum::

    expect_messages(["billing", "shipping", "inventory"], 1, timeout=10)
    [message] = expect_messages("billing", 1, where=MessageMatcher(fields={"order_id": "ord-1"}))
    expect_no_messages("billing", during=2)
    assert_message(MessageMatcher(attributes={"event_type": "billing.requested"}))

"Exactly N" means: N arrived within the deadline, and no further one within the grace
window after the Nth (setting ``asyncbdd.grace``); the failure message states the window.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncbdd.arrivals import (
    MAX_LISTED,
    Channel,
    check_count,
    count_plan,
    none_plan,
    ordinal,
    plural,
    relative_time,
)
from asyncbdd.budget import Seconds
from asyncbdd.config import get_settings
from asyncbdd.content import (
    BodyMatcher,
    cells_to_values,
    expected_values,
    named_value_problems,
    show_expected,
)
from asyncbdd.deprecation import deprecated, renamed_keywords, warn_deprecated
from asyncbdd.drivers import Blocking, Plan, blocking, run
from asyncbdd.durations import to_seconds
from asyncbdd.errors import AsyncBddError, InvalidInput, hide_failure_frames
from asyncbdd.evidence import Mismatch, checked_failure
from asyncbdd.matching import same_value, show_value
from asyncbdd.queues.aliases import queue_named
from asyncbdd.queues.inbox import Inbox, inbox, is_reading, reading_trouble, start_reader
from asyncbdd.queues.message import NOT_JSON, Message
from asyncbdd.scenario import Slot, current_scenario
from asyncbdd.secrets import mask_named
from asyncbdd.tripwires import Tripwire
from asyncbdd.wait import reserve_deadline

__all__ = [
    "MessageMatcher",
    "assert_message",
    "expect_messages",
    "expect_messages_plan",
    "expect_no_messages",
    "expect_no_messages_plan",
    "fail_at_once_if_message",
    "latest_message",
    "send_message",
]

__tracebackhide__ = hide_failure_frames


@dataclass(frozen=True)
class MessageMatcher(BodyMatcher):
    """What a message must carry. Every part given must match; none given matches all.

    ``body``: a JSON document the body must contain (a subset, or all of it with
    ``exact_body``). ``fields``: dotted paths of the JSON body and the Python values they
    must hold, ``{"order_id": "ord-1", "amount": 99.99}``. ``attributes``: SQS message
    attributes or Kafka headers and their values, ``{"event_type": "order.paid"}``.
    ``key``: the Kafka key, ``"ord-1"``. Values compare as
    :func:`~asyncbdd.matching.same_value` does: text is text, and a marker is a
    :func:`~asyncbdd.matching.parse_marker` (``parse_marker("<any number>")``).

    Text as a feature writes it (``"ord-1"`` in quotes, ``99.99``, ``<any>``) is read by
    :meth:`from_table`.
    """

    attributes: Mapping[str, Any] = field(default_factory=dict)
    key: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        values = expected_values(self.attributes, "attributes", type(self))
        object.__setattr__(self, "attributes", values)

    @classmethod
    def from_table(cls, headings: Sequence[str], rows: Iterable[Sequence[str]]) -> MessageMatcher:
        """From a two-column table of cells as a feature writes them: ``| field | value |``
        (body) or ``| attribute | value |`` (``| header | value |``) for SQS attributes or
        Kafka headers."""
        kind = headings[0].strip().lower() if headings else ""
        if len(headings) != 2 or kind not in ("field", "attribute", "header"):
            raise InvalidInput(
                f"A message table has the columns | field | value | (body fields) or "
                f"| attribute | value | (attributes or headers), not "
                f"| {' | '.join(headings)} |."
            )
        pairs = [(row[0], row[1]) for row in rows]
        if kind == "field":
            return cls(fields=cells_to_values(pairs, "field"))
        return cls(attributes=cells_to_values(pairs, "attribute/header"))

    def problems(self, message: Message) -> list[str]:
        """Why ``message`` does not match, one line each; empty when it matches."""
        found = self.body_problems(message.body, message.json)
        if found and message.json is NOT_JSON:
            return found
        found += named_value_problems(
            "attribute/header", self.attributes, message.attributes.get, shown=mask_named
        )
        if self.key is not None and not same_value(self.key, message.key):
            found.append(f"key: expected {show_value(self.key)}, got {show_value(message.key)}")
        return found

    def __str__(self) -> str:
        parts = self.body_parts()
        parts += [
            f"attribute {name} = {show_expected(value)}" for name, value in self.attributes.items()
        ]
        if self.key is not None:
            parts.append(f"key {show_expected(self.key)}")
        return "with " + ", ".join(parts) if parts else "of any content"


def expect_messages_plan(
    queues: str | Sequence[str],
    count: int,
    *,
    exactly: bool = True,
    where: MessageMatcher | None = None,
    timeout: Seconds | None = None,
    grace: Seconds | None = None,
    description: str | None = None,
) -> Plan[list[Message]]:
    """Wait until each queue has received ``count`` messages matching ``where``.

    With ``exactly`` (the default) a further matching message arriving within ``grace``
    (default: setting ``asyncbdd.grace``) after the ``count``-th is a failure; with
    ``exactly=False``, at least ``count``. Returns the matching messages of every queue
    in arrival order (each names its alias, ``message.queue``); they become "the
    message", "the 2nd message" (:func:`latest_message`). A ``count`` of 0 is
    :func:`expect_no_messages` for ``timeout``.

    :raises WaitTimeout: too few arrived before the deadline, or too many.
    """
    count = check_count(count, "message")
    aliases = _aliases(queues)
    what = description or _describe(aliases, count, exactly, where)
    if count == 0:
        seconds = get_settings().timeout if timeout is None else timeout
        yield from expect_no_messages_plan(aliases, during=seconds, where=where, description=what)
        return _Received({alias: [] for alias in aliases})
    grace = get_settings().grace if grace is None else to_seconds(grace)
    seconds, _ = reserve_deadline(timeout, f"Waiting for {what}", then=grace if exactly else 0.0)
    box = yield from _ready(aliases)
    result = yield from count_plan(
        box.changed,
        [_QueueChannel(box, alias) for alias in aliases],
        count,
        exactly=exactly,
        grace=grace,
        where=where,
        what=what,
        seconds=seconds,
    )
    found = _Received(result)
    _LATEST.current().messages = list(found)
    return found


def expect_no_messages_plan(
    queues: str | Sequence[str],
    *,
    during: Seconds,
    where: MessageMatcher | None = None,
    description: str | None = None,
) -> Plan[list[Message]]:
    """Fail as soon as a message (matching ``where``) reaches a queue during ``during``;
    return the empty list of matching messages.

    ``during`` is a window the system must stay quiet for, not a deadline: the timeout
    scale does not stretch it.
    """
    aliases = _aliases(queues)
    what = description or f"no message {where or ''} on {_names(aliases)}".replace("  ", " ")
    seconds, _ = reserve_deadline(during, f"Watching for {what}", scaled=False)
    box = yield from _ready(aliases)
    channels = [_QueueChannel(box, alias) for alias in aliases]
    yield from none_plan(box.changed, channels, where=where, what=what, seconds=seconds)
    _LATEST.current().messages = []
    return []


expect_messages = blocking(expect_messages_plan)
expect_no_messages = renamed_keywords({"within": "during"})(blocking(expect_no_messages_plan))


def fail_at_once_if_message(queue: str, *, where: MessageMatcher | None = None) -> Tripwire:
    """Set a tripwire: every later wait of the scenario fails at once when ``queue``
    receives a message of the scenario (matching ``where``), such as a dead-letter queue.

    The queue is opened and read from now; an unknown alias is an error here.
    """
    box = run(_ready([queue]))

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


def latest_message(nth: int = 1) -> Message:
    """ "The message" (``nth`` 1) or "the ``nth`` message" of those the scenario's latest
    queue expectation returned, in arrival order."""
    latest = _LATEST.current().messages
    if latest is None:
        raise AsyncBddError(
            'No message has been received in this scenario yet, so there is no "the '
            "message\" to check. Put a step such as 'Then the billing queue receives 1 "
            "message' before it."
        )
    if isinstance(nth, bool) or not isinstance(nth, int) or nth < 1:
        raise InvalidInput(f"Messages are counted from 1 (the 1st message), not {nth!r}.")
    if nth > len(latest):
        got = f"{len(latest)} {plural(len(latest), 'message')}" if latest else "no message"
        which = "message" if nth == 1 else f"{ordinal(nth)} message"
        raise AsyncBddError(
            f"The latest queue expectation returned {got}, so there is no {which} to check. "
            f"Expect {nth} {plural(nth, 'message')} first, e.g. 'Then the billing queue "
            f"receives {nth} {plural(nth, 'message')}'."
        )
    return latest[nth - 1]


def assert_message(
    matcher: MessageMatcher, *, nth: int = 1, description: str | None = None
) -> Message:
    """Assert that :func:`latest_message` (``nth``) matches ``matcher``; return it."""
    message = latest_message(nth)
    problems = matcher.problems(message)
    if problems:
        which = "the message" if nth == 1 else f"the {ordinal(nth)} message"
        facts = [("message:", message.summary(300))]
        if message.attributes:
            facts.append(("attributes/headers:", str(dict(message.attributes))))
        raise checked_failure(
            description or f"{which} {matcher}",
            f"{which} on {_name(message.queue)} does not match",
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


def _expect_one_message(
    queue: str,
    where: MessageMatcher,
    *,
    timeout: Seconds | None = None,
    description: str | None = None,
) -> Message:
    found = expect_messages(
        queue, 1, exactly=False, where=where, timeout=timeout, description=description
    )
    return found[0]


def _check_latest_message(matcher: MessageMatcher, *, description: str | None = None) -> Message:
    return assert_message(matcher, description=description)


expect_message = deprecated(
    "expect_message",
    _expect_one_message,
    instead="expect_messages(queue, 1, exactly=False, where=matcher), which returns the list",
)
last_message = deprecated("last_message", latest_message)
check_last_message = deprecated(
    "check_last_message", _check_latest_message, instead="assert_message"
)


@dataclass
class _Latest:
    """What "the message" refers to: the messages the latest expectation returned."""

    messages: list[Message] | None = None


_LATEST: Slot[_Latest] = Slot("latest queue messages", lambda scenario: _Latest())


class _Received(list[Message]):
    """The matching messages of every queue, in arrival order.

    Indexing by alias (``result["billing"]``) and ``items()``, ``keys()``, ``values()``:
    the dict of the last release, kept with a warning for one release.
    """

    def __init__(self, by_alias: Mapping[str, Sequence[Message]]) -> None:
        arrived = [message for messages in by_alias.values() for message in messages]
        super().__init__(sorted(arrived, key=lambda message: message.received_at))
        self._by_alias = {alias: list(messages) for alias, messages in by_alias.items()}

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, str):
            self._warn(f"expect_messages(...)[{index!r}]")
            return list(self._by_alias[index])
        return super().__getitem__(index)

    def items(self) -> Any:
        """Deprecated: (alias, messages) pairs."""
        self._warn("expect_messages(...).items()")
        return {alias: list(found) for alias, found in self._by_alias.items()}.items()

    def keys(self) -> Any:
        """Deprecated: the aliases."""
        self._warn("expect_messages(...).keys()")
        return dict(self._by_alias).keys()

    def values(self) -> Any:
        """Deprecated: each alias's messages."""
        self._warn("expect_messages(...).values()")
        return [list(found) for found in self._by_alias.values()]

    @staticmethod
    def _warn(old: str) -> None:
        warn_deprecated(
            f"{old}: expect_messages returns a list of the matching messages now, and reading "
            "it as a dict by alias",
            "the list (each message names its alias, message.queue)",
        )


# --------------------------------------------------------------------------------------


def _aliases(queues: str | Sequence[str]) -> list[str]:
    aliases = [queues] if isinstance(queues, str) else list(queues)
    if not aliases:
        raise InvalidInput("Name at least one queue to wait on.")
    for alias in aliases:
        queue_named(alias)  # an unknown alias fails before any waiting
    return aliases


def _ready(aliases: Sequence[str]) -> Plan[Inbox]:
    """The scenario's inbox, with a reader on every queue (opening a queue may block, so
    it is done as blocking work the first time only)."""
    box = inbox()
    queues = [queue_named(alias) for alias in aliases]
    for queue in queues:
        if is_reading(queue):
            start_reader(queue)  # at once: it checks the broker is not gone
        else:  # raises at once if the queue cannot be opened
            yield Blocking(functools.partial(start_reader, queue))
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
