"""MQTT topics (``mqtt:TOPIC``, wildcards ``+`` and ``#``) on the broker of
``ASYNCBDD_TEST_MQTT_URL`` (default the local Mosquitto).

Each test uses topics of its own (``uid``) and clears the retained messages it left. Where
the broker is not reachable the tests are skipped, except under CI (``CI=true``), where
they fail. Outages are played by a proxy in front of the broker, never by stopping it;
refused credentials by a Mosquitto of the test's own, started with a password file.
"""

from __future__ import annotations

import contextlib
import gc
import getpass
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as paho
import psutil
import pytest
from demo_features import Outcome, failed, read_report
from doubles import FaultyProxy, wait_for_listener
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import ConfigurationError, InvalidInput, WaitTimeout
from asyncbdd.queues import (
    BrokerUnreachable,
    MessageMatcher,
    QueueUnavailable,
    close_readers,
    expect_messages,
    expect_no_messages,
    inbox,
    send_message,
)
from asyncbdd.queues.aliases import queue_named
from asyncbdd.queues.base import Correlation
from asyncbdd.queues.mqtt import MqttTopic
from asyncbdd.queues.transports import transport_options

Configure = Callable[..., Settings]

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
CONNECT_TIMEOUT = 1.0
FEATURES = Path(__file__).resolve().parents[1] / "features" / "mqtt"


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    """The test broker's URL, once it accepted a connection within 3 s; else skip (fail
    under CI, where a silently skipped broker would hide a broken build)."""
    url = os.environ.get("ASYNCBDD_TEST_MQTT_URL", DEFAULT_MQTT_URL)
    try:
        Raw(url).close()
    except (OSError, AssertionError) as error:
        message = f"MQTT broker at {url} is not reachable within 3 s ({error}); start it, or "
        message += "point ASYNCBDD_TEST_MQTT_URL at a broker."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


class Raw:
    """A plain paho client (MQTT 5) of the test broker, bypassing asyncbdd."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.connect_timeout = 3
        self.received: queue.Queue[paho.MQTTMessage] = queue.Queue()
        self.client.on_message = lambda _client, _data, message: self.received.put(message)
        connected = threading.Event()
        self.client.on_connect = lambda *_: connected.set()
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()
        assert connected.wait(3), "no CONNACK within 3 s"
        self.retained: set[str] = set()

    def publish(
        self,
        topic: str,
        body: str,
        *,
        properties: dict[str, str] | None = None,
        correlation_data: str | None = None,
        retain: bool = False,
    ) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        extra = Properties(PacketTypes.PUBLISH)
        if properties:
            extra.UserProperty = list(properties.items())
        if correlation_data is not None:
            extra.CorrelationData = correlation_data.encode()
        if retain:
            self.retained.add(topic)
        info = self.client.publish(topic, body, qos=1, retain=retain, properties=extra)
        info.wait_for_publish(3)
        assert info.is_published()

    def subscribe(self, topic: str) -> None:
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(3), "no SUBACK within 3 s"

    def close(self) -> None:
        """Clear the retained messages this client left, then disconnect."""
        for topic in self.retained:
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(3)
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def raw(mqtt_url: str) -> Iterator[Raw]:
    """A plain client of the test broker; closed (its retained messages cleared) after the
    test, once the test's readers stopped."""
    client = Raw(mqtt_url)
    yield client
    close_readers()
    client.close()


def use(
    configure: Configure, url: str, settings: dict[str, str] | None = None, **topics: str
) -> None:
    """Aliases ``alias = mqtt:TARGET`` on the broker at ``url``, short timeouts, and
    ``settings`` (names without the ``asyncbdd.`` prefix)."""
    configure(
        {alias: f"mqtt:{target}" for alias, target in topics.items()},
        mqtt_url=url,
        connect_timeout=str(CONNECT_TIMEOUT),
        **(settings or {}),
    )


# --------------------------------------------------------------------------------------
# Reading and sending
# --------------------------------------------------------------------------------------


