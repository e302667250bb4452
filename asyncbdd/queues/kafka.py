"""Kafka topics through kafka-python: assign + seek (no consumer group), ``poll`` bounded
by the caller.

A reader starts at the end of every partition, so it sees only records produced after
it started; a topic that does not exist yet is looked for again until it appears, then
read from its beginning (all of it is new). The bootstrap servers are the
``asyncbdd.kafka.bootstrap_servers`` setting or, unset, the embedded mock broker; the
``asyncbdd.kafka.options`` setting passes SASL/SSL and other options to the clients.

A reader tells a quiet topic from a cluster that does not answer: after
:data:`PROBE_EVERY` seconds without news it asks for metadata, and a cluster that does not
answer within :data:`PROBE_WAIT` is reported (:class:`~asyncbdd.queues.base.BrokerUnreachable`)
until it answers again. When the embedded broker's process dies, the topic reports it
(:class:`~asyncbdd.queues.base.BrokerGone`) and opens again on a new embedded broker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from asyncbdd.config import Settings, client_options, get_settings, optional_text
from asyncbdd.durations import format_duration
from asyncbdd.errors import ConfigurationError, report_problem
from asyncbdd.infra.kafka_broker import EmbeddedKafka, shared_embedded_kafka
from asyncbdd.infra.kafka_clients import (
    MOCK_CLUSTER_API_VERSION,
    NO_BROKER_ANSWERED,
    broker_version_config,
    connect_timeout_config,
    wait_for_answer,
)
from asyncbdd.queues.base import (
    BrokerGone,
    BrokerUnreachable,
    Correlation,
    Queue,
    QueueUnavailable,
)
from asyncbdd.queues.message import Message
from asyncbdd.queues.transports import Option, Transport, register_transport, transport_options
from asyncbdd.secrets import mask_url, mask_urls_in

__all__ = ["MOCK_CLUSTER_API_VERSION", "KafkaSettings", "KafkaTopic", "kafka_settings"]

FETCH_MAX_WAIT_MS = 10
"""How long the broker may hold a fetch open: kafka-python's default, 500 ms, makes a
polling consumer see new records up to half a second late."""
MISSING_TOPIC_RECHECK = 0.1
"""Seconds between metadata checks while a topic does not exist yet."""
PROBE_EVERY = 1.0
"""Seconds without news from the cluster (a record, an answer) after which a poll that
brought nothing asks it for metadata, to tell a quiet topic from a silent cluster."""
PROBE_WAIT = 0.5
"""How long that question may wait for its answer (a cluster answers in milliseconds)."""
CLOSE_WAIT = 1.0
"""Seconds closing a producer may wait for records still being sent."""


@dataclass(frozen=True)
class KafkaSettings:
    """The Kafka transport's settings in force (``asyncbdd.kafka.*``)."""

    bootstrap_servers: str | None
    options: Mapping[str, object]


def kafka_settings(settings: Settings | None = None) -> KafkaSettings:
    """The Kafka settings of ``settings`` (default: those in force)."""
    options = transport_options("kafka", settings)
    return KafkaSettings(
        bootstrap_servers=cast("str | None", options["bootstrap_servers"]),
        options=cast("Mapping[str, object]", options["options"]),
    )


