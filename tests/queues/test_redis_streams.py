"""Redis streams and pub/sub channels (``redis:stream/NAME``, ``redis:channel/NAME``) on
the Redis server of ``ASYNCBDD_TEST_REDIS_URL`` (default the local one).

Each test uses streams and channels of its own (``uid``) and deletes its streams. Where
the server is not reachable the tests are skipped, except under CI (``CI=true``), where
they fail. Outages are played by a proxy in front of the server, never by stopping it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from demo_features import assert_diagnostics, failed, run_behave
from doubles import FaultyProxy

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
    expect_no_messages,
    inbox,
    send_message,
)
from asyncbdd.queues.aliases import queue_named
from asyncbdd.queues.redis_channels import RedisChannel
from asyncbdd.queues.redis_streams import RedisStream
from asyncbdd.queues.transports import transport_options

Configure = Callable[..., Settings]

CONNECT_TIMEOUT = 1.0


@pytest.fixture
def raw(redis_url: str, uid: str) -> Iterator[redis.Redis]:
    """A plain redis-py client of the test server; the test's keys are deleted after it,
    once its readers stopped."""
    client = redis.Redis.from_url(redis_url)
    yield client
    close_readers()
    for key in client.scan_iter(match=f"*{uid}*"):
        client.delete(key)
    client.close()


def use(configure: Configure, url: str, **queues: str) -> None:
    """Aliases ``alias = redis:TARGET`` on the server at ``url``, short timeouts."""
    configure(
        {alias: f"redis:{target}" for alias, target in queues.items()},
        redis_url=url,
        connect_timeout=str(CONNECT_TIMEOUT),
    )


# --------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------


def test_a_stream_alias_counts_the_scenarios_entries_and_lists_the_others(
    configure: Configure, redis_url: str, raw: redis.Redis, uid: str
) -> None:
    """Entries whose correlation_id field is the scenario's count; another's are listed
    as skipped in a failure; fields become attributes and the body field the body."""
    stream = f"orders-{uid}"
    use(configure, redis_url, orders=f"stream/{stream}")
    assert isinstance(queue_named("orders"), RedisStream)
    with asyncbdd.scenario("ours") as scenario:
        raw.xadd(stream, {"body": '{"order_id": "ord-1"}', "correlation_id": "someone-else"})
        raw.xadd(
            stream,
            {"body": '{"order_id": "ord-2"}', "correlation_id": scenario.correlation_id, "n": "2"},
        )
        [message] = expect_messages("orders", 1)
        assert message.json == {"order_id": "ord-2"}
        assert message.attributes == {"correlation_id": scenario.correlation_id, "n": "2"}
        assert message.message_id.startswith(f"{stream}/")
        with pytest.raises(WaitTimeout) as failed:
            expect_messages("orders", 2, timeout=0.3)
    report = str(failed.value)
    assert 'the "orders" stream' in report
    assert f"Redis stream {stream!r} at {redis_url}" in report
    assert "belongs to another scenario or run" in report
    assert '"ord-1"' in report


def test_a_stream_is_read_from_where_it_ended_when_its_reader_opened(
    configure: Configure, redis_url: str, raw: redis.Redis, uid: str
) -> None:
    """Entries added before the reader opened are history, never counted, even with
    correlation off; an entry added after is."""
    stream = f"history-{uid}"
    raw.xadd(stream, {"body": '{"old": true}'})
    configure(
        {"history": f"redis:stream/{stream}"},
        redis_url=redis_url,
        queues_correlation="off",
    )
    with asyncbdd.scenario("history"):
        expect_no_messages("history", during=0.3)
        raw.xadd(stream, {"body": '{"new": true}'})
        [message] = expect_messages("history", 1)
    assert message.json == {"new": True}


def test_reading_a_stream_touches_no_consumer_group_and_removes_nothing(
    configure: Configure, redis_url: str, raw: redis.Redis, uid: str
) -> None:
    """The service's consumer group is left as it was (nothing delivered to it, nothing
    pending), and every entry stays in the stream."""
    stream = f"shared-{uid}"
    raw.xgroup_create(stream, "service", id="$", mkstream=True)
    use(configure, redis_url, shared=f"stream/{stream}")
    with asyncbdd.scenario("shared"):
        send_message("shared", {"order_id": "ord-1"})
        expect_messages("shared", 1)
    [group] = raw.xinfo_groups(stream)
    assert group["pending"] == 0
    assert group["last-delivered-id"] == b"0-0"
    assert raw.xlen(stream) == 1
    [[_, entries]] = raw.xreadgroup("service", "worker", {stream: ">"})
    assert len(entries) == 1  # the service still gets its entry


def test_sending_adds_an_entry_with_the_body_field_and_the_correlation_id(
    configure: Configure, redis_url: str, raw: redis.Redis, uid: str
) -> None:
    """send_message adds one entry: the body in the body field, attributes (the
    correlation id among them) in fields of their own; a content table matches it."""
    stream = f"sent-{uid}"
    use(configure, redis_url, sent=f"stream/{stream}")
    with asyncbdd.scenario("send") as scenario:
        send_message("sent", {"order_id": "ord-7", "amount": 9.5}, attributes={"source": "web"})
        expect_messages(
            "sent", 1, where=MessageMatcher(fields={"order_id": "ord-7", "amount": 9.5})
        )
        with pytest.raises(InvalidInput, match="no key"):
            send_message("sent", {"order_id": "ord-8"}, key="ord-8")
    [(_, fields)] = raw.xrange(stream)
    assert fields == {
        b"body": b'{"order_id": "ord-7", "amount": 9.5}',
        b"correlation_id": scenario.correlation_id.encode(),
        b"source": b"web",
    }


def test_an_entry_without_the_body_field_is_read_as_an_object_of_its_fields(
    configure: Configure, redis_url: str, raw: redis.Redis, uid: str
) -> None:
    """With asyncbdd.redis.body_field = payload, an entry's payload field is its body;
    one without it is a JSON object of every field, matched by a body field correlation."""
    stream = f"fields-{uid}"
    configure(
        {"fields": f"redis:stream/{stream}"},
        redis_url=redis_url,
        redis_body_field="payload",
        queues_correlation="field:cid",
    )
    assert transport_options("redis")["body_field"] == "payload"
    with asyncbdd.scenario("fields") as scenario:
        raw.xadd(stream, {"order_id": "ord-3", "cid": scenario.correlation_id})
        raw.xadd(
            stream, {"payload": f'{{"order_id": "ord-4", "cid": "{scenario.correlation_id}"}}'}
        )
        first, second = expect_messages("fields", 2)
    assert first.json == {"order_id": "ord-3", "cid": scenario.correlation_id}
    assert second.json == {"order_id": "ord-4", "cid": scenario.correlation_id}


def test_a_stream_that_does_not_exist_yet_is_waited_for_and_named_in_a_failure(
    configure: Configure, redis_url: str, raw: redis.Redis, uid: str
) -> None:
    """A missing stream is no error: a wait that ends says it does not exist; once the
    service creates it, its first entry counts."""
    stream = f"later-{uid}"
    use(configure, redis_url, later=f"stream/{stream}")
    with asyncbdd.scenario("missing") as scenario:
        with pytest.raises(WaitTimeout) as failed:
            expect_messages("later", 1, timeout=0.3)
        assert f"the stream {stream!r} does not exist on Redis at {redis_url} (yet)" in str(
            failed.value
        )
        raw.xadd(stream, {"body": "{}", "correlation_id": scenario.correlation_id})
        expect_messages("later", 1)
    assert queue_named("later").problems() is None


def test_a_key_that_is_no_stream_is_refused_with_what_it_holds(
    configure: Configure, redis_url: str, raw: redis.Redis, uid: str
) -> None:
    raw.set(f"plain-{uid}", "x")
    use(configure, redis_url, plain=f"stream/plain-{uid}")
    with asyncbdd.scenario("wrong type"), pytest.raises(QueueNotFound) as raised:
        expect_messages("plain", 1, timeout=0.3)
    assert f"The key 'plain-{uid}' on Redis at {redis_url} holds a string, not a stream" in str(
        raised.value
    )


# --------------------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------------------


def test_a_channel_alias_counts_the_scenarios_messages_by_a_body_field(
    configure: Configure, redis_url: str, raw: redis.Redis, uid: str
) -> None:
    """Messages published on the channel while the scenario runs count when their body
    field carries its id; another's is listed; sending publishes with the id stamped."""
    channel = f"events-{uid}"
    configure(
        {"events": f"redis:channel/{channel}"},
        redis_url=redis_url,
        redis_channel_correlation="field:meta.cid",
    )
    assert isinstance(queue_named("events"), RedisChannel)
    with asyncbdd.scenario("channel") as scenario:
        expect_no_messages("events", during=0.1)  # subscribed from here on
        raw.publish(channel, '{"n": 1, "meta": {"cid": "someone-else"}}')
        raw.publish(channel, f'{{"n": 2, "meta": {{"cid": "{scenario.correlation_id}"}}}}')
        send_message("events", {"n": 3})
        first, second = expect_messages("events", 2)
        with pytest.raises(WaitTimeout) as failed:
            expect_messages("events", 3, timeout=0.3)
    assert first.json == {"n": 2, "meta": {"cid": scenario.correlation_id}}
    assert second.json == {"n": 3, "meta": {"cid": scenario.correlation_id}}
    assert 'the "events" channel' in str(failed.value)
    assert "belongs to another scenario or run" in str(failed.value)


