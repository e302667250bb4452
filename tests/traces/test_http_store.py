"""Trace events served as JSON by an HTTP endpoint: a small local server plays the service."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from doubles import LocalHttpServer, QuietHandler
from trace_fakes import HEALTHY_CHAIN, SERVICES

from asyncbdd.errors import InvalidInput, WaitAborted
from asyncbdd.scenario import Scenario
from asyncbdd.traces import HttpTraceStore, TraceStoreUnavailable, expect_chain


class TraceService:
    """A local HTTP server answering ``GET /traces/<id>`` from what a test recorded."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.requests: list[str] = []
        self.requested = threading.Condition()
        service = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server names it)
                path = unquote(self.path)
                with service.requested:
                    service.requests.append(path)
                    service.requested.notify_all()
                    document = service.documents.get(path)
                if document is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                status, body = document
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

        self.http = LocalHttpServer(Handler)
        self.url = self.http.url

    def answer(self, path: str, document: Any, status: int = 200) -> None:
        """Serve ``document`` (as JSON, or text as it is) at ``path`` from now on."""
        body = document if isinstance(document, str) else json.dumps(document)
        with self.requested:
            self.documents[path] = (status, body)

    def after_requests(self, count: int, path: str, document: Any) -> threading.Thread:
        """Serve ``document`` at ``path`` once ``count`` requests have been answered."""

        def run() -> None:
            with self.requested:
                self.requested.wait_for(lambda: len(self.requests) >= count, timeout=10)
            self.answer(path, document)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.http.stop()


def events_of(*kinds: str) -> list[dict[str, Any]]:
    """JSON events of ``kinds``, numbered in this order, 50 ms apart."""
    return [
        {
            "event_type": kind,
            "service": SERVICES.get(kind, "tests"),
            "sequence": number,
            "occurred_at": f"2024-05-01T10:00:00.{(number - 1) * 50:03d}Z",
            "attributes": {"order_id": "ord-1"},
        }
        for number, kind in enumerate(kinds, 1)
    ]


@pytest.fixture
def service() -> Iterator[TraceService]:
    """A running trace service, stopped afterwards."""
    running = TraceService()
    yield running
    running.stop()


def test_reads_a_list_of_events(service: TraceService) -> None:
    """The answer's events become trace events, the correlation id quoted into the URL."""
    service.answer("/traces/cid 1", events_of("order.created", "payment.completed"))
    store = HttpTraceStore(service.url + "/traces/{correlation_id}")
    assert store.url("cid 1").endswith("/traces/cid%201")
    events = store.events("cid 1")
    assert [(e.type, e.sequence, e.service) for e in events] == [
        ("order.created", 1, "orders"),
        ("payment.completed", 2, "payments"),
    ]
    assert events[1].timestamp is not None
    assert events[1].timestamp.microsecond == 50_000
    assert events[0].attributes == {"order_id": "ord-1"}
    assert events[0].source == f"GET {service.url}/traces/cid%201, event 1"


def test_reads_events_at_a_path_with_other_field_names(service: TraceService) -> None:
    """events_path finds the list in the answer; fields are dotted paths, or None."""
    service.answer(
        "/search?cid=c1",
        {"data": {"hits": [{"name": "order.created", "meta": {"seq": 1}}]}},
    )
    store = HttpTraceStore(
        service.url + "/search?cid={correlation_id}",
        events_path="data.hits",
        type_field="name",
        sequence_field="meta.seq",
        service_field=None,
        timestamp_field=None,
        attributes_field=None,
    )
    (event,) = store.events("c1")
    assert (event.type, event.sequence, event.service, event.attributes) == (
        "order.created",
        1,
        None,
        {},
    )


def test_not_found_means_no_events_yet(service: TraceService) -> None:
    """A 404 is a trace with no events so far, not an error."""
    store = HttpTraceStore(service.url + "/traces/{correlation_id}")
    assert store.events("unknown") == []


def test_a_chain_waits_for_the_service_to_know_the_trace(
    service: TraceService, scenario: Scenario
) -> None:
    """The check polls the endpoint and passes as soon as it answers the whole chain."""
    path = f"/traces/{scenario.correlation_id}"
    service.answer(path, events_of(*HEALTHY_CHAIN[:2]))
    service.after_requests(1, path, events_of(*HEALTHY_CHAIN))
    started = time.monotonic()
    expect_chain(HEALTHY_CHAIN, trace=HttpTraceStore(service.url + "/traces/{correlation_id}"))
    assert time.monotonic() - started < 5


def test_an_out_of_order_answer_fails_at_once(service: TraceService, scenario: Scenario) -> None:
    """A complete chain out of order fails on the first answer."""
    kinds = ["order.created", "payment.completed", "payment.initiated"]
    service.answer(f"/traces/{scenario.correlation_id}", events_of(*kinds))
    store = HttpTraceStore(service.url + "/traces/{correlation_id}")
    with pytest.raises(WaitAborted, match=r"payment.completed \(#2\) came before payment.init"):
        expect_chain(HEALTHY_CHAIN[:3], trace=store, timeout=30)
    assert len(service.requests) == 1


def test_an_error_answer_stops_the_check(service: TraceService, scenario: Scenario) -> None:
    """A 5xx answer is reported with its status and body at once."""
    service.answer(f"/traces/{scenario.correlation_id}", "database down", status=503)
    store = HttpTraceStore(service.url + "/traces/{correlation_id}")
    with pytest.raises(TraceStoreUnavailable, match=r"answered HTTP 503 .*: 'database down'"):
        expect_chain(["order.created"], trace=store, timeout=30)


def test_a_refused_connection_stops_the_check(scenario: Scenario) -> None:
    """No service at the address is reported at once, within the bounded timeout."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    store = HttpTraceStore(f"http://127.0.0.1:{port}/traces/{{correlation_id}}", timeout=1)
    with pytest.raises(TraceStoreUnavailable, match="Check that the trace service runs"):
        expect_chain(["order.created"], trace=store, timeout=30)


def test_answers_that_are_no_trace_are_explained(service: TraceService) -> None:
    """Text that is not JSON, a document without the list, or a list of non-objects."""
    store = HttpTraceStore(service.url + "/traces/{correlation_id}")
    service.answer("/traces/a", "<html>oops</html>")
    with pytest.raises(InvalidInput, match="answered something that is not JSON") as raised:
        store.events("a")
    assert str(raised.value).endswith(
        "Point the URL template at the trace service's JSON API, not at a web page or a "
        "login page in front of it."
    )
    service.answer("/traces/b", {"events": []})
    with pytest.raises(InvalidInput, match="Give HttpTraceStore the path of the list"):
        store.events("b")
    service.answer("/traces/c", ["order.created"])
    with pytest.raises(InvalidInput, match="event 1 is not a JSON object"):
        store.events("c")


def test_the_url_needs_the_correlation_id() -> None:
    """A URL without {correlation_id} would read one trace for every scenario."""
    with pytest.raises(InvalidInput, match=r"has no \{correlation_id\} placeholder"):
        HttpTraceStore("http://localhost/traces")
