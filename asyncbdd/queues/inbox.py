"""Background readers that drain every queue as messages arrive, and the per-scenario
inbox they deliver to.

One reader thread per queue reads for the rest of the run (SQS long polls, Kafka
``poll``), from the start of the first scenario for a Kafka topic, from the first wait on
it for an SQS queue (SQS keeps messages until they are read, so a queue that only the
system under test consumes is never read). It sorts each message by correlation id:

* a live scenario's messages go to its :class:`Inbox` and are deleted from SQS.
  Several scenarios may be live at once (asyncio tasks or threads, each in its own
  scenario): each message goes to the one whose correlation id it carries, and is listed
  as skipped in the others' inboxes, as another run's would be;
* leftovers of this process's earlier scenarios are deleted and listed as skipped;
* messages of anyone else (a parallel run sharing the queue) are listed as skipped and
  released back to the queue for their owner; the reader then pauses a moment so that
  the owner's reader gets them, and hides a message it keeps seeing a little longer each
  time, so that one nobody takes does not keep a reader spinning. It releases them only
  once it has read on past them (a *sweep*, see :meth:`_Reader._sweep`), so that its own
  messages behind a crowd of others' (messages of finished scenarios of another process,
  which no reader will take) are found in one pass over the queue, as fast as a plain
  client reading it through. Every message a reader receives is delivered or given back:
  none stays hidden once the sweep ends (but a poison message read again in the same
  scenario, below);
* a *poison* message, whose body cannot be read (not UTF-8, nested too deep, too large,
  or not JSON while the correlation id is a body field) so that its owner is unknown, is
  listed as skipped with the reason in every wait of the live scenarios, and given back
  at most once per scenario: read again while every live scenario has had it given back,
  it is left hidden for as long as a receive hides a message
  (:attr:`~asyncbdd.queues.base.Queue.hides_received_for`). It is never deleted: it is
  not known to be ours. One whose
  correlation id is in an attribute/header is sorted by it like any other (the
  scenario's own counts as an arrival, its body shown as not JSON, and why).

With correlation ``off`` every message read while a scenario runs is its own (each live
scenario's), and whatever arrives between scenarios is deleted as a leftover.

Steps never read a queue themselves: they wait on the inbox's condition variable
(:class:`~asyncbdd.signals.Changes`: a thread waits on it, an asyncio task awaits it), so
a step returns the moment its messages are in, and waits on several queues run in
parallel.

The inbox is per-scenario state (:data:`INBOX`); what outlives a scenario (the readers,
what they remember of messages and of ended scenarios) is the run's (:class:`_Run`).

When a broker fails, a reader tells its waits, and keeps reading:

* one that does not answer (refused, timed out, a read still waiting for its answer a
  second past its long poll) is *trouble* (:func:`reading_trouble`): waits go on, since
  it may answer in time, and one that fails names the broker and how long it has been
  silent; the reader tries again every :data:`RETRY_AFTER_ERROR` seconds;
* one that went away for good (:class:`~asyncbdd.queues.base.BrokerGone`: the embedded
  Kafka broker died) fails the waits of the scenarios it died in at once; the reader
  stops, and the next :func:`start_reader` (the next scenario's start, or a wait) opens
  the queue again, on a new broker;
* any other error (a queue deleted) fails the waits at once, until a read succeeds.

Every call a reader makes is bounded (:meth:`~asyncbdd.queues.base.Queue.longest_call`),
so :func:`close_readers` stops them all within a bound.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from asyncbdd.arrivals import wait_waking
from asyncbdd.durations import format_duration
from asyncbdd.errors import report_problem
from asyncbdd.queues.aliases import alias_names, queue_named
from asyncbdd.queues.base import BrokerGone, BrokerUnreachable, Queue
from asyncbdd.queues.message import Message
from asyncbdd.scenario import Scenario, Slot, on_scenario_start
from asyncbdd.signals import Changes

__all__ = [
    "INBOX",
    "Inbox",
    "Skipped",
    "Trouble",
    "close_readers",
    "inbox",
    "is_reading",
    "reading_trouble",
    "start_reader",
]

READ_WAIT = 1.0
"""Longest a reader blocks in one receive; bounds how long stopping it takes."""
RETRY_AFTER_ERROR = 1.0
"""Seconds a reader waits before reading again after a failed read (from the start of
that read, when its broker did not answer)."""
UNANSWERED_AFTER = 1.0
"""Seconds past :data:`READ_WAIT` after which a read still waiting for its answer counts
as a broker that does not answer."""
LONGEST_HIDE = 10
"""Longest a released foreign message is hidden from our reader, in seconds."""
SWEEP_SLACK = 20
"""Messages a sweep reads beyond the queue's backlog at its start before it gives others'
back: what arrived meanwhile, and the backlog's approximation (SQS counts approximately)."""
SWEEP_MARGIN = 10.0
"""Seconds before the queue would show a held message again (its
:attr:`~asyncbdd.queues.base.Queue.hides_received_for`) at which a sweep stops and gives
back what it holds, so that it never meets its own held messages again."""
RELEASE_PAUSE = 1.1
"""Seconds a reader pauses after giving messages back, so that their owner's reader gets
them rather than this one again: a waiting long poll notices a message made visible again
only on its next check (moto checks every second)."""