def test_a_channel_with_the_correlation_id_in_an_attribute_is_refused_at_once(
    configure: Configure, redis_url: str, uid: str
) -> None:
    """Channel messages have no attributes: attribute correlation (the default) is a
    configuration error naming the setting that fixes it."""
    use(configure, redis_url, events=f"channel/events-{uid}")
    with pytest.raises(ConfigurationError) as raised:
        queue_named("events")
    message = str(raised.value)
    assert "carries a body only" in message
    assert "asyncbdd.redis.channel_correlation = field:correlation_id" in message
    configure(redis_channel_correlation="attribute:cid")
    with pytest.raises(ConfigurationError, match="channel_correlation = 'attribute:cid'"):
        transport_options("redis")


def test_a_pattern_channel_reads_every_matching_channel_and_cannot_be_sent_to(
    configure: Configure, redis_url: str, raw: redis.Redis, uid: str
) -> None:
    configure(
        {"all": f"redis:channel/orders-{uid}.*"},
        redis_url=redis_url,
        queues_correlation="off",
    )
    with asyncbdd.scenario("pattern"):
        expect_no_messages("all", during=0.1)
        raw.publish(f"orders-{uid}.created", '{"n": 1}')
        raw.publish(f"other-{uid}.created", '{"n": 2}')
        raw.publish(f"orders-{uid}.paid", '{"n": 3}')
        first, second = expect_messages("all", 2)
        with pytest.raises(InvalidInput, match="cannot be published to"):
            send_message("all", {"n": 4})
    assert (first.json, second.json) == ({"n": 1}, {"n": 3})
    assert first.message_id.startswith(f"orders-{uid}.created#")


