"""NATS subjects (``nats:subject/SUBJECT``) and JetStream streams
(``nats:stream/STREAM[/FILTER]``) on the server of ``ASYNCBDD_TEST_NATS_URL`` (default the
local nats-server, with JetStream).

Each test uses subjects and streams of its own (``uid``) and deletes the streams it made.
Where the server is not reachable the tests are skipped, except under CI (``CI=true``),
where they fail. Outages are played by a proxy in front of the server, never by stopping
it; refused credentials by a nats-server of the test's own.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import nats
import pytest
from demo_features import assert_diagnostics, failed, run_behave
from doubles import FaultyProxy, wait_for_listener
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import ConfigurationError, InvalidInput, WaitTimeout
from asyncbdd.queues import (
    BrokerUnreachable,
    MessageMatcher,
    QueueNotFound,
    QueueUnavailable,
    close_readers,
    expect_messages,
    send_message,
)
from asyncbdd.queues.aliases import queue_named
from asyncbdd.queues.inbox import reading_trouble
from asyncbdd.queues.nats import NatsStream, NatsSubject
from asyncbdd.queues.transports import transport_options
from asyncbdd.wait import wait_until

Configure = Callable[..., Settings]
T = TypeVar("T")

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
CONNECT_TIMEOUT = 1.0


class Raw:
    """A plain nats-py client of the test server, bypassing asyncbdd, on a loop thread of
    its own; what it subscribes to lands in :attr:`received`."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.received: list[Msg] = []
        self.streams: list[str] = []
        try:
            self.client: Client = self.run(
                nats.connect(url, connect_timeout=3, allow_reconnect=False)  # type: ignore[arg-type]
            )
        except BaseException:
            self._stop()
            raise

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(5)

    def publish(self, subject: str, body: str, headers: dict[str, str] | None = None) -> None:
        async def published() -> None:
            await self.client.publish(subject, body.encode(), headers=headers)
            await self.client.flush(timeout=3)  # type: ignore[arg-type]

        self.run(published())

    def subscribe(self, subject: str) -> None:
        async def arrived(message: Msg) -> None:
            self.received.append(message)

        async def subscribed() -> None:
            await self.client.subscribe(subject, cb=arrived)
            await self.client.flush(timeout=3)  # type: ignore[arg-type]

        self.run(subscribed())

    def add_stream(self, name: str, subjects: list[str], **config: Any) -> None:
        self.streams.append(name)
        self.run(self.client.jetstream().add_stream(name=name, subjects=subjects, **config))

    def js_publish(self, subject: str, body: str, headers: dict[str, str] | None = None) -> int:
        ack = self.run(self.client.jetstream().publish(subject, body.encode(), headers=headers))
        return ack.seq

    def consumers(self, stream: str) -> list[str]:
        infos = self.run(self.client.jetstream().consumers_info(stream))
        return sorted(info.name for info in infos)

    def close(self) -> None:
        for stream in self.streams:
            self.run(self.client.jetstream().delete_stream(stream))
        self.run(self.client.close())
        self._stop()

    def _stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="session")
def nats_url() -> str:
    """The test server's URL, once it accepted a connection within 3 s; else skip (fail
    under CI, where a silently skipped server would hide a broken build)."""
    url = os.environ.get("ASYNCBDD_TEST_NATS_URL", DEFAULT_NATS_URL)
    try:
        Raw(url).close()
    except Exception as error:
        message = f"NATS server at {url} is not reachable within 3 s ({error!r}); start it "
        message += "(nats-server -js), or point ASYNCBDD_TEST_NATS_URL at a server."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def raw(nats_url: str) -> Iterator[Raw]:
    """A plain client of the test server; after the test, once the test's readers
    stopped, it deletes the streams it made."""
    client = Raw(nats_url)
    yield client
    close_readers()
    client.close()


def use(
    configure: Configure, url: str, settings: dict[str, str] | None = None, **targets: str
) -> None:
    """Aliases ``alias = nats:TARGET`` on the server at ``url``, a short connect timeout,
    and ``settings`` (names without the ``asyncbdd.`` prefix)."""
    configure(
        {alias: f"nats:{target}" for alias, target in targets.items()},
        nats_url=url,
        connect_timeout=str(CONNECT_TIMEOUT),
        **(settings or {}),
    )