@dataclass(frozen=True)
class Skipped:
    """A message a reader saw that is not the scenario's, and why."""

    message: Message
    why: str


@dataclass(frozen=True)
class Trouble:
    """Why a reader has not read lately: its broker does not answer."""

    summary: str
    """``SQS at http://127.0.0.1:5123 did not answer for 3.2 s (no answer within 3 s)``."""
    detail: str
    """The error met, or what a read still waiting is waiting for, and what to check."""


@dataclass
class Inbox:
    """What one scenario received, per queue alias; waiters are woken on every arrival.

    Threads wait with :meth:`wait`; an asyncio task awaits
    ``box.changed.until(ready, until_monotonic)`` (:meth:`~asyncbdd.signals.Changes.until`).
    Readers change it only with :attr:`changed` held.
    """

    correlation_id: str
    started_at: float = field(default_factory=time.monotonic)
    messages: dict[str, list[Message]] = field(default_factory=lambda: defaultdict(list))
    skipped: dict[str, list[Skipped]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, BaseException] = field(default_factory=dict)
    changed: Changes = field(default_factory=Changes, repr=False)

    def wait(self, ready: Callable[[], bool], seconds: float) -> bool:
        """Block until ``ready()`` (checked under the lock) or ``seconds`` pass.

        It wakes at least every :data:`~asyncbdd.arrivals.WAKE_EVERY` seconds, so that a
        Ctrl-C is handled at once rather than when ``seconds`` have passed
        (:func:`~asyncbdd.arrivals.wait_waking`).
        """
        with self.changed:
            return wait_waking(self.changed, ready, time.monotonic() + max(seconds, 0.0))


def inbox() -> Inbox:
    """The running scenario's inbox."""
    return INBOX.current()


def is_reading(queue: Queue) -> bool:
    """Whether a reader of ``queue`` was started (it may have met a broker gone since)."""
    with _run.lock:
        return id(queue) in _run.readers


def start_reader(queue: Queue) -> None:
    """Open ``queue`` and start reading it in the background, unless that runs already.

    A reader whose broker is gone for good (:meth:`~asyncbdd.queues.base.Queue.gone`) is
    stopped first, and the queue opened again (on a new broker). Raises what opening
    raises (an unreachable broker, a missing queue).
    """
    with _run.lock:
        reader = _run.readers.get(id(queue))
    if reader is not None:
        gone = queue.gone()
        if gone is None:
            return
        reader.stopping.set()
        reader.join(READ_WAIT + queue.longest_call())
        with _run.lock:
            if _run.readers.get(id(queue)) is reader:
                del _run.readers[id(queue)]
        _report(queue, gone)
    try:
        queue.open()
    except Exception as error:
        with _run.lock:
            _run.unopened[id(queue)] = error
        raise
    with _run.lock:
        _run.unopened.pop(id(queue), None)
        if not _run.readers:
            # Registered after opening started any embedded broker, so that at exit the
            # readers stop first (atexit runs last-registered first).
            atexit.register(close_readers)
        if id(queue) not in _run.readers:
            reader = _run.readers[id(queue)] = _Reader(queue)
            reader.start()


def reading_trouble(queue: Queue) -> Trouble | None:
    """Why the reader of ``queue`` has not read lately, if its broker does not answer."""
    with _run.lock:
        reader = _run.readers.get(id(queue))
    return reader.trouble() if reader is not None else None


