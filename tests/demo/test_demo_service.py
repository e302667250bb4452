"""The demo order service, driven through real HTTP, on SQLite and on PostgreSQL.

PostgreSQL tests use ``ASYNCBDD_TEST_POSTGRESQL_URL`` (default: the local ``test``
database), each in a fresh schema dropped afterwards, and skip when the server is not
reachable.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timezone
from pathlib import Path

import pytest
from demo_client import (
    FAST_JITTER,
    call,
    child_environment,
    place_order,
    set_stock,
    stock_of,
    transitions,
    wait_for_status,
)
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from asyncbdd.demo import Fault, Order, OrderService, ServiceStateError, parse_faults
from asyncbdd.demo.__main__ import main

POSTGRESQL_URL = os.environ.get(
    "ASYNCBDD_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'orders.db'}"
        return
    server: Engine = request.getfixturevalue("postgresql_server")
    schema = f"asyncbdd_demo_{secrets.token_hex(4)}"
    with server.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(POSTGRESQL_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with server.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[Engine]:
    """An engine on the test PostgreSQL server; skips the test if it is not reachable."""
    engine = create_engine(POSTGRESQL_URL, connect_args={"connect_timeout": 2})
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        engine.dispose()
        safe_url = engine.url.render_as_string(hide_password=True)
        reason = str(error.orig).splitlines()[0]
        pytest.skip(f"PostgreSQL is not reachable at {safe_url}: {reason}")
    yield engine
    engine.dispose()


@pytest.fixture
def service(database_url: str) -> Iterator[OrderService]:
    """A running service with short processing delays."""
    with OrderService(database_url, jitter=FAST_JITTER, seed=7) as running:
        yield running


@pytest.fixture(autouse=True)
def _service_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asyncbdd.demo")


# --------------------------------------------------------------------------------------
# Processing
# --------------------------------------------------------------------------------------


def test_health_reports_ok(service: OrderService) -> None:
    """GET /health answers 200 with status ok."""
    assert call("GET", f"{service.url}/health") == (200, {"status": "ok"})


def test_order_goes_pending_paid_shipped_and_takes_its_quantity_from_stock(
    service: OrderService, caplog: pytest.LogCaptureFixture
) -> None:
    """An accepted order is stored pending, paid (stock taken), then shipped."""
    set_stock(service, "widget", 10)
    status, body = call(
        "POST",
        f"{service.url}/api/orders",
        {
            "order_id": "ord-1",
            "product_id": "widget",
            "quantity": 3,
            "amount": 12.5,
            "correlation_id": "corr-1",
        },
    )
    assert (status, body) == (202, {"order_id": "ord-1", "status": "accepted"})

    order = wait_for_status(service, "ord-1", "shipped")

    assert order | {"created_at": None, "updated_at": None} == {
        "order_id": "ord-1",
        "product_id": "widget",
        "quantity": 3,
        "status": "shipped",
        "amount": 12.5,
        "correlation_id": "corr-1",
        "created_at": None,
        "updated_at": None,
    }
    assert order["created_at"] < order["updated_at"]
    assert stock_of(service, "widget") == 7
    assert transitions(caplog, "ord-1") == ["pending", "paid", "shipped"]


def test_order_id_is_generated_when_absent(service: OrderService) -> None:
    """Without an order_id the service answers with a generated ord-<hex> id and uses it."""
    set_stock(service, "widget", 1)
    order_id = place_order(service, product_id="widget", quantity=1)
    assert re.fullmatch(r"ord-[0-9a-f]{16}", order_id)
    wait_for_status(service, order_id, "shipped")


def test_database_holds_the_order_with_utc_timestamps(service: OrderService) -> None:
    """An outside reader of the database sees the order with timezone-aware UTC times."""
    set_stock(service, "widget", 5)
    order_id = place_order(service, product_id="widget", quantity=2)
    wait_for_status(service, order_id, "shipped")

    reader = create_engine(service.database_url)
    try:
        with Session(reader) as session:
            order = session.get(Order, order_id)
    finally:
        reader.dispose()

    assert order is not None
    assert (order.status, order.quantity) == ("shipped", 2)
    assert order.created_at.tzinfo == timezone.utc
    assert order.updated_at > order.created_at


def test_unknown_product_fails_the_order(
    service: OrderService, caplog: pytest.LogCaptureFixture
) -> None:
    """An order for a product without a stock row ends failed, and the log says why."""
    order_id = place_order(service, product_id="ghost", quantity=1)
    wait_for_status(service, order_id, "failed")
    assert transitions(caplog, order_id) == ["pending", "failed"]
    assert f"order {order_id}: failed (unknown product 'ghost')" in caplog.messages


def test_insufficient_stock_fails_the_order_and_leaves_stock(
    service: OrderService, caplog: pytest.LogCaptureFixture
) -> None:
    """An order for more than the stock ends failed and takes nothing."""
    set_stock(service, "widget", 2)
    order_id = place_order(service, product_id="widget", quantity=3)
    wait_for_status(service, order_id, "failed")
    assert stock_of(service, "widget") == 2
    assert f"order {order_id}: failed (2 of 'widget' in stock, 3 needed)" in caplog.messages


def test_duplicate_order_id_is_ignored(
    service: OrderService, caplog: pytest.LogCaptureFixture
) -> None:
    """A second order with a stored order's id is accepted but not processed again."""
    set_stock(service, "widget", 10)
    place_order(service, order_id="dup-1", product_id="widget", quantity=1)
    wait_for_status(service, "dup-1", "shipped")
    place_order(service, order_id="dup-1", product_id="widget", quantity=5)
    # one worker takes orders in arrival order: once this one ships, the duplicate is done
    wait_for_status(service, place_order(service, product_id="widget", quantity=2), "shipped")

    assert stock_of(service, "widget") == 7
    assert transitions(caplog, "dup-1") == ["pending", "paid", "shipped", "ignored"]


