"""Kafka topics through kafka-python: assign + seek (no consumer group), ``poll`` bounded
by the caller.

A reader starts at the end of every partition, so it sees only records produced after
it started; a topic that does not exist yet is looked for again until it appears, then
read from its beginning (all of it is new). The bootstrap servers are the
``asyncbdd.kafka.bootstrap_servers`` setting or, unset, the embedded mock broker; the
``asyncbdd.kafka.options`` setting passes SASL/SSL and other options to the clients.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, NoBrokersAvailable

from asyncbdd.config import get_settings
from asyncbdd.errors import ConfigurationError
from asyncbdd.infra.kafka_broker import shared_embedded_kafka
from asyncbdd.queues.base import Correlation, Queue, QueueUnavailable
from asyncbdd.queues.message import Message

__all__ = ["KafkaTopic"]

FETCH_MAX_WAIT_MS = 10
"""How long the broker may hold a fetch open: kafka-python's default, 500 ms, makes a
polling consumer see new records up to half a second late."""
MOCK_CLUSTER_API_VERSION = (2, 4, 0)
"""The protocol version kafka-python settles on with the embedded mock cluster."""
MISSING_TOPIC_RECHECK = 0.1
"""Seconds between metadata checks while a topic does not exist yet."""


class KafkaTopic(Queue):
    """A Kafka topic, read from the end of its partitions as they were when opened.

    ``bootstrap_servers`` and ``options`` default to the settings; ``options`` go to
    both kafka-python clients (each takes the ones it knows), except those the reader
    depends on (``group_id``, ``client_id``, ``bootstrap_servers`` ...), which asyncbdd sets.
    """

    kind = "Kafka topic"
    read_from_scenario_start = True

    def __init__(
        self,
        alias: str,
        topic: str,
        *,
        bootstrap_servers: str | None = None,
        options: Mapping[str, Any] | None = None,
        correlation: Correlation | None = None,
    ) -> None:
        super().__init__(alias, correlation)
        settings = get_settings()
        self.topic = topic
        self.options = dict(settings.kafka_options if options is None else options)
        self._bootstrap = bootstrap_servers or settings.kafka_bootstrap_servers
        self._embedded = self._bootstrap is None
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._missing = False
        self._lock = threading.Lock()

    @property
    def bootstrap_servers(self) -> str:
        """The cluster's bootstrap servers (starting the embedded broker if none is set)."""
        if self._bootstrap is None:
            self._bootstrap = shared_embedded_kafka().bootstrap_servers
        return self._bootstrap

    def describe(self) -> str:
        return f"Kafka topic {self.topic!r} at {self._bootstrap or '(embedded, not started)'}"

    def open(self) -> None:
        consumer = self._connect(
            KafkaConsumer,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            client_id=f"asyncbdd-{self.alias}",
        )
        self._consumer = consumer
        self._assign(start_at_end=True, seconds=self._timeout_ms() / 1000)

    def receive(self, wait: float) -> list[Message]:
        consumer = self._require_consumer()
        if self._missing:
            pause = min(wait, MISSING_TOPIC_RECHECK)
            time.sleep(pause)  # metadata is not event-driven
            self._assign(start_at_end=False, seconds=max(wait - pause, 0.0))
            if self._missing:
                return []
        try:
            batches = consumer.poll(timeout_ms=int(wait * 1000), max_records=500)
        except KafkaError as error:
            raise self._unavailable("read from", error) from None
        received = time.monotonic()
        messages = []
        for records in batches.values():
            for record in records:
                headers = {
                    name: (value or b"").decode("utf-8", "replace")
                    for name, value in record.headers or []
                }
                messages.append(
                    self.message(
                        record.value or b"",
                        headers,
                        key=None if record.key is None else record.key.decode("utf-8", "replace"),
                        message_id=f"{record.topic}/{record.partition}@{record.offset}",
                        sent_at=record.timestamp / 1000 if record.timestamp >= 0 else None,
                        received_at=received,
                    )
                )
        return messages

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        with self._lock:
            if self._producer is None:
                self._producer = self._connect(
                    KafkaProducer, linger_ms=0, max_block_ms=self._timeout_ms()
                )
            producer = self._producer
        headers = [(name, value.encode()) for name, value in attributes.items()]
        try:
            producer.send(
                self.topic,
                value=body.encode(),
                key=None if key is None else key.encode(),
                headers=headers,
            ).get(timeout=self._timeout_ms() / 1000)
        except KafkaError as error:
            raise self._unavailable("publish to", error) from None

    def close(self) -> None:
        with self._lock:
            consumer, self._consumer = self._consumer, None
            producer, self._producer = self._producer, None
            if self._embedded:  # the embedded broker may stop with the run: ask again
                self._bootstrap = None
        if consumer is not None:
            consumer.close()
        if producer is not None:
            producer.close(timeout=1)

    def problems(self) -> str | None:
        if self._missing:
            return f"the topic {self.topic!r} does not exist on the cluster (yet)"
        return None

    def _assign(self, *, start_at_end: bool, seconds: float) -> None:
        consumer = self._require_consumer()
        partitions = _partitions_for_topic(consumer, self.topic, seconds)
        self._missing = not partitions
        if self._missing:
            return
        assigned = [TopicPartition(self.topic, partition) for partition in sorted(partitions)]
        consumer.assign(assigned)
        if start_at_end:
            consumer.seek_to_end(*assigned)
            for partition in assigned:  # resolve now: a lazy seek would skip early records
                consumer.position(partition)
        else:
            consumer.seek_to_beginning(*assigned)

    def _connect(self, client: Any, **config: Any) -> Any:
        known = set(client.DEFAULT_CONFIG)
        unknown = (
            set(self.options)
            - set(KafkaConsumer.DEFAULT_CONFIG)
            - set(KafkaProducer.DEFAULT_CONFIG)
        )
        if unknown:
            raise ConfigurationError(
                f"asyncbdd.kafka.options has options kafka-python does not know: "
                f"{', '.join(sorted(unknown))}. Use kafka-python's names, e.g. "
                "security_protocol, sasl_mechanism, sasl_plain_username."
            )
        options = {name: value for name, value in self.options.items() if name in known}
        if self._embedded:
            # kafka-python probes with ApiVersions v4 first, which the mock cluster answers
            # in a form it cannot decode: an ERROR log line per connection, then a retry.
            options.setdefault("api_version", MOCK_CLUSTER_API_VERSION)
        try:
            return client(
                **{
                    "api_version_auto_timeout_ms": self._timeout_ms(),
                    "request_timeout_ms": max(self._timeout_ms(), 1000) + 1000,
                    **options,  # may tune those defaults, not what reading depends on:
                    **config,
                    "bootstrap_servers": self.bootstrap_servers.split(","),
                }
            )
        except NoBrokersAvailable:
            raise QueueUnavailable(
                f"No Kafka broker answered at {self.bootstrap_servers} within "
                f"{self._timeout_ms() / 1000:g} s (topic {self.topic!r}, alias "
                f"{self.alias!r}). Start the cluster, or set asyncbdd.kafka.bootstrap_servers "
                "to one that runs (leave it unset for the embedded broker); "
                "asyncbdd.connect_timeout bounds how long to try."
            ) from None
        except KafkaError as error:
            raise self._unavailable("connect to", error) from None

    def _require_consumer(self) -> KafkaConsumer:
        if self._consumer is None:
            self.open()
        assert self._consumer is not None
        return self._consumer

    def _timeout_ms(self) -> int:
        return int(get_settings().connect_timeout * 1000)

    def _unavailable(self, action: str, error: BaseException) -> QueueUnavailable:
        return QueueUnavailable(
            f"Could not {action} the Kafka topic {self.topic!r} (alias {self.alias!r}) at "
            f"{self.bootstrap_servers}: {error!r}. Check that the cluster runs and that "
            "asyncbdd.kafka.bootstrap_servers and asyncbdd.kafka.options are right."
        )


def _partitions_for_topic(consumer: KafkaConsumer, topic: str, seconds: float) -> set[int]:
    """The topic's partitions (none if it does not exist), asking the cluster for at most
    ``seconds`` when they are not known yet.

    kafka-python's ``partitions_for_topic`` asks the same question (the metadata of every
    topic) but waits for the answer without a bound: forever once the broker is gone, so
    that a reader waiting there could never be stopped.
    """
    client = consumer._client
    cluster = client.cluster
    partitions = cluster.partitions_for_topic(topic)
    if partitions is None:
        every_topic, cluster.need_all_topic_metadata = cluster.need_all_topic_metadata, True
        try:
            client.poll(timeout_ms=int(seconds * 1000), future=cluster.request_update())
        finally:
            cluster.need_all_topic_metadata = every_topic
        partitions = cluster.partitions_for_topic(topic)
    return set(partitions or ())
