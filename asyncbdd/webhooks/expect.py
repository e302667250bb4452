"""Assertions about the calls a scenario's webhook receivers get.

Every expectation waits on the scenario's captures (see
:mod:`asyncbdd.webhooks.receivers`), so it returns the moment the calls are in::

    receiver = webhook_receiver("payment-complete")
    register_webhook(receiver.url)                  # the system under test calls it
    [call] = expect_calls("payment-complete", 1, timeout=15)
    assert_call(CallMatcher(body={"status": "completed"}))
    expect_no_calls("payment-complete", during=2)

Every call counts, however it was answered: a receiver that fails the first call and a
system that retries make 2 calls. "Exactly N" means: N arrived within the deadline, and
no further one within the grace window after the Nth (setting ``asyncbdd.grace``). A call
without a valid signature (when a secret is set) fails every expectation on its
receiver at once, and an error of the server thread is raised by the waiting step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from asyncbdd.arrivals import (
    MAX_LISTED,
    Channel,
    check_count,
    count_plan,
    none_plan,
    ordinal,
    plural,
)
from asyncbdd.arrivals import relative_time as relative
from asyncbdd.budget import Seconds
from asyncbdd.config import get_settings
from asyncbdd.deprecation import deprecated, renamed_keywords, warn_deprecated
from asyncbdd.drivers import Plan, blocking
from asyncbdd.durations import to_seconds
from asyncbdd.errors import (
    AsyncBddError,
    ConfigurationError,
    InvalidInput,
    UnknownName,
    hide_failure_frames,
)
from asyncbdd.evidence import Mismatch, checked_failure
from asyncbdd.wait import reserve_deadline
from asyncbdd.webhooks.call import Call, Signature
from asyncbdd.webhooks.matcher import CallMatcher
from asyncbdd.webhooks.receivers import HOW_TO_DECLARE, Captures, Receiver, captures

__all__ = [
    "assert_call",
    "expect_calls",
    "expect_calls_plan",
    "expect_no_calls",
    "expect_no_calls_plan",
    "latest_call",
]

__tracebackhide__ = hide_failure_frames


def expect_calls_plan(
    name: str,
    count: int,
    *,
    exactly: bool = True,
    where: CallMatcher | None = None,
    timeout: Seconds | None = None,
    grace: Seconds | None = None,
    description: str | None = None,
) -> Plan[list[Call]]:
    """Wait until receiver ``name`` has received ``count`` calls matching ``where``.

    With ``exactly`` (the default) a further matching call arriving within ``grace``
    (default: setting ``asyncbdd.grace``) after the ``count``-th is a failure; with
    ``exactly=False``, at least ``count``. Returns the matching calls in arrival order;
    they become "the call", "the 2nd call" (:func:`latest_call`). A ``count`` of 0 is
    :func:`expect_no_calls` for ``timeout``.

    :raises WaitTimeout: too few arrived before the deadline, or too many, or one was not
        validly signed.
    """
    count = check_count(count, "call")
    box = captures()
    receiver = _declared(box, name)
    what = description or _describe(name, count, exactly, where)
    if count == 0:
        seconds = get_settings().timeout if timeout is None else timeout
        quiet = expect_no_calls_plan(name, during=seconds, where=where, description=what)
        return (yield from quiet)
    grace = get_settings().grace if grace is None else to_seconds(grace)
    seconds, _ = reserve_deadline(timeout, f"Waiting for {what}", then=grace if exactly else 0.0)
    arrived = yield from count_plan(
        box.changed,
        [_ReceiverChannel(box, receiver)],
        count,
        exactly=exactly,
        grace=grace,
        where=where,
        what=what,
        seconds=seconds,
        notes=_strays(box),
    )
    found = arrived[receiver.name]
    with box.changed:
        box.latest = found
    return found


def expect_no_calls_plan(
    name: str,
    *,
    during: Seconds,
    where: CallMatcher | None = None,
    description: str | None = None,
) -> Plan[list[Call]]:
    """Fail as soon as a call (matching ``where``) reaches receiver ``name`` during
    ``during``; a call of the scenario from before the window counts too. Returns the
    empty list of matching calls.

    ``during`` is a window the system must stay quiet for, not a deadline: the timeout
    scale does not stretch it.
    """
    box = captures()
    receiver = _declared(box, name)
    what = description or f'no call {where or ""} on the "{name}" webhook'.replace("  ", " ")
    seconds, _ = reserve_deadline(during, f"Watching for {what}", scaled=False)
    channels = [_ReceiverChannel(box, receiver)]
    yield from none_plan(
        box.changed, channels, where=where, what=what, seconds=seconds, notes=_strays(box)
    )
    with box.changed:
        box.latest = []
    return []


expect_calls = blocking(expect_calls_plan)
expect_no_calls = renamed_keywords({"within": "during"}, positional=("during",))(
    blocking(expect_no_calls_plan)
)


def latest_call(nth: int = 1) -> Call:
    """ "The call" (``nth`` 1) or "the ``nth`` call" of those the scenario's latest
    webhook expectation returned, in arrival order."""
    given: object = nth  # None was the last release's spelling of "the call"
    if given is None:
        warn_deprecated("latest_call(None)", "latest_call() or latest_call(1)")
        nth = 1
    box = captures()
    with box.changed:
        latest = box.latest
    if latest is None:
        raise AsyncBddError(
            'No webhook expectation has run in this scenario yet, so there is no "the call" '
            'to check. Put a step such as \'Then within 15 seconds the "payment-complete" '
            "webhook receives 1 call' before it."
        )
    if isinstance(nth, bool) or not isinstance(nth, int) or nth < 1:
        raise InvalidInput(f"Calls are counted from 1 (the 1st call), not {nth!r}.")
    if nth > len(latest):
        got = f"{len(latest)} {plural(len(latest), 'call')}" if latest else "no call"
        raise AsyncBddError(
            f"The latest webhook expectation returned {got}, so there is no "
            f"{'call' if nth == 1 else ordinal(nth) + ' call'} to check. Expect "
            f'{nth} {plural(nth, "call")} first, e.g. \'Then the "payment-complete" '
            f"webhook receives {nth} {plural(nth, 'call')}'."
        )
    return latest[nth - 1]


def assert_call(matcher: CallMatcher, *, nth: int = 1, description: str | None = None) -> Call:
    """Assert that :func:`latest_call` (``nth``) matches ``matcher``; return it."""
    call = latest_call(nth)
    if matcher.signed and call.signature is Signature.UNCHECKED:
        raise ConfigurationError(
            f'The "{call.receiver}" webhook checks no signature, so whether the call is signed '
            "is unknown: set the secret the system under test signs with (setting "
            "asyncbdd.webhooks.secret, or webhook_receiver(..., secret=...))."
        )
    problems = matcher.problems(call)
    if problems:
        which = "the call" if nth == 1 else f"the {ordinal(nth)} call"
        facts = [("call:", call.summary(300)), ("headers:", str(call.shown_headers()))]
        if call.note:
            facts.append(("answered:", f"{call.status} ({call.note})"))
        raise checked_failure(
            description or which + " " + str(matcher),
            f'{which} to the "{call.receiver}" webhook does not match',
            Mismatch(tuple(problems), tuple(facts), label_width=10),
            pattern="webhook",
        )
    return call


def _check_latest_call(
    matcher: CallMatcher, nth: int | None = None, *, description: str | None = None
) -> Call:
    return assert_call(matcher, nth=nth or 1, description=description)


check_call = deprecated("check_call", _check_latest_call, instead="assert_call(matcher, nth=...)")


# --------------------------------------------------------------------------------------


class _ReceiverChannel(Channel[Call]):
    """A receiver as the arrivals engine sees it: the scenario's calls to it."""

    noun = "call"
    kind = "webhook"

    def __init__(self, box: Captures, receiver: Receiver) -> None:
        super().__init__(receiver.name, f'the "{receiver.name}" webhook')
        self.box, self.receiver = box, receiver
        self._checked = 0
        self._unsigned: list[tuple[int, Call]] = []

    def arrived(self) -> Sequence[Call]:
        return self.box.calls[self.key]

    def describe(self) -> str:
        return self.receiver.describe()

    def error(self) -> BaseException | None:
        errors = self.box.errors
        error = errors.get(self.key, errors.get(""))
        if error is None:
            return None
        where = f"answering a call to {self.title}" if self.key in errors else "handling a call"
        wrapped = AsyncBddError(f"The webhook capture server failed {where}: {error!r}")
        wrapped.__cause__ = error
        return wrapped

    def rejection(self) -> str | None:
        calls = self.box.calls[self.key]
        for number, call in enumerate(calls[self._checked :], self._checked + 1):
            if call.signature in (Signature.MISSING, Signature.INVALID):
                self._unsigned.append((number, call))
        self._checked = len(calls)
        if not self._unsigned:
            return None
        count = len(self._unsigned)
        which = "; ".join(f"call {number}: {call.note}" for number, call in self._unsigned[:3])
        return (
            f"{self.title} received {count} {plural(count, 'call')} without a valid "
            f"signature, answered 401 ({which})"
        )

    def remarks(self, arrival: Call) -> list[str]:
        return [f"answered {arrival.status}: {arrival.note}"] if arrival.note else []


