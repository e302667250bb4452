"""The public API's names: the new ones are offered and documented, and every name or
keyword of the last release still works, warns naming its replacement, and forwards."""

from __future__ import annotations

import inspect
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

import asyncbdd
import asyncbdd.queues
import asyncbdd.snapshot_subjects
import asyncbdd.traces
import asyncbdd.webhooks
from asyncbdd import probes, snapshot_subjects, snapshots
from asyncbdd.config import Settings, set_settings
from asyncbdd.deprecation import deprecated, renamed_keywords
from asyncbdd.errors import AsyncBddError, InvalidInput, UnknownName
from asyncbdd.intervals import Exponential, Fibonacci, Fixed, Proportional
from asyncbdd.matching import parse_marker
from asyncbdd.queues import MessageMatcher
from asyncbdd.queues import expect as queue_expect
from asyncbdd.queues.expect import _Received
from asyncbdd.scenario import end_scenario
from asyncbdd.traces import Absent, InOrder, TraceEvent, TraceStore
from asyncbdd.traces import checks as trace_checks
from asyncbdd.webhooks import CallMatcher
from asyncbdd.webhooks import expect as webhook_expect

NEW_TOP_LEVEL = [
    "expect_change",
    "expect_exact_change",
    "expect_never",
    "expect_no_change",
    "expect_stays",
    "expect_value",
]
NEW_IN = {
    asyncbdd.queues: ["assert_message", "expect_messages", "expect_no_messages", "latest_message"],
    asyncbdd.webhooks: ["assert_call", "expect_calls", "expect_no_calls", "latest_call"],
    asyncbdd.traces: ["expect_no_event", "expect_trace", "expect_trace_stays"],
    asyncbdd.snapshot_subjects: [
        "expect_exact_subject_change",
        "expect_last_change",
        "expect_no_subject_change",
        "expect_subject_change",
    ],
}
OLD_IN = {
    asyncbdd: ["check_never_reads", "check_stays", "wait_for_change", "wait_for_no_change",
               "wait_for_value"],
    asyncbdd.queues: ["check_last_message", "expect_message", "last_message"],
    asyncbdd.webhooks: ["check_call"],
    asyncbdd.traces: ["wait_for_trace", "watch_trace"],
    asyncbdd.snapshots: ["wait_for_change", "wait_for_exact_change", "wait_for_no_change"],
    asyncbdd.snapshot_subjects: ["check_last_change", "check_unchanged",
                                 "wait_for_expected_change", "wait_for_subject_change"],
}  # fmt: skip


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    """Default settings, no probe left behind, no scenario left running."""
    set_settings(Settings(timeout=5.0, grace=0.0))
    with probes.PROBES.isolated():
        yield
    end_scenario()
    set_settings(None)


# New names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NEW_TOP_LEVEL)
def test_the_new_names_are_offered_at_the_top(name: str) -> None:
    assert name in asyncbdd.__all__
    assert inspect.getdoc(getattr(asyncbdd, name))


@pytest.mark.parametrize(
    ("module", "name"), [(module, name) for module, names in NEW_IN.items() for name in names]
)
def test_the_new_names_are_offered_by_their_pattern(module: Any, name: str) -> None:
    assert name in module.__all__
    assert inspect.getdoc(getattr(module, name))


def test_everything_asyncbdd_offers_is_documented() -> None:
    undocumented = [
        name
        for name in asyncbdd.__all__
        if callable(getattr(asyncbdd, name)) and not inspect.getdoc(getattr(asyncbdd, name))
    ]
    assert undocumented == []


@pytest.mark.parametrize(
    ("module", "name"), [(module, name) for module, names in OLD_IN.items() for name in names]
)
def test_the_old_names_are_importable_but_not_offered(module: Any, name: str) -> None:
    assert name not in module.__all__
    old = getattr(module, name)
    assert "Deprecated: use " in (old.__doc__ or "")
    assert callable(old.__wrapped__)


def test_the_top_level_old_names_are_those_of_their_modules() -> None:
    assert asyncbdd.wait_for_value is probes.wait_for_value
    assert asyncbdd.check_stays is probes.check_stays
    assert asyncbdd.wait_for_no_change is snapshots.wait_for_no_change
    assert asyncbdd.queues.last_message is queue_expect.last_message
    assert asyncbdd.webhooks.check_call is webhook_expect.check_call
    assert asyncbdd.traces.watch_trace is trace_checks.watch_trace


