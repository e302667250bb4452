"""The bad-input corpus: every way a test can be written or configured wrong, in one place.

A malformed duration, count, JSON doc string or table; a probe, queue, receiver, table or
trace nobody registered; an SQS, Kafka, database or trace-store endpoint nobody listens
on; a webhook port already taken; a system under test that answers garbage. Each must be
an error (never a wait that runs out, a hang, or a traceback from a client library) whose
message names the input and the fix, within the time stated for the case; under behave,
the run goes on to the next scenario.

The feature-level cases are the scenarios of ``bad_input.feature``, run by behave once;
the others call the engine. Both print a table of case, bound, time taken and message.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from demo_features import Outcome, run_behave
from doubles import LocalHttpServer, QuietHandler

import asyncbdd
from asyncbdd.config import get_settings, load_settings, set_settings
from asyncbdd.database import dispose_engines
from asyncbdd.errors import AsyncBddError
from asyncbdd.matching import shorten
from asyncbdd.probes import PROBES
from asyncbdd.queues import expect_messages
from asyncbdd.scenario import end_scenario
from asyncbdd.traces import HttpTraceStore, SqlTraceStore, expect_chain
from asyncbdd.webhooks import expect_calls, webhook_receiver

Report = Callable[[str, Sequence[str], Sequence[Sequence[object]]], None]

FEATURE = "tests/reliability/bad_input.feature"
CONNECT_TIMEOUT = 1.0
"""asyncbdd.connect_timeout of the endpoint cases: how long to try to reach an endpoint."""
REACH_BOUND = CONNECT_TIMEOUT + 3
"""An unreachable endpoint is reported within the connect timeout, and some slack."""
AT_ONCE = 2.0
"""Input that is wrong as written is reported before anything is waited on."""
BEHAVE_RUN_BOUND = 45.0
"""The whole behave run: start the demo and its brokers, run every scenario, stop."""


@dataclass(frozen=True)
class FeatureCase:
    """A scenario of the corpus: the fragments its report must hold, and its time bound."""

    scenario: str
    fragments: tuple[str, ...]
    bound: float = AT_ONCE


FEATURE_CASES = [
    FeatureCase(
        "A malformed duration is named, not left undefined",
        ("'ten seconds' is not a duration.", "Write a number and a unit"),
    ),
    FeatureCase(
        "A malformed count is named",
        ("'many messages' is not a count.", "Write a number and a noun, e.g. '1 message'"),
    ),
    FeatureCase(
        "A malformed JSON doc string is named with its line and column",
        (
            'Invalid JSON in the doc string of step \'When "order.created" is published '
            "with:' at line 1, column 23",
            "write \"quantity\", not 'quantity'",
        ),
    ),
    FeatureCase(
        "An empty JSON doc string is named",
        (
            "No JSON in the doc string of step 'When a message is sent to the billing queue "
            "with:': it is empty.",
            "Write one JSON value there",
        ),
    ),
    FeatureCase(
        "A missing JSON doc string is asked for",
        (
            "The step 'When a message is sent to the billing queue with:' needs a JSON doc "
            'string below it (between lines of """)',
        ),
    ),
    FeatureCase(
        "A message table with a wrong heading is named",
        ("A message table has the columns | field | value |", "not | name | value |."),
    ),
    FeatureCase(
        "A message table with a missing column is named",
        ("A message table has the columns | field | value |", "not | field |."),
    ),
    FeatureCase(
        "A malformed marker in a table is named before any message comes",
        (
            "In the expected field 'amount': Malformed marker <near:lots±1>",
            "write <near:NUMBER±TOLERANCE>",
        ),
    ),
    FeatureCase(
        "A change table with wrong headings is named",
        (
            "A change table has the headings | column | before | after |",
            "this one has | column | old | new |.",
        ),
    ),
    FeatureCase(
        "A missing change table is asked for",
        (
            "The step 'Then within 1 second the \"inventory\" table changes to:' needs a table "
            "below it: | column | before | after |",
        ),
    ),
    FeatureCase(
        "A trace table with a wrong heading is named",
        ("A trace table has one column, | event_type |", "this one has | event_name |."),
    ),
    FeatureCase(
        "A table of events across channels with a missing column is named",
        ("has two columns, | channel | event |", "this one has | channel |."),
    ),
    FeatureCase(
        "An unknown placeholder in a doc string is named",
        ("Unknown placeholder {ordr_id}", "Known placeholders: {correlation_id}"),
    ),
    FeatureCase(
        "Malformed headers are named",
        (
            "Headers 'source web' are not understood",
            "write name=value pairs separated by commas",
        ),
    ),
    FeatureCase(
        "A webhook receiver answering an impossible status is named",
        (
            'Webhook receiver "payment-complete": status is an HTTP status from 200 to 599; '
            "got 999.",
        ),
    ),
    FeatureCase(
        "A wait longer than the scenario budget is rejected before it starts",
        (
            "may take up to 10 min, but only 5 min of the time budget",
            "Shorten the wait, or raise the budget (setting asyncbdd.scenario_budget)",
        ),
    ),
    FeatureCase(
        "An unknown probe is named, with a suggestion",
        (
            "No probe named 'the ordr status' is registered.",
            "Did you mean 'the order status'?",
            "Register one in Python",
        ),
    ),
    FeatureCase(
        "An unknown queue is named, with a suggestion",
        (
            "No queue named 'biling' is registered.",
            "Did you mean 'billing'?",
            "Name it in the setting asyncbdd.queues",
        ),
    ),
    FeatureCase(
        "An unknown webhook receiver is named",
        (
            "No webhook receiver named 'payment-complete' is registered.",
            "Declare it first in the scenario: 'Given a webhook receiver",
        ),
    ),
    FeatureCase(
        "An unknown snapshot subject is named, with a suggestion",
        (
            "No snapshot subject named 'the inventry of product \"prod-789\"'",
            "Did you mean 'the inventory of product \"{product_id}\"'?",
        ),
    ),
    FeatureCase(
        "An unknown snapshot table is named, with a suggestion",
        (
            "No table named 'inventry'",
            "Did you mean 'inventory'?",
            "Check the name, or create the table before capturing it.",
        ),
    ),
    FeatureCase(
        "An unknown trace is named, with a suggestion",
        (
            "No trace named 'the trace for this ordr'",
            "Did you mean 'the trace for this order'?",
            "Set asyncbdd.traces.table",
        ),
    ),
    FeatureCase(
        "An unknown channel is named",
        (
            "No evidence of kind 'carrier-pigeon'",
            "A channel is trace, webhook, queue or topic",
        ),
    ),
]