def _proxy_of(url: str) -> FaultyProxy:
    parts = urlsplit(url)
    return FaultyProxy((parts.hostname or "127.0.0.1", parts.port or 4222))


# --------------------------------------------------------------------------------------
# Subjects
# --------------------------------------------------------------------------------------


def test_a_wildcard_subject_counts_the_scenarios_messages_and_lists_the_others(
    configure: Configure, nats_url: str, raw: Raw, uid: str
) -> None:
    """Messages on subjects the wildcard matches count when their correlation_id header is
    the scenario's; another's are listed; headers become attributes."""
    use(configure, nats_url, orders=f"subject/shop-{uid}.*.created")
    assert isinstance(queue_named("orders"), NatsSubject)
    with asyncbdd.scenario("ours") as scenario:
        ours = {"correlation_id": scenario.correlation_id, "source": "web"}
        raw.publish(f"shop-{uid}.1.created", '{"order_id": "ord-1"}', {"correlation_id": "other"})
        raw.publish(f"shop-{uid}.2.created", '{"order_id": "ord-2"}', ours)
        raw.publish(f"shop-{uid}.3.updated", "{}", ours)
        [message] = expect_messages("orders", 1)
        with pytest.raises(WaitTimeout) as failed_wait:
            expect_messages("orders", 2, timeout=0.3)
    assert message.json == {"order_id": "ord-2"}
    assert message.attributes == ours
    assert message.message_id.startswith(f"shop-{uid}.2.created#")
    report = str(failed_wait.value)
    assert 'the "orders" subject' in report
    assert f"NATS subject 'shop-{uid}.*.created' at {nats_url}" in report
    assert "belongs to another scenario or run" in report
    assert '"ord-1"' in report


def test_sending_publishes_headers_and_the_correlation_id_to_every_subscriber(
    configure: Configure, nats_url: str, raw: Raw, uid: str
) -> None:
    """send_message returns once the server has the message; the service's own
    subscriber gets it too (asyncbdd subscribes in no queue group), headers and all."""
    subject = f"billing-{uid}"
    raw.subscribe(subject)
    use(configure, nats_url, billing=f"subject/{subject}")
    with asyncbdd.scenario("send") as scenario:
        send_message("billing", {"order_id": "ord-1"}, attributes={"source": "test"})
        [message] = expect_messages("billing", 1)
    assert message.attributes == {"correlation_id": scenario.correlation_id, "source": "test"}
    [theirs] = raw.received
    assert theirs.headers == {"correlation_id": scenario.correlation_id, "source": "test"}
    assert theirs.data == b'{"order_id": "ord-1"}'


def test_a_body_field_correlation_sorts_messages_without_headers(
    configure: Configure, nats_url: str, raw: Raw, uid: str
) -> None:
    use(configure, nats_url, {"queues_correlation": "field:meta.cid"}, events=f"subject/ev-{uid}")
    with asyncbdd.scenario("field") as scenario:
        raw.publish(f"ev-{uid}", '{"meta": {"cid": "other"}, "n": 1}')
        ours = json.dumps({"meta": {"cid": scenario.correlation_id}, "n": 2})
        raw.publish(f"ev-{uid}", ours)
        [message] = expect_messages("events", 1, where=MessageMatcher({"n": 2}))
    assert message.correlation_id == scenario.correlation_id


def test_sending_to_a_wildcard_subject_or_with_a_key_is_refused(
    configure: Configure, nats_url: str, uid: str
) -> None:
    use(configure, nats_url, many=f"subject/many-{uid}.>", one=f"subject/one-{uid}")
    with asyncbdd.scenario("wildcard send"):
        with pytest.raises(InvalidInput, match="cannot be published to"):
            send_message("many", {"n": 1})
        with pytest.raises(InvalidInput, match="NATS messages have no key"):
            send_message("one", {"n": 1}, key="k")


# --------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------


