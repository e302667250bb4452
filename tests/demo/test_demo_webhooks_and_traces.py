"""The demo service's webhook calls and trace events, through real HTTP and a real database.

Webhooks are received by a local http.server (:mod:`webhook_receiver`); trace events are
read from the service's ``trace_events`` table, on SQLite and, where marked, PostgreSQL.
"Exactly one call" and "nothing more recorded" need no grace window: the worker takes
orders one at a time, in arrival order, so once a later order's last step is done, every
step of the earlier orders is too (see :func:`settle`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from demo_client import (
    FAST_JITTER,
    TIMEOUT,
    call,
    child_environment,
    place_order,
    set_stock,
    stock_of,
    wait_for_status,
)
from sqlalchemy import Engine, create_engine, inspect, make_url, select, text
from sqlalchemy.orm import Session
from webhook_receiver import DROP, HANG, Call, WebhookReceiver

from asyncbdd.demo import Fault, OrderService, ServiceStateError, TraceEvent
from asyncbdd.wait import wait_until

SECRET = "s3cret"

HEALTHY_CHAIN = [
    (1, "order.created", "orders"),
    (2, "payment.initiated", "payments"),
    (3, "payment.completed", "payments"),
    (4, "inventory.reserved", "inventory"),
    (5, "shipping.label_created", "shipping"),
    (6, "notification.sent", "notifications"),
]


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty SQLite database, or a fresh PostgreSQL schema with
    ``parametrize("database_url", ["postgresql"], indirect=True)``."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path / 'orders.db'}"
        return
    postgresql_url: str = request.getfixturevalue("postgresql_url")
    server = create_engine(postgresql_url)
    schema = f"asyncbdd_demo_{secrets.token_hex(4)}"
    with server.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(postgresql_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with server.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        server.dispose()


BOTH_DATABASES = pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)],
    indirect=True,
)


@pytest.fixture
def database(database_url: str) -> Iterator[Engine]:
    """An engine on the service's database, as an outside reader."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_service(database_url: str) -> Iterator[Callable[..., OrderService]]:
    """Start services on the test's database; stop them after the test."""
    started: list[OrderService] = []

    def make(**options: Any) -> OrderService:
        options.setdefault("jitter", FAST_JITTER)
        service = OrderService(database_url, **options)
        service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        with contextlib.suppress(ServiceStateError):  # the test stopped it already
            service.stop()


