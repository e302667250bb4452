"""SQS endpoints that stop answering: every call is bounded, and waits name the endpoint."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from doubles import FaultyProxy

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.infra.sqs_server import shared_embedded_sqs
from asyncbdd.queues import (
    QueueUnavailable,
    close_readers,
    expect_messages,
    expect_no_messages,
    inbox,
    send_message,
)

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient

Configure = Callable[..., Settings]

CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 2.0  # what asyncbdd makes of CONNECT_TIMEOUT: a 1 s long poll + 1 s to answer


@pytest.fixture
def proxy(aws_credentials: None) -> Iterator[FaultyProxy]:
    """A proxy in front of the embedded SQS server, which the test breaks; the readers
    reading through it stop before it closes."""
    endpoint = urlsplit(shared_embedded_sqs().endpoint_url)
    assert endpoint.hostname is not None
    assert endpoint.port is not None
    with FaultyProxy((endpoint.hostname, endpoint.port)) as started:
        yield started
        close_readers()


@pytest.fixture
def black_hole() -> Iterator[str]:
    """The URL of a loopback port that accepts connections and never answers: the kernel
    queues them, nobody reads them."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def through(configure: Configure, url: str, alias: str, queue: str) -> None:
    """Put in force an alias for ``queue`` on the SQS endpoint ``url``, short timeouts."""
    configure(
        {alias: f"sqs:{queue}"},
        sqs_endpoint=url,
        sqs_region="us-east-1",
        connect_timeout=str(CONNECT_TIMEOUT),
    )


def outcome_within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """What ``call`` raised (``None``: it returned), failing the test if it is still blocked
    after ``seconds``."""
    raised: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            raised.append(None)
        except BaseException as error:  # handed to the test
            raised.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still blocked after {seconds:g} s")
    return raised[0]


def reader_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("asyncbdd-reader-")]


@pytest.mark.usefixtures("aws_credentials")
def test_a_send_to_an_endpoint_that_never_answers_fails_within_its_timeouts(
    configure: Configure, uid: str, black_hole: str
) -> None:
    """A send to an endpoint that accepts and never answers fails within connect + read
    timeout, naming the endpoint, what happened and the fix."""
    alias = f"billing-{uid}"
    through(configure, black_hole, alias, f"billing-{uid}")
    with asyncbdd.scenario("black hole"):
        started = time.monotonic()
        error = outcome_within(
            CONNECT_TIMEOUT + READ_TIMEOUT + 1.5,
            lambda: send_message(alias, {"order_id": "ord-1"}),
        )
        elapsed = time.monotonic() - started
    assert isinstance(error, QueueUnavailable), repr(error)
    message = str(error)
    assert f"SQS at {black_hole} did not answer" in message
    assert f"no answer within the {READ_TIMEOUT:g} s read timeout" in message
    assert "asyncbdd.sqs.endpoint" in message
    assert elapsed >= READ_TIMEOUT - 0.5, f"failed after {elapsed:.2f} s: not a timeout?"


def test_a_wait_names_an_endpoint_that_stopped_answering(
    configure: Configure, uid: str, proxy: FaultyProxy, raw_sqs: SQSClient
) -> None:
    """A wait whose endpoint stopped answering fails at its deadline saying so, not
    only that nothing arrived."""
    alias = f"billing-{uid}"
    raw_sqs.create_queue(QueueName=f"billing-{uid}")
    through(configure, proxy.url, alias, f"billing-{uid}")
    with asyncbdd.scenario("healthy"):
        send_message(alias, {"order_id": "ord-1"})
        expect_messages(alias, 1)
    proxy.black_hole()
    with asyncbdd.scenario("black hole"):
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as raised:
            expect_messages(alias, 1, timeout=3)
        elapsed = time.monotonic() - started
    message = str(raised.value)
    assert f"Failed because SQS at {proxy.url} did not answer for " in message
    assert "so the deadline passed: the billing-" in message
    assert "\n    broker:    " in message  # what it waits for, or the error it met
    assert 3 <= elapsed < 3.5, f"failed after {elapsed:.2f} s of a 3 s deadline"


def test_a_wait_passes_when_a_dead_endpoint_comes_back_before_the_deadline(
    configure: Configure, uid: str, proxy: FaultyProxy, raw_sqs: SQSClient
) -> None:
    """A reader whose endpoint refuses connections keeps trying, and the wait keeps
    waiting: the message that comes once the endpoint is back passes it."""
    alias, name = f"billing-{uid}", f"billing-{uid}"
    url = raw_sqs.create_queue(QueueName=name)["QueueUrl"]
    through(configure, proxy.url, alias, name)

    def come_back(correlation_id: str) -> None:
        proxy.revive()
        raw_sqs.send_message(
            QueueUrl=url,
            MessageBody='{"order_id": "ord-1"}',
            MessageAttributes={
                "correlation_id": {"DataType": "String", "StringValue": correlation_id}
            },
        )

    with asyncbdd.scenario("endpoint restarts"):
        expect_no_messages(alias, during=0.1)  # the reader runs
        proxy.kill()
        restart = threading.Timer(1.5, come_back, args=(inbox().correlation_id,))
        restart.start()
        try:
            received = expect_messages(alias, 1, timeout=8)
        finally:
            restart.join()
    assert [m.json for m in received] == [{"order_id": "ord-1"}]


def test_no_messages_fails_when_the_endpoint_does_not_answer(
    configure: Configure, uid: str, proxy: FaultyProxy, raw_sqs: SQSClient
) -> None:
    """Silence from an endpoint that does not answer proves nothing: "no message" fails,
    naming it, instead of passing."""
    alias = f"billing-{uid}"
    raw_sqs.create_queue(QueueName=f"billing-{uid}")
    through(configure, proxy.url, alias, f"billing-{uid}")
    with asyncbdd.scenario("black hole"):
        expect_no_messages(alias, during=0.1)  # the reader runs
        proxy.black_hole()
        with pytest.raises(WaitTimeout) as raised:
            expect_no_messages(alias, during=2.5)
    message = str(raised.value)
    assert f"Failed because SQS at {proxy.url} did not answer for " in message
    assert "nothing can be said about what reached the billing-" in message


def test_closing_the_readers_is_bounded_when_the_endpoint_never_answers(
    configure: Configure, uid: str, proxy: FaultyProxy, raw_sqs: SQSClient
) -> None:
    """The end of a run stops a reader blocked on an endpoint that never answers within
    its read timeout, leaving no reader thread behind."""
    alias = f"billing-{uid}"
    raw_sqs.create_queue(QueueName=f"billing-{uid}")
    through(configure, proxy.url, alias, f"billing-{uid}")
    with asyncbdd.scenario("black hole"):
        expect_no_messages(alias, during=0.1)  # the reader runs
        proxy.black_hole()
    started = time.monotonic()
    close_readers()
    elapsed = time.monotonic() - started
    assert f"asyncbdd-reader-{alias}" not in reader_threads()
    assert elapsed < READ_TIMEOUT + 1.0, f"took {elapsed:.2f} s"