def _strays(box: Captures) -> Callable[[float], list[str]]:
    """The calls that did not count: to paths of no receiver, or of another scenario."""

    def lines(started: float) -> list[str]:
        found: list[str] = []
        for calls, heading in (
            (
                box.strays,
                "stray calls while the scenario ran: {} to paths of no receiver "
                "of this scenario, answered 404",
            ),
            (
                box.others,
                "calls of other scenarios: {} carrying another correlation id, "
                "answered but not counted",
            ),
        ):
            if not calls:
                continue
            found.append(f"  {heading.format(len(calls))}:")
            for call in calls[:MAX_LISTED]:
                when = relative(call.received_at, started)
                found.append(f"      {when:>9}  {call.note}: {call.summary(140)}")
            if len(calls) > MAX_LISTED:
                found.append(f"      ... {len(calls) - MAX_LISTED} more")
        return found

    return lines


def _declared(box: Captures, name: str) -> Receiver:
    with box.changed:
        receivers = dict(box.receivers)
    if name not in receivers:
        raise UnknownName("webhook receiver", name, receivers, HOW_TO_DECLARE)
    return receivers[name]


def _describe(name: str, count: int, exactly: bool, where: CallMatcher | None) -> str:
    amount = f"{'' if exactly else 'at least '}{count} {plural(count, 'call')}"
    text = f'the "{name}" webhook to receive {amount}'
    return f"{text} {where}" if where is not None else text