def test_a_wildcard_topic_counts_the_scenarios_messages_and_lists_the_others(
    configure: Configure, mqtt_url: str, raw: Raw, uid: str
) -> None:
    """Messages on topics the filter matches count when their correlation_id user property
    is the scenario's; another's are listed; user properties become attributes."""
    use(configure, mqtt_url, orders=f"shop-{uid}/+/created")
    assert isinstance(queue_named("orders"), MqttTopic)
    with asyncbdd.scenario("ours") as scenario:
        raw.publish(
            f"shop-{uid}/1/created",
            '{"order_id": "ord-1"}',
            properties={"correlation_id": "someone-else"},
        )
        raw.publish(
            f"shop-{uid}/2/created",
            '{"order_id": "ord-2"}',
            properties={"correlation_id": scenario.correlation_id, "source": "web"},
        )
        raw.publish(
            f"shop-{uid}/3/updated", "{}", properties={"correlation_id": scenario.correlation_id}
        )
        [message] = expect_messages("orders", 1)
        with pytest.raises(WaitTimeout) as failed:
            expect_messages("orders", 2, timeout=0.3)
    assert message.json == {"order_id": "ord-2"}
    assert message.attributes == {"correlation_id": scenario.correlation_id, "source": "web"}
    assert message.message_id.startswith(f"shop-{uid}/2/created#")
    report = str(failed.value)
    assert 'the "orders" topic' in report
    assert f"MQTT topic 'shop-{uid}/+/created' at {mqtt_url}" in report
    assert "belongs to another scenario or run" in report
    assert '"ord-1"' in report


def test_correlation_data_carries_the_id_when_no_user_property_does(
    configure: Configure, mqtt_url: str, raw: Raw, uid: str
) -> None:
    """MQTT 5's CorrelationData names the scenario when the user property is absent; where
    both are there, the user property wins."""
    use(configure, mqtt_url, replies=f"replies-{uid}/#")
    with asyncbdd.scenario("correlation data") as scenario:
        raw.publish(f"replies-{uid}/a", '{"n": 1}', correlation_data=scenario.correlation_id)
        raw.publish(
            f"replies-{uid}/b",
            '{"n": 2}',
            properties={"correlation_id": "someone-else"},
            correlation_data=scenario.correlation_id,
        )
        [message] = expect_messages("replies", 1)  # exactly: the second is not
    assert message.json == {"n": 1}
    assert message.correlation_id == scenario.correlation_id


def test_sending_publishes_with_user_properties_and_correlation_data_at_qos_1(
    configure: Configure, mqtt_url: str, raw: Raw, uid: str
) -> None:
    """send_message publishes once the broker acknowledged it: attributes and the
    correlation id as user properties, the id as CorrelationData too, at QoS 1 by default
    and at the QoS the alias names; a content table matches what came back."""
    topic = f"sent-{uid}"
    raw.subscribe(topic)
    use(configure, mqtt_url, sent=topic, quiet=f"{topic}?qos=0")
    with asyncbdd.scenario("send") as scenario:
        send_message("sent", {"order_id": "ord-7", "amount": 9.5}, attributes={"source": "web"})
        expect_messages(
            "sent", 1, where=MessageMatcher(fields={"order_id": "ord-7", "amount": 9.5})
        )
        send_message("quiet", {"order_id": "ord-8"})
        with pytest.raises(InvalidInput, match="no key"):
            send_message("sent", {"order_id": "ord-9"}, key="ord-9")
    first, second = raw.received.get(timeout=3), raw.received.get(timeout=3)
    assert first.payload == b'{"order_id": "ord-7", "amount": 9.5}'
    assert first.qos == 1
    assert first.retain is False
    assert dict(first.properties.UserProperty) == {
        "correlation_id": scenario.correlation_id,
        "source": "web",
    }
    assert first.properties.CorrelationData == scenario.correlation_id.encode()
    assert second.qos == 0
    assert transport_options("mqtt")["qos"] == 1


def test_a_body_field_correlation_works_with_mqtt_3_1_1(
    configure: Configure, mqtt_url: str, raw: Raw, uid: str
) -> None:
    """With asyncbdd.mqtt.protocol = 3.1.1 (no properties), the id is a field of the JSON
    body; a correlation id in an attribute is refused at once, saying what to write."""
    use(configure, mqtt_url, {"mqtt_protocol": "3.1.1"}, old=f"old-{uid}")
    with pytest.raises(ConfigurationError) as refused:
        queue_named("old")
    assert "MQTT 3.1.1 messages carry no properties" in str(refused.value)
    assert "asyncbdd.mqtt.correlation = field:correlation_id" in str(refused.value)
    settings = {"mqtt_protocol": "3.1.1", "mqtt_correlation": "field:meta.cid"}
    use(configure, mqtt_url, settings, old=f"old-{uid}")
    with asyncbdd.scenario("3.1.1") as scenario:
        raw.publish(f"old-{uid}", '{"n": 1, "meta": {"cid": "someone-else"}}')
        send_message("old", {"n": 2})
        [message] = expect_messages("old", 1)
        with pytest.raises(InvalidInput, match="carry a body only"):
            send_message("old", {"n": 3}, attributes={"source": "web"})
    assert message.json == {"n": 2, "meta": {"cid": scenario.correlation_id}}