def test_a_stream_is_read_from_the_scenario_start_without_touching_the_services_consumer(
    configure: Configure, nats_url: str, raw: Raw, uid: str
) -> None:
    """What the stream held before the reader opened is not counted; the scenario's
    messages are, with the stream sequence and time; the service's durable consumer
    still has every message pending, and asyncbdd's own consumer goes at close."""
    stream = f"ORDERS_{uid}"
    raw.add_stream(stream, [f"orders-{uid}.*"])
    durable = ConsumerConfig(durable_name="service", ack_policy=AckPolicy.EXPLICIT)
    raw.run(raw.client.jetstream().add_consumer(stream, durable))
    use(configure, nats_url, orders=f"stream/{stream}")
    assert isinstance(queue_named("orders"), NatsStream)
    with asyncbdd.scenario("before") as before:
        raw.js_publish(f"orders-{uid}.a", '{"n": 0}', {"correlation_id": before.correlation_id})
    close_readers()  # the reader opens again at the next scenario's start
    with asyncbdd.scenario("stream") as scenario:
        assert raw.consumers(stream) != ["service"]  # asyncbdd's ephemeral one is there
        ours = {"correlation_id": scenario.correlation_id}
        raw.js_publish(f"orders-{uid}.a", '{"n": 0}', {"correlation_id": before.correlation_id})
        raw.js_publish(f"orders-{uid}.a", '{"n": 1}', {"correlation_id": "other"})
        sequence = raw.js_publish(f"orders-{uid}.b", '{"n": 2}', ours)
        [message] = expect_messages("orders", 1)
        with pytest.raises(WaitTimeout) as failed_wait:
            expect_messages("orders", 2, timeout=0.3)
    assert message.json == {"n": 2}
    assert message.message_id == f"{stream}@{sequence}"
    assert message.sent_at is not None
    assert abs(message.sent_at - time.time()) < 60
    assert "left over from an earlier scenario" in str(failed_wait.value)
    assert "belongs to another scenario or run" in str(failed_wait.value)
    service = raw.run(raw.client.jetstream().consumer_info(stream, "service"))
    assert service.num_pending == 4  # nothing taken: every message still waits for it
    assert service.num_ack_pending == 0
    close_readers()
    assert raw.consumers(stream) == ["service"]


def test_a_stream_reader_starts_after_what_the_stream_held(
    configure: Configure, nats_url: str, raw: Raw, uid: str
) -> None:
    """With correlation off every message read counts: one the stream held before the
    reader opened is not read at all."""
    stream = f"OLD_{uid}"
    raw.add_stream(stream, [f"old-{uid}"])
    raw.js_publish(f"old-{uid}", '{"n": 0}')
    use(configure, nats_url, {"queues_correlation": "off"}, old=f"stream/{stream}")
    with asyncbdd.scenario("after"):
        expect_messages("old", 0, timeout=0.1)  # the reader runs
        raw.js_publish(f"old-{uid}", '{"n": 1}')
        [message] = expect_messages("old", 1)
    assert message.json == {"n": 1}


def test_a_filtered_stream_reads_its_subjects_and_sends_acknowledged_by_the_stream(
    configure: Configure, nats_url: str, raw: Raw, uid: str
) -> None:
    stream = f"SHOP_{uid}"
    raw.add_stream(stream, [f"shop-{uid}.>"])
    use(configure, nats_url, created=f"stream/{stream}/shop-{uid}.created", all=f"stream/{stream}")
    with asyncbdd.scenario("filtered") as scenario:
        expect_messages(["created", "all"], 0, timeout=0.1)  # both readers run
        raw.js_publish(f"shop-{uid}.paid", "{}", {"correlation_id": scenario.correlation_id})
        send_message("created", {"order_id": "ord-1"})
        [created] = expect_messages("created", 1)
        assert len(expect_messages("all", 2)) == 2
        with pytest.raises(InvalidInput, match=f"nats:stream/{stream}/SUBJECT"):
            send_message("all", {"n": 1})  # a wildcard subject says not where
    assert created.json == {"order_id": "ord-1"}
    assert created.attributes["correlation_id"] == scenario.correlation_id


def test_an_unknown_stream_is_named_with_the_streams_there(
    configure: Configure, nats_url: str, raw: Raw, uid: str
) -> None:
    raw.add_stream(f"KNOWN_{uid}", [f"known-{uid}"])
    use(configure, nats_url, missing=f"stream/KNOWN_{uid}X")
    with asyncbdd.scenario("missing"), pytest.raises(QueueNotFound) as raised:
        expect_messages("missing", 1, timeout=1)
    message = str(raised.value)
    assert f"no JetStream stream 'KNOWN_{uid}X' (alias 'missing')" in message
    assert f"Did you mean 'KNOWN_{uid}'?" in message