def test_every_bad_input_in_a_feature_fails_at_once_naming_it_and_the_fix(
    tmp_path: Path, reliability_report: Report
) -> None:
    """Each corpus scenario errors (never passes) within its bound, naming input and fix,
    and every scenario runs: a bad one does not stop the run."""
    started = time.monotonic()
    outcomes = run_behave(tmp_path, FEATURE, defines={"asyncbdd.timeout": "1 second"})
    run_seconds = time.monotonic() - started
    problems: list[str] = []
    rows: list[tuple[object, ...]] = []
    for case in FEATURE_CASES:
        outcome = outcomes.get(case.scenario)
        if outcome is None:
            problems.append(f"{case.scenario}: did not run")
            continue
        took = sum(step.seconds for step in outcome.steps)
        rows.append((case.scenario, f"{case.bound:g} s", f"{took:.3f} s", _excerpt(outcome)))
        problems += _feature_problems(case, outcome, took)
    reliability_report(
        f"bad input in features (one behave run, {run_seconds:.1f} s)",
        ["case", "bound", "took", "message"],
        rows,
    )
    assert set(outcomes) == {case.scenario for case in FEATURE_CASES}, "scenarios without a case"
    assert run_seconds < BEHAVE_RUN_BOUND
    assert problems == []


def _feature_problems(case: FeatureCase, outcome: Outcome, took: float) -> list[str]:
    found = []
    if outcome.status not in ("failed", "error"):
        found.append(f"{case.scenario}: {outcome.status}, not failed")
    if not re.search(r"^asyncbdd\.[\w.]+: ", outcome.report, flags=re.MULTILINE):
        found.append(f"{case.scenario}: no asyncbdd error in\n{outcome.report}")
    found += [
        f"{case.scenario}: {fragment!r} missing in\n{outcome.report}"
        for fragment in case.fragments
        if fragment not in outcome.report
    ]
    if took > case.bound:
        found.append(f"{case.scenario}: took {took:.2f} s, over its {case.bound:g} s")
    return found