def test_a_retained_message_counts_only_with_the_scenarios_id_and_only_once(
    configure: Configure, mqtt_url: str, raw: Raw, uid: str
) -> None:
    """The broker's retained messages, handed over on subscribing, were published before
    it: one carrying no id or another's is not counted (not even with correlation off),
    one carrying the scenario's id is, and it stays retained on the broker."""
    topic = f"state-{uid}"
    raw.publish(f"{topic}/a", '{"old": true}', retain=True)
    configure({"state": f"mqtt:{topic}/#"}, mqtt_url=mqtt_url, queues_correlation="off")
    with asyncbdd.scenario("correlation off"):
        expect_no_messages("state", during=0.2)
        assert "1 retained message" in (queue_named("state").problems() or "")
    close_readers()

    own = MqttTopic("state", f"{topic}/#", correlation=Correlation("attribute:correlation_id"))
    raw.publish(f"{topic}/b", '{"ours": true}', properties={"correlation_id": "cid-1"}, retain=True)
    own.open()
    try:
        [message] = _receive_all(own, 1)
        assert message.json == {"ours": True}
        assert message.correlation_id == "cid-1"
    finally:
        own.close()
    raw.subscribe(f"{topic}/#")  # never cleared: a new subscriber still gets both
    retained = {raw.received.get(timeout=3).payload, raw.received.get(timeout=3).payload}
    assert retained == {b'{"old": true}', b'{"ours": true}'}


def _receive_all(topic: MqttTopic, count: int) -> list[asyncbdd.queues.Message]:
    messages: list[asyncbdd.queues.Message] = []
    until = time.monotonic() + 3
    while len(messages) < count and time.monotonic() < until:
        messages += topic.receive(until - time.monotonic())
    return messages


# --------------------------------------------------------------------------------------
# Bad input and outages
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("orders/#/x", "'#' may only be the last level"),
        ("orders/a+b", "'+' must be a whole level"),
        ("$share/workers/orders", "shared subscription"),
        ("orders?qos=2", "qos=0 or qos=1"),
        ("orders?retain=1", "unknown option 'retain'"),
        ("?qos=1", "it names no topic"),
    ],
)
def test_a_malformed_alias_is_a_configuration_error(
    configure: Configure, mqtt_url: str, target: str, says: str
) -> None:
    configure({"x": f"mqtt:{target}"}, mqtt_url=mqtt_url)
    with pytest.raises(ConfigurationError) as raised:
        queue_named("x")
    assert says in str(raised.value)


def test_a_malformed_url_or_setting_is_a_configuration_error(
    configure: Configure, uid: str
) -> None:
    configure({"x": f"mqtt:x-{uid}"}, mqtt_url="http://user:hunter2@host:1883")
    with pytest.raises(ConfigurationError) as raised:
        queue_named("x")
    assert "asyncbdd.mqtt.url = 'http://user:***@host:1883' is invalid" in str(raised.value)
    assert "mqtt://[user:password@]host:port" in str(raised.value)
    configure({"x": f"mqtt:x-{uid}"}, mqtt_protocol="4")
    with pytest.raises(ConfigurationError, match=r"write 5 or 3\.1\.1"):
        queue_named("x")


def test_sending_to_a_wildcard_filter_is_refused(
    configure: Configure, mqtt_url: str, uid: str
) -> None:
    use(configure, mqtt_url, many=f"many-{uid}/+")
    with asyncbdd.scenario("wildcard send"), pytest.raises(InvalidInput) as raised:
        send_message("many", {"n": 1})
    assert "cannot be published to" in str(raised.value)


def test_a_broker_that_is_down_fails_the_first_step_within_the_connect_timeout(
    configure: Configure, uid: str
) -> None:
    """Nothing listens: the step fails at once, naming the alias, the broker with its
    password masked, and the fix."""
    with FaultyProxy(("127.0.0.1", 1)) as proxy:
        proxy.kill()
        use(configure, f"mqtt://user:hunter2@127.0.0.1:{proxy.port}", down=f"down-{uid}/x")
        started = time.monotonic()
        with asyncbdd.scenario("down"), pytest.raises(QueueUnavailable) as raised:
            expect_messages("down", 1, timeout=5)
        elapsed = time.monotonic() - started
    message = str(raised.value)
    assert isinstance(raised.value, BrokerUnreachable)
    assert "(alias 'down')" in message
    assert f"MQTT broker at mqtt://user:***@127.0.0.1:{proxy.port} did not answer" in message
    assert "connection refused" in message
    assert "hunter2" not in message
    assert "asyncbdd.mqtt.url" in message
    assert elapsed < CONNECT_TIMEOUT + 1.0, f"took {elapsed:.2f} s"