# --------------------------------------------------------------------------------------
# Bad input and outages
# --------------------------------------------------------------------------------------


def test_a_malformed_url_or_an_unknown_form_is_a_configuration_error(
    configure: Configure, redis_url: str, uid: str
) -> None:
    configure({"x": f"redis:stream/x-{uid}"}, redis_url="http://user:hunter2@host:6379")
    with pytest.raises(ConfigurationError) as raised:
        queue_named("x")
    assert "asyncbdd.redis.url = 'http://user:***@host:6379' is invalid" in str(raised.value)
    assert "redis://[[user]:password@]host:port/db" in str(raised.value)
    configure({"x": f"redis:x-{uid}"}, redis_url=redis_url)
    with pytest.raises(ConfigurationError, match="Write redis:stream/NAME, redis:channel/NAME"):
        queue_named("x")


@pytest.mark.parametrize("target", ["stream/s", "channel/c"])
def test_a_server_that_is_down_fails_the_first_step_within_the_connect_timeout(
    configure: Configure, uid: str, target: str
) -> None:
    """Nothing listens: the step fails at once, naming the alias, the server with its
    password masked, and the fix."""
    with FaultyProxy(("127.0.0.1", 1)) as proxy:
        proxy.kill()
        url = f"redis://:hunter2@127.0.0.1:{proxy.port}/0"
        configure(
            {"down": f"redis:{target}-{uid}"},
            redis_url=url,
            connect_timeout=str(CONNECT_TIMEOUT),
            redis_channel_correlation="field:cid",
        )
        started = time.monotonic()
        with asyncbdd.scenario("down"), pytest.raises(QueueUnavailable) as raised:
            expect_messages("down", 1, timeout=5)
        elapsed = time.monotonic() - started
    message = str(raised.value)
    assert isinstance(raised.value, BrokerUnreachable)
    assert "(alias 'down')" in message
    assert f"Redis at redis://:***@127.0.0.1:{proxy.port}/0 did not answer" in message
    assert "hunter2" not in message
    assert "asyncbdd.redis.url" in message
    assert elapsed < CONNECT_TIMEOUT + 1.0, f"took {elapsed:.2f} s"