def test_a_work_queue_stream_or_a_foreign_filter_is_refused(
    configure: Configure, nats_url: str, raw: Raw, uid: str
) -> None:
    """A work-queue stream would lose a message to asyncbdd's consumer; a filter outside
    the stream's subjects is named with them."""
    raw.add_stream(f"WORK_{uid}", [f"work-{uid}"], retention=RetentionPolicy.WORK_QUEUE)
    raw.add_stream(f"LOG_{uid}", [f"log-{uid}.*"])
    use(configure, nats_url, work=f"stream/WORK_{uid}", log=f"stream/LOG_{uid}/elsewhere")
    with asyncbdd.scenario("refused"):
        with pytest.raises(ConfigurationError, match="work queue"):
            expect_messages("work", 1, timeout=1)
        with pytest.raises(ConfigurationError) as raised:
            expect_messages("log", 1, timeout=1)
    assert f"Its subjects are log-{uid}.*" in str(raised.value)
    assert raw.consumers(f"WORK_{uid}") == []


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("orders", "neither a subject nor a stream"),
        ("subject/", "names no subject"),
        ("subject/orders..created", "no empty token"),
        ("subject/orders.>.x", "'>' may only be the last token"),
        ("subject/ord*", "'*' must be a whole token"),
        ("stream/", "names no stream"),
        ("stream/OR.DERS", "a stream name has no spaces, '.'"),
        ("stream/ORDERS/", "names no subject"),
    ],
)
def test_a_malformed_alias_is_a_configuration_error(
    configure: Configure, nats_url: str, target: str, says: str
) -> None:
    configure({"x": f"nats:{target}"}, nats_url=nats_url)
    with pytest.raises(ConfigurationError) as raised:
        queue_named("x")
    assert says in str(raised.value)
    assert "nats:subject/SUBJECT" in str(raised.value)


def test_a_malformed_url_or_a_token_in_it_is_refused_without_showing_secrets(
    configure: Configure, uid: str
) -> None:
    configure({"x": f"nats:subject/x-{uid}"}, nats_url="http://user:hunter2@host:4222")
    with pytest.raises(ConfigurationError) as raised:
        queue_named("x")
    assert "asyncbdd.nats.url = 'http://user:***@host:4222' is invalid" in str(raised.value)
    configure({"x": f"nats:subject/x-{uid}"}, nats_url="nats://s3cr3t-token@host:4222")
    with pytest.raises(ConfigurationError) as raised:
        queue_named("x")
    assert "nats://***@host:4222" in str(raised.value)
    assert "asyncbdd.nats.token" in str(raised.value)
    assert "s3cr3t" not in str(raised.value)


def test_the_token_setting_is_declared_secret(configure: Configure, uid: str) -> None:
    configure({"x": f"nats:subject/x-{uid}"}, **{"nats.token": "s3cr3t"})
    assert transport_options("nats")["token"] == "s3cr3t"
    assert "s3cr3t" not in repr(queue_named("x"))


# --------------------------------------------------------------------------------------
# Outages and credentials
# --------------------------------------------------------------------------------------


def test_a_server_that_is_down_fails_the_first_step_within_the_connect_timeout(
    configure: Configure, uid: str
) -> None:
    """Nothing listens: the step fails at once, naming the alias, the server with its
    password masked, and the fix."""
    with FaultyProxy(("127.0.0.1", 1)) as proxy:
        proxy.kill()
        use(configure, f"nats://user:hunter2@127.0.0.1:{proxy.port}", down=f"subject/down-{uid}")
        started = time.monotonic()
        with asyncbdd.scenario("down"), pytest.raises(QueueUnavailable) as raised:
            expect_messages("down", 1, timeout=5)
        elapsed = time.monotonic() - started
    message = str(raised.value)
    assert isinstance(raised.value, BrokerUnreachable)
    assert "(alias 'down')" in message
    assert f"NATS server at nats://user:***@127.0.0.1:{proxy.port} did not answer" in message
    assert "connection refused" in message
    assert "hunter2" not in message
    assert "asyncbdd.nats.url" in message
    assert elapsed < CONNECT_TIMEOUT + 1.0, f"took {elapsed:.2f} s"