def test_a_broker_that_accepts_but_never_answers_fails_within_the_connect_timeout(
    configure: Configure, mqtt_url: str, uid: str
) -> None:
    parts = urlsplit(mqtt_url)
    with FaultyProxy((parts.hostname or "127.0.0.1", parts.port or 1883)) as proxy:
        proxy.black_hole()
        use(configure, f"mqtt://127.0.0.1:{proxy.port}", hung=f"hung-{uid}")
        with asyncbdd.scenario("hung"):
            started = time.monotonic()  # the scenario's start tried once already
            with pytest.raises(BrokerUnreachable) as raised:
                expect_messages("hung", 1, timeout=5)
            elapsed = time.monotonic() - started
        proxy.heal()
    assert f"no CONNACK within {CONNECT_TIMEOUT:g} s" in str(raised.value)
    assert elapsed < CONNECT_TIMEOUT + 1.0, f"took {elapsed:.2f} s"


def test_a_broker_that_speaks_no_mqtt_5_is_named_with_the_fix(
    configure: Configure, uid: str
) -> None:
    """A broker that answers an MQTT 5 CONNECT the 3.1.1 way (unacceptable protocol
    version) and hangs up: the error says so and names the protocol setting."""
    with _OldBroker() as port:
        use(configure, f"mqtt://127.0.0.1:{port}", old=f"old-{uid}")
        with asyncbdd.scenario("old broker"), pytest.raises(QueueUnavailable) as raised:
            expect_messages("old", 1, timeout=5)
    message = str(raised.value)
    assert "MQTT 5" in message
    assert "asyncbdd.mqtt.protocol = 3.1.1" in message


class _OldBroker:
    """A listener that answers every CONNECT with a 3.1.1 CONNACK refusing the protocol
    version, then closes the connection."""

    def __enter__(self) -> int:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return int(self._listener.getsockname()[1])

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed: the test is over
            with connection:
                connection.recv(1024)
                connection.sendall(b"\x20\x02\x00\x01")

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self._listener.close()
        self._thread.join(5)