def close_readers() -> None:
    """Stop every reader and close its queue (at the end of a run).

    Readers stop together, within the longest call one of them may be in (a read of a
    broker that does not answer); one still running after that is reported on stderr.
    """
    with _run.lock:
        readers = list(_run.readers.values())
        _run.readers.clear()
        _run.unopened.clear()  # keyed by id(): a later queue object may reuse an id
        atexit.unregister(close_readers)
    for reader in readers:
        reader.stopping.set()
    bound = max((READ_WAIT + reader.queue.longest_call() for reader in readers), default=0.0)
    until = time.monotonic() + bound
    for reader in readers:
        reader.join(max(until - time.monotonic(), 0.0))
    for reader in readers:
        reader.queue.close()
    left = [reader.queue.broker() for reader in readers if reader.is_alive()]
    if left:
        report_problem(
            f"{len(left)} queue reader(s) still waiting for an answer from "
            f"{', '.join(sorted(set(left)))} after {format_duration(bound)} were left behind."
        )


class _Reader(threading.Thread):
    def __init__(self, queue: Queue) -> None:
        super().__init__(name=f"asyncbdd-reader-{queue.alias}", daemon=True)
        self.queue = queue
        self.stopping = threading.Event()
        self.answered_at = time.monotonic()
        """When a read last came back, on the monotonic clock."""
        self.reading_since: float | None = None
        """When the read under way began, if one is."""
        self.failure: BrokerUnreachable | None = None
        """Why the last read failed, while the broker does not answer."""

    def run(self) -> None:
        while not self.stopping.is_set():
            gone = self.queue.gone()
            if gone is not None:
                self._retire(gone)
                return
            self.reading_since = time.monotonic()
            try:
                released = self._sweep()
            except BrokerGone as error:
                self._retire(error)
                return
            except BrokerUnreachable as error:
                # A read that took its time to fail (a timeout) is tried again at once.
                took = time.monotonic() - self.reading_since
                self.reading_since, self.failure = None, error
                self.stopping.wait(max(RETRY_AFTER_ERROR - took, 0.0))
                continue
            except Exception as error:
                self.reading_since = None
                _report(self.queue, error)
                self.stopping.wait(RETRY_AFTER_ERROR)
                continue
            self.reading_since, self.failure = None, None
            self.answered_at = time.monotonic()
            _report(self.queue, None)
            if released:
                self.stopping.wait(RELEASE_PAUSE)

    def trouble(self) -> Trouble | None:
        """Why it has not read lately, if its broker does not answer."""
        now = time.monotonic()
        failure, reading_since = self.failure, self.reading_since
        if failure is not None:
            since = failure.since if failure.since is not None else self.answered_at
            silent = format_duration(now - since)
            summary = f"{failure.broker} did not answer for {silent} ({failure.reason})"
            return Trouble(summary, str(failure))
        if reading_since is not None and now - reading_since > READ_WAIT + UNANSWERED_AFTER:
            broker = self.queue.broker()
            return Trouble(
                f"{broker} did not answer for {format_duration(now - self.answered_at)}",
                f"a read sent {format_duration(now - reading_since)} ago (a "
                f"{format_duration(READ_WAIT)} long poll) is still waiting for its answer. "
                f"Check that {broker} runs and is not stopped or overloaded; "
                "asyncbdd.connect_timeout bounds each attempt.",
            )
        return None

    def _retire(self, gone: BrokerGone) -> None:
        """Stop for good: tell the live scenarios, and forget this reader, so that the
        next :func:`start_reader` opens the queue again, on a new broker. (Closing the
        queue here would close what another thread uses meanwhile: a producer on the new
        one.)"""
        _report(self.queue, gone)
        with _run.lock:
            if _run.readers.get(id(self.queue)) is self:
                del _run.readers[id(self.queue)]

    def _sweep(self) -> bool:
        """Read on past others' messages, holding them, then give them back; return
        whether any is visible again at once.

        A receive that brings others' messages starts a sweep: the reader goes on
        receiving at once, delivering its own as they come, until a receive brings none of
        others' (it has read past them), or it has read as many as the queue held when
        the sweep began (:meth:`~asyncbdd.queues.base.Queue.backlog`, plus
        :data:`SWEEP_SLACK`: others' new messages arriving all the time never make a
        sweep last longer), or the queue would soon show held messages again. A queue
        that returns its oldest messages first (moto) would otherwise show the reader the
        same others' messages again and again, and its own behind them only once those
        were hidden.

        Every message received is delivered (ours, leftovers) or given back (others'),
        whatever fails: a batch that could not be sorted is given back whole.
        """
        others: list[Message] = []
        unsorted: list[Message] = []
        try:
            unsorted = self.queue.receive(READ_WAIT)
            started, read, limit = time.monotonic(), 0, None
            hold = self.queue.hides_received_for
            while True:
                read += len(unsorted)
                theirs = _deliver(self.queue, unsorted) if unsorted else []
                unsorted = []
                others += theirs
                if not (theirs and self.queue.reads_exclusively) or self.stopping.is_set():
                    break
                if limit is None:
                    backlog = self.queue.backlog()
                    limit = read + (backlog if backlog is not None else 0) + SWEEP_SLACK
                if read >= limit or (
                    hold is not None and time.monotonic() - started > hold - SWEEP_MARGIN
                ):
                    break
                unsorted = self.queue.receive(0)
        finally:
            visible = _give_back(self.queue, others + unsorted)
        return visible