def test_a_server_that_accepts_but_never_answers_fails_within_the_connect_timeout(
    configure: Configure, nats_url: str, uid: str
) -> None:
    with _proxy_of(nats_url) as proxy:
        proxy.black_hole()
        use(configure, f"nats://127.0.0.1:{proxy.port}", hung=f"stream/HUNG_{uid}")
        with asyncbdd.scenario("hung"):
            started = time.monotonic()  # the scenario's start tried once already
            with pytest.raises(BrokerUnreachable) as raised:
                expect_messages("hung", 1, timeout=5)
            elapsed = time.monotonic() - started
        proxy.heal()
    assert f"no answer within {CONNECT_TIMEOUT:g} s" in str(raised.value)
    assert elapsed < CONNECT_TIMEOUT + 1.0, f"took {elapsed:.2f} s"


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server of its own that admits only user ``tester`` (password ``right``), or
    the token ``letmein`` on a second port: the two URLs without credentials, comma
    separated. Skipped where no nats-server is installed (failing under CI)."""
    server = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
    )
    if server is None:
        message = "nats-server is needed to play refused credentials"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    processes, urls = [], []
    for credentials in (["--user", "tester", "--pass", "right"], ["--auth", "letmein"]):
        with socket.create_server(("127.0.0.1", 0)) as probe:
            port = probe.getsockname()[1]
        arguments = [server, "-a", "127.0.0.1", "-p", str(port), *credentials]
        processes.append(
            subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        urls.append(f"nats://127.0.0.1:{port}")
    try:
        for url, process in zip(urls, processes, strict=True):
            wait_for_listener(int(url.rpartition(":")[2]), process)
        yield ",".join(urls)
    finally:
        for process in processes:
            process.terminate()
            process.wait(5)


def test_wrong_credentials_are_named_without_the_password_and_right_ones_work(
    configure: Configure, locked_server: str, uid: str
) -> None:
    password_url, token_url = locked_server.split(",")
    host = urlsplit(password_url).netloc
    use(configure, f"nats://tester:hunter2@{host}", locked=f"subject/locked-{uid}")
    with asyncbdd.scenario("credentials"), pytest.raises(QueueUnavailable) as raised:
        expect_messages("locked", 1, timeout=1)
    message = str(raised.value)
    assert "refused the credentials" in message
    assert "asyncbdd.nats.url" in message
    assert "asyncbdd.nats.token" in message
    assert f"nats://tester:***@{host}" in message
    assert "hunter2" not in message
    assert not isinstance(raised.value, BrokerUnreachable)
    use(configure, f"nats://tester:right@{host}", locked=f"subject/locked-{uid}")
    with asyncbdd.scenario("right credentials"):
        send_message("locked", {"n": 1})
        expect_messages("locked", 1)
    close_readers()
    use(configure, token_url, {"nats.token": "letmein"}, locked=f"subject/locked-{uid}")
    with asyncbdd.scenario("token"):
        send_message("locked", {"n": 2})
        expect_messages("locked", 1)
    close_readers()


def test_a_server_lost_during_a_wait_is_named_and_the_next_scenario_reads_again(
    configure: Configure, nats_url: str, raw: Raw, uid: str
) -> None:
    """A server that goes away mid-run fails the wait saying so, and that what was
    published on the subject meanwhile is lost; once it is back, the reader subscribes
    again and the scenario's messages arrive."""
    with _proxy_of(nats_url) as proxy:
        use(configure, f"nats://127.0.0.1:{proxy.port}", flaky=f"subject/flaky-{uid}")
        with asyncbdd.scenario("healthy"):
            send_message("flaky", {"n": 1})
            expect_messages("flaky", 1)
        with asyncbdd.scenario("lost"):
            proxy.kill()
            with pytest.raises(WaitTimeout) as raised:
                expect_messages("flaky", 1, timeout=1.5)
            assert f"NATS server at nats://127.0.0.1:{proxy.port} did not answer" in str(
                raised.value
            )
            proxy.revive()
            wait_until(
                lambda: reading_trouble(queue_named("flaky")) is None, timeout=5
            )  # subscribed
            send_message("flaky", {"n": 3})
            [message] = expect_messages("flaky", 1)
        assert message.json == {"n": 3}
        assert "the connection was lost for " in (queue_named("flaky").problems() or "")
        close_readers()


