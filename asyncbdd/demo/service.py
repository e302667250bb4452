"""The demo order service: HTTP and Kafka in, a background worker, SQS and webhooks out,
one database that also holds the trace."""

from __future__ import annotations

import random
import tempfile
import threading
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

from asyncbdd.demo.errors import ServiceStateError
from asyncbdd.demo.faults import Fault
from asyncbdd.demo.http_api import OrderApiServer
from asyncbdd.demo.kafka_input import KafkaInput, KafkaOrderReader
from asyncbdd.demo.models import create_schema
from asyncbdd.demo.order_messages import OrderMessages, Output
from asyncbdd.demo.pipeline import OrderJob, OrderPipeline, OrderRequest
from asyncbdd.demo.webhooks import WebhookSender

__all__ = ["DEFAULT_DATABASE_URL", "DEFAULT_JITTER", "OrderService", "ServiceStateError"]

DEFAULT_DATABASE_URL = f"sqlite:///{Path(tempfile.gettempdir()) / 'asyncbdd-demo.db'}"
"""A SQLite file in the system's temporary directory."""

DEFAULT_JITTER = (0.005, 0.05)
"""Seconds, ``(min, max)``, the worker waits before each processing step unless told."""


class OrderService:
    """The order service the demo features test, driven only through real transports.

    Orders posted over HTTP are accepted at once (202), and orders published on Kafka are
    read as they come (with ``kafka``); a worker thread processes them later: stored as
    ``pending``, then ``paid``, their quantity taken from stock, then ``shipped``; an
    unknown product or too little stock ends them ``failed``. With an ``output``, a paid order
    sends one message each to the billing, inventory and shipping queues (see
    :mod:`asyncbdd.demo.order_messages` for when and what). A paid order calls every URL
    registered for ``payment.completed`` (``POST /webhooks``; see
    :mod:`asyncbdd.demo.webhooks`). Orders with a correlation id record their steps in the
    ``trace_events`` table (see :mod:`asyncbdd.demo.pipeline`). The worker waits a random
    ``jitter`` delay before each step, as a real system would take time.

    Usage::

        with OrderService("sqlite:///orders.db", faults=[Fault.FAIL_PAYMENT]) as service:
            ...  # HTTP to service.url, SQL to service.database_url

    :param database_url: SQLAlchemy URL of the database; missing tables are created.
    :param host: the interface HTTP listens on.
    :param port: the HTTP port; 0 picks a free one (see :attr:`url`).
    :param faults: the faults in force from the start (see :meth:`set_faults`).
    :param jitter: ``(min, max)`` seconds the worker waits before each processing step.
    :param seed: seeds the jitter, for reproducible timings.
    :param kafka: also read orders from this Kafka topic (see
        :mod:`asyncbdd.demo.kafka_input`); only those produced after :meth:`start`.
    :param output: send each paid order's messages there (:class:`SqsOutput`,
        :class:`RedisOutput`).
    :param sqs: the old name of ``output``.
    :param late_message_delay: seconds the ``late-billing-message`` fault holds a billing
        message back.
    :param connect_timeout: seconds :meth:`start` waits for Kafka to answer, and Kafka and
        SQS requests and each webhook attempt (to connect, then for each answer) may take.
    :param webhook_secret: signs every webhook body with HMAC-SHA256 in the header
        ``X-Signature: sha256=<hex>``; ``None`` sends no signature.
    :param slow_step_delay: seconds the ``slow-trace-step`` fault holds
        ``notification.sent`` back.
    :raises ValueError: an invalid ``jitter``, ``late_message_delay``, ``connect_timeout``,
        ``webhook_secret`` or ``slow_step_delay``.
    """

    def __init__(
        self,
        database_url: str = DEFAULT_DATABASE_URL,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Iterable[Fault] = (),
        jitter: tuple[float, float] = DEFAULT_JITTER,
        seed: int | None = None,
        kafka: KafkaInput | None = None,
        output: Output | None = None,
        sqs: Output | None = None,
        late_message_delay: float = 8.0,
        connect_timeout: float = 5.0,
        webhook_secret: str | None = None,
        slow_step_delay: float = 8.0,
    ) -> None:
        shortest, longest = jitter
        if not 0 <= shortest <= longest:
            raise ValueError(f"jitter must be (min, max) with 0 <= min <= max, got {jitter!r}")
        if not late_message_delay >= 0:
            raise ValueError(f"late_message_delay must be seconds >= 0, got {late_message_delay!r}")
        if not connect_timeout > 0:
            raise ValueError(f"connect_timeout must be seconds > 0, got {connect_timeout!r}")
        if webhook_secret is not None and (
            not isinstance(webhook_secret, str) or not webhook_secret
        ):
            got = "an empty string" if webhook_secret == "" else type(webhook_secret).__name__
            raise ValueError(  # never repeats the secret itself
                "webhook_secret must be a non-empty string, or None for unsigned webhook "
                f"calls; got {got}"
            )
        if not slow_step_delay >= 0:
            raise ValueError(f"slow_step_delay must be seconds >= 0, got {slow_step_delay!r}")
        self._database_url = database_url
        self._host = host
        self._port = port
        self._jitter = jitter
        self._rng = random.Random(seed)
        self._faults = frozenset(Fault(fault) for fault in faults)
        self._kafka = kafka
        if output is not None and sqs is not None:
            raise ValueError("pass the messages' output once: output=... (sqs= is its old name)")
        self._output = output if output is not None else sqs
        self._late_message_delay = late_message_delay
        self._connect_timeout = connect_timeout
        self._webhook_secret = webhook_secret
        self._slow_step_delay = slow_step_delay
        self._running: _Running | None = None

    def start(self) -> None:
        """Create missing tables, then serve HTTP, read Kafka and process orders in
        background threads.

        Kafka is read from the end of its partitions as they are when this returns.

        :raises ServiceStateError: the service is already running.
        :raises TransportError: Kafka did not answer within the connect timeout, or no SQS
            client can be built (no region or credentials); nothing is left running.
        """
        if self._running is not None:
            raise ServiceStateError(f"the order service is already running at {self.url}")
        with ExitStack() as undo:  # undoes what was set up if a later step fails
            engine = _create_engine(self._database_url)
            undo.callback(engine.dispose)
            create_schema(engine)
            sessions = sessionmaker(engine, expire_on_commit=False)
            messages = None
            if self._output is not None:
                messages = OrderMessages(
                    self._output,
                    late_message_delay=self._late_message_delay,
                    connect_timeout=self._connect_timeout,
                )
                undo.callback(messages.close)
            webhooks = WebhookSender(
                sessions, secret=self._webhook_secret, timeout=self._connect_timeout
            )
            pipeline = OrderPipeline(
                sessions,
                jitter=self._jitter,
                rng=self._rng,
                # the webhooks first: their calls leave at once, whatever SQS takes
                after_payment=[webhooks.after_payment]
                + ([messages.after_payment] if messages is not None else []),
                after_shipping=[messages.after_shipping] if messages is not None else [],
                slow_step_delay=self._slow_step_delay,
            )

            def accept(order: OrderRequest) -> None:
                pipeline.submit(OrderJob(order, self._faults))

            server = OrderApiServer((self._host, self._port), sessions, accept)
            undo.callback(server.server_close)
            reader = None
            if self._kafka is not None:
                reader = KafkaOrderReader(
                    self._kafka, accept, connect_timeout=self._connect_timeout
                )
                reader.start()
            undo.pop_all()
        http_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},  # how long stop() may wait for the loop to notice
            name="asyncbdd-demo-http",
            daemon=True,
        )
        webhooks.start()
        pipeline.start()
        http_thread.start()
        self._running = _Running(
            url=f"http://{self._host}:{server.server_port}",
            engine=engine,
            server=server,
            http_thread=http_thread,
            pipeline=pipeline,
            reader=reader,
            messages=messages,
            webhooks=webhooks,
        )

    def stop(self) -> None:
        """Stop serving and processing, wait for the threads, close database connections.

        A processing delay in progress is interrupted at once; orders not processed yet
        are abandoned, and so are billing messages held back by ``late-billing-message``,
        trace events held back by ``slow-trace-step``, and webhook calls not made yet
        (those in progress, or waiting to be retried, are interrupted).

        :raises ServiceStateError: the service is not running.
        """
        running = self._require_running("stop it")
        self._running = None
        if running.reader is not None:
            running.reader.stop()
        running.server.shutdown()
        running.http_thread.join()
        running.server.server_close()  # also waits for requests still being answered
        running.pipeline.stop()
        running.webhooks.close()  # after the worker, which may still hand it calls
        if running.messages is not None:
            running.messages.close()  # after the worker, which may still hold one back
        running.engine.dispose()

    def __enter__(self) -> OrderService:
        """Start the service."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the service."""
        self.stop()

    @property
    def url(self) -> str:
        """The base URL of the HTTP API, such as ``http://127.0.0.1:54321``.

        :raises ServiceStateError: the service is not running.
        """
        return self._require_running("know its URL").url

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the service's database, as given."""
        return self._database_url

    @property
    def faults(self) -> frozenset[Fault]:
        """The faults in force."""
        return self._faults

    def set_faults(self, faults: Iterable[Fault]) -> None:
        """Replace the faults in force; they apply to the orders accepted from now on.

        An order keeps the faults in force when it was accepted until it is processed.
        """
        self._faults = frozenset(Fault(fault) for fault in faults)

    def _require_running(self, to_do: str) -> _Running:
        if self._running is None:
            raise ServiceStateError(f"the order service is not running; start() it to {to_do}")
        return self._running


@dataclass(frozen=True)
class _Running:
    """What exists only while the service runs."""

    url: str
    engine: Engine
    server: OrderApiServer
    http_thread: threading.Thread
    pipeline: OrderPipeline
    reader: KafkaOrderReader | None
    messages: OrderMessages | None
    webhooks: WebhookSender


def _create_engine(database_url: str) -> Engine:
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, _connection_record: Any) -> None:
    # The HTTP threads, the worker and outside readers (the tests) share one file: WAL lets
    # them read while one writes, and the busy timeout makes writers queue, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
