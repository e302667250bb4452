"""The demo service's Kafka input: orders read from a topic and processed like HTTP orders.

A message's value is a UTF-8 JSON object with the fields of an HTTP order
(:data:`~asyncbdd.demo.validation.ORDER_FIELDS`, checked the same way), ``order_id``
required: ``{"order_id": "ord-1", "product_id": "widget", "quantity": 3, "amount": 12.5}``.
The key is the order id and is not read; the header ``correlation_id`` (UTF-8) is the
order's correlation id, ahead of a ``correlation_id`` field. An invalid message is logged
(logger ``asyncbdd.demo``, WARNING, with its partition, offset and what is wrong) and
skipped.

How it reads (no consumer group, so no rebalance delays): when the service starts, the
reader assigns itself every partition of the topic and positions each at its end before
:meth:`KafkaOrderReader.start` returns, so exactly the orders produced after the start are
processed. A topic that does not exist yet (Kafka, and the mock cluster of the tests,
create a topic on its first produce) is looked up again every
:data:`PARTITION_RECHECK_SECONDS` until it appears; its partitions are then read from their
beginning, since all they hold came after the start. Measured against librdkafka's mock
cluster with kafka-python 2.3: the reader finds a topic at most 0.1 s (median 0.05 s) after
the produce that created it is acknowledged. kafka-python sends a metadata request at most
every ``retry_backoff_ms`` (100 ms), so looking more often finds it no sooner.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from asyncbdd.demo.errors import TransportError
from asyncbdd.demo.pipeline import OrderRequest
from asyncbdd.demo.validation import ORDER_FIELDS, InvalidInput, json_object, order_request
from asyncbdd.infra.kafka_clients import (
    NO_BROKER_ANSWERED,
    broker_version_config,
    connect_timeout_config,
)

__all__ = [
    "ORDER_CREATED",
    "PARTITION_RECHECK_SECONDS",
    "POLL_SECONDS",
    "KafkaInput",
    "KafkaOrderReader",
]

logger = logging.getLogger("asyncbdd.demo")

ORDER_CREATED = "order.created"
"""The topic orders are read from unless told otherwise."""

POLL_SECONDS = 0.1
"""How long one poll waits for records, so how long :meth:`KafkaOrderReader.stop` may wait."""

PARTITION_RECHECK_SECONDS = 0.1
"""How often the reader looks for the partitions of a topic that does not exist yet."""

ERROR_RETRY_SECONDS = 1.0
"""How long the reader waits after a failed poll before polling again."""

_REFUSED_OPTIONS = {
    "api_version": "the start probes the broker's version, which is what bounds how long "
    "it waits for an unreachable broker",
    "value_deserializer": "the reader decodes and checks every value itself",
}


@dataclass(frozen=True)
class KafkaInput:
    """Where the service reads orders from Kafka.

    :param bootstrap_servers: ``host:port[,host:port...]`` of the cluster.
    :param topic: the topic of the orders.
    :param options: more ``kafka.KafkaConsumer`` settings (``security_protocol``,
        ``sasl_*``, ``client_id``, ...), over the reader's own: ``fetch_max_wait_ms=10``
        (a new order is seen within milliseconds; 500 spares the broker),
        the connect timeout (``api_version_auto_timeout_ms``, or kafka-python 3's
        ``bootstrap_timeout_ms``) and ``request_timeout_ms`` from the service's connect
        timeout. ``api_version`` and ``value_deserializer`` are refused (the embedded
        broker of this process is spoken to in its fixed version all the same).
    :raises ValueError: the servers or the topic are empty, or an option is unknown or
        refused.
    """

    bootstrap_servers: str
    topic: str = ORDER_CREATED
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.bootstrap_servers, str) or not self.bootstrap_servers.strip():
            raise ValueError(
                f"KafkaInput: bootstrap_servers must be 'host:port[,host:port...]', "
                f"got {self.bootstrap_servers!r}"
            )
        if not isinstance(self.topic, str) or not self.topic.strip():
            raise ValueError(f"KafkaInput: topic must be a non-empty name, got {self.topic!r}")
        for option in self.options:
            if option in _REFUSED_OPTIONS:
                raise ValueError(
                    f"KafkaInput: option {option!r} is not allowed: {_REFUSED_OPTIONS[option]}"
                )
            if option not in KafkaConsumer.DEFAULT_CONFIG:
                raise ValueError(
                    f"KafkaInput: unknown option {option!r}; options are kafka.KafkaConsumer "
                    "settings, such as security_protocol or client_id"
                )
        object.__setattr__(self, "options", dict(self.options))


class KafkaOrderReader:
    """Reads orders from a Kafka topic in a background thread and hands each to ``accept``.

    :param source: the cluster, the topic and the consumer options.
    :param accept: takes a validated order for processing.
    :param connect_timeout: seconds to reach the cluster when starting; also bounds each
        request to it, and how long :meth:`stop` waits for a reader stuck on a lost cluster.
    """

    def __init__(
        self,
        source: KafkaInput,
        accept: Callable[[OrderRequest], None],
        *,
        connect_timeout: float,
    ) -> None:
        self._source = source
        self._accept = accept
        self._connect_timeout = connect_timeout
        self._consumer: Any = None  # kafka-python is untyped
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="asyncbdd-demo-kafka", daemon=True)

    def start(self) -> None:
        """Connect, position at the end of every partition of the topic, then read in the
        background.

        :raises TransportError: no broker answered within the connect timeout, the options
            are invalid, or the topic's end offsets could not be read.
        """
        consumer = self._connect()
        try:
            self._position_at_end(consumer)
        except BaseException:
            consumer.close()
            raise
        self._consumer = consumer
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and close the consumer, within about :data:`POLL_SECONDS`.

        A reader blocked on a cluster that went away is waited for at most the connect
        timeout, then left behind (a daemon thread) with a warning.
        """
        self._stopping.set()
        if self._thread.ident is None:
            return  # never started
        self._thread.join(self._connect_timeout)
        if self._thread.is_alive():
            logger.warning(
                "Kafka input: the reader of topic %s did not stop within %g s; is the "
                "cluster at %s still reachable? Leaving it behind.",
                self._source.topic,
                self._connect_timeout,
                self._source.bootstrap_servers,
            )

    # ----------------------------------------------------------------------------------
    # Starting
    # ----------------------------------------------------------------------------------

    def _connect(self) -> Any:
        timeout_ms = round(self._connect_timeout * 1000)
        config: dict[str, Any] = {
            "bootstrap_servers": self._source.bootstrap_servers,
            "client_id": "asyncbdd-demo-order-service",
            "group_id": None,
            "enable_auto_commit": False,
            "allow_auto_create_topics": False,  # a reader does not create what it reads
            "fetch_max_wait_ms": 10,
            **connect_timeout_config(KafkaConsumer, timeout_ms),
            **broker_version_config(self._source.bootstrap_servers),
            **self._source.options,
        }
        # a request may take the broker's fetch wait plus a connect timeout
        config.setdefault("request_timeout_ms", config["fetch_max_wait_ms"] + timeout_ms)
        servers = self._source.bootstrap_servers
        try:
            return KafkaConsumer(**config)
        except NO_BROKER_ANSWERED:
            seconds = timeout_ms / 1000
            raise TransportError(
                f"Kafka input: no broker answered at {servers} within {seconds:g} s; start "
                "Kafka there, or fix the bootstrap servers (KafkaInput.bootstrap_servers, "
                "--kafka-bootstrap-servers)"
            ) from None
        except (KafkaError, ValueError, TypeError) as error:
            raise TransportError(
                f"Kafka input: cannot create a consumer for {servers}: {error}; fix the "
                "bootstrap servers or KafkaInput.options"
            ) from error

    def _position_at_end(self, consumer: Any) -> None:
        topic = self._source.topic
        try:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                logger.info(
                    "Kafka input: topic %s does not exist yet; it will be read from its "
                    "beginning once it appears",
                    topic,
                )
                return
            assigned = [TopicPartition(topic, partition) for partition in sorted(partitions)]
            consumer.assign(assigned)
            for partition, offset in consumer.end_offsets(assigned).items():
                consumer.seek(partition, offset)
        except KafkaError as error:
            raise TransportError(
                f"Kafka input: cannot find the end of topic {topic} at "
                f"{self._source.bootstrap_servers}: {error}; check that the cluster is "
                "healthy, or raise the connect timeout"
            ) from error

    # ----------------------------------------------------------------------------------
    # The reader thread
    # ----------------------------------------------------------------------------------

    def _run(self) -> None:
        consumer = self._consumer
        try:
            while not self._stopping.is_set():
                try:
                    if consumer.assignment():
                        self._take(consumer.poll(timeout_ms=round(POLL_SECONDS * 1000)))
                    elif not self._stopping.wait(PARTITION_RECHECK_SECONDS):
                        self._assign_new_topic(consumer)
                except Exception:
                    logger.exception(
                        "Kafka input: reading topic %s failed; trying again in %g s",
                        self._source.topic,
                        ERROR_RETRY_SECONDS,
                    )
                    self._stopping.wait(ERROR_RETRY_SECONDS)
        finally:
            consumer.close()

    def _assign_new_topic(self, consumer: Any) -> None:
        topic = self._source.topic
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return
        assigned = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        logger.info(
            "Kafka input: topic %s appeared with %d partitions; reading them from the start",
            topic,
            len(assigned),
        )

    def _take(self, batches: dict[Any, list[Any]]) -> None:
        for records in batches.values():
            for record in records:
                try:
                    order = _order_from(record)
                except InvalidInput as error:
                    logger.warning(
                        "Kafka input: skipped the message at %s partition %d offset %d: %s",
                        record.topic,
                        record.partition,
                        record.offset,
                        error,
                    )
                    continue
                logger.debug("order %s: received on Kafka topic %s", order.order_id, record.topic)
                self._accept(order)


def _order_from(record: Any) -> OrderRequest:
    """The order a consumer record carries; raises :class:`InvalidInput` if it is invalid."""
    value: bytes | None = record.value
    if value is None:
        raise InvalidInput("the message has no value")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"the message value is not UTF-8: {error}") from None
    body = json_object(text, ORDER_FIELDS, what="the message value")
    return order_request(body, require_order_id=True, correlation_id=_correlation_id(record))


def _correlation_id(record: Any) -> str | None:
    for name, value in record.headers or ():
        if name != "correlation_id":
            continue
        try:
            text: str = (value or b"").decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidInput(f"the correlation_id header is not UTF-8: {error}") from None
        if not text.strip():
            raise InvalidInput("the correlation_id header is empty")
        return text
    return None