class KafkaTopic(Queue):
    """A Kafka topic, read from the end of its partitions as they were when opened.

    ``bootstrap_servers`` and ``options`` default to the settings; ``options`` go to
    both kafka-python clients (each takes the ones it knows), except those the reader
    depends on (``group_id``, ``client_id``, ``bootstrap_servers`` ...), which asyncbdd sets.
    """

    kind = "Kafka topic"
    noun = "topic"
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
        settings = kafka_settings()
        self.topic = topic
        self.options = dict(settings.options if options is None else options)
        self._bootstrap = bootstrap_servers or settings.bootstrap_servers
        self._embedded = self._bootstrap is None
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._consumer_on: EmbeddedKafka | None = None
        self._producer_on: EmbeddedKafka | None = None
        """The embedded broker each client talks to (none for a configured cluster)."""
        self._answered_at = time.monotonic()
        self._missing = False
        self._lock = threading.Lock()

    @property
    def bootstrap_servers(self) -> str:
        """The cluster's bootstrap servers (starting the embedded broker if none is set)."""
        if self._bootstrap is None:
            self._bootstrap = shared_embedded_kafka().bootstrap_servers
        return self._bootstrap

    def describe(self) -> str:
        where = mask_url(self._bootstrap) if self._bootstrap else "(embedded, not started)"
        return f"Kafka topic {self.topic!r} at {where}"

    def broker(self) -> str:
        where = mask_url(self._bootstrap) if self._bootstrap else "(not started)"
        return f"the embedded Kafka broker at {where}" if self._embedded else f"Kafka at {where}"

    def gone(self) -> BrokerGone | None:
        broker = self._consumer_on
        death = broker.death if broker is not None else None
        if broker is None or death is None:
            return None
        ago = time.monotonic() - (broker.died_at or time.monotonic())
        return BrokerGone(
            f"The embedded Kafka broker went away {format_duration(ago)} ago: {death}. The "
            f"records on its topics went with it, so the {self.topic!r} topic (alias "
            f"{self.alias!r}) cannot receive this scenario's messages. asyncbdd starts a new "
            "embedded broker, on a new port and with empty topics, for what follows; a "
            "system under test connected to the old address must be given the new one. "
            "Check what ended it: the out-of-memory killer (dmesg), a script or test that "
            "kills processes, a CI time limit.",
            at=broker.died_at,
        )

    def longest_call(self) -> float:
        # Opening: version check and partition lookup; reading: a probe after the poll.
        return 2 * self._timeout_ms() / 1000 + PROBE_WAIT

    def open(self) -> None:
        with self._lock:  # a consumer left from a broker that died, or an earlier open
            stale, self._consumer, self._consumer_on = self._consumer, None, None
        if stale is not None:
            try:
                stale.close()
            except (KafkaError, OSError) as error:
                self._report_close_problem(f"its consumer: {error!r}")
        broker = self._embedded_broker()
        consumer = self._connect(
            KafkaConsumer,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            client_id=f"asyncbdd-{self.alias}",
        )
        self._consumer, self._consumer_on = consumer, broker
        self._answered_at = time.monotonic()
        self._assign(start_at_end=True, seconds=self._timeout_ms() / 1000)

    def receive(self, wait: float) -> list[Message]:
        gone = self.gone()
        if gone is not None:
            raise gone
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
        if batches:
            self._answered_at = received
        else:
            self._check_answers(consumer, received)
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
        headers = [(name, value.encode()) for name, value in attributes.items()]
        for first_try in (True, False):
            producer, broker = self._current_producer()
            try:
                producer.send(
                    self.topic,
                    value=body.encode(),
                    key=None if key is None else key.encode(),
                    headers=headers,
                ).get(timeout=self._timeout_ms() / 1000)
                return
            except KafkaError as error:
                if first_try and broker is not None and broker.death is not None:
                    continue  # the embedded broker died under it: send to the new one
                raise self._unavailable("publish to", error) from None

    def _current_producer(self) -> tuple[KafkaProducer, EmbeddedKafka | None]:
        """The producer, made afresh if there is none or its embedded broker died, and the
        embedded broker it talks to."""
        stale = None
        with self._lock:
            if self._producer_on is not None and self._producer_on.death is not None:
                stale, self._producer = self._producer, None  # connect to the new broker
            if self._producer is None:
                broker = self._embedded_broker()
                self._producer = self._connect(
                    KafkaProducer, linger_ms=0, max_block_ms=self._timeout_ms()
                )
                self._producer_on = broker
            producer, broker = self._producer, self._producer_on
        if stale is not None:
            self._report_close_problem(_close_producer(stale))
        return producer, broker

    def close(self) -> None:
        """Close both clients, within about :data:`CLOSE_WAIT` seconds; never raises: a
        client that does not close cleanly (records it could not deliver) is reported in
        one line on stderr."""
        with self._lock:
            consumer, self._consumer = self._consumer, None
            producer, self._producer = self._producer, None
            self._consumer_on = self._producer_on = None
            if self._embedded:  # the embedded broker may stop with the run: ask again
                self._bootstrap = None
        problems = []
        if consumer is not None:
            try:
                consumer.close()
            except (KafkaError, OSError) as error:
                problems.append(f"its consumer: {error!r}")
        if producer is not None:
            problems.append(_close_producer(producer) or "")
        self._report_close_problem("; ".join(problem for problem in problems if problem))

    def problems(self) -> str | None:
        if self._missing:
            return f"the topic {self.topic!r} does not exist on the cluster (yet)"
        return None

    def _embedded_broker(self) -> EmbeddedKafka | None:
        """The embedded broker a new client connects to (a new one if the last died), and
        its address as the bootstrap servers; ``None`` for a configured cluster."""
        if not self._embedded:
            return None
        broker = shared_embedded_kafka()
        self._bootstrap = broker.bootstrap_servers
        return broker

    def _check_answers(self, consumer: KafkaConsumer, now: float) -> None:
        """Raise :class:`BrokerGone` or :class:`BrokerUnreachable` if the cluster went
        away or stopped answering; ask it (at most every :data:`PROBE_EVERY` seconds)."""
        gone = self.gone()
        if gone is not None:
            raise gone
        if now - self._answered_at < PROBE_EVERY:
            return
        if _answers(consumer, PROBE_WAIT):
            self._answered_at = time.monotonic()
            return
        gone = self.gone()  # it may have died while we asked
        if gone is not None:
            raise gone
        raise self._unanswered(f"no answer to a metadata request within {PROBE_WAIT:g} s")

    def _unanswered(self, reason: str) -> BrokerUnreachable:
        return BrokerUnreachable(
            f"{self.broker()} did not answer ({reason}) while reading the "
            f"{self.topic!r} topic (alias {self.alias!r}). Check that the cluster runs and "
            "is not stopped or overloaded, and that asyncbdd.kafka.bootstrap_servers is right; "
            "asyncbdd.connect_timeout bounds how long to try.",
            broker=self.broker(),
            reason=reason,
            since=self._answered_at,
        )

    def _report_close_problem(self, problem: str | None) -> None:
        if problem:
            report_problem(
                f"closing the clients of the Kafka topic {self.topic!r} (alias "
                f"{self.alias!r}) at {self.broker()} did not go cleanly: "
                f"{mask_urls_in(problem)}"
            )

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
                if consumer.position(partition, timeout_ms=self._timeout_ms()) is None:
                    raise self._unanswered(
                        f"no offsets for partition {partition.partition} within "
                        f"{self._timeout_ms() / 1000:g} s"
                    )
            self._answered_at = time.monotonic()
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
        for name, value in broker_version_config(self.bootstrap_servers).items():
            options.setdefault(name, value)  # the embedded broker's fixed protocol version
        try:
            return client(
                **{
                    **connect_timeout_config(client, self._timeout_ms()),
                    "request_timeout_ms": max(self._timeout_ms(), 1000) + 1000,
                    **options,  # may tune those defaults, not what reading depends on:
                    **config,
                    "bootstrap_servers": self.bootstrap_servers.split(","),
                }
            )
        except NO_BROKER_ANSWERED:
            raise QueueUnavailable(
                f"No Kafka broker answered at {mask_url(self.bootstrap_servers)} within "
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
            f"{mask_url(self.bootstrap_servers)}: {mask_urls_in(repr(error))}. Check that the "
            "cluster runs and that asyncbdd.kafka.bootstrap_servers and asyncbdd.kafka.options "
            "are right."
        )


