"""The embedded SQS server: lifecycle, boto3 against it, long polling, and bad endpoints."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from asyncbdd.config import Settings, set_settings
from asyncbdd.errors import ConfigurationError
from asyncbdd.infra.sqs_server import (
    EMBEDDED_REGION,
    EmbeddedSqs,
    EmbeddedSqsError,
    SqsUnavailable,
    call_timeouts,
    check_reachable,
    shared_embedded_sqs,
    sqs_client,
)

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient


@pytest.fixture(scope="module")
def sqs() -> Iterator[EmbeddedSqs]:
    """One embedded server for the whole module."""
    with EmbeddedSqs() as server:
        yield server


@pytest.fixture(scope="module")
def client(sqs: EmbeddedSqs) -> SQSClient:
    """A client of the module's server."""
    return sqs.client()


@pytest.fixture
def queue_url(client: SQSClient) -> str:
    """A standard queue of its own for each test (moto's queues are process-global)."""
    return client.create_queue(QueueName=f"test-{uuid.uuid4().hex}")["QueueUrl"]


@pytest.fixture
def closed_endpoint() -> Iterator[str]:
    """An endpoint on a port that is bound but not listening, so connections are refused."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{blocker.getsockname()[1]}"


def test_start_serves_on_a_loopback_port_quickly(sqs: EmbeddedSqs) -> None:
    """The server listens on 127.0.0.1 at an OS-chosen port and started well within 1 s."""
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sqs.endpoint_url)
    assert sqs.running
    assert sqs.startup_seconds is not None
    assert sqs.startup_seconds < 1.0
    check_reachable(sqs.endpoint_url, timeout=1)


def test_send_receive_delete(client: SQSClient, queue_url: str) -> None:
    """A sent message is received once and is gone after it is deleted."""
    client.send_message(QueueUrl=queue_url, MessageBody='{"order_id": "ord-1"}')
    received = client.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    assert [message["Body"] for message in received] == ['{"order_id": "ord-1"}']
    client.delete_message(QueueUrl=queue_url, ReceiptHandle=received[0]["ReceiptHandle"])
    attributes = client.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_long_poll_returns_promptly_after_a_send_from_another_thread(sqs: EmbeddedSqs) -> None:
    """A receive waiting 5 s returns the message well under 1 s after another thread sends."""
    receiver = sqs.client()
    queue_url = receiver.create_queue(QueueName=f"test-{uuid.uuid4().hex}")["QueueUrl"]
    polling = threading.Event()
    receiver.meta.events.register("before-send.sqs.ReceiveMessage", lambda **_: polling.set())
    sent_at: list[float] = []

    def send_once_polling() -> None:
        polling.wait(timeout=5)
        sent_at.append(time.perf_counter())
        sqs.client().send_message(QueueUrl=queue_url, MessageBody="wake up")

    sender = threading.Thread(target=send_once_polling)
    sender.start()
    began = time.perf_counter()
    received = receiver.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)
    returned = time.perf_counter()
    sender.join(timeout=5)
    assert [message["Body"] for message in received["Messages"]] == ["wake up"]
    assert sent_at, "the sender never saw the receive start"
    assert returned - began < 1.0
    assert returned - sent_at[0] < 1.0


def test_message_attributes_round_trip(client: SQSClient, queue_url: str) -> None:
    """String, number and binary message attributes come back as they were sent."""
    attributes: dict[str, Any] = {
        "correlation_id": {"DataType": "String", "StringValue": "corr-42"},
        "attempt": {"DataType": "Number", "StringValue": "3"},
        "digest": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    }
    client.send_message(QueueUrl=queue_url, MessageBody="{}", MessageAttributes=attributes)
    (message,) = client.receive_message(
        QueueUrl=queue_url, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]
    assert message["MessageAttributes"] == attributes


def test_fifo_queue_keeps_order_and_drops_duplicates(client: SQSClient) -> None:
    """A FIFO queue delivers one group in send order and drops a repeated deduplication id."""
    queue_url = client.create_queue(
        QueueName=f"test-{uuid.uuid4().hex}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    for body in ["first", "second", "second", "third"]:
        client.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageGroupId="ord-1",
            MessageDeduplicationId=body,
        )
    received = client.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    )["Messages"]
    assert [message["Body"] for message in received] == ["first", "second", "third"]


def test_second_purge_within_a_minute_fails(client: SQSClient, queue_url: str) -> None:
    """A second PurgeQueue within 60 s fails, which is why isolation cannot rely on purging."""
    client.purge_queue(QueueUrl=queue_url)
    with pytest.raises(ClientError) as raised:
        client.purge_queue(QueueUrl=queue_url)
    assert "PurgeQueueInProgress" in raised.value.response["Error"]["Code"]


def test_check_reachable_reports_a_refused_endpoint_fast(closed_endpoint: str) -> None:
    """An endpoint nobody listens on yields an error naming it and the setting, at once."""
    began = time.perf_counter()
    with pytest.raises(SqsUnavailable) as raised:
        check_reachable(closed_endpoint, timeout=2)
    assert time.perf_counter() - began < 2.0
    assert str(raised.value) == (
        f"The SQS endpoint {closed_endpoint} is not reachable within 2 s (Connection "
        "refused). Start the SQS service there, or set asyncbdd.sqs.endpoint to an endpoint "
        "that runs (leave it unset to use the embedded SQS server); asyncbdd.connect_timeout "
        "bounds how long to try."
    )


@pytest.mark.parametrize("url", ["localhost:4566", "http://", "ftp://host", "http://h:port"])
def test_check_reachable_rejects_a_malformed_url(url: str) -> None:
    """A URL without an http(s) scheme, a host or a numeric port is a configuration error."""
    with pytest.raises(ConfigurationError, match=re.escape(f"SQS endpoint {url!r}")):
        check_reachable(url, timeout=1)


def test_client_of_a_refused_endpoint_fails_fast(
    closed_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client call to a refused endpoint fails within its retry budget, not after a hang."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    client = sqs_client(closed_endpoint, EMBEDDED_REGION, connect_timeout=1)
    began = time.perf_counter()
    with pytest.raises(EndpointConnectionError, match=re.escape(closed_endpoint)):
        client.list_queues()
    assert time.perf_counter() - began < 2.0


def test_clients_take_their_timeouts_and_retries_from_the_connect_timeout(
    sqs: EmbeddedSqs,
) -> None:
    """A client connects within asyncbdd.connect_timeout, reads within a second more
    (above its 1 s long polls), and retries a failed call once."""
    set_settings(Settings(connect_timeout=2.0))
    try:
        config = sqs.client().meta.config
    finally:
        set_settings(None)
    assert (config.connect_timeout, config.read_timeout) == (2.0, 3.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}  # botocore's form
    assert call_timeouts(0.5) == (0.5, 2.0)  # a long poll of 1 s always fits


def test_a_call_that_gets_no_answer_fails_after_one_read_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call to an endpoint that accepts connections and never answers fails after its
    read timeout, in one attempt: a timeout is not retried."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with socket.create_server(("127.0.0.1", 0), backlog=64) as silent:  # never accepted
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = sqs_client(url, EMBEDDED_REGION, connect_timeout=0.5, read_timeout=1.0)
        attempts: list[object] = []
        client.meta.events.register("before-send.sqs", lambda **_: attempts.append(1))
        raised: list[BaseException] = []

        def call() -> None:
            try:
                client.list_queues()
            except ReadTimeoutError as error:
                raised.append(error)

        began = time.perf_counter()
        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(5.0)
        elapsed = time.perf_counter() - began
        client.close()
    assert not caller.is_alive(), "the call was still blocked after 5 s"
    assert (len(raised), len(attempts)) == (1, 1)
    assert elapsed >= 1.0, f"failed after {elapsed:.2f} s, before its 1 s read timeout"


def test_lifecycle_errors_name_the_state_and_the_fix() -> None:
    """Starting twice and asking a stopped server for its URL are errors; stopping a server
    that is not running does nothing, however often."""
    server = EmbeddedSqs()
    with pytest.raises(EmbeddedSqsError, match=r"not running; call start\(\) first"):
        _ = server.endpoint_url
    server.stop()
    assert not server.running
    with server:
        endpoint = server.endpoint_url
        with pytest.raises(EmbeddedSqsError, match=re.escape(f"already running at {endpoint}")):
            server.start()
    assert not server.running
    with pytest.raises(SqsUnavailable):
        check_reachable(endpoint, timeout=1)
    server.stop()
    server.stop()
    assert not server.running
    with pytest.raises(EmbeddedSqsError, match="not running"):
        _ = server.endpoint_url


def test_a_fixed_port_is_served() -> None:
    """A server given the port another one just released listens there and can restart on it."""
    with EmbeddedSqs() as first:
        port = int(first.endpoint_url.rpartition(":")[2])
    server = EmbeddedSqs(port=port)
    for _ in range(2):
        with server:
            assert server.endpoint_url == f"http://127.0.0.1:{port}"
            check_reachable(server.endpoint_url, timeout=1)


def test_a_taken_fixed_port_is_an_error_naming_port_and_fix() -> None:
    """A fixed port something else listens on fails start() at once, saying what to do."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = EmbeddedSqs(port=port)
        with pytest.raises(EmbeddedSqsError) as raised:
            server.start()
    assert not server.running
    assert str(raised.value) == (
        f"The embedded SQS server cannot listen on 127.0.0.1:{port}: Address already in use. "
        f"Stop the program that uses port {port}, or choose another port (0 picks a free one)."
    )