def _deliver(queue: Queue, messages: Sequence[Message]) -> list[Message]:
    """Sort and delete ``messages``; return those of others to give back now, for
    :func:`_give_back`.

    Each live scenario's inbox gets its own messages and lists the others as skipped,
    those of another live scenario as another run's would be. A poison message whose
    correlation id cannot be read (its body cannot be, and the id is in a body field) is
    nobody's known message: it is listed like others' and given back at most once per
    scenario (:func:`_give_poison_back`). A queue that holds copies (a tap) deletes
    others' messages too: they are nobody's.
    """
    correlated = queue.correlation.enabled
    ours: list[Message] = []
    leftovers: list[Message] = []
    others: list[Message] = []
    with _run.lock:
        live = list(_run.live)
        owners = {box.correlation_id for box in live}
        for message in messages:
            if live and (not correlated or message.correlation_id in owners):
                ours.append(message)
            elif not correlated or message.correlation_id in _run.finished:
                leftovers.append(message)
            else:
                others.append(message)
    queue.delete(ours + leftovers + (others if queue.holds_copies else []))
    scopes: frozenset[str | None] = frozenset(owners) or frozenset([None])
    back = [
        m
        for m in others
        if not queue.holds_copies and (not _is_poison(queue, m) or _give_poison_back(m, scopes))
    ]
    for box in live:
        mine = [m for m in ours if not correlated or m.correlation_id == box.correlation_id]
        theirs = [m for m in ours if correlated and m.correlation_id != box.correlation_id]
        _file(queue, box, mine, leftovers, theirs + others)
    return back


def _file(
    queue: Queue,
    box: Inbox,
    mine: Sequence[Message],
    leftovers: Sequence[Message],
    theirs: Sequence[Message],
) -> None:
    """Put a live scenario's messages of ``queue`` in its inbox, list the rest as
    skipped (a message given back and read again, once), and wake its waiters."""
    with box.changed:
        box.messages[queue.alias].extend(mine)
        listed = box.skipped[queue.alias]
        seen = {skipped.message.message_id for skipped in listed}
        for message in leftovers:
            listed.append(Skipped(message, "left over from an earlier scenario"))
        for message in theirs:
            if message.message_id not in seen:
                seen.add(message.message_id)
                listed.append(Skipped(message, _why_theirs(queue, message)))
        box.changed.notify_all()


def _why_theirs(queue: Queue, message: Message) -> str:
    if message.correlation_id is not None:
        return "belongs to another scenario or run"
    if _is_poison(queue, message):
        return f"its body cannot be read ({message.problem}), so its {queue.correlation} is unknown"
    return f"carries no {queue.correlation}"


def _is_poison(queue: Queue, message: Message) -> bool:
    """Whether nobody can tell whose ``message`` is: its correlation id is in a body field
    of a body that cannot be read."""
    return (
        queue.correlation.kind == "field"
        and message.problem is not None
        and message.correlation_id is None
    )


def _give_poison_back(message: Message, scopes: frozenset[str | None]) -> bool:
    """Whether to give a poison message back now: unless every live scenario (``scopes``,
    their correlation ids; ``{None}`` between scenarios) had it given back already, so
    that the system's own consumer, or a scenario that began since, sees it. Read again in
    the same scenarios, it stays hidden for as long as a receive hides a message."""
    with _run.lock:
        given = _run.poison.get(message.message_id)
        if given is not None and scopes <= given:
            return False
        _run.poison.pop(message.message_id, None)
        _run.poison[message.message_id] = scopes
        while len(_run.poison) > 10_000:
            _run.poison.popitem(last=False)
    return True


