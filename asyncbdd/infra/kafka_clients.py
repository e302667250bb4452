"""kafka-python client settings that hold from kafka-python 2.3 to 3.0, and for the mock cluster.

asyncbdd's Kafka clients (the topic readers and writers, the demo's order input) are
kafka-python's ``KafkaConsumer`` and ``KafkaProducer``. Two things differ between the
releases asyncbdd supports:

* the setting that bounds how long a new client waits for a broker to answer is
  ``api_version_auto_timeout_ms`` in 2.x and ``bootstrap_timeout_ms`` in 3.0
  (:func:`connect_timeout_config` names the one the client knows);
* a broker that does not answer makes 2.x's constructor raise ``NoBrokersAvailable`` and
  3.0's ``KafkaTimeoutError`` ("Unable to bootstrap"); 3.0 has no ``NoBrokersAvailable``
  (:data:`NO_BROKER_ANSWERED`);
* a 2.x consumer does its network I/O in the thread that calls it, so waiting for an
  answer means polling its client; a 3.0 consumer has an I/O thread of its own and
  refuses a poll from another thread (:func:`wait_for_answer` waits either way).

And one thing differs between brokers: librdkafka's mock cluster (the embedded broker)
serves ApiVersions up to v2 only, and refuses a higher version with a reply in a form
Kafka brokers do not use (a one-byte array count). kafka-python 2.3 asks with v4, fails
to decode the refusal, logs an error and starts over with v0; kafka-python 3.0 asks with
v4 and gives up, so it never bootstraps. Telling the client the broker speaks
:data:`MOCK_CLUSTER_API_VERSION` (Kafka 2.3) makes 3.0 ask with v2, which the mock cluster
answers, and spares 2.3 the error and the second try. :func:`broker_version_config` sets
it only for an address served by an embedded broker of this process: a real cluster is
asked with the newest version, as kafka-python does by default.
"""

from __future__ import annotations

import threading
from typing import Any

from kafka.errors import KafkaTimeoutError

from asyncbdd.infra.kafka_broker import is_embedded_address

__all__ = [
    "MOCK_CLUSTER_API_VERSION",
    "NO_BROKER_ANSWERED",
    "broker_version_config",
    "connect_timeout_config",
    "wait_for_answer",
]

MOCK_CLUSTER_API_VERSION = (2, 3, 0)
"""The newest Kafka protocol whose ApiVersions request (v2) librdkafka's mock cluster
answers; the cluster itself implements more (it identifies as Kafka 3.7)."""

CONNECT_TIMEOUT_SETTINGS = ("bootstrap_timeout_ms", "api_version_auto_timeout_ms")
"""The name of the connect timeout in kafka-python 3.0, then in 2.x."""


def _no_broker_answered() -> tuple[type[Exception], ...]:
    import kafka.errors  # noqa: PLC0415 (the module, to look up what 2.x alone has)

    no_brokers = getattr(kafka.errors, "NoBrokersAvailable", None)
    return (KafkaTimeoutError,) if no_brokers is None else (no_brokers, KafkaTimeoutError)


NO_BROKER_ANSWERED: tuple[type[Exception], ...] = _no_broker_answered()
"""What a kafka-python client's constructor raises when no broker answered in time."""


def connect_timeout_config(client: Any, timeout_ms: int) -> dict[str, int]:
    """``{name: timeout_ms}`` under the connect-timeout name the ``client`` class knows
    (``KafkaConsumer`` or ``KafkaProducer`` of any supported kafka-python)."""
    known = client.DEFAULT_CONFIG
    for name in CONNECT_TIMEOUT_SETTINGS:
        if name in known:
            return {name: timeout_ms}
    return {}


def broker_version_config(bootstrap_servers: str) -> dict[str, tuple[int, ...]]:
    """``{"api_version": MOCK_CLUSTER_API_VERSION}`` when ``bootstrap_servers`` is served
    by an embedded broker this process started; ``{}`` (negotiate) for any other cluster."""
    if is_embedded_address(bootstrap_servers):
        return {"api_version": MOCK_CLUSTER_API_VERSION}
    return {}


def wait_for_answer(consumer: Any, future: Any, seconds: float) -> bool:
    """Wait at most ``seconds`` for ``future``, a request of ``consumer``'s client (such as
    ``cluster.request_update()``), and return whether it succeeded in time."""
    if getattr(consumer, "_net", None) is None:  # 2.x: drive the client from this thread
        consumer._client.poll(timeout_ms=int(seconds * 1000), future=future)
    else:  # 3.0: the consumer's I/O thread completes the future
        answered = threading.Event()
        future.add_both(lambda _: answered.set())
        answered.wait(seconds)
    return bool(future.is_done and future.succeeded())