def test_quiet_windows_are_keyword_only_and_named_during() -> None:
    for function in (
        asyncbdd.expect_stays,
        asyncbdd.expect_never,
        asyncbdd.expect_no_change,
        asyncbdd.queues.expect_no_messages,
        asyncbdd.webhooks.expect_no_calls,
        asyncbdd.traces.expect_no_event,
        asyncbdd.traces.expect_trace_stays,
        snapshot_subjects.expect_no_subject_change,
    ):
        parameter = inspect.signature(function).parameters["during"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, function.__name__


# Old names: each warns, naming the new one, and forwards -------------------------------


def old(name: str, new: str) -> Any:
    """A context in which the call of old ``name`` must warn once, naming ``new``."""
    return pytest.warns(DeprecationWarning, match=rf"^{name}.*deprecated.*{new}")


def test_probe_names() -> None:
    asyncbdd.register_probe("the order status", lambda: "paid")
    with asyncbdd.scenario("probes"):
        with old("wait_for_value", "expect_value"):
            assert asyncbdd.wait_for_value("the order status", "paid", timeout=1) == "paid"
        with old("check_stays", "expect_stays.*during="):
            assert asyncbdd.check_stays("the order status", "paid", 0.02) == "paid"
        with old("check_stays", "expect_stays"):
            assert asyncbdd.check_stays("the order status", "paid", duration=0.02) == "paid"
        with old("check_never_reads", "expect_never"):
            assert asyncbdd.check_never_reads("the order status", "failed", 0.02) == "paid"


@dataclass
class FakeSnapshot:
    """Just enough of a snapshot for the waits: rows that change after ``after`` reads."""

    after: int | None = None
    reads: int = 0
    description: str = "the fake rows"
    taken_at: float = 0.0
    columns: tuple[str, ...] = ()

    def recapture(self) -> FakeSnapshot:
        self.reads += 1
        return self

    def diff(self, after: FakeSnapshot) -> Any:
        changed = self.after is not None and self.reads > self.after
        return SimpleNamespace(changed=True) if changed else Unchanged()


class Unchanged:
    """An empty diff."""

    def __bool__(self) -> bool:
        return False


def test_snapshot_names() -> None:
    with asyncbdd.scenario("snapshots"):
        changing: Any = FakeSnapshot(after=1)
        with old("wait_for_change", "expect_change"):
            assert asyncbdd.wait_for_change(changing, timeout=2)
        still: Any = FakeSnapshot()
        with old("wait_for_no_change", "expect_no_change.*during="):
            assert not asyncbdd.wait_for_no_change(still, 0.02)
        with old("wait_for_no_change", "expect_no_change"):
            assert not snapshots.wait_for_no_change(still, duration=timedelta(milliseconds=20))
        with (
            old("wait_for_exact_change", "expect_exact_change"),
            pytest.raises(InvalidInput, match="settle window"),
        ):
            snapshots.wait_for_exact_change(still, [], timeout=1, settle=1)


def test_snapshot_subject_names() -> None:
    with asyncbdd.scenario("subjects"):
        with (
            old("wait_for_subject_change", "expect_subject_change"),
            pytest.raises(AsyncBddError, match="No snapshot of the rows was taken"),
        ):
            snapshot_subjects.wait_for_subject_change("the rows")
        with (
            old("check_unchanged", "expect_no_subject_change.*during="),
            pytest.raises(AsyncBddError, match="No snapshot of the rows was taken"),
        ):
            snapshot_subjects.check_unchanged("the rows", 0.1)
        with (
            old("wait_for_expected_change", "expect_exact_subject_change"),
            pytest.raises(AsyncBddError, match="No snapshot of the rows was taken"),
        ):
            snapshot_subjects.wait_for_expected_change("the rows", [])
        with (
            old("check_last_change", "expect_last_change"),
            pytest.raises(AsyncBddError, match="No change has been seen yet"),
        ):
            snapshot_subjects.check_last_change([])


def test_queue_names() -> None:
    with asyncbdd.scenario("queues"):
        with (
            old("last_message", "latest_message"),
            pytest.raises(AsyncBddError, match="No message has been received"),
        ):
            asyncbdd.queues.last_message()
        with (
            old("check_last_message", "assert_message"),
            pytest.raises(AsyncBddError, match="No message has been received"),
        ):
            asyncbdd.queues.check_last_message(MessageMatcher())
        with (
            old("expect_message", r"expect_messages\(queue, 1, exactly=False"),
            pytest.raises(UnknownName, match="nowhere"),
        ):
            asyncbdd.queues.expect_message("nowhere", MessageMatcher(), timeout=1)
        with (
            old(r"expect_no_messages\(within=", r"expect_no_messages\(during="),
            pytest.raises(UnknownName, match="nowhere"),
        ):
            asyncbdd.queues.expect_no_messages("nowhere", within=1)


def test_the_messages_read_as_the_old_dict_by_alias() -> None:
    """expect_messages returns a list; indexing it by alias is the old dict, with a warning."""
    first = SimpleNamespace(queue="billing", received_at=2.0)
    second = SimpleNamespace(queue="shipping", received_at=1.0)
    received: Any = _Received({"billing": [first], "shipping": [second]})
    assert list(received) == [second, first]
    assert received[0] is second
    with old(r"expect_messages\(...\)\['billing'\]", "the list"):
        assert received["billing"] == [first]
    with old(r"expect_messages\(...\)\.items\(\)", "the list"):
        assert dict(received.items()) == {"billing": [first], "shipping": [second]}
    with old(r"expect_messages\(...\)\.keys\(\)", "the list"):
        assert list(received.keys()) == ["billing", "shipping"]
    with old(r"expect_messages\(...\)\.values\(\)", "the list"):
        assert list(received.values()) == [[first], [second]]


def test_webhook_names() -> None:
    with asyncbdd.scenario("webhooks"):
        with (
            old("check_call", "assert_call"),
            pytest.raises(AsyncBddError, match="No webhook expectation has run"),
        ):
            asyncbdd.webhooks.check_call(CallMatcher(), 2)
        with (
            old(r"latest_call\(None\)", r"latest_call\(\)"),
            pytest.raises(AsyncBddError, match="No webhook expectation has run"),
        ):
            asyncbdd.webhooks.latest_call(None)  # type: ignore[arg-type]
        with (
            old("passing during= to expect_no_calls positionally", "during= by name"),
            pytest.raises(UnknownName, match="nowhere"),
        ):
            asyncbdd.webhooks.expect_no_calls("nowhere", 1)  # type: ignore[misc]
        with (
            old(r"expect_no_calls\(within=", r"expect_no_calls\(during="),
            pytest.raises(UnknownName, match="nowhere"),
        ):
            asyncbdd.webhooks.expect_no_calls("nowhere", within=1)  # type: ignore[call-arg]


@dataclass
class FixedStore(TraceStore):
    """A trace store that always holds the same events."""

    kinds: list[str] = field(default_factory=list)

    def events(self, correlation_id: str) -> list[TraceEvent]:
        return [
            TraceEvent(type=kind, sequence=number, source=f"fixed #{number}")
            for number, kind in enumerate(self.kinds, 1)
        ]

    def describe(self) -> str:
        return "a fixed store"

    def pause(self, seconds: float) -> None:
        """The events never change: no need to wait for new ones."""


def test_trace_names() -> None:
    store = FixedStore(["order.created"])
    with asyncbdd.scenario("traces"):
        with old("wait_for_trace", "expect_trace"):
            trace = asyncbdd.traces.wait_for_trace(InOrder(["order.created"]), trace=store)
        assert trace.types == ["order.created"]
        with old("watch_trace", "expect_trace_stays.*during="):
            trace = asyncbdd.traces.watch_trace(Absent("payment.failed"), 0.02, trace=store)
        assert trace.types == ["order.created"]
        with old("watch_trace", "expect_trace_stays"):
            asyncbdd.traces.watch_trace(Absent("payment.failed"), within=0.02, trace=store)
        with old(r"expect_no_event\(within=", r"expect_no_event\(during="):
            asyncbdd.traces.expect_no_event("payment.failed", within=0.02, trace=store)


def test_matchers_still_read_the_old_feature_text_pairs() -> None:
    with old(r"MessageMatcher\(fields=...\) with \(name, text", "a dict of Python values"):
        fields = MessageMatcher(fields=(("currency", '"EUR"'), ("amount", "99.99")))
    assert fields == MessageMatcher(fields={"currency": "EUR", "amount": 99.99})
    with old(r"MessageMatcher\(attributes=...\)", "a dict of Python values"):
        attributes = MessageMatcher(attributes=(("tier", "2"),))
    assert attributes == MessageMatcher(attributes={"tier": 2})
    with old(r"CallMatcher\(headers=...\)", "from_table"):
        headers = CallMatcher(headers=(("X-Attempt", '"2"'),))
    assert headers == CallMatcher(headers={"X-Attempt": "2"})
    with old(r"CallMatcher\(query=...\)", "from_table"):
        query = CallMatcher(query=[("page", '"3"')])
    assert query == CallMatcher(query={"page": "3"})


def test_the_warning_points_at_the_callers_line() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MessageMatcher(fields=(("n", "1"),))
        line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
        with asyncbdd.scenario("where"), pytest.raises(AsyncBddError):
            asyncbdd.queues.last_message()
    assert [(w.category, w.filename, w.lineno) for w in caught] == [
        (DeprecationWarning, __file__, line),
        (DeprecationWarning, __file__, line + 3),
    ]


# Matchers: Python values; the steps' text goes through from_table -------------------------


def test_matchers_take_python_values_and_markers() -> None:
    matcher = MessageMatcher(
        fields={"order.id": "ord-1", "amount": parse_marker("<any number>")},
        attributes={"event_type": "paid"},
        key="ord-1",
    )
    message = SimpleNamespace(
        body='{"order": {"id": "ord-1"}, "amount": 12}',
        json={"order": {"id": "ord-1"}, "amount": 12},
        attributes={"event_type": "paid"},
        key="ord-1",
    )
    assert matcher.problems(message) == []  # type: ignore[arg-type]
    assert str(matcher) == (
        'with order.id = "ord-1", amount = <any number>, attribute event_type = "paid", key "ord-1"'
    )
    text = MessageMatcher(fields={"amount": "<any number>"})  # text is text, never a marker
    assert text.problems(message) == [  # type: ignore[arg-type]
        "amount: expected '<any number>', got 12"
    ]


def test_a_table_reads_cells_as_a_feature_writes_them() -> None:
    rows = [["currency", '"EUR"'], ["amount", "99.99"], ["note", '"<any>"'], ["id", "<any>"]]
    matcher = MessageMatcher.from_table(["field", "value"], rows)
    assert matcher.fields == {
        "currency": "EUR",
        "amount": 99.99,
        "note": "<any>",  # quoted: the text itself
        "id": parse_marker("<any>"),
    }
    with pytest.raises(InvalidInput, match="The expected field 'amount' is given twice"):
        MessageMatcher.from_table(["field", "value"], [["amount", "1"], ["amount ", "2"]])
    headers = CallMatcher.from_table(["header", "value"], [["X-Attempt", "2"], ["X-On", "true"]])
    assert headers.headers == {"X-Attempt": "2", "X-On": "true"}  # headers are text


# The alias mechanism ----------------------------------------------------------------------


def test_a_deprecated_name_moves_old_positional_arguments_to_keywords() -> None:
    def new(a: int, *, during: float, label: str = "") -> tuple[int, float, str]:
        """The new spelling."""
        return a, during, label

    legacy: Callable[..., Any] = deprecated(
        "legacy", new, renamed={"duration": "during"}, positional=("during",)
    )
    with old("legacy", r"new\(..., during=...\)"):
        assert legacy(1, 2.0, label="x") == (1, 2.0, "x")
    with old("legacy", "new"):
        assert legacy(1, duration=3.0) == (1, 3.0, "")
    with old("legacy", "new"), pytest.raises(TypeError, match="at most 2 positional"):
        legacy(1, 2.0, 3.0)
    with old("legacy", "new"), pytest.raises(TypeError, match="both duration= and during="):
        legacy(1, duration=1.0, during=2.0)
    assert legacy.__name__ == "legacy"
    assert legacy.__wrapped__ is new  # type: ignore[attr-defined]


def test_renamed_keywords_keep_the_new_signature_silent() -> None:
    @renamed_keywords({"within": "during"})
    def quiet(name: str, *, during: float) -> tuple[str, float]:
        """Quiet for a window."""
        return name, during

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert quiet("a", during=1.0) == ("a", 1.0)
    with old(r"quiet\(within=...\)", r"quiet\(during=...\)"):
        assert quiet("a", within=2.0) == ("a", 2.0)  # type: ignore[call-arg]
    assert quiet.__name__ == "quiet"
    assert inspect.getdoc(quiet) == "Quiet for a window."


# Durations ------------------------------------------------------------------------------


def test_durations_may_be_timedeltas_everywhere() -> None:
    asyncbdd.register_probe("the order status", lambda: "paid")
    with asyncbdd.scenario("timedeltas"):
        asyncbdd.expect_value("the order status", "paid", timeout=timedelta(seconds=1))
        asyncbdd.expect_stays("the order status", "paid", during=timedelta(milliseconds=20))
        asyncbdd.expect_never("the order status", "failed", during="20 ms")
        store = FixedStore(["order.created"])
        asyncbdd.traces.expect_no_event(
            "payment.failed", during=timedelta(milliseconds=20), trace=store
        )
    assert Fixed(timedelta(milliseconds=100)).seconds == 0.1
    assert Exponential(initial=timedelta(milliseconds=10), maximum="1 s").maximum == 1.0
    assert Fibonacci(initial="10 ms").initial == 0.01
    assert Proportional(maximum=timedelta(seconds=2)).maximum == 2.0
    with pytest.raises(InvalidInput, match="cannot be negative"):
        Fixed(-1)


def test_every_public_name_resolves_and_the_heavy_ones_wait_for_first_use() -> None:
    """``import asyncbdd`` (as the pytest plugin does in every pytest run) imports no
    database layer; each name of ``__all__`` is there on first use."""
    code = (
        "import sys, asyncbdd\n"
        "assert 'sqlalchemy' not in sys.modules, 'import asyncbdd imported SQLAlchemy'\n"
        "missing = [n for n in asyncbdd.__all__ if getattr(asyncbdd, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert callable(asyncbdd.scenario)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
