"""The demo service's Kafka input and SQS output, against the embedded brokers for real.

Every test uses its own topic and queues (moto's queues are process-global). "Exactly one
message" is checked without a grace window: the worker takes orders one at a time, in
arrival order, so once a later order's shipping message is on its queue, every message of
the earlier orders is too (see :func:`messages_before`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
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
    transitions,
    wait_for_status,
)
from kafka import KafkaProducer

from asyncbdd.demo import (
    QUEUES,
    Fault,
    KafkaInput,
    OrderService,
    ServiceStateError,
    SqsOutput,
    TransportError,
)
from asyncbdd.infra.kafka_broker import EmbeddedKafka, shared_embedded_kafka
from asyncbdd.infra.kafka_clients import MOCK_CLUSTER_API_VERSION
from asyncbdd.infra.sqs_server import EMBEDDED_REGION, EmbeddedSqs, shared_embedded_sqs

LATE = 0.6  # seconds late-billing-message holds a message back in these tests
Message = dict[str, Any]  # {"body": parsed JSON, "attributes": {name: string value}}


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka() -> EmbeddedKafka:
    """The run's embedded Kafka broker."""
    return shared_embedded_kafka()


@pytest.fixture(scope="module")
def sqs() -> EmbeddedSqs:
    """The run's embedded SQS server."""
    return shared_embedded_sqs()


@pytest.fixture(scope="module")
def sqs_client(sqs: EmbeddedSqs) -> Any:
    """A boto3 SQS client of the embedded server, shared by the tests and the services."""
    return sqs.client()


@pytest.fixture(scope="module")
def producer(kafka: EmbeddedKafka) -> Iterator[Any]:
    """A Kafka producer that sends at once."""
    created = KafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        linger_ms=0,
        api_version=MOCK_CLUSTER_API_VERSION,
    )
    yield created
    created.close()


@pytest.fixture
def queues(sqs_client: Any) -> Queues:
    """Fresh billing, shipping and inventory queues."""
    suffix = secrets.token_hex(4)
    urls = {
        name: sqs_client.create_queue(QueueName=f"{name}-{suffix}")["QueueUrl"] for name in QUEUES
    }
    return Queues(sqs_client, urls)


@pytest.fixture
def orders(producer: Any) -> OrderTopic:
    """A topic no other test uses; it does not exist until something is produced to it."""
    return OrderTopic(producer, f"order.created.{secrets.token_hex(4)}")


@pytest.fixture
def make_service(
    tmp_path: Path, kafka: EmbeddedKafka, queues: Queues, orders: OrderTopic
) -> Iterator[Callable[..., OrderService]]:
    """Start services reading ``orders`` (unless ``kafka_input=False``) and sending to
    ``queues``; stop them after the test."""
    started: list[OrderService] = []

    def make(*, kafka_input: bool = True, **options: Any) -> OrderService:
        options.setdefault("jitter", FAST_JITTER)
        options.setdefault("sqs", SqsOutput(queue_urls=queues.urls, client=queues.client))
        if kafka_input:
            options.setdefault("kafka", KafkaInput(kafka.bootstrap_servers, topic=orders.topic))
        service = OrderService(f"sqlite:///{tmp_path / 'orders.db'}", **options)
        service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        with contextlib.suppress(ServiceStateError):  # the test stopped it already
            service.stop()


@pytest.fixture
def service(make_service: Callable[..., OrderService]) -> OrderService:
    """A running service that reads orders from Kafka and sends messages to SQS."""
    return make_service()


@pytest.fixture(autouse=True)
def _service_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asyncbdd.demo")


# --------------------------------------------------------------------------------------
# Kafka in, SQS out
# --------------------------------------------------------------------------------------


def test_kafka_order_ships_and_sends_one_message_to_each_queue(
    service: OrderService, orders: OrderTopic, queues: Queues, caplog: pytest.LogCaptureFixture
) -> None:
    """An order produced on a topic created after the start ships, and sends exactly one
    message to each queue, with the contract's bodies and attributes."""
    set_stock(service, "widget", 10)
    orders.produce(
        {"order_id": "ord-k1", "product_id": "widget", "quantity": 3, "amount": 12.5},
        correlation_id="corr-k1",
    )
    wait_for_status(service, "ord-k1", "shipped")

    messages = queues.messages_before(service)

    attributes = {"correlation_id": "corr-k1"}
    assert messages == {
        "billing": [
            {
                "body": {"order_id": "ord-k1", "amount": 12.5, "currency": "EUR", "quantity": 3},
                "attributes": attributes | {"event_type": "billing.requested"},
            }
        ],
        "shipping": [
            {
                "body": {"order_id": "ord-k1", "product_id": "widget", "quantity": 3},
                "attributes": attributes | {"event_type": "shipping.requested"},
            }
        ],
        "inventory": [
            {
                "body": {"order_id": "ord-k1", "product_id": "widget", "quantity_change": -3},
                "attributes": attributes | {"event_type": "inventory.reserved"},
            }
        ],
    }
    assert f"Kafka input: topic {orders.topic} appeared with 4 partitions" in caplog.text
    order = call("GET", f"{service.url}/api/orders/ord-k1")[1]
    assert (order["correlation_id"], order["amount"]) == ("corr-k1", 12.5)