@pytest.fixture
def service(make_service: Callable[..., OrderService]) -> OrderService:
    """A running service that signs its webhook calls with :data:`SECRET`."""
    return make_service(webhook_secret=SECRET)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver that answers 200."""
    with WebhookReceiver() as started:
        yield started


@pytest.fixture(autouse=True)
def _service_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asyncbdd.demo")


# --------------------------------------------------------------------------------------
# Registrations
# --------------------------------------------------------------------------------------


def test_registration_answers_201_and_can_be_listed_read_and_removed(
    service: OrderService,
) -> None:
    """POST /webhooks answers 201 with an id; the registration is listed, read by id, and
    removed by DELETE, after which it is 404."""
    url = "http://127.0.0.1:9/hooks?team=qa"
    status, body = call(
        "POST", f"{service.url}/webhooks", {"url": url, "events": ["payment.completed"]}
    )
    assert status == 201
    assert list(body) == ["id"]
    webhook_id = body["id"]

    status, listed = call("GET", f"{service.url}/webhooks")
    assert status == 200
    assert [w | {"created_at": None} for w in listed["webhooks"]] == [
        {"id": webhook_id, "url": url, "events": ["payment.completed"], "created_at": None}
    ]
    assert call("GET", f"{service.url}/webhooks/{webhook_id}") == (200, listed["webhooks"][0])
    assert call("DELETE", f"{service.url}/webhooks/{webhook_id}") == (200, listed["webhooks"][0])
    assert call("GET", f"{service.url}/webhooks/{webhook_id}") == (
        404,
        {"error": f"no webhook {webhook_id!r}"},
    )
    assert call("GET", f"{service.url}/webhooks") == (200, {"webhooks": []})


def test_registrations_are_stored_in_the_webhooks_table(
    service: OrderService, database: Engine
) -> None:
    """A registration is a row of the webhooks table, its events a JSON array."""
    webhook_id = register(service, "https://example.com/hooks", ["payment.completed"] * 2)
    with database.connect() as connection:
        rows = connection.execute(text("SELECT id, url, events FROM webhooks")).all()
    assert [tuple(row) for row in rows] == [
        (webhook_id, "https://example.com/hooks", '["payment.completed"]')
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"events": ["payment.completed"]}, "url is required"),
        ({"url": "", "events": ["payment.completed"]}, 'url must be a non-empty string, got ""'),
        ({"url": 5, "events": ["payment.completed"]}, "url must be a non-empty string, got 5"),
        ({"url": "ftp://host/x", "events": []}, "url must start with http:// or https://;"),
        ({"url": "localhost:8080/x", "events": []}, "url must start with http:// or https://;"),
        ({"url": "http:///x", "events": []}, "url has no host;"),
        ({"url": "http://host:99999/x", "events": []}, "url is malformed (Port out of range"),
        ({"url": "http://host/a b", "events": []}, "url contains whitespace or control"),
        ({"url": "http://hôte/x", "events": []}, "url has characters other than ASCII"),
        ({"url": "http://h/" + "x" * 2048, "events": []}, "url is longer than 2048 characters"),
        ({"url": "http://h/x"}, "events is required: a non-empty array of event names"),
        ({"url": "http://h/x", "events": []}, "events must be a non-empty array of event names"),
        (
            {"url": "http://h/x", "events": "payment.completed"},
            'events must be a non-empty array of event names (payment.completed), got "payment',
        ),
        ({"url": "http://h/x", "events": [1]}, "events must be a non-empty array of event names"),
        (
            {"url": "http://h/x", "events": ["order.shipped"]},
            'unknown event "order.shipped" in events; valid events: payment.completed',
        ),
        (
            {"url": "http://h/x", "events": ["payment.completed"], "secret": "x"},
            "unknown field 'secret'; expected: url, events",
        ),
    ],
)
def test_invalid_registration_is_rejected_naming_the_field(
    service: OrderService, body: dict[str, object], error: str
) -> None:
    """An invalid registration gets 400 with an error that names the field and the fix."""
    status, answer = call("POST", f"{service.url}/webhooks", body)
    assert status == 400
    assert error in answer["error"]


def test_registration_error_suggests_a_valid_url(service: OrderService) -> None:
    """A bad URL's error shows what a valid one looks like and what was sent."""
    status, answer = call("POST", f"{service.url}/webhooks", {"url": "ftp://h/x", "events": []})
    assert (status, answer) == (
        400,
        {
            "error": "url must start with http:// or https://; expected an absolute http:// "
            'or https:// URL such as "http://127.0.0.1:8080/hooks", got "ftp://h/x"'
        },
    )


def test_registration_body_must_be_a_json_object(service: OrderService) -> None:
    """A registration that is not JSON gets 400 saying so."""
    status, answer = call("POST", f"{service.url}/webhooks", raw=b"url=http://h/x")
    assert status == 400
    assert answer["error"].startswith("the request body is not valid JSON")


def test_unknown_webhook_and_wrong_method_are_404_and_405(service: OrderService) -> None:
    """Removing an unknown webhook is 404; PUT on /webhooks is 405 listing GET and POST."""
    assert call("DELETE", f"{service.url}/webhooks/wh-nope") == (
        404,
        {"error": "no webhook 'wh-nope'"},
    )
    assert call("PUT", f"{service.url}/webhooks", {}) == (
        405,
        {"error": "PUT is not allowed on /webhooks; allowed: GET, POST"},
    )


# --------------------------------------------------------------------------------------
# Webhook calls
# --------------------------------------------------------------------------------------