register_transport(
    Transport(
        scheme="kafka",
        build=KafkaTopic,
        forms="kafka:TOPIC",
        describes="a Kafka topic, on the embedded broker or the bootstrap servers set",
        options={
            "bootstrap_servers": Option(
                None,
                "host:port[,host:port] of a Kafka cluster; unset: the embedded mock broker",
                optional_text,
            ),
            "options": Option(
                {},
                "kafka-python client options (security_protocol = SASL_SSL, "
                "sasl_mechanism = PLAIN, ...)",
                client_options,
                told_secret_names=True,
            ),
        },
        extra="kafka",
        embedded=lambda settings, aliases: ("Kafka broker", _would_start(settings, aliases)),
        module=__name__,
    )
)


def _would_start(settings: Settings, aliases: Sequence[str]) -> str:
    """Whether a run using the Kafka ``aliases`` would start the embedded broker, and why."""
    if not aliases:
        return "not needed: no alias in asyncbdd.queues names a Kafka topic"
    servers = kafka_settings(settings).bootstrap_servers
    if servers:
        servers = mask_url(servers, extra_names=settings.secrets_names)
        return f"not started: asyncbdd.kafka.bootstrap_servers is {servers}"
    return f"starts (librdkafka's mock cluster) on first use of {', '.join(aliases)}"


def _answers(consumer: KafkaConsumer, seconds: float) -> bool:
    """Whether the cluster answers a metadata request within ``seconds``."""
    return wait_for_answer(consumer, consumer._client.cluster.request_update(), seconds)


def _close_producer(producer: KafkaProducer) -> str | None:
    """Close ``producer`` within about 2 x :data:`CLOSE_WAIT` seconds; say what went wrong.

    kafka-python's ``close`` first waits for the records still being sent and raises
    ``KafkaTimeoutError`` when they cannot be (the broker is gone), leaving its I/O thread
    running; forcing that thread to give up fails those records, and then it closes.
    """
    try:
        producer.close(timeout=CLOSE_WAIT)
        return None
    except KafkaError as error:
        first = error
    sender = getattr(producer, "_sender", None)  # kafka-python's I/O thread
    if sender is not None:
        sender.force_close()
    try:
        producer.close(timeout=CLOSE_WAIT)
    except KafkaError as error:
        return f"its producer did not close ({first!r}, then {error!r})"
    return f"its producer dropped records it could not deliver ({first!r})"


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
            wait_for_answer(consumer, cluster.request_update(), seconds)
        finally:
            cluster.need_all_topic_metadata = every_topic
        partitions = cluster.partitions_for_topic(topic)
    return set(partitions or ())