def test_http_order_sends_one_message_to_each_queue(service: OrderService, queues: Queues) -> None:
    """An order posted over HTTP sends the same messages, its correlation id copied."""
    set_stock(service, "widget", 10)
    place_order(
        service,
        order_id="ord-h1",
        product_id="widget",
        quantity=2,
        amount=99.99,
        correlation_id="corr-h1",
    )
    wait_for_status(service, "ord-h1", "shipped")

    messages = queues.messages_before(service)

    assert bodies(messages) == {
        "billing": [{"order_id": "ord-h1", "amount": 99.99, "currency": "EUR", "quantity": 2}],
        "shipping": [{"order_id": "ord-h1", "product_id": "widget", "quantity": 2}],
        "inventory": [{"order_id": "ord-h1", "product_id": "widget", "quantity_change": -2}],
    }
    for name, event_type in [
        ("billing", "billing.requested"),
        ("shipping", "shipping.requested"),
        ("inventory", "inventory.reserved"),
    ]:
        assert messages[name][0]["attributes"] == {
            "correlation_id": "corr-h1",
            "event_type": event_type,
        }


def test_order_without_correlation_id_has_only_the_event_type_attribute(
    make_service: Callable[..., OrderService], queues: Queues
) -> None:
    """Without a correlation id the messages carry event_type alone, and a missing amount
    is sent as null."""
    service = make_service(kafka_input=False)
    set_stock(service, "widget", 1)
    place_order(service, order_id="ord-n1", product_id="widget", quantity=1)
    wait_for_status(service, "ord-n1", "shipped")

    messages = queues.messages_before(service)

    assert messages["billing"] == [
        {
            "body": {"order_id": "ord-n1", "amount": None, "currency": "EUR", "quantity": 1},
            "attributes": {"event_type": "billing.requested"},
        }
    ]


def test_failed_order_sends_no_message(
    make_service: Callable[..., OrderService], queues: Queues
) -> None:
    """An order that fails (unknown product) sends nothing to any queue."""
    service = make_service(kafka_input=False)
    wait_for_status(service, place_order(service, product_id="ghost", quantity=1), "failed")
    assert queues.messages_before(service) == {name: [] for name in QUEUES}


def test_wrong_quantity_shows_in_the_inventory_message(
    make_service: Callable[..., OrderService], queues: Queues
) -> None:
    """The inventory message says what payment took: one more under wrong-quantity."""
    service = make_service(kafka_input=False, faults=[Fault.WRONG_QUANTITY])
    set_stock(service, "widget", 10)
    place_order(service, order_id="ord-q1", product_id="widget", quantity=3)
    wait_for_status(service, "ord-q1", "shipped")
    service.set_faults([])
    inventory = bodies(queues.messages_before(service))["inventory"]
    assert inventory == [{"order_id": "ord-q1", "product_id": "widget", "quantity_change": -4}]