def _excerpt(outcome: Outcome) -> str:
    """The first line of the asyncbdd error behave printed, shortened."""
    match = re.search(r"^asyncbdd\.[\w.]+: (.*)$", outcome.report, flags=re.MULTILINE)
    return _shorten(match.group(1) if match else outcome.report.strip().splitlines()[0])


# Engine calls --------------------------------------------------------------------------


@dataclass(frozen=True)
class Places:
    """What the engine cases point at: a closed port, a taken one, a garbage service."""

    closed_port: int
    taken_port: int
    garbage_url: str
    directory: Path

    def fill(self, text: str) -> str:
        """``text`` with ``<closed>``, ``<taken>``, ``<garbage>`` and ``<dir>`` filled in."""
        return (
            text.replace("<closed>", str(self.closed_port))
            .replace("<taken>", str(self.taken_port))
            .replace("<garbage>", self.garbage_url)
            .replace("<dir>", str(self.directory))
        )


@dataclass(frozen=True)
class EngineCase:
    """An engine call that must raise an asyncbdd error holding ``fragments`` in time."""

    name: str
    call: Callable[[Places], object]
    fragments: tuple[str, ...]
    bound: float = AT_ONCE


def configure(**settings: str) -> None:
    """Put these settings in force (names without ``asyncbdd.``), with a short connect timeout."""
    overrides = {"asyncbdd.connect_timeout": str(CONNECT_TIMEOUT), "asyncbdd.timeout": "2 s"}
    overrides.update({f"asyncbdd.{name}": value for name, value in settings.items()})
    set_settings(load_settings(environ={}, overrides=overrides))


def sqs_on_a_closed_port(places: Places) -> object:
    configure(
        queues="bad-input-billing = sqs:bad-input-billing",
        **{
            "sqs.endpoint": f"http://127.0.0.1:{places.closed_port}",
            "sqs.region": "us-east-1",
        },
    )
    with asyncbdd.scenario("sqs"):
        return expect_messages("bad-input-billing", 1, timeout=30)


def kafka_on_a_closed_port(places: Places) -> object:
    configure(
        queues="bad-input-orders = kafka:bad-input-orders",
        **{"kafka.bootstrap_servers": f"127.0.0.1:{places.closed_port}"},
    )
    with asyncbdd.scenario("kafka"):
        return expect_messages("bad-input-orders", 1, timeout=30)


def postgresql_on_a_closed_port(places: Places) -> object:
    url = f"postgresql+psycopg://app:secret@127.0.0.1:{places.closed_port}/shop"
    configure(database_url=url)
    asyncbdd.sql_probe("the remote status", "SELECT 1")
    with asyncbdd.scenario("postgresql"):
        return asyncbdd.expect_value("the remote status", 1, timeout=30)


def sqlite_in_a_missing_directory(places: Places) -> object:
    configure(database_url=f"sqlite:///{places.directory}/missing/shop.db")
    with asyncbdd.scenario("sqlite"):
        return asyncbdd.take_snapshot('the "inventory" table')