# --------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------


def test_fault_never_process_accepts_but_never_stores(
    service: OrderService, caplog: pytest.LogCaptureFixture
) -> None:
    """With never-process an order is accepted (202) but never stored; later ones are."""
    set_stock(service, "widget", 10)
    service.set_faults([Fault.NEVER_PROCESS])
    dropped = place_order(service, product_id="widget", quantity=1)
    service.set_faults([])
    # one worker takes orders in arrival order: once this one ships, the first is done
    wait_for_status(service, place_order(service, product_id="widget", quantity=2), "shipped")

    assert call("GET", f"{service.url}/api/orders/{dropped}")[0] == 404
    assert stock_of(service, "widget") == 8
    assert transitions(caplog, dropped) == ["dropped"]


def test_fault_wrong_quantity_takes_one_more_from_stock(service: OrderService) -> None:
    """With wrong-quantity an order ships but takes quantity + 1 from stock."""
    set_stock(service, "widget", 10)
    service.set_faults([Fault.WRONG_QUANTITY])
    order_id = place_order(service, product_id="widget", quantity=3)
    wait_for_status(service, order_id, "shipped")
    assert stock_of(service, "widget") == 6


def test_fault_fail_payment_fails_the_order_and_leaves_stock(
    service: OrderService, caplog: pytest.LogCaptureFixture
) -> None:
    """With fail-payment an order goes from pending to failed and takes no stock."""
    set_stock(service, "widget", 10)
    service.set_faults([Fault.FAIL_PAYMENT])
    order_id = place_order(service, product_id="widget", quantity=3)
    wait_for_status(service, order_id, "failed")
    assert stock_of(service, "widget") == 10
    assert transitions(caplog, order_id) == ["pending", "failed"]


def test_faults_given_at_construction_are_in_force(tmp_path: Path) -> None:
    """Faults passed to the constructor apply from the first order on."""
    database_url = f"sqlite:///{tmp_path / 'orders.db'}"
    with OrderService(database_url, faults=[Fault.FAIL_PAYMENT], jitter=FAST_JITTER) as service:
        assert service.faults == {Fault.FAIL_PAYMENT}
        set_stock(service, "widget", 1)
        wait_for_status(service, place_order(service, product_id="widget", quantity=1), "failed")


def test_parse_faults_reads_comma_separated_names() -> None:
    """Fault names are comma-separated, case-insensitive, and empty items are ignored."""
    assert parse_faults(" fail-payment, WRONG-QUANTITY ,,") == {
        Fault.FAIL_PAYMENT,
        Fault.WRONG_QUANTITY,
    }
    assert parse_faults("") == frozenset()


def test_parse_faults_names_the_bad_name_and_lists_the_valid_ones() -> None:
    """An unknown fault name raises ValueError naming it and listing the valid names."""
    with pytest.raises(ValueError, match=r"^unknown fault 'explode'; valid faults: ") as caught:
        parse_faults("fail-payment, explode")
    assert all(fault.value in str(caught.value) for fault in Fault)