def test_wrong_credentials_are_named_without_the_password(
    configure: Configure, redis_url: str, uid: str
) -> None:
    parts = urlsplit(redis_url)
    url = f"redis://nobody-{uid}:hunter2@{parts.hostname}:{parts.port or 6379}/0"
    use(configure, url, locked=f"stream/locked-{uid}")
    with asyncbdd.scenario("credentials"), pytest.raises(QueueUnavailable) as raised:
        expect_messages("locked", 1, timeout=1)
    message = str(raised.value)
    assert "refused the credentials" in message
    assert "Check the user and password in asyncbdd.redis.url" in message
    assert "hunter2" not in message
    assert not isinstance(raised.value, BrokerUnreachable)


@pytest.mark.parametrize("target", ["stream", "channel"])
def test_a_server_lost_during_a_wait_is_named_and_the_next_scenario_reads_again(
    configure: Configure, redis_url: str, raw: redis.Redis, uid: str, target: str
) -> None:
    """A server that stops answering mid-run fails the wait saying so (a channel adds
    that what was published meanwhile is lost); once it answers again, the next scenario
    receives its messages."""
    parts = urlsplit(redis_url)
    with FaultyProxy((parts.hostname or "127.0.0.1", parts.port or 6379)) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}{parts.path or '/0'}"
        configure(
            {"flaky": f"redis:{target}/flaky-{uid}"},
            redis_url=url,
            connect_timeout=str(CONNECT_TIMEOUT),
            redis_channel_correlation="field:cid",
        )
        with asyncbdd.scenario("healthy"):
            send_message("flaky", {"n": 1})
            expect_messages("flaky", 1)
        proxy.black_hole()
        with asyncbdd.scenario("silent"), pytest.raises(WaitTimeout) as raised:
            expect_messages("flaky", 1, timeout=3)
        assert f"Redis at {url} did not answer for " in str(raised.value)
        proxy.kill()
        proxy.revive()
        with asyncbdd.scenario("back") as scenario:
            send_message("flaky", {"n": 2})
            if target == "stream":  # kept by the stream until its reader reads again
                [message] = expect_messages("flaky", 1)
            else:  # lost unless published once the reader has subscribed again
                box = inbox()
                while not box.wait(lambda: bool(box.messages["flaky"]), 0.2):
                    send_message("flaky", {"n": 2})
                message = expect_messages("flaky", 1, exactly=False)[0]
        assert message.json["n"] == 2
        assert message.correlation_id == scenario.correlation_id
        if target == "channel":
            assert "the subscription was lost for " in (queue_named("flaky").problems() or "")
        close_readers()