def test_a_stream_reader_lost_during_a_wait_reads_what_was_published_meanwhile(
    configure: Configure, nats_url: str, raw: Raw, uid: str
) -> None:
    """A stream keeps what is published while asyncbdd's connection is lost: the reader
    resumes after the last message it read, missing nothing and repeating nothing."""
    stream = f"KEPT_{uid}"
    raw.add_stream(stream, [f"kept-{uid}"])
    with _proxy_of(nats_url) as proxy:
        use(configure, f"nats://127.0.0.1:{proxy.port}", kept=f"stream/{stream}")
        with asyncbdd.scenario("kept") as scenario:
            ours = {"correlation_id": scenario.correlation_id}
            raw.js_publish(f"kept-{uid}", '{"n": 1}', ours)
            expect_messages("kept", 1)
            proxy.kill()
            raw.js_publish(f"kept-{uid}", '{"n": 2}', ours)  # straight to the server
            wait_until(
                lambda: reading_trouble(queue_named("kept")) is not None, timeout=5
            )  # noticed
            proxy.revive()
            messages = expect_messages("kept", 2, timeout=5)
        assert [message.json["n"] for message in messages] == [1, 2]
        close_readers()


def test_a_server_that_stops_answering_during_a_wait_is_reported(
    configure: Configure, nats_url: str, raw: Raw, uid: str
) -> None:
    """A quiet subject is told from a silent server by a ping: a black-holed connection
    is named within about a second and a half, not after nats-py's two-minute pings."""
    with _proxy_of(nats_url) as proxy:
        use(configure, f"nats://127.0.0.1:{proxy.port}", quiet=f"subject/quiet-{uid}")
        with asyncbdd.scenario("silent"):
            expect_messages("quiet", 0, timeout=0.1)  # the reader runs
            proxy.black_hole()
            wait_until(lambda: reading_trouble(queue_named("quiet")) is not None, timeout=3)
            trouble = reading_trouble(queue_named("quiet"))
            assert trouble is not None
            assert "no answer to a ping within" in trouble.summary
            proxy.heal()
        close_readers()


def test_closing_stops_every_loop_thread(configure: Configure, nats_url: str, uid: str) -> None:
    """The connection's event-loop thread ends when the readers close."""
    close_readers()
    before = _loop_threads()
    use(configure, nats_url, threads=f"subject/threads-{uid}")
    with asyncbdd.scenario("threads"):
        send_message("threads", {"n": 1})
        expect_messages("threads", 1)
        assert _loop_threads() == before + 1  # one connection reads and sends
    close_readers()
    assert _loop_threads() == before


def _loop_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name.startswith("asyncbdd-nats-"))


# --------------------------------------------------------------------------------------
# Under behave
# --------------------------------------------------------------------------------------

FEATURES = Path(__file__).resolve().parents[1] / "features" / "nats"
MUST_FAIL = {
    "Must fail: one message is not two": [
        'the "orders" stream receives 2 messages',
        "received 1 of 2",
    ],
    "Must fail: another run's message does not count": [
        "belongs to another scenario or run",
        '"ord-6"',
    ],
    "Must fail: the content differs": ["amount: expected 11, got 10"],
}


def test_the_queue_phrases_pass_and_fail_on_nats_under_behave(
    tmp_path: Path, nats_url: str, raw: Raw, uid: str
) -> None:
    """The library's phrases about subjects and streams pass against NATS, and the
    must-fail scenarios fail with their diagnostics."""
    stream = f"FEATURES_{uid}"
    raw.add_stream(stream, [f"features-{uid}.*"])
    defines = {
        "asyncbdd.queues": "\n".join(
            [
                f"orders = nats:stream/{stream}/features-{uid}.orders",
                f"events = nats:subject/ev-{uid}",
            ]
        ),
        "asyncbdd.nats.url": nats_url,
        "asyncbdd.grace": "100 ms",
    }
    outcomes = run_behave(tmp_path, str(FEATURES), defines=defines, timeout=120)
    assert set(outcomes) == {
        "A message the service publishes is counted and its content checked",
        "A message sent by a step arrives with its content",
        "Another run's message is not this scenario's",
        "A subject message arrives with its content",
        *MUST_FAIL,
    }
    assert failed(outcomes) == set(MUST_FAIL), {n: outcomes[n].report for n in failed(outcomes)}
    assert_diagnostics(outcomes, MUST_FAIL)