# --------------------------------------------------------------------------------------
# HTTP errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"quantity": 1}, "product_id is required"),
        ({"product_id": "", "quantity": 1}, 'product_id must be a non-empty string, got ""'),
        ({"product_id": 5, "quantity": 1}, "product_id must be a non-empty string, got 5"),
        ({"product_id": "widget"}, "quantity is required"),
        ({"product_id": "widget", "quantity": 0}, "quantity must be an integer from 1 to"),
        ({"product_id": "widget", "quantity": "3"}, "quantity must be an integer from 1 to"),
        ({"product_id": "widget", "quantity": 1.5}, "quantity must be an integer from 1 to"),
        ({"product_id": "widget", "quantity": True}, "quantity must be an integer from 1 to"),
        ({"product_id": "widget", "quantity": 2**31}, "quantity must be an integer from 1 to"),
        ({"product_id": "widget", "quantity": 1, "amount": -1}, "amount must be a number >= 0"),
        ({"product_id": "widget", "quantity": 1, "amount": "9"}, "amount must be a number >= 0"),
        ({"product_id": "widget", "quantity": 1, "order_id": 7}, "order_id must be a non-empty"),
        ({"product_id": "w", "quantity": 1, "correlation_id": []}, "correlation_id must be a"),
        ({"product_id": "widget", "quantity": 1, "colour": "red"}, "unknown field 'colour'"),
    ],
)
def test_invalid_order_is_rejected_naming_the_field(
    service: OrderService, body: dict[str, object], error: str
) -> None:
    """An invalid order gets 400 with an error that names the offending field."""
    status, answer = call("POST", f"{service.url}/api/orders", body)
    assert status == 400
    assert error in answer["error"]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"{not json", "the request body is not valid JSON"),
        (b"", "the request body is not valid JSON"),
        (b"[1, 2]", "the request body must be a JSON object"),
    ],
)
def test_order_body_must_be_a_json_object(service: OrderService, raw: bytes, error: str) -> None:
    """A body that is not a JSON object gets 400 saying so."""
    status, answer = call("POST", f"{service.url}/api/orders", raw=raw)
    assert status == 400
    assert answer["error"].startswith(error)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "quantity is required"),
        ({"quantity": -1}, "quantity must be an integer from 0 to 2147483647, got -1"),
        ({"quantity": 1, "product_id": "w"}, "unknown field 'product_id'; expected: quantity"),
    ],
)
def test_invalid_stock_is_rejected_naming_the_field(
    service: OrderService, body: dict[str, object], error: str
) -> None:
    """Invalid stock gets 400 with an error that names the offending field."""
    assert call("PUT", f"{service.url}/api/inventory/widget", body) == (400, {"error": error})


def test_put_inventory_creates_then_resets_the_stock(service: OrderService) -> None:
    """PUT /api/inventory/<id> creates the stock row, then sets it to the new quantity."""
    set_stock(service, "widget", 5)
    set_stock(service, "widget", 0)
    status, body = call("GET", f"{service.url}/api/inventory/widget")
    assert (status, body["product_id"], body["quantity"]) == (200, "widget", 0)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api/orders/nope", "no order 'nope'"),
        ("/api/inventory/nope", "no inventory for product 'nope'"),
        ("/api/nowhere", "no such resource: /api/nowhere"),
    ],
)
def test_unknown_resource_is_404(service: OrderService, path: str, error: str) -> None:
    """Unknown orders, products and paths get 404 with an error naming them."""
    assert call("GET", f"{service.url}{path}") == (404, {"error": error})