def sql_trace_store_on_a_closed_port(places: Places) -> object:
    configure()
    store = SqlTraceStore(url=f"postgresql+psycopg://app@127.0.0.1:{places.closed_port}/shop")
    with asyncbdd.scenario("sql trace store"):
        return expect_chain(["order.created"], trace=store, timeout=30)


def sql_trace_store_with_a_missing_table(places: Places) -> object:
    configure()
    store = SqlTraceStore(table="trace_evnts", url=_trace_database(places))
    with asyncbdd.scenario("sql trace store"):
        return expect_chain(["order.created"], trace=store, timeout=30)


def sql_trace_store_with_a_missing_column(places: Places) -> object:
    configure()
    store = SqlTraceStore(url=_trace_database(places), columns={"timestamp": "created_at"})
    with asyncbdd.scenario("sql trace store"):
        return expect_chain(["order.created"], trace=store, timeout=30)


def http_trace_store(kind: str) -> Callable[[Places], object]:
    """A chain read from the garbage service's ``/<kind>/`` answers (or a closed port)."""

    def call(places: Places) -> object:
        configure()
        base = f"http://127.0.0.1:{places.closed_port}" if kind == "closed" else places.garbage_url
        store = HttpTraceStore(f"{base}/{kind}/{{correlation_id}}")
        with asyncbdd.scenario("http trace store"):
            return expect_chain(["order.created"], trace=store, timeout=30)

    return call


def webhook_port_taken(places: Places) -> object:
    configure(**{"webhooks.port": str(places.taken_port)})
    with asyncbdd.scenario("webhooks"):
        return webhook_receiver("payment-complete")


def _trace_database(places: Places) -> str:
    path = places.directory / "traces.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS trace_events (correlation_id TEXT, event_type TEXT, "
            "service TEXT, sequence INTEGER, occurred_at TEXT, attributes TEXT)"
        )
    connection.close()
    return f"sqlite:///{path}"


