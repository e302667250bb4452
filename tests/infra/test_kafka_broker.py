"""Tests of the embedded Kafka broker (librdkafka's mock cluster in a child process),
driven with kafka-python, the client asyncbdd's own Kafka code uses."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "confluent_kafka", reason="the embedded Kafka broker needs confluent-kafka (pip install it)"
)
kafka = pytest.importorskip("kafka", reason="these tests drive the broker with kafka-python")

from asyncbdd.infra import kafka_broker  # noqa: E402
from asyncbdd.infra.kafka_broker import (  # noqa: E402
    BOOTSTRAP_SERVERS_VARIABLE,
    EmbeddedKafka,
    EmbeddedKafkaError,
)
from asyncbdd.infra.kafka_clients import MOCK_CLUSTER_API_VERSION  # noqa: E402

DEADLINE = 5.0  # seconds any single wait in these tests may take before failing


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedKafka]:
    """One embedded broker shared by the module's tests."""
    with EmbeddedKafka() as started:
        yield started


@pytest.fixture
def topic() -> str:
    """A topic name no other test uses (the broker creates it on first produce)."""
    return f"test-{uuid.uuid4().hex[:12]}"


def make_producer(bootstrap_servers: str) -> Any:
    return kafka.KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        api_version=MOCK_CLUSTER_API_VERSION,
        key_serializer=str.encode,
        value_serializer=lambda value: json.dumps(value).encode(),
        linger_ms=0,
    )


def make_consumer(bootstrap_servers: str) -> Any:
    return kafka.KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        api_version=MOCK_CLUSTER_API_VERSION,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
        value_deserializer=json.loads,
    )