def test_database_error_is_500_without_traceback(
    service: OrderService, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing query answers 500 with a pointer to the log, which has the traceback."""
    outside = create_engine(service.database_url)
    try:
        with outside.begin() as connection:
            connection.execute(text("DROP TABLE inventory"))
    finally:
        outside.dispose()

    assert call("GET", f"{service.url}/api/inventory/widget") == (
        500,
        {"error": "internal server error; see the service log"},
    )
    assert "GET /api/inventory/widget failed" in caplog.messages
    assert caplog.records[-1].exc_info is not None


def test_wrong_method_is_405(service: OrderService) -> None:
    """A method a path does not support gets 405 listing the allowed ones."""
    assert call("POST", f"{service.url}/health", {}) == (
        405,
        {"error": "POST is not allowed on /health; allowed: GET"},
    )


# --------------------------------------------------------------------------------------
# Lifecycle
# --------------------------------------------------------------------------------------


def test_starting_a_running_service_raises(tmp_path: Path) -> None:
    """start() on a running service raises ServiceStateError naming its URL."""
    with (
        OrderService(f"sqlite:///{tmp_path / 'orders.db'}") as service,
        pytest.raises(ServiceStateError, match=r"already running at http://127\.0\.0\.1:\d+$"),
    ):
        service.start()


def test_stopping_a_stopped_service_raises(tmp_path: Path) -> None:
    """stop() on a service never started, or already stopped, raises ServiceStateError."""
    service = OrderService(f"sqlite:///{tmp_path / 'orders.db'}")
    with pytest.raises(ServiceStateError, match="not running"):
        service.stop()
    service.start()
    service.stop()
    with pytest.raises(ServiceStateError, match="not running"):
        service.stop()


def test_url_needs_a_running_service(tmp_path: Path) -> None:
    """url raises ServiceStateError while the service is stopped."""
    service = OrderService(f"sqlite:///{tmp_path / 'orders.db'}")
    with pytest.raises(ServiceStateError, match="start\\(\\) it to know its URL"):
        _ = service.url


def test_stop_closes_the_port_and_joins_the_threads(tmp_path: Path) -> None:
    """After stop() the URL refuses connections and no service thread is left."""
    with OrderService(f"sqlite:///{tmp_path / 'orders.db'}") as service:
        url = service.url
    with pytest.raises(urllib.error.URLError):
        call("GET", f"{url}/health")
    assert not [t.name for t in threading.enumerate() if t.name.startswith("asyncbdd-demo")]


def test_stop_interrupts_a_processing_delay_at_once(tmp_path: Path) -> None:
    """stop() does not wait out the worker's jitter delay."""
    service = OrderService(f"sqlite:///{tmp_path / 'orders.db'}", jitter=(60, 60))
    service.start()
    place_order(service, product_id="widget", quantity=1)
    started = time.monotonic()
    service.stop()
    assert time.monotonic() - started < 2


def test_service_restarts_with_its_data(tmp_path: Path) -> None:
    """A stopped service can start again and finds the orders it stored before."""
    service = OrderService(f"sqlite:///{tmp_path / 'orders.db'}", jitter=FAST_JITTER)
    with service:
        set_stock(service, "widget", 1)
        order_id = place_order(service, product_id="widget", quantity=1)
        wait_for_status(service, order_id, "shipped")
    with service:
        assert call("GET", f"{service.url}/api/orders/{order_id}")[1]["status"] == "shipped"


def test_invalid_jitter_is_rejected() -> None:
    """A jitter whose minimum exceeds its maximum raises ValueError."""
    with pytest.raises(ValueError, match=r"jitter must be \(min, max\)"):
        OrderService(jitter=(0.5, 0.1))


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def test_command_line_rejects_an_unknown_fault() -> None:
    """An unknown --fault exits 2 with argparse's usage error listing the valid faults."""
    finished = subprocess.run(
        [sys.executable, "-m", "asyncbdd.demo", "--fault", "explode"],
        capture_output=True,
        text=True,
        env=child_environment(),
        timeout=30,
        check=False,
    )
    assert finished.returncode == 2
    assert "argument --fault: unknown fault 'explode'; valid faults:" in finished.stderr
    assert "usage: python -m asyncbdd.demo" in finished.stderr


@pytest.mark.parametrize("jitter", ["0.1", "0.2,0.1", "-1,1", "fast,slow"])
def test_command_line_rejects_a_malformed_jitter(
    jitter: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--jitter takes MIN,MAX seconds; anything else exits 2 naming the value and the form."""
    with pytest.raises(SystemExit) as exited:
        main([f"--jitter={jitter}"])
    assert exited.value.code == 2
    assert f"argument --jitter: {jitter!r} is not MIN,MAX seconds" in capsys.readouterr().err


def test_command_line_serves_until_interrupted(tmp_path: Path) -> None:
    """python -m asyncbdd.demo prints its URL, serves, and exits 0 on Ctrl-C."""
    database_url = f"sqlite:///{tmp_path / 'orders.db'}"
    log_path = tmp_path / "service.log"
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            [sys.executable, "-m", "asyncbdd.demo", "--database-url", database_url],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=child_environment(),
        ) as process,
    ):
        assert process.stdout is not None
        try:
            first_line = process.stdout.readline()
            assert first_line.startswith("order service: http://127.0.0.1:"), log_path.read_text()
            assert process.stdout.readline() == f"database: {database_url}\n"
            url = first_line.split(": ", 1)[1].strip()
            assert call("GET", f"{url}/health") == (200, {"status": "ok"})
        finally:
            process.send_signal(signal.SIGINT)
            try:
                returncode = process.wait(timeout=10)
            finally:
                process.kill()  # only if it did not exit
    assert returncode == 0, log_path.read_text()