ENGINE_CASES = [
    EngineCase(
        "SQS endpoint on a closed port",
        sqs_on_a_closed_port,
        (
            "The SQS endpoint http://127.0.0.1:<closed> is not reachable within 1 s",
            "set asyncbdd.sqs.endpoint to an endpoint that runs",
        ),
        REACH_BOUND,
    ),
    EngineCase(
        "Kafka bootstrap servers on a closed port",
        kafka_on_a_closed_port,
        (
            "No Kafka broker answered at 127.0.0.1:<closed> within 1 s",
            "set asyncbdd.kafka.bootstrap_servers to one that runs",
        ),
        REACH_BOUND,
    ),
    EngineCase(
        "PostgreSQL on a closed port",
        postgresql_on_a_closed_port,
        (
            "Could not read probe 'the remote status': database "
            "postgresql+psycopg://app:***@127.0.0.1:<closed>/shop cannot be reached",
            "Check that the server is running and that asyncbdd.database_url",
        ),
        REACH_BOUND,
    ),
    EngineCase(
        "SQLite file in a missing directory",
        sqlite_in_a_missing_directory,
        (
            "database sqlite:///<dir>/missing/shop.db cannot be reached: unable to open",
            "that asyncbdd.database_url (or the URL given) is right",
        ),
        REACH_BOUND,
    ),
    EngineCase(
        "SQL trace store on a closed port",
        sql_trace_store_on_a_closed_port,
        (
            "postgresql+psycopg://app@127.0.0.1:<closed>/shop cannot be reached",
            "Check that the server is running",
        ),
        REACH_BOUND,
    ),
    EngineCase(
        "SQL trace store with a missing table",
        sql_trace_store_with_a_missing_table,
        ("No table named 'trace_evnts'", "Check the trace store's table name"),
    ),
    EngineCase(
        "SQL trace store with a missing column",
        sql_trace_store_with_a_missing_column,
        (
            "No column named 'created_at'",
            "Did you mean 'occurred_at'?",
            "map the field to the right column with SqlTraceStore(columns=",
        ),
    ),
    EngineCase(
        "SQL trace store mapping an unknown field",
        lambda places: SqlTraceStore(columns={"kind": "event_type"}),
        ("columns has 'kind'; the fields are correlation_id, type,", "mapped to a column name"),
    ),
    EngineCase(
        "HTTP trace store on a closed port",
        http_trace_store("closed"),
        (
            "GET http://127.0.0.1:<closed>/closed/",
            "Check that the trace service runs at that address",
        ),
        REACH_BOUND,
    ),
    EngineCase(
        "HTTP trace store answering text with 200",
        http_trace_store("text"),
        (
            "GET <garbage>/text/",
            "answered something that is not JSON: 'OK'",
            "Point the URL template at the trace service's JSON API",
        ),
        REACH_BOUND,
    ),
    EngineCase(
        "HTTP trace store answering an HTML page with 200",
        http_trace_store("html"),
        (
            "answered something that is not JSON: '<!doctype html>",
            "Point the URL template at the trace service's JSON API",
        ),
        REACH_BOUND,
    ),
    EngineCase(
        "HTTP trace store answering 500",
        http_trace_store("error"),
        (
            "answered HTTP 500 Internal Server Error: '<h1>Internal Server Error</h1>'",
            "Check that the trace service works and that the URL template is right",
        ),
        REACH_BOUND,
    ),
    EngineCase(
        "HTTP trace store answering a document that is no list",
        http_trace_store("document"),
        ("is not a list of trace events", "Give HttpTraceStore the path of the list"),
        REACH_BOUND,
    ),
    EngineCase(
        "HTTP trace store answering events without the type field",
        http_trace_store("untyped"),
        ("event 1 has no event type", "Check the store's type column or field name"),
        REACH_BOUND,
    ),
    EngineCase(
        "HTTP trace store answering a timestamp that is no time",
        http_trace_store("untimed"),
        (
            "The timestamp 'yesterday' of the trace event at GET <garbage>/untimed/",
            "is not an ISO 8601 date and time (2024-05-01T10:30:00.123+00:00)",
        ),
        REACH_BOUND,
    ),
    EngineCase(
        "Webhook capture server port already in use",
        webhook_port_taken,
        (
            "The webhook capture server cannot listen on 127.0.0.1:<taken>",
            "choose another port (setting asyncbdd.webhooks.port), or 0 for a free one",
        ),
    ),
    EngineCase(
        "Malformed duration in a setting",
        lambda places: configure(timeout="ten seconds"),
        ("-D asyncbdd.timeout = 'ten seconds' is invalid", "Write a number and a unit"),
    ),
    EngineCase(
        "Malformed duration in a wait",
        lambda places: asyncbdd.wait_until(lambda: 1, bool, timeout="ten seconds"),
        ("'ten seconds' is not a duration.", "Write a number and a unit"),
    ),
    EngineCase(
        "Malformed count in a call",
        lambda places: _count_written_as_text(),
        ("A call count is a whole number, 0 or more; got 'two'.", "Write e.g. 2"),
    ),
    EngineCase(
        "Unknown setting",
        lambda places: configure(timout="10 seconds"),
        (
            "Unknown asyncbdd setting (from -D) 'asyncbdd.timout'.",
            "Did you mean 'asyncbdd.timeout'?",
        ),
    ),
    EngineCase(
        "Queue alias of an unknown kind",
        lambda places: _queue_of_unknown_kind(),
        (
            "Queue alias 'bad-input-billing' = 'rabbit:billing' is not understood",
            "Write SCHEME:TARGET",
            "sqs:QUEUE-NAME, sqs:QUEUE-URL (an SQS queue",
        ),
    ),
    EngineCase(
        "Database URL that is not a URL",
        lambda places: _snapshot_with(database_url="shop.db"),
        ("'shop.db' is not a SQLAlchemy database URL", "write e.g. sqlite:///app.db"),
    ),
]