def test_only_orders_produced_after_the_start_are_read(
    make_service: Callable[..., OrderService],
    orders: OrderTopic,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On a topic that exists at the start, the service reads from its end: an order
    produced before is never processed, one produced after is."""
    orders.produce({"order_id": "ord-old", "product_id": "widget", "quantity": 1})
    service = make_service()
    set_stock(service, "widget", 10)
    orders.produce({"order_id": "ord-new", "product_id": "widget", "quantity": 1})
    wait_for_status(service, "ord-new", "shipped")

    assert call("GET", f"{service.url}/api/orders/ord-old")[0] == 404
    assert "does not exist yet" not in caplog.text


VALID = {"order_id": "bad", "product_id": "widget", "quantity": 1}
"""A valid order, made invalid by the cases below."""


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(b"{not json", "the message value is not valid JSON", id="not-json"),
        pytest.param(b"\xff\xfe", "the message value is not UTF-8", id="not-utf8"),
        pytest.param(b"[1]", "the message value must be a JSON object", id="not-an-object"),
        pytest.param(None, "the message has no value", id="tombstone"),
        pytest.param({"product_id": "widget", "quantity": 1}, "order_id is required", id="no-id"),
        pytest.param(VALID | {"quantity": 0}, "quantity must be an integer", id="no-quantity"),
        pytest.param(VALID | {"colour": "red"}, "unknown field 'colour'", id="unknown-field"),
        pytest.param(VALID | {"amount": "9"}, "amount must be a number >= 0", id="text-amount"),
    ],
)
def test_invalid_kafka_message_is_logged_and_skipped(
    service: OrderService,
    orders: OrderTopic,
    caplog: pytest.LogCaptureFixture,
    value: object,
    reason: str,
) -> None:
    """An invalid message is logged with its place and what is wrong, and skipped; the
    next valid order is processed."""
    set_stock(service, "widget", 10)
    raw = value if value is None or isinstance(value, bytes) else json.dumps(value).encode()
    orders.send(raw, key=b"bad", headers=[])
    orders.produce({"order_id": "ord-ok", "product_id": "widget", "quantity": 1})
    wait_for_status(service, "ord-ok", "shipped")

    skipped = skipped_messages(caplog)
    assert len(skipped) == 1, skipped
    # the first message of a new topic: offset 0 of the partition its key hashes to
    place = rf"Kafka input: skipped the message at {re.escape(orders.topic)} partition \d offset 0"
    assert re.match(rf"{place}: {re.escape(reason)}", skipped[0]), skipped[0]
    assert call("GET", f"{service.url}/api/orders/bad")[0] == 404


def test_empty_correlation_id_header_is_skipped(
    service: OrderService, orders: OrderTopic, caplog: pytest.LogCaptureFixture
) -> None:
    """A message whose correlation_id header is empty is skipped like an invalid value."""
    set_stock(service, "widget", 10)
    orders.send(json.dumps(VALID).encode(), key=b"bad", headers=[("correlation_id", b"")])
    orders.produce({"order_id": "ord-ok", "product_id": "widget", "quantity": 1})
    wait_for_status(service, "ord-ok", "shipped")

    assert len(skipped_messages(caplog)) == 1
    assert skipped_messages(caplog)[0].endswith(": the correlation_id header is empty")


# --------------------------------------------------------------------------------------
# Faults of the SQS output
# --------------------------------------------------------------------------------------


def test_fault_drop_billing_message_sends_no_billing_message(
    make_service: Callable[..., OrderService], queues: Queues
) -> None:
    """With drop-billing-message the order ships with its shipping and inventory messages,
    but no billing message."""
    service = make_service(kafka_input=False, faults=[Fault.DROP_BILLING_MESSAGE])
    set_stock(service, "widget", 10)
    place_order(service, order_id="ord-d1", product_id="widget", quantity=1, amount=5)
    service.set_faults([])
    wait_for_status(service, "ord-d1", "shipped")

    counts = {name: len(found) for name, found in queues.messages_before(service).items()}
    assert counts == {"billing": 0, "shipping": 1, "inventory": 1}


def test_fault_duplicate_billing_message_sends_it_twice(
    make_service: Callable[..., OrderService], queues: Queues, caplog: pytest.LogCaptureFixture
) -> None:
    """With duplicate-billing-message two identical billing messages arrive."""
    service = make_service(kafka_input=False, faults=[Fault.DUPLICATE_BILLING_MESSAGE])
    set_stock(service, "widget", 10)
    place_order(service, order_id="ord-2x", product_id="widget", quantity=1, amount=5)
    service.set_faults([])
    wait_for_status(service, "ord-2x", "shipped")

    messages = queues.messages_before(service)

    billing = {"order_id": "ord-2x", "amount": 5.0, "currency": "EUR", "quantity": 1}
    assert bodies(messages)["billing"] == [billing, billing]
    assert [len(messages["shipping"]), len(messages["inventory"])] == [1, 1]
    assert "billing" in transitions(caplog, "ord-2x")


def test_fault_wrong_billing_field_sends_the_amount_in_cents(
    make_service: Callable[..., OrderService], queues: Queues
) -> None:
    """With wrong-billing-field the billing amount is in cents: 12.5 is sent as 1250."""
    service = make_service(kafka_input=False, faults=[Fault.WRONG_BILLING_FIELD])
    set_stock(service, "widget", 10)
    place_order(service, order_id="ord-c1", product_id="widget", quantity=1, amount=12.5)
    service.set_faults([])
    wait_for_status(service, "ord-c1", "shipped")

    billing = bodies(queues.messages_before(service))["billing"]
    assert billing == [{"order_id": "ord-c1", "amount": 1250, "currency": "EUR", "quantity": 1}]


def test_fault_late_billing_message_arrives_after_the_delay_without_holding_up_others(
    make_service: Callable[..., OrderService], queues: Queues
) -> None:
    """With late-billing-message the billing message arrives late_message_delay after the
    order, while the order and the next one go on at normal speed."""
    service = make_service(
        kafka_input=False, faults=[Fault.LATE_BILLING_MESSAGE], late_message_delay=LATE
    )
    set_stock(service, "widget", 10)
    placed = time.monotonic()
    place_order(service, order_id="ord-late", product_id="widget", quantity=1, amount=5)
    service.set_faults([])
    place_order(service, order_id="ord-next", product_id="widget", quantity=1, amount=6)

    shipped = queues.receive("shipping", count=2)
    inventory = queues.receive("inventory", count=2)
    on_time = queues.drain("billing")
    checked = time.monotonic() - placed
    late = queues.receive("billing", within=LATE + TIMEOUT)
    arrived = time.monotonic() - placed

    assert [m["body"]["order_id"] for m in shipped] == ["ord-late", "ord-next"]
    assert len(inventory) == 2
    assert checked < LATE, "the check for an early message came too late to mean anything"
    assert [m["body"]["order_id"] for m in on_time] == ["ord-next"]
    assert [m["body"] for m in late] == [
        {"order_id": "ord-late", "amount": 5.0, "currency": "EUR", "quantity": 1}
    ]
    assert arrived >= LATE


def test_stop_drops_a_billing_message_held_back(
    make_service: Callable[..., OrderService], queues: Queues
) -> None:
    """stop() does not wait for a late billing message: it cancels it, promptly."""
    service = make_service(
        kafka_input=False, faults=[Fault.LATE_BILLING_MESSAGE], late_message_delay=60
    )
    set_stock(service, "widget", 10)
    place_order(service, order_id="ord-held", product_id="widget", quantity=1)
    queues.receive("shipping")

    started = time.monotonic()
    service.stop()

    assert time.monotonic() - started < 1
    assert not demo_threads()
    assert queues.drain("billing") == []


def test_failed_send_is_logged_with_the_order_id(
    make_service: Callable[..., OrderService],
    sqs: EmbeddedSqs,
    queues: Queues,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A message SQS refuses (no such queue) is logged with the order id; the order still
    ships and its other messages are sent."""
    missing = f"{sqs.endpoint_url}/123456789012/missing-{secrets.token_hex(4)}"
    output = SqsOutput(queue_urls=queues.urls | {"billing": missing}, client=queues.client)
    service = make_service(kafka_input=False, sqs=output)
    set_stock(service, "widget", 10)
    place_order(service, order_id="ord-f1", product_id="widget", quantity=1)
    wait_for_status(service, "ord-f1", "shipped")

    assert "order ord-f1: sending billing.requested to queue billing failed:" in caplog.text
    assert len(queues.receive("shipping")) == 1


# --------------------------------------------------------------------------------------
# Starting and stopping
# --------------------------------------------------------------------------------------


def test_stop_is_prompt_while_reading_kafka(
    make_service: Callable[..., OrderService], orders: OrderTopic
) -> None:
    """stop() returns within a fraction of a second, whether the topic exists or not,
    and leaves no service thread behind."""
    waiting = make_service()  # the topic does not exist yet
    started = time.monotonic()
    waiting.stop()
    assert time.monotonic() - started < 0.5

    orders.produce({"order_id": "x", "product_id": "w", "quantity": 1})
    reading = make_service()  # the topic exists: its partitions are assigned
    started = time.monotonic()
    reading.stop()
    assert time.monotonic() - started < 0.5
    assert not demo_threads()


def test_unreachable_kafka_fails_the_start_within_the_connect_timeout(tmp_path: Path) -> None:
    """A broker that does not answer makes start() raise a TransportError naming it within
    the connect timeout, and leaves nothing running."""
    address = f"127.0.0.1:{closed_port()}"
    service = OrderService(
        f"sqlite:///{tmp_path / 'orders.db'}",
        kafka=KafkaInput(address),
        connect_timeout=0.5,
    )
    started = time.monotonic()
    with pytest.raises(TransportError, match=f"no broker answered at {address} within 0.5 s"):
        service.start()
    assert time.monotonic() - started < 2
    assert not demo_threads()
    with pytest.raises(ServiceStateError, match="not running"):
        service.stop()


def test_missing_region_fails_the_start_naming_the_fix(
    tmp_path: Path, queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SQS output with no region anywhere makes start() raise a TransportError that
    says where to set one."""
    for variable in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    service = OrderService(
        f"sqlite:///{tmp_path / 'orders.db'}",
        sqs=SqsOutput(queue_urls=queues.urls, endpoint_url="http://127.0.0.1:1"),
    )
    with pytest.raises(TransportError, match=r"no AWS region .*--sqs-region"):
        service.start()
    assert not demo_threads()


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: SqsOutput(queue_urls={"billing": "u"}), "missing: shipping, inventory"),
        (
            lambda: SqsOutput(queue_urls=dict.fromkeys([*QUEUES, "audit"], "u")),
            "unknown: audit",
        ),
        (
            lambda: SqsOutput(queue_urls=dict.fromkeys(QUEUES, "")),
            "the URL of queue 'billing' is empty",
        ),
        (
            lambda: SqsOutput(queue_urls=dict.fromkeys(QUEUES, "u"), client=object(), region="x"),
            "either a ready client or endpoint_url / region",
        ),
        (lambda: KafkaInput(""), "bootstrap_servers must be"),
        (lambda: KafkaInput("h:1", topic=" "), "topic must be a non-empty name"),
        (lambda: KafkaInput("h:1", options={"colour": 1}), "unknown option 'colour'"),
        (lambda: KafkaInput("h:1", options={"api_version": (2, 5)}), "'api_version' is not"),
        (lambda: OrderService(late_message_delay=-1), "late_message_delay must be"),
        (lambda: OrderService(connect_timeout=0), "connect_timeout must be"),
    ],
)
def test_invalid_transport_settings_are_rejected(make: Callable[[], object], error: str) -> None:
    """Invalid Kafka, SQS or timing settings raise ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=error):
        make()


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def test_command_line_reads_kafka_and_sends_to_sqs(
    tmp_path: Path, kafka: EmbeddedKafka, sqs: EmbeddedSqs, sqs_client: Any, producer: Any
) -> None:
    """python -m asyncbdd.demo with Kafka and SQS options creates its queues, reads the
    topic and sends each order's messages."""
    suffix = secrets.token_hex(4)
    topic = f"order.created.{suffix}"
    names = {name: f"cli-{name}-{suffix}" for name in QUEUES}
    command = [
        sys.executable,
        "-m",
        "asyncbdd.demo",
        "--database-url",
        f"sqlite:///{tmp_path / 'orders.db'}",
        "--kafka-bootstrap-servers",
        kafka.bootstrap_servers,
        "--kafka-topic",
        topic,
        "--sqs-endpoint",
        sqs.endpoint_url,
        "--sqs-region",
        EMBEDDED_REGION,
        *[option for name in QUEUES for option in (f"--sqs-{name}-queue", names[name])],
    ]
    environment = child_environment() | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    log_path = tmp_path / "service.log"
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, env=environment
        ) as process,
    ):
        assert process.stdout is not None
        try:
            url = process.stdout.readline().split(": ", 1)[-1].strip()
            assert url.startswith("http://127.0.0.1:"), log_path.read_text()
            process.stdout.readline()  # database
            assert process.stdout.readline() == f"kafka: {topic} on {kafka.bootstrap_servers}\n"
            assert process.stdout.readline().startswith("sqs: billing http")
            call("PUT", f"{url}/api/inventory/widget", {"quantity": 5})
            orders = OrderTopic(producer, topic)
            orders.produce({"order_id": "ord-cli", "product_id": "widget", "quantity": 1})
            urls = {
                name: sqs_client.get_queue_url(QueueName=names[name])["QueueUrl"] for name in QUEUES
            }
            shipped = Queues(sqs_client, urls).receive("shipping")
        finally:
            process.send_signal(signal.SIGINT)
            try:
                returncode = process.wait(timeout=10)
            finally:
                process.kill()  # only if it did not exit
    assert [m["body"]["order_id"] for m in shipped] == ["ord-cli"], log_path.read_text()
    assert returncode == 0, log_path.read_text()