def _give_back(queue: Queue, others: Sequence[Message]) -> bool:
    """Release others' messages to the queue for their owners (a poison message at once:
    :func:`_deliver` gives it back at most once per scenario); return whether any is
    visible again at once."""
    if not queue.reads_exclusively:
        return False  # every reader of a Kafka topic sees every record anyway
    hiding: dict[int, list[Message]] = defaultdict(list)
    for message in others:
        hiding[0 if _is_poison(queue, message) else _hide_for(message)].append(message)
    for seconds, released in hiding.items():
        queue.release(released, seconds)
    return 0 in hiding


def _report(queue: Queue, error: BaseException | None) -> None:
    """Tell the live scenarios that reading ``queue`` failed (``error``) or works again.

    A broker gone for good stays reported for the rest of a scenario, if the scenario
    began before it went (a later one has lost nothing: it opens the queue anew).
    """
    with _run.lock:
        live = list(_run.live)
    for box in live:
        if isinstance(error, BrokerGone) and error.at is not None and error.at < box.started_at:
            continue
        with box.changed:
            if error is None:
                if isinstance(box.errors.get(queue.alias), BrokerGone):
                    continue
                if box.errors.pop(queue.alias, None) is not None:
                    box.changed.notify_all()
            else:
                box.errors[queue.alias] = error
                box.changed.notify_all()


def _hide_for(message: Message) -> int:
    """0 s the first two times we give a message back (its owner takes it meanwhile),
    then 1, 2, 4 ... up to LONGEST_HIDE: a message nobody takes is read less and less."""
    with _run.lock:
        seen = _run.released.pop(message.message_id, 0)
        _run.released[message.message_id] = seen + 1
        while len(_run.released) > 10_000:
            _run.released.popitem(last=False)
    return 0 if seen < 2 else min(2 ** (seen - 2), LONGEST_HIDE)


def _on_scenario_start(scenario: Scenario) -> None:
    # Every scenario's id is remembered, so its late messages are known as leftovers; its
    # inbox is live from its start, so that a reader started later in it (by a step, or
    # start_reader) never takes the scenario's own messages for nobody's.
    scenario.on_end(lambda: _finish(scenario.correlation_id, None))
    INBOX.of(scenario)


def _begin(scenario: Scenario) -> Inbox:
    """A new inbox for ``scenario``, live (delivered to) until the scenario ends; the
    queues that forget what they are not read for start being read."""
    box = Inbox(scenario.correlation_id)
    if not scenario.ended:
        scenario.on_end(lambda: _finish(scenario.correlation_id, box))
        with _run.lock:
            _run.live.append(box)
    for alias in alias_names():
        try:
            queue = queue_named(alias)
            # Only a queue that forgets (Kafka: readers start at the end) must be read
            # from the start; an SQS queue keeps its messages until a step first waits on
            # it, so a queue the system under test consumes is never read by asyncbdd.
            with _run.lock:
                unopened = id(queue) in _run.unopened
            if queue.read_from_scenario_start and not unopened:
                start_reader(queue)
        except Exception:  # the first step that uses the queue opens it again, and reports
            continue
    return box


def _finish(correlation_id: str, box: Inbox | None) -> None:
    with _run.lock:
        _run.finished.add(correlation_id)
        if box is not None:
            _run.live = [live for live in _run.live if live is not box]


class _Run:
    """What the readers share for the whole run, across scenarios; one instance, ``_run``.

    All of it is run-scoped, none of it one scenario's state (that is its :class:`Inbox`,
    :data:`INBOX`): one reader per queue, read for the rest of the run whichever scenario
    runs; the queues that failed to open (a scenario's start does not try them again);
    the inboxes of the scenarios live now, which every reader delivers to (reader threads
    do not see the current scenario); the correlation ids of the scenarios that ended,
    whose late messages are leftovers; and what is remembered per message id, whoever
    reads it next: how often it was given back, and in which scenarios a poison message
    was. Its lock guards all of it.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.readers: dict[int, _Reader] = {}
        """By ``id()`` of the queue."""
        self.unopened: dict[int, BaseException] = {}
        """Why a queue (by ``id()``) could not be opened."""
        self.live: list[Inbox] = []
        """The inboxes of the scenarios begun and not ended, oldest first."""
        self.finished: set[str] = set()
        self.released: OrderedDict[str, int] = OrderedDict()
        """Times a message (by id) was given back."""
        self.poison: OrderedDict[str, frozenset[str | None]] = OrderedDict()
        """Poison messages given back, by message id: the scenarios live then (their
        correlation ids; ``None`` between scenarios)."""


INBOX: Slot[Inbox] = Slot("queue inbox", _begin)
"""Each scenario's :class:`Inbox`, made on its first use."""
_run = _Run()
on_scenario_start(_on_scenario_start)