@pytest.mark.parametrize("target", ["stream", "channel"])
def test_every_call_to_a_server_that_stopped_answering_is_bounded(
    configure: Configure, redis_url: str, uid: str, target: str
) -> None:
    """A send, and a read, to a server that accepts and never answers each fail within
    the connect timeout (plus the read's own block), naming the server: none is retried
    in silence."""
    parts = urlsplit(redis_url)
    with FaultyProxy((parts.hostname or "127.0.0.1", parts.port or 6379)) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}{parts.path or '/0'}"
        configure(
            {"silent": f"redis:{target}/silent-{uid}"},
            redis_url=url,
            connect_timeout=str(CONNECT_TIMEOUT),
            redis_channel_correlation="field:cid",
        )
        queue = queue_named("silent")
        queue.open()
        proxy.black_hole()
        with asyncbdd.scenario("silent"):
            for call in (lambda: send_message("silent", {"n": 1}), lambda: queue.receive(1.0)):
                started = time.monotonic()
                error = _first_error(call)
                elapsed = time.monotonic() - started
                assert isinstance(error, BrokerUnreachable), repr(error)
                assert f"Redis at {url} did not answer" in str(error)
                assert elapsed < 2 * CONNECT_TIMEOUT + 1.5, f"took {elapsed:.2f} s"
        queue.close()


# --------------------------------------------------------------------------------------
# Under behave
# --------------------------------------------------------------------------------------

FEATURES = Path(__file__).resolve().parents[1] / "features" / "redis"
MUST_FAIL = {
    "Must fail: one entry is not two": [
        'the "orders" stream receives 2 messages',
        "received 1 of 2",
    ],
    "Must fail: another run's entry does not count": [
        "belongs to another scenario or run",
        '"ord-6"',
    ],
    "Must fail: the content differs": ["amount: expected 11, got 10"],
}


def test_the_queue_phrases_pass_and_fail_on_redis_under_behave(
    tmp_path: Path, redis_url: str, raw: redis.Redis, uid: str
) -> None:
    """The library's phrases about streams and channels pass against Redis, and the
    must-fail scenarios fail with their diagnostics."""
    defines = {
        "asyncbdd.queues": "\n".join(
            [f"orders = redis:stream/orders-{uid}", f"events = redis:channel/events-{uid}"]
        ),
        "asyncbdd.redis.url": redis_url,
        "asyncbdd.redis.channel_correlation": "field:correlation_id",
        "asyncbdd.grace": "100 ms",
    }
    outcomes = run_behave(tmp_path, str(FEATURES), defines=defines, timeout=120)
    assert set(outcomes) == {
        "An entry the service adds is counted and its content checked",
        "A message sent by a step arrives with its content",
        "Another run's entry is not this scenario's",
        "A channel message arrives with its content",
        *MUST_FAIL,
    }
    passing = {name for name in outcomes if name not in MUST_FAIL}
    assert failed(outcomes) == set(MUST_FAIL), {n: outcomes[n].report for n in failed(outcomes)}
    assert not passing & failed(outcomes)
    assert_diagnostics(outcomes, MUST_FAIL)


def _first_error(call: Callable[[], object]) -> BaseException:
    """What ``call`` raises first, calling it until it raises (a channel's read returns
    empty until a quiet second has passed and it asks the server)."""
    while True:
        try:
            call()
        except Exception as error:
            return error