def test_command_line_reports_an_unreachable_kafka(tmp_path: Path) -> None:
    """An unreachable Kafka makes the command exit 1 with the error, not a traceback."""
    address = f"127.0.0.1:{closed_port()}"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "asyncbdd.demo",
            "--database-url",
            f"sqlite:///{tmp_path / 'orders.db'}",
            "--kafka-bootstrap-servers",
            address,
            "--connect-timeout",
            "0.5",
        ],
        capture_output=True,
        text=True,
        env=child_environment(),
        timeout=30,
        check=False,
    )
    assert finished.returncode == 1
    assert f"error: Kafka input: no broker answered at {address} within 0.5 s" in finished.stderr
    assert "Traceback" not in finished.stderr


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


class OrderTopic:
    """A Kafka topic of orders, and a producer that writes to it as the contract says."""

    def __init__(self, producer: Any, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    def produce(
        self, order: dict[str, object], *, topic: str | None = None, correlation_id: str = ""
    ) -> None:
        """Produce an order (JSON value, its id as key, the correlation id as a header) to
        this topic or ``topic``, and wait for the broker's acknowledgement."""
        headers = [("correlation_id", correlation_id.encode())] if correlation_id else []
        key = str(order["order_id"]).encode()
        self.send(json.dumps(order).encode(), key=key, headers=headers, topic=topic)

    def send(
        self,
        value: bytes | None,
        *,
        key: bytes,
        headers: list[tuple[str, bytes]],
        topic: str | None = None,
    ) -> None:
        """Produce a raw message and wait for the broker's acknowledgement."""
        self.producer.send(topic or self.topic, value, key=key, headers=headers).get(TIMEOUT)


class Queues:
    """The billing, shipping and inventory queues of one test, and a client to read them."""

    def __init__(self, client: Any, urls: dict[str, str]) -> None:
        self.client = client
        self.urls = urls

    def receive(self, name: str, *, count: int = 1, within: float = TIMEOUT) -> list[Message]:
        """Long-poll until ``count`` messages came or ``within`` seconds passed."""
        deadline = time.monotonic() + within
        messages: list[Message] = []
        while len(messages) < count and (left := deadline - time.monotonic()) > 0:
            answer = self.client.receive_message(
                QueueUrl=self.urls[name],
                MaxNumberOfMessages=10,
                WaitTimeSeconds=min(20, math.ceil(left)),
                MessageAttributeNames=["All"],
            )
            messages += [_simple(message) for message in answer.get("Messages", [])]
        return messages

    def drain(self, name: str) -> list[Message]:
        """Every message on the queue now, without waiting (moto answers short polls exactly)."""
        messages: list[Message] = []
        while True:
            answer = self.client.receive_message(
                QueueUrl=self.urls[name],
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            )
            if not answer.get("Messages"):
                return messages
            messages += [_simple(message) for message in answer["Messages"]]

    def messages_before(self, service: OrderService) -> dict[str, list[Message]]:
        """Every message on the queues, by queue, once all orders accepted so far are done.

        Places a sentinel order over HTTP and waits for its shipping message: the worker
        takes orders in arrival order, so the earlier orders' messages are all on the
        queues by then. The sentinel's messages are left out.
        """
        sentinel = f"sentinel-{secrets.token_hex(4)}"
        set_stock(service, sentinel, 1)
        place_order(service, order_id=sentinel, product_id=sentinel, quantity=1)
        found: dict[str, list[Message]] = {name: [] for name in QUEUES}
        while not any(m["body"]["order_id"] == sentinel for m in found["shipping"]):
            arrived = self.receive("shipping")
            assert arrived, f"the sentinel's shipping message did not come within {TIMEOUT} s"
            found["shipping"] += arrived
        for name in ("billing", "inventory"):
            found[name] = self.drain(name)
        return {
            name: [m for m in messages if m["body"]["order_id"] != sentinel]
            for name, messages in found.items()
        }


def bodies(messages: dict[str, list[Message]]) -> dict[str, list[Any]]:
    """The bodies alone, by queue."""
    return {name: [m["body"] for m in found] for name, found in messages.items()}


def skipped_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warnings of the Kafka input about messages it skipped."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
        and record.getMessage().startswith("Kafka input: skipped the message")
    ]


def demo_threads() -> list[str]:
    """The names of the service threads still alive."""
    return [t.name for t in threading.enumerate() if t.name.startswith("asyncbdd-demo")]


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _simple(message: dict[str, Any]) -> Message:
    attributes = message.get("MessageAttributes", {})
    return {
        "body": json.loads(message["Body"]),
        "attributes": {name: value["StringValue"] for name, value in attributes.items()},
    }