@pytest.mark.parametrize("port", [-1, 65536, 80.0, True])
def test_an_impossible_port_is_rejected(port: Any) -> None:
    """A port that is not an integer from 0 to 65535 is rejected with the range to use."""
    with pytest.raises(EmbeddedSqsError, match=r"is invalid: pass a TCP port from 1 to 65535"):
        EmbeddedSqs(port=port)


def test_embedded_client_ignores_the_aws_environment(
    sqs: EmbeddedSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded client signs with its own dummy credentials even under a bogus profile."""
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT")
    client = sqs.client()
    assert _signing_credential(client) == f"testing/{EMBEDDED_REGION}"


def test_sqs_client_uses_the_standard_credential_chain(
    sqs: EmbeddedSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configured endpoint's client signs with the environment's credentials and region."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    client = sqs_client(sqs.endpoint_url, "eu-west-1")
    assert _signing_credential(client) == "AKIAFROMENVIRONMENT/eu-west-1"


def test_sqs_client_without_a_region_says_where_to_set_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no region anywhere, the error names the setting and AWS_DEFAULT_REGION."""
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    with pytest.raises(
        ConfigurationError, match=re.escape("set asyncbdd.sqs.region, or AWS_DEFAULT_REGION")
    ):
        sqs_client("http://localhost:4566", None)


def test_sqs_client_with_an_unknown_profile_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A missing AWS profile is reported with the endpoint and what to fix."""
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(ConfigurationError, match=r"no-such-profile.*AWS_PROFILE"):
        sqs_client("http://localhost:4566", "eu-west-1")


def test_shared_server_is_started_once_per_process() -> None:
    """Every call returns the same running server."""
    first = shared_embedded_sqs()
    assert shared_embedded_sqs() is first
    assert first.running
    check_reachable(first.endpoint_url, timeout=1)


def _signing_credential(client: SQSClient) -> str:
    """Return ``access-key/region`` from the Authorization header of a real call."""
    seen: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        seen.append(request.headers["Authorization"].decode())

    client.meta.events.register("before-send.sqs.ListQueues", capture)
    client.list_queues()
    match = re.search(r"Credential=([^/]+)/\d+/([^/]+)/sqs/", seen[0])
    assert match, seen[0]
    return f"{match[1]}/{match[2]}"