def _in_scenario(call: Callable[[], object]) -> object:
    with asyncbdd.scenario("engine call"):
        return call()


def _count_written_as_text() -> object:
    return _in_scenario(lambda: expect_calls("payment-complete", "two"))  # type: ignore[arg-type]


def _queue_of_unknown_kind() -> object:
    configure(queues="bad-input-billing = rabbit:billing")
    return _in_scenario(lambda: expect_messages("bad-input-billing", 1, timeout=1))


def _snapshot_with(**settings: str) -> object:
    configure(**settings)
    return _in_scenario(lambda: asyncbdd.take_snapshot('the "inventory" table'))


def test_every_bad_engine_call_fails_in_time_naming_it_and_the_fix(
    places: Places, reliability_report: Report
) -> None:
    """Each engine case raises an asyncbdd error, within its bound, naming input and fix."""
    problems: list[str] = []
    rows: list[tuple[object, ...]] = []
    for case in ENGINE_CASES:
        started = time.monotonic()
        try:
            case.call(places)
        except AsyncBddError as error:
            took = time.monotonic() - started
            message = str(error)
            rows.append((case.name, f"{case.bound:g} s", f"{took:.3f} s", _shorten(message)))
            fragments = [places.fill(fragment) for fragment in case.fragments]
            problems += [
                f"{case.name}: {fragment!r} missing in\n{message}"
                for fragment in fragments
                if fragment not in message
            ]
            if took > case.bound:
                problems.append(f"{case.name}: took {took:.2f} s, over its {case.bound:g} s")
        except Exception as error:  # a client library's error, or an assertion: a defect
            problems.append(f"{case.name}: {type(error).__module__}.{error!r}, no asyncbdd error")
        else:
            problems.append(f"{case.name}: no error")
        finally:
            end_scenario()
    reliability_report("bad engine calls", ["case", "bound", "took", "message"], rows)
    assert problems == []


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Places]:
    """A closed port, a port held open, and a service answering garbage; clean settings,
    probes and database engines before and after."""
    for variable in [name for name in os.environ if name.startswith("ASYNCBDD_")]:
        monkeypatch.delenv(variable)
    previous = get_settings()
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        closed_port = probe_socket.getsockname()[1]
    service = _GarbageService()
    with socket.socket() as taken, PROBES.isolated():
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        try:
            yield Places(closed_port, taken.getsockname()[1], service.url, tmp_path)
        finally:
            service.stop()
            end_scenario()
            dispose_engines()
            set_settings(previous)


GARBAGE_ANSWERS: dict[str, tuple[int, str, bytes]] = {
    "text": (200, "text/plain", b"OK"),
    "html": (200, "text/html", b"<!doctype html><html><body>Sign in</body></html>"),
    "error": (500, "text/html", b"<h1>Internal Server Error</h1>"),
    "document": (200, "application/json", json.dumps({"events": []}).encode()),
    "untyped": (200, "application/json", json.dumps([{"kind": "order.created"}]).encode()),
    "untimed": (
        200,
        "application/json",
        json.dumps([{"event_type": "order.created", "occurred_at": "yesterday"}]).encode(),
    ),
}
"""What the garbage service answers ``GET /<kind>/...``: status, content type, body."""


class _GarbageService:
    """An HTTP server whose answers are no trace: ``GET /<kind>/<anything>``."""

    def __init__(self) -> None:
        answers = GARBAGE_ANSWERS

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server names it)
                status, content_type, body = answers[self.path.split("/")[1]]
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = LocalHttpServer(Handler)
        self.url = self.http.url

    def stop(self) -> None:
        self.http.stop()


def _shorten(text: str, width: int = 80) -> str:
    """The first line of ``text``, shortened."""
    return shorten(text.strip().splitlines()[0] if text.strip() else "", width)