@pytest.fixture(scope="module")
def locked_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Mosquitto of its own that admits only user ``tester`` (password ``right``): the
    URL without credentials. Skipped where no mosquitto is installed (failing under CI)."""
    mosquitto = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    passwd = shutil.which("mosquitto_passwd")
    if mosquitto is None or passwd is None:
        message = "mosquitto and mosquitto_passwd are needed to play refused credentials"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    directory = tmp_path_factory.mktemp("mosquitto")
    subprocess.run(
        [passwd, "-b", "-c", str(directory / "passwords"), "tester", "right"], check=True
    )
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    (directory / "mosquitto.conf").write_text(  # as root, it would switch to mosquitto
        f"listener {port} 127.0.0.1\nallow_anonymous false\nuser {getpass.getuser()}\n"
        f"password_file {directory / 'passwords'}\npersistence false\n"
    )
    broker = subprocess.Popen(
        [mosquitto, "-c", str(directory / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_listener(port, broker)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        broker.terminate()
        broker.wait(5)


def test_wrong_credentials_are_named_without_the_password(
    configure: Configure, locked_broker: str, uid: str
) -> None:
    host = urlsplit(locked_broker).netloc
    use(configure, f"mqtt://tester:hunter2@{host}", locked=f"locked-{uid}")
    with asyncbdd.scenario("credentials"), pytest.raises(QueueUnavailable) as raised:
        expect_messages("locked", 1, timeout=1)
    message = str(raised.value)
    assert "refused the credentials" in message
    assert "Check the user and password in asyncbdd.mqtt.url" in message
    assert f"mqtt://tester:***@{host}" in message
    assert "hunter2" not in message
    assert not isinstance(raised.value, BrokerUnreachable)
    use(configure, f"mqtt://tester:right@{host}", locked=f"locked-{uid}")
    with asyncbdd.scenario("right credentials"):
        send_message("locked", {"n": 1})
        expect_messages("locked", 1)
    close_readers()


def test_a_broker_lost_during_a_wait_is_named_and_the_next_scenario_reads_again(
    configure: Configure, mqtt_url: str, raw: Raw, uid: str
) -> None:
    """A broker that goes away mid-run fails the wait saying so, and that what was
    published meanwhile is lost; once it is back, the next scenario receives its
    messages, and a retained message already received is not counted again."""
    parts = urlsplit(mqtt_url)
    topic = f"flaky-{uid}"
    with FaultyProxy((parts.hostname or "127.0.0.1", parts.port or 1883)) as proxy:
        use(configure, f"mqtt://127.0.0.1:{proxy.port}", flaky=topic)
        with asyncbdd.scenario("healthy"):
            send_message("flaky", {"n": 1})
            expect_messages("flaky", 1)
        with asyncbdd.scenario("lost") as scenario:
            raw.publish(
                topic,
                '{"n": 2}',
                properties={"correlation_id": scenario.correlation_id},
                retain=True,
            )
            expect_messages("flaky", 1)
            proxy.kill()
            with pytest.raises(WaitTimeout) as raised:
                expect_messages("flaky", 2, timeout=1.5)
            assert f"MQTT broker at mqtt://127.0.0.1:{proxy.port} did not answer" in str(
                raised.value
            )
            proxy.revive()
            box = inbox()
            while not box.wait(lambda: len(box.messages["flaky"]) > 1, 0.2):
                send_message("flaky", {"n": 3})  # lost until the reader subscribed again
            received = expect_messages("flaky", 2, exactly=False)
        # the retained message, handed over again on subscribing again, is not counted twice
        assert [message.json["n"] for message in received] == [2] + [3] * (len(received) - 1)
        assert "the connection was lost for " in (queue_named("flaky").problems() or "")
        close_readers()


def test_closing_stops_every_client_thread(configure: Configure, mqtt_url: str, uid: str) -> None:
    """The reader's and the publisher's network threads end, and their sockets close,
    when the readers close (not at some later garbage collection)."""
    close_readers()
    gc.collect()  # what earlier tests left for the collector
    process = psutil.Process()
    before = _paho_threads(), process.num_fds()
    use(configure, mqtt_url, threads=f"threads-{uid}")
    with asyncbdd.scenario("threads"):
        send_message("threads", {"n": 1})
        expect_messages("threads", 1)
        assert _paho_threads() == before[0] + 2
    close_readers()
    assert (_paho_threads(), process.num_fds()) == before


def _paho_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name.startswith("paho-mqtt"))


# --------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------


def test_the_mqtt_features_pass_and_the_must_fail_ones_fail_saying_why(
    tmp_path: Path, mqtt_url: str, uid: str
) -> None:
    """behave runs the library's phrases against topics and filters of the broker: the
    features pass; the must-fail ones fail, listing what arrived."""
    prefix = f"asyncbdd-features-{uid}"
    queues = {
        "orders": f"{prefix}/orders",
        "created": f"{prefix}/shop/1/created",
        "all-created": f"{prefix}/shop/+/created",
        "shop": f"{prefix}/shop/#",
    }
    defines = {
        "asyncbdd.queues": "\n".join(f"{alias} = mqtt:{topic}" for alias, topic in queues.items()),
        "asyncbdd.mqtt.url": mqtt_url,
        "asyncbdd.grace": "0.2 seconds",
    }
    passing = _behave(tmp_path / "passing", "features/mqtt_topics.feature", defines)
    assert len(passing) == 3
    assert failed(passing) == set(), {name: passing[name].report for name in failed(passing)}
    failing = _behave(tmp_path / "failing", "features/must_fail.feature", defines)
    assert len(failing) == 2
    assert failed(failing) == set(failing)
    count = failing["One message fails a count of two"].report
    assert 'the "orders" topic received 1 of 2' in count
    assert f"MQTT topic '{prefix}/orders' at {mqtt_url}" in count
    assert '"ord-3"' in count
    content = failing["A message with other content fails the content table"].report
    assert "order_id" in content
    assert '"ord-4"' in content


def _behave(output: Path, feature: str, defines: dict[str, str]) -> dict[str, Outcome]:
    """Run behave on ``feature`` of the MQTT features in a child process, as CI does."""
    output.mkdir()
    report = output / "report.json"
    arguments = [sys.executable, "-m", "behave", feature, "-f", "json", "-o", str(report)]
    arguments += ["-f", "plain", "--no-timings"]
    for key, value in defines.items():
        arguments += ["-D", f"{key}={value}"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    finished = subprocess.run(
        arguments,
        cwd=FEATURES,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert report.exists(), finished.stdout + finished.stderr
    return read_report(report, finished.stdout)