@BOTH_DATABASES
def test_paid_order_calls_the_webhook_once_with_the_contract_body_and_headers(
    service: OrderService, database: Engine, receiver: WebhookReceiver
) -> None:
    """A paid order POSTs the contract's JSON body once, with its correlation id and the
    HMAC-SHA256 signature of the raw body."""
    register(service, receiver.url)
    set_stock(service, "widget", 10)
    place_order(
        service,
        order_id="ord-w1",
        product_id="widget",
        quantity=2,
        amount=99.99,
        correlation_id="corr-w1",
    )
    settle(service, database, receiver)

    [paid] = calls_for(receiver, "ord-w1")
    assert (paid.method, paid.path) == ("POST", "/hooks")
    assert paid.json() == {
        "event": "payment.completed",
        "order_id": "ord-w1",
        "amount": 99.99,
        "status": "completed",
    }
    expected = hmac.new(SECRET.encode(), paid.body, hashlib.sha256).hexdigest()
    assert paid.headers["content-type"] == "application/json"
    assert paid.headers["x-correlation-id"] == "corr-w1"
    assert paid.headers["x-signature"] == f"sha256={expected}"


def test_unsigned_call_of_an_order_without_amount_or_correlation_id(
    make_service: Callable[..., OrderService], database: Engine, receiver: WebhookReceiver
) -> None:
    """Without a secret there is no X-Signature; without a correlation id no
    X-Correlation-Id; without an amount the body's amount is null."""
    service = make_service()
    register(service, receiver.url)
    set_stock(service, "widget", 10)
    place_order(service, order_id="ord-w2", product_id="widget", quantity=1)
    settle(service, database, receiver)

    [paid] = calls_for(receiver, "ord-w2")
    assert paid.json()["amount"] is None
    assert "x-signature" not in paid.headers
    assert "x-correlation-id" not in paid.headers


def test_correlation_id_header_is_utf8(
    service: OrderService, database: Engine, receiver: WebhookReceiver
) -> None:
    """A correlation id beyond ASCII is sent in UTF-8, as Kafka headers carry it."""
    register(service, receiver.url)
    set_stock(service, "widget", 10)
    place_order(service, order_id="ord-w3", product_id="widget", quantity=1, correlation_id="ü-1")
    settle(service, database, receiver)

    [paid] = calls_for(receiver, "ord-w3")
    assert paid.headers["x-correlation-id"].encode("iso-8859-1").decode() == "ü-1"


def test_every_registered_url_is_called_once_per_order(
    service: OrderService, database: Engine, receiver: WebhookReceiver
) -> None:
    """Each distinct URL registered for payment.completed gets one call per paid order,
    even when registered twice; a removed registration gets none."""
    with WebhookReceiver() as other, WebhookReceiver() as removed:
        register(service, receiver.url)
        register(service, receiver.url)
        register(service, other.url)
        webhook_id = register(service, removed.url)
        assert call("DELETE", f"{service.url}/webhooks/{webhook_id}")[0] == 200
        set_stock(service, "widget", 10)
        place_order(service, order_id="ord-w4", product_id="widget", quantity=1)
        settle(service, database, receiver)
        other.wait_for(lambda calls: len(calls) == 2)  # ord-w4's and the sentinel's

        assert len(calls_for(receiver, "ord-w4")) == 1
        assert len(calls_for(other, "ord-w4")) == 1
        assert removed.calls == []


def test_failed_order_calls_no_webhook(
    service: OrderService, database: Engine, receiver: WebhookReceiver
) -> None:
    """An order that fails (unknown product) is never paid, so calls nobody."""
    register(service, receiver.url)
    place_order(service, order_id="ord-w5", product_id="ghost", quantity=1)
    wait_for_status(service, "ord-w5", "failed")
    settle(service, database, receiver)
    assert calls_for(receiver, "ord-w5") == []