def assign_at_end(consumer: Any, topic: str) -> dict[Any, int]:
    """Assign every partition of ``topic`` and seek to its current end; return the ends."""
    partitions = [kafka.TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    ends: dict[Any, int] = consumer.end_offsets(partitions)
    for partition, offset in ends.items():
        consumer.seek(partition, offset)
    return ends


def poll_records(consumer: Any, count: int) -> list[Any]:
    """Poll until ``count`` records arrived or the deadline passed; return what arrived."""
    records: list[Any] = []
    deadline = time.monotonic() + DEADLINE
    while len(records) < count and (left := deadline - time.monotonic()) > 0:
        for batch in consumer.poll(timeout_ms=int(left * 1000) + 1).values():
            records.extend(batch)
    return records


def test_broker_starts_fast_on_loopback(broker: EmbeddedKafka) -> None:
    """The broker reports a 127.0.0.1 address, well within the 1 s cold-start target."""
    host, _, port = broker.bootstrap_servers.rpartition(":")
    assert host == "127.0.0.1"
    assert port.isdigit()
    assert broker.running
    assert broker.startup_seconds is not None
    assert broker.startup_seconds < 1.0


def test_assign_and_seek_reads_exactly_new_records(broker: EmbeddedKafka, topic: str) -> None:
    """A consumer positioned at end offsets recorded before producing reads only the new
    records, with their JSON values, keys and headers, and end offsets count them."""
    producer = make_producer(broker.bootstrap_servers)
    consumer = make_consumer(broker.bootstrap_servers)
    try:
        producer.send(topic, {"old": True}, key="order-1").get(timeout=DEADLINE)
        assert producer.partitions_for(topic) == {0, 1, 2, 3}  # auto-created, 4 partitions
        before = assign_at_end(consumer, topic)
        assert sum(before.values()) == 1
        for number in range(3):
            producer.send(
                topic,
                {"order_id": "ord-1", "number": number},
                key="order-1",
                headers=[("correlation_id", b"cid-1")],
            ).get(timeout=DEADLINE)
        records = poll_records(consumer, 3)
        assert [r.value for r in records] == [{"order_id": "ord-1", "number": n} for n in range(3)]
        assert {r.key for r in records} == {b"order-1"}
        assert all(r.headers == [("correlation_id", b"cid-1")] for r in records)
        assert consumer.poll(timeout_ms=50) == {}
        after = consumer.end_offsets(list(before))
        assert sum(after.values()) - sum(before.values()) == 3
    finally:
        producer.close()
        consumer.close()


def test_short_fetch_wait_gives_low_latency(broker: EmbeddedKafka, topic: str) -> None:
    """With fetch_max_wait_ms=10 a waiting consumer sees a new record far sooner than the
    500 ms default fetch wait would allow."""
    producer = make_producer(broker.bootstrap_servers)
    consumer = make_consumer(broker.bootstrap_servers)
    try:
        producer.send(topic, {"warm": "up"}, key="k").get(timeout=DEADLINE)
        assign_at_end(consumer, topic)
        # This poll leaves a fetch in flight, which the broker holds for fetch_max_wait_ms;
        # with the 500 ms default the record below arrives about 450 ms late (checked).
        assert consumer.poll(timeout_ms=50) == {}
        sent = time.perf_counter()
        producer.send(topic, {"n": 1}, key="k").get(timeout=DEADLINE)
        records = poll_records(consumer, 1)
        latency = time.perf_counter() - sent
        assert [r.value for r in records] == [{"n": 1}]
        assert latency < 0.25, f"produce-to-consume took {latency * 1000:.0f} ms"
    finally:
        producer.close()
        consumer.close()


def test_another_process_shares_the_broker(broker: EmbeddedKafka, topic: str) -> None:
    """A separate process, told the address through the environment, produces to the same
    broker as this process, and a consumer here sees both producers' records."""
    producer = make_producer(broker.bootstrap_servers)
    consumer = make_consumer(broker.bootstrap_servers)
    script = textwrap.dedent(
        f"""
        import json, os, sys
        from kafka import KafkaProducer
        producer = KafkaProducer(
            bootstrap_servers=os.environ[{BOOTSTRAP_SERVERS_VARIABLE!r}],
            api_version={MOCK_CLUSTER_API_VERSION!r},
        )
        producer.send(sys.argv[1], json.dumps({{"from": "child"}}).encode(), key=b"k").get(5)
        producer.close()
        """
    )
    try:
        producer.send(topic, {"from": "parent"}, key="k").get(timeout=DEADLINE)
        assign_at_end(consumer, topic)
        producer.send(topic, {"from": "parent"}, key="k").get(timeout=DEADLINE)
        environment = {**os.environ, BOOTSTRAP_SERVERS_VARIABLE: broker.bootstrap_servers}
        subprocess.run(
            [sys.executable, "-c", script, topic], env=environment, check=True, timeout=30
        )
        records = poll_records(consumer, 2)
        assert sorted(r.value["from"] for r in records) == ["child", "parent"]
    finally:
        producer.close()
        consumer.close()


def test_starting_twice_is_an_error_and_stopping_twice_is_not() -> None:
    """A second start() names the running broker; stop() is safe to repeat, even before a
    start; a stopped broker has no address and can be started again."""
    kafka_broker_ = EmbeddedKafka()
    with pytest.raises(EmbeddedKafkaError, match="not running; call start"):
        _ = kafka_broker_.bootstrap_servers
    kafka_broker_.stop()
    assert not kafka_broker_.running
    with kafka_broker_, pytest.raises(EmbeddedKafkaError, match=r"already started .*call stop"):
        kafka_broker_.start()
    assert not kafka_broker_.running
    kafka_broker_.stop()
    with pytest.raises(EmbeddedKafkaError, match="not running"):
        _ = kafka_broker_.bootstrap_servers
    assert kafka_broker_.start().startswith("127.0.0.1:")
    kafka_broker_.stop()


def test_child_exits_when_its_stdin_closes() -> None:
    """The child program stops by itself when its parent's pipe closes, so a crashed
    parent leaves no orphaned broker behind."""
    program = Path(kafka_broker.__file__).with_name("_kafka_mock_cluster.py")
    child = subprocess.Popen(
        [sys.executable, str(program)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdout is not None
    assert child.stdin is not None
    try:
        assert child.stdout.readline().startswith(b"127.0.0.1:")
        child.stdin.close()
        assert child.wait(timeout=DEADLINE) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as the interpreter")
def test_child_that_dies_is_reported_with_its_stderr(tmp_path: Path) -> None:
    """A child that exits before reporting an address fails start() with its exit code
    and its stderr."""
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho 'no mock cluster here' >&2\nexit 7\n")
    fake_python.chmod(0o755)
    with pytest.raises(EmbeddedKafkaError) as raised:
        EmbeddedKafka(python=str(fake_python)).start()
    assert "exited with code 7 before reporting its address" in str(raised.value)
    assert "no mock cluster here" in str(raised.value)


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as the interpreter")
def test_silent_child_times_out(tmp_path: Path) -> None:
    """A child that never reports an address fails start() after the startup timeout,
    saying how to allow more time, and is ended."""
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho 'stuck' >&2\nexec sleep 30\n")
    fake_python.chmod(0o755)
    kafka_broker_ = EmbeddedKafka(python=str(fake_python), startup_timeout=0.3)
    began = time.perf_counter()
    with pytest.raises(EmbeddedKafkaError, match=r"within 0.3 s; raise asyncbdd.connect_timeout"):
        kafka_broker_.start()
    assert time.perf_counter() - began < 0.3 + kafka_broker.STOP_TIMEOUT_SECONDS
    assert not kafka_broker_.running


def test_a_killed_broker_says_how_and_when_it_died() -> None:
    """A broker whose process is killed is no longer running, and says which process at
    which address died, of what signal, and when; a new start clears that."""
    with EmbeddedKafka() as kafka_broker_:
        address, pid = kafka_broker_.bootstrap_servers, kafka_broker_.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert kafka_broker_.wait_exit(DEADLINE)
        assert not kafka_broker_.running
        assert kafka_broker_.died_at is not None
        assert kafka_broker_.death is not None
        assert re.fullmatch(
            rf"pid {pid} at {address} was killed by SIGKILL at \d\d:\d\d:\d\d\.\d{{3}}",
            kafka_broker_.death,
        )
        kafka_broker_.stop()  # reaps what is left; the record stays for whoever asks
        assert kafka_broker_.death is not None
        kafka_broker_.start()
        assert (kafka_broker_.running, kafka_broker_.death) == (True, None)


def test_a_broker_that_is_stopped_did_not_die() -> None:
    """Stopping the broker is no death: it has no death to report, and its watcher ends."""
    kafka_broker_ = EmbeddedKafka()
    with kafka_broker_:
        pid = kafka_broker_.pid
    assert kafka_broker_.wait_exit(0)
    assert kafka_broker_.death is None
    assert f"asyncbdd-kafka-watcher-{pid}" not in [t.name for t in threading.enumerate()]


def test_invalid_arguments_name_the_fix() -> None:
    """A broker count or startup timeout that cannot work is rejected with the fix."""
    with pytest.raises(EmbeddedKafkaError, match=r"brokers=0.*at least 1 broker"):
        EmbeddedKafka(brokers=0)
    with pytest.raises(EmbeddedKafkaError, match=r"startup_timeout=0.*above zero"):
        EmbeddedKafka(startup_timeout=0)


def test_shared_broker_is_started_once() -> None:
    """shared_embedded_kafka() starts the run's broker on first use and then returns the
    same running broker."""
    first = kafka_broker.shared_embedded_kafka()
    try:
        assert first.running
        assert kafka_broker.shared_embedded_kafka() is first
    finally:
        first.stop()
    restarted = kafka_broker.shared_embedded_kafka()
    try:
        assert restarted.running
        assert restarted is not first
    finally:
        restarted.stop()