def test_server_error_is_retried_100_ms_later_until_success(
    service: OrderService, database: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A 500 answer is retried 100 ms later; the 200 that follows ends it: 2 calls."""
    with WebhookReceiver([500]) as failing_once:
        register(service, failing_once.url)
        set_stock(service, "widget", 10)
        place_order(service, order_id="ord-r1", product_id="widget", quantity=1)
        first, second = failing_once.wait_for_count(2)
        settle(service, database, failing_once)
        service.stop()  # waits for the senders, so every attempt is logged

        assert len(calls_for(failing_once, "ord-r1")) == 2
        assert second.body == first.body
        assert second.arrived - first.arrived >= 0.1
        assert problems(caplog, "ord-r1") == [
            f"order ord-r1: webhook payment.completed to {failing_once.url} answered 500 "
            "(attempt 1 of 3); retrying in 0.1 s"
        ]


def test_dropped_connection_is_retried(service: OrderService, database: Engine) -> None:
    """A connection closed without an answer is retried: 2 calls."""
    with WebhookReceiver([DROP]) as dropping_once:
        register(service, dropping_once.url)
        set_stock(service, "widget", 10)
        place_order(service, order_id="ord-r2", product_id="widget", quantity=1)
        dropping_once.wait_for_count(2)
        settle(service, database, dropping_once)
        assert len(calls_for(dropping_once, "ord-r2")) == 2


def test_server_errors_are_tried_3_times_in_all_then_logged(
    service: OrderService, database: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A receiver that keeps answering 503 gets 3 calls, 100 ms apart, then an ERROR log
    line naming the order and the URL."""
    with WebhookReceiver([503, 503, 503]) as failing:
        register(service, failing.url)
        set_stock(service, "widget", 10)
        place_order(service, order_id="ord-r3", product_id="widget", quantity=1)
        gave_up = (
            f"order ord-r3: webhook payment.completed to {failing.url} answered 503; "
            "gave up after 3 attempts"
        )
        wait_until(lambda: caplog.messages, lambda messages: gave_up in messages, timeout=TIMEOUT)
        settle(service, database, failing)

        first, second, third = calls_for(failing, "ord-r3")
        assert second.arrived - first.arrived >= 0.1
        assert third.arrived - second.arrived >= 0.1


def test_client_error_is_not_retried(
    service: OrderService, database: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A 4xx answer is final: one call, and a WARNING naming the order and the status."""
    with WebhookReceiver([404]) as missing:
        register(service, missing.url)
        set_stock(service, "widget", 10)
        place_order(service, order_id="ord-r4", product_id="widget", quantity=1)
        settle(service, database, missing)
        service.stop()

        assert len(calls_for(missing, "ord-r4")) == 1
        assert problems(caplog, "ord-r4") == [
            f"order ord-r4: webhook payment.completed to {missing.url}: answered 404"
        ]


def test_unanswered_call_times_out_and_is_retried(
    make_service: Callable[..., OrderService], database: Engine
) -> None:
    """A receiver that does not answer within the timeout is called again after it."""
    service = make_service(connect_timeout=0.3)
    with WebhookReceiver([HANG]) as slow_once:
        register(service, slow_once.url)
        set_stock(service, "widget", 10)
        place_order(service, order_id="ord-r5", product_id="widget", quantity=1)
        first, second = slow_once.wait_for_count(2)
        # 0.3 s timeout + 0.1 s retry delay, less the time the receiver took to read the
        # first body after the service began waiting for its answer
        assert second.arrived - first.arrived >= 0.3


def test_a_hanging_receiver_holds_up_no_order_and_stop_interrupts_it(
    service: OrderService, database: Engine
) -> None:
    """Orders ship while their webhook calls hang; stop() interrupts the calls at once,
    leaves no service thread, and makes no call after it returns."""
    with WebhookReceiver([HANG] * 10) as hanging:
        register(service, hanging.url)
        set_stock(service, "widget", 10)
        place_order(service, order_id="ord-h1", product_id="widget", quantity=1)
        place_order(service, order_id="ord-h2", product_id="widget", quantity=1)
        wait_for_status(service, "ord-h2", "shipped")
        hanging.wait_for_count(2)

        started = time.monotonic()
        service.stop()
        stopped = time.monotonic() - started

        assert stopped < 0.5
        assert not demo_threads()
        assert len(hanging.calls) == 2


def test_stop_during_a_retry_delay_makes_no_more_attempts(service: OrderService) -> None:
    """stop() while a call waits to be retried returns at once and sends nothing more."""
    with WebhookReceiver([500] * 3) as failing:
        register(service, failing.url)
        set_stock(service, "widget", 10)
        place_order(service, order_id="ord-s1", product_id="widget", quantity=1)
        failing.wait_for_count(1)

        started = time.monotonic()
        service.stop()

        assert time.monotonic() - started < 0.5
        assert not demo_threads()
        assert len(failing.calls) == 1


# --------------------------------------------------------------------------------------
# Trace events
# --------------------------------------------------------------------------------------


@BOTH_DATABASES
def test_healthy_order_records_the_six_events_in_order(
    service: OrderService, database: Engine
) -> None:
    """A shipped order with a correlation id records order.created ... notification.sent,
    numbered 1 to 6, each by its service, at non-decreasing UTC times."""
    set_stock(service, "widget", 10)
    placed = time.time()
    place_order(
        service,
        order_id="ord-t1",
        product_id="widget",
        quantity=3,
        amount=12.5,
        correlation_id="corr-t1",
    )
    events = wait_for_trace(database, "corr-t1", 6)

    assert chain(events) == HEALTHY_CHAIN
    assert {event.correlation_id for event in events} == {"corr-t1"}
    assert [json.loads(event.attributes) for event in events] == [
        {"order_id": "ord-t1", "product_id": "widget", "quantity": 3, "amount": 12.5},
        {"order_id": "ord-t1", "amount": 12.5},
        {"order_id": "ord-t1", "amount": 12.5},
        {"order_id": "ord-t1", "product_id": "widget", "quantity": 3},
        {"order_id": "ord-t1", "product_id": "widget", "quantity": 3},
        {"order_id": "ord-t1"},
    ]
    times = [event.occurred_at for event in events]
    assert all(moment.tzinfo == timezone.utc for moment in times)
    assert times == sorted(times)
    assert times[0].timestamp() >= placed - 1  # UTC, not local time shifted
    assert wait_for_status(service, "ord-t1", "shipped")["status"] == "shipped"


@BOTH_DATABASES
def test_trace_events_table_has_the_contract_columns_and_an_index(
    service: OrderService, database: Engine
) -> None:
    """trace_events has the contract's columns, and correlation_id leads an index."""
    schema = inspect(database)
    columns = {column["name"] for column in schema.get_columns("trace_events")}
    assert columns == {
        "id",
        "correlation_id",
        "sequence",
        "event_type",
        "service",
        "occurred_at",
        "attributes",
    }
    indexes = schema.get_indexes("trace_events")
    assert any(index["column_names"][0] == "correlation_id" for index in indexes)


def test_orders_without_a_correlation_id_record_nothing(
    service: OrderService, database: Engine
) -> None:
    """An order without a correlation id ships but records no trace event."""
    set_stock(service, "widget", 10)
    order_id = place_order(service, product_id="widget", quantity=1)
    sentinel = settle(service, database)
    wait_for_status(service, order_id, "shipped")
    with Session(database) as session:
        recorded = session.scalars(select(TraceEvent.correlation_id)).all()
    assert set(recorded) == {sentinel}


def test_failed_order_records_creation_the_payment_attempt_and_its_failure(
    service: OrderService, database: Engine
) -> None:
    """An order for too much stock records order.created, payment.initiated and
    payment.failed, no more."""
    set_stock(service, "widget", 1)
    place_order(service, order_id="ord-t2", product_id="widget", quantity=5, correlation_id="c2")
    wait_for_status(service, "ord-t2", "failed")
    settle(service, database)
    assert chain(trace(database, "c2")) == [*HEALTHY_CHAIN[:2], (3, "payment.failed", "payments")]


def test_sequence_counts_on_across_orders_of_one_correlation_id(
    service: OrderService, database: Engine
) -> None:
    """Two orders sharing a correlation id number their events 1 to 12 in record order."""
    set_stock(service, "widget", 10)
    place_order(service, order_id="ord-t3", product_id="widget", quantity=1, correlation_id="c3")
    place_order(service, order_id="ord-t4", product_id="widget", quantity=1, correlation_id="c3")
    events = wait_for_trace(database, "c3", 12)
    assert [event.sequence for event in events] == list(range(1, 13))
    assert [json.loads(event.attributes)["order_id"] for event in events] == ["ord-t3"] * 6 + [
        "ord-t4"
    ] * 6


# --------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------


def test_fault_skip_webhook_calls_nobody_but_processes_the_order(
    service: OrderService, database: Engine, receiver: WebhookReceiver
) -> None:
    """With skip-webhook the order ships and its trace is whole, but no URL is called."""
    register(service, receiver.url)
    set_stock(service, "widget", 10)
    service.set_faults([Fault.SKIP_WEBHOOK])
    place_order(service, order_id="ord-f1", product_id="widget", quantity=1, correlation_id="f1")
    service.set_faults([])
    settle(service, database, receiver)

    assert calls_for(receiver, "ord-f1") == []
    assert chain(trace(database, "f1")) == HEALTHY_CHAIN


def test_fault_wrong_webhook_amount_sends_cents(
    service: OrderService, database: Engine, receiver: WebhookReceiver
) -> None:
    """With wrong-webhook-amount the call's amount is in cents: 99.99 is sent as 9999."""
    register(service, receiver.url)
    set_stock(service, "widget", 10)
    service.set_faults([Fault.WRONG_WEBHOOK_AMOUNT])
    place_order(service, order_id="ord-f2", product_id="widget", quantity=1, amount=99.99)
    service.set_faults([])
    settle(service, database, receiver)

    [paid] = calls_for(receiver, "ord-f2")
    assert paid.json()["amount"] == 9999
    expected = hmac.new(SECRET.encode(), paid.body, hashlib.sha256).hexdigest()
    assert paid.headers["x-signature"] == f"sha256={expected}"  # a valid call, a wrong amount


def test_fault_drop_trace_event_leaves_out_inventory_reserved(
    service: OrderService, database: Engine
) -> None:
    """With drop-trace-event inventory.reserved is missing; stock is still taken."""
    set_stock(service, "widget", 10)
    service.set_faults([Fault.DROP_TRACE_EVENT])
    place_order(service, order_id="ord-f3", product_id="widget", quantity=3, correlation_id="f3")
    service.set_faults([])
    events = wait_for_trace(database, "f3", 5)
    settle(service, database)

    assert chain(trace(database, "f3")) == [
        (1, "order.created", "orders"),
        (2, "payment.initiated", "payments"),
        (3, "payment.completed", "payments"),
        (4, "shipping.label_created", "shipping"),
        (5, "notification.sent", "notifications"),
    ]
    assert len(events) == 5
    assert stock_of(service, "widget") == 7


def test_fault_duplicate_trace_event_records_payment_completed_twice(
    service: OrderService, database: Engine
) -> None:
    """With duplicate-trace-event payment.completed is recorded twice, as events 3 and 4."""
    set_stock(service, "widget", 10)
    service.set_faults([Fault.DUPLICATE_TRACE_EVENT])
    place_order(service, order_id="ord-f4", product_id="widget", quantity=1, correlation_id="f4")
    service.set_faults([])
    wait_for_trace(database, "f4", 7)
    settle(service, database)

    events = trace(database, "f4")
    assert [event_type for _, event_type, _ in chain(events)] == [
        "order.created",
        "payment.initiated",
        "payment.completed",
        "payment.completed",
        "inventory.reserved",
        "shipping.label_created",
        "notification.sent",
    ]
    assert [event.sequence for event in events] == list(range(1, 8))
    assert events[2].attributes == events[3].attributes


def test_fault_swap_trace_events_records_inventory_reserved_first(
    service: OrderService, database: Engine
) -> None:
    """With swap-trace-events inventory.reserved is event 3 and payment.completed event 4."""
    set_stock(service, "widget", 10)
    service.set_faults([Fault.SWAP_TRACE_EVENTS])
    place_order(service, order_id="ord-f5", product_id="widget", quantity=1, correlation_id="f5")
    service.set_faults([])
    events = wait_for_trace(database, "f5", 6)

    assert chain(events) == [
        (1, "order.created", "orders"),
        (2, "payment.initiated", "payments"),
        (3, "inventory.reserved", "inventory"),
        (4, "payment.completed", "payments"),
        (5, "shipping.label_created", "shipping"),
        (6, "notification.sent", "notifications"),
    ]
    assert events[2].occurred_at <= events[3].occurred_at


def test_fault_stop_mid_chain_leaves_the_order_paid_after_payment_completed(
    service: OrderService, database: Engine, receiver: WebhookReceiver
) -> None:
    """With stop-mid-chain the order stays paid, payment.completed is its last event, no
    stock is taken and no webhook is called."""
    register(service, receiver.url)
    set_stock(service, "widget", 10)
    service.set_faults([Fault.STOP_MID_CHAIN])
    place_order(service, order_id="ord-f6", product_id="widget", quantity=1, correlation_id="f6")
    service.set_faults([])
    settle(service, database, receiver)

    assert chain(trace(database, "f6")) == HEALTHY_CHAIN[:3]
    assert call("GET", f"{service.url}/api/orders/ord-f6")[1]["status"] == "paid"
    assert stock_of(service, "widget") == 10
    assert calls_for(receiver, "ord-f6") == []


def test_fault_slow_trace_step_records_notification_sent_late_without_holding_up_others(
    make_service: Callable[..., OrderService], database: Engine
) -> None:
    """With slow-trace-step notification.sent comes slow_step_delay after the order
    shipped, and the next order's whole trace is recorded before it."""
    delay = 0.5
    service = make_service(slow_step_delay=delay)
    set_stock(service, "widget", 10)
    service.set_faults([Fault.SLOW_TRACE_STEP])
    place_order(service, order_id="ord-f7", product_id="widget", quantity=1, correlation_id="f7")
    service.set_faults([])
    place_order(service, order_id="ord-f8", product_id="widget", quantity=1, correlation_id="f8")
    next_order = wait_for_trace(database, "f8", 6)
    slow = wait_for_trace(database, "f7", 6)

    assert chain(slow) == HEALTHY_CHAIN
    shipped, notified = slow[4].occurred_at, slow[5].occurred_at
    assert notified - shipped >= timedelta(seconds=delay)
    assert next_order[5].occurred_at < notified


def test_stop_drops_a_trace_event_held_back_by_slow_trace_step(
    make_service: Callable[..., OrderService], database: Engine
) -> None:
    """stop() cancels a held-back notification.sent at once: it is never recorded."""
    service = make_service(slow_step_delay=60, faults=[Fault.SLOW_TRACE_STEP])
    set_stock(service, "widget", 10)
    place_order(service, order_id="ord-f9", product_id="widget", quantity=1, correlation_id="f9")
    wait_for_trace(database, "f9", 5)
    wait_for_status(service, "ord-f9", "shipped")

    started = time.monotonic()
    service.stop()

    assert time.monotonic() - started < 0.5
    assert not demo_threads()
    assert chain(trace(database, "f9")) == HEALTHY_CHAIN[:5]


def test_new_fault_switches_reject_bad_delays() -> None:
    """An empty webhook secret or a negative slow_step_delay raises ValueError at once."""
    with pytest.raises(ValueError, match="webhook_secret must be a non-empty string, or None"):
        OrderService(webhook_secret="")
    with pytest.raises(ValueError, match=r"slow_step_delay must be seconds >= 0, got -1"):
        OrderService(slow_step_delay=-1)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def test_command_line_signs_webhooks_with_the_given_secret(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """python -m asyncbdd.demo --webhook-secret signs the calls it makes with that secret."""
    database_url = f"sqlite:///{tmp_path / 'orders.db'}"
    log_path = tmp_path / "service.log"
    command = [sys.executable, "-m", "asyncbdd.demo", "--database-url", database_url]
    command += ["--webhook-secret", "cli-secret", "--slow-step-delay", "0.1"]
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, env=child_environment()
        ) as process,
    ):
        assert process.stdout is not None
        try:
            first_line = process.stdout.readline()
            assert first_line.startswith("order service: http://"), log_path.read_text()
            url = first_line.split(": ", 1)[1].strip()
            assert process.stdout.readline() == f"database: {database_url}\n"
            assert process.stdout.readline() == "webhooks: signed (X-Signature: sha256=...)\n"
            assert (
                call(
                    "POST",
                    f"{url}/webhooks",
                    {"url": receiver.url, "events": ["payment.completed"]},
                )[0]
                == 201
            )
            assert call("PUT", f"{url}/api/inventory/widget", {"quantity": 1})[0] == 200
            assert (
                call("POST", f"{url}/api/orders", {"product_id": "widget", "quantity": 1})[0] == 202
            )
            [paid] = receiver.wait_for_count(1)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                returncode = process.wait(timeout=10)
            finally:
                process.kill()  # only if it did not exit
    expected = hmac.new(b"cli-secret", paid.body, hashlib.sha256).hexdigest()
    assert paid.headers["x-signature"] == f"sha256={expected}"
    assert returncode == 0, log_path.read_text()


def test_command_line_rejects_a_negative_slow_step_delay() -> None:
    """A negative --slow-step-delay exits 1 naming the setting."""
    finished = subprocess.run(
        [sys.executable, "-m", "asyncbdd.demo", "--slow-step-delay", "-1"],
        capture_output=True,
        text=True,
        env=child_environment(),
        timeout=30,
        check=False,
    )
    assert finished.returncode == 1
    assert "slow_step_delay must be seconds >= 0, got -1.0" in finished.stderr


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def register(service: OrderService, url: str, events: list[str] | None = None) -> str:
    """Register ``url`` for ``events`` (payment.completed); return the registration's id."""
    body = {"url": url, "events": events or ["payment.completed"]}
    status, answer = call("POST", f"{service.url}/webhooks", body)
    assert status == 201, answer
    webhook_id: str = answer["id"]
    return webhook_id


def calls_for(receiver: WebhookReceiver, order_id: str) -> list[Call]:
    """The calls the receiver got about one order."""
    return [received for received in receiver.calls if received.json()["order_id"] == order_id]


def trace(database: Engine, correlation_id: str) -> list[TraceEvent]:
    """The trace events of a correlation id, in sequence order."""
    with Session(database) as session:
        query = (
            select(TraceEvent)
            .where(TraceEvent.correlation_id == correlation_id)
            .order_by(TraceEvent.sequence)
        )
        return list(session.scalars(query))


def wait_for_trace(database: Engine, correlation_id: str, count: int) -> list[TraceEvent]:
    """Wait until the correlation id has ``count`` trace events; return them."""
    events: list[TraceEvent] = wait_until(
        lambda: trace(database, correlation_id),
        lambda events: len(events) >= count,
        timeout=TIMEOUT,
        description=f"{count} trace events of {correlation_id}",
    )
    return events


def chain(events: list[TraceEvent]) -> list[tuple[int, str, str]]:
    """Each event's sequence, type and service."""
    return [(event.sequence, event.event_type, event.service) for event in events]


def settle(service: OrderService, database: Engine, receiver: WebhookReceiver | None = None) -> str:
    """Return once every order accepted so far has been processed (and, with ``receiver``
    registered, its webhook calls made); return the sentinel's id.

    Places a sentinel order (its own product, correlation id ``sentinel-<hex>``) and waits
    for its notification.sent and its webhook call: the worker takes orders in arrival
    order and the senders take calls in the order they were handed over (a retry, 100 ms
    later, may still be to come).
    """
    sentinel = f"sentinel-{secrets.token_hex(4)}"
    set_stock(service, sentinel, 1)
    place_order(
        service, order_id=sentinel, product_id=sentinel, quantity=1, correlation_id=sentinel
    )
    wait_for_trace(database, sentinel, 6)
    if receiver is not None:
        receiver.wait_for(lambda calls: any(c.json()["order_id"] == sentinel for c in calls))
    return sentinel


def problems(caplog: pytest.LogCaptureFixture, order_id: str) -> list[str]:
    """The warnings and errors the service logged about an order."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING
        and record.getMessage().startswith(f"order {order_id}: ")
    ]


def demo_threads() -> list[str]:
    """The names of the service threads still alive."""
    return [t.name for t in threading.enumerate() if t.name.startswith("asyncbdd-demo")]
