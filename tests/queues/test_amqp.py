"""RabbitMQ exchanges (tapped) and queues (read) through ``amqp:`` aliases, on the broker
of ``ASYNCBDD_TEST_AMQP_URL`` (default the local one, guest/guest).

Each test declares exchanges and queues of its own (``uid``) and deletes them. Where the
broker is not reachable the tests are skipped, except under CI (``CI=true``), where they
fail. Outages are played by a proxy in front of the broker, never by stopping it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest
from demo_features import assert_diagnostics, failed, run_behave
from doubles import FaultyProxy
from pika.adapters.blocking_connection import BlockingChannel

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
from asyncbdd.queues.aliases import close_queues, queue_named
from asyncbdd.queues.amqp import AmqpQueue
from asyncbdd.queues.transports import transport_options

Configure = Callable[..., Settings]

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
CONNECT_TIMEOUT = 1.0


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The test broker's URL, once a connection opened within 3 s; else skip (fail under
    CI, where a silently skipped broker would hide a broken build)."""
    url = os.environ.get("ASYNCBDD_TEST_AMQP_URL", DEFAULT_AMQP_URL)
    parameters = pika.URLParameters(url)
    parameters.socket_timeout = parameters.stack_timeout = 3
    parameters.connection_attempts = 1
    try:
        pika.BlockingConnection(parameters).close()
    except pika.exceptions.AMQPError as error:
        message = f"RabbitMQ at {url} is not reachable within 3 s ({error!r}); start it, or "
        message += "point ASYNCBDD_TEST_AMQP_URL at a broker."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def raw(amqp_url: str, uid: str) -> Iterator[BlockingChannel]:
    """A plain pika channel on the test broker; the exchanges and queues the test
    declares through it are deleted after it, once its readers stopped."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    declared: list[tuple[str, str]] = []
    channel.declared = declared  # type: ignore[attr-defined]
    yield channel
    close_readers()
    close_queues()
    for kind, name in declared:
        if kind == "exchange":
            channel.exchange_delete(name)
        else:
            channel.queue_delete(name)
    connection.close()


def exchange(raw: BlockingChannel, name: str, kind: str = "topic") -> str:
    """Declare an exchange of the test (deleted after it)."""
    raw.exchange_declare(name, kind)
    raw.declared.append(("exchange", name))  # type: ignore[attr-defined]
    return name


def queue(raw: BlockingChannel, name: str, **arguments: object) -> str:
    """Declare a durable queue of the test (deleted after it)."""
    raw.queue_declare(name, durable=True, arguments=arguments or None)
    raw.declared.append(("queue", name))  # type: ignore[attr-defined]
    return name


def use(configure: Configure, url: str, **queues: str) -> None:
    """Aliases ``alias = amqp:TARGET`` on the broker at ``url``, short timeouts."""
    configure(
        {alias: f"amqp:{target}" for alias, target in queues.items()},
        amqp_url=url,
        connect_timeout=str(CONNECT_TIMEOUT),
    )


def publish(
    raw: BlockingChannel,
    exchange: str,
    routing_key: str,
    body: object,
    *,
    correlation_id: str | None = None,
    headers: dict[str, object] | None = None,
) -> None:
    """Publish as a service would, with a plain pika channel."""
    raw.basic_publish(
        exchange,
        routing_key,
        json.dumps(body).encode(),
        pika.BasicProperties(correlation_id=correlation_id, headers=headers),
    )


def ready(raw: BlockingChannel, name: str) -> int:
    """How many messages are ready in the queue ``name``."""
    return int(raw.queue_declare(name, passive=True).method.message_count)


# --------------------------------------------------------------------------------------
# Tapping an exchange
# --------------------------------------------------------------------------------------


def test_a_tapped_exchange_counts_the_scenarios_messages_and_takes_none_from_the_service(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str
) -> None:
    """Messages routed to the exchange whose correlation_id property is the scenario's
    count, another's is listed in a failure; the service's own queue bound to the
    exchange still holds every message."""
    orders = exchange(raw, f"orders-{uid}")
    service = queue(raw, f"service-{uid}")
    raw.queue_bind(service, orders, "order.*")
    use(configure, amqp_url, orders=f"exchange/{orders}")
    assert isinstance(queue_named("orders"), AmqpQueue)
    with asyncbdd.scenario("ours") as scenario:
        publish(raw, orders, "order.created", {"order_id": "ord-1"}, correlation_id="other")
        publish(
            raw,
            orders,
            "order.created",
            {"order_id": "ord-2"},
            correlation_id=scenario.correlation_id,
            headers={"source": "service", "attempt": 2},
        )
        [message] = expect_messages("orders", 1)
        with pytest.raises(WaitTimeout) as failed_wait:
            expect_messages("orders", 2, timeout=0.3)
    assert message.json == {"order_id": "ord-2"}
    assert message.key == "order.created"
    assert message.attributes == {
        "correlation_id": scenario.correlation_id,
        "source": "service",
        "attempt": "2",
    }
    report = str(failed_wait.value)
    assert f"RabbitMQ exchange {orders!r} at amqp://guest:***@" in report
    assert "belongs to another scenario or run" in report
    assert '"ord-1"' in report
    assert ready(raw, service) == 2


def test_a_tap_copies_only_what_is_published_once_its_reader_opened(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str
) -> None:
    """A message published before the scenario's start is not copied to the tap, even
    with correlation off; one published after is."""
    history = exchange(raw, f"history-{uid}", "fanout")
    configure(
        {"history": f"amqp:exchange/{history}"},
        amqp_url=amqp_url,
        queues_correlation="off",
    )
    queue_named("history")
    publish(raw, history, "", {"old": True})
    with asyncbdd.scenario("history"):
        expect_no_messages("history", during=0.3)
        publish(raw, history, "", {"new": True})
        [message] = expect_messages("history", 1)
    assert message.json == {"new": True}


def test_a_routing_key_pattern_taps_only_the_matching_messages(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str
) -> None:
    """amqp:exchange/NAME/PATTERN binds the tap with the pattern; sending to it needs a
    routing key, sent as the key; a message routed to no queue is an error, not lost."""
    events = exchange(raw, f"events-{uid}")
    use(configure, amqp_url, paid=f"exchange/{events}/order.paid.*")
    assert (
        queue_named("paid")
        .describe()
        .startswith(f"RabbitMQ exchange {events!r} (routing key 'order.paid.*') at ")
    )
    with asyncbdd.scenario("pattern"):
        raw.queue_bind(queue(raw, f"created-{uid}"), events, "order.created.*")
        send_message("paid", {"n": 1}, key="order.created.eu")
        send_message("paid", {"n": 2}, key="order.paid.eu")
        [message] = expect_messages("paid", 1)
        with pytest.raises(QueueUnavailable, match="no queue is bound to it for the routing"):
            send_message("paid", {"n": 3}, key="order.lost")
        with pytest.raises(InvalidInput, match="needs a routing key"):
            send_message("paid", {"n": 3})
    assert (message.json, message.key) == ({"n": 2}, "order.paid.eu")


def test_sending_sets_the_correlation_id_as_header_and_property_and_matches_content(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str
) -> None:
    """send_message publishes the JSON body, its attributes as headers, and the
    scenario's correlation id both as the header and the correlation_id property."""
    sent = exchange(raw, f"sent-{uid}", "direct")
    service = queue(raw, f"sent-service-{uid}")
    raw.queue_bind(service, sent, "billing")
    use(configure, amqp_url, sent=f"exchange/{sent}/billing")
    with asyncbdd.scenario("send") as scenario:
        send_message("sent", {"order_id": "ord-7", "amount": 9.5}, attributes={"source": "web"})
        expect_messages(
            "sent", 1, where=MessageMatcher(fields={"order_id": "ord-7", "amount": 9.5})
        )
    method, properties, body = raw.basic_get(service, auto_ack=True)
    assert method is not None
    assert json.loads(body) == {"order_id": "ord-7", "amount": 9.5}
    assert properties.correlation_id == scenario.correlation_id
    assert properties.headers == {"correlation_id": scenario.correlation_id, "source": "web"}
    assert properties.content_type == "application/json"


def test_a_correlation_id_header_wins_over_the_property(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str
) -> None:
    """A message whose correlation_id header is the scenario's counts even when its
    correlation_id property is another's (an RPC reply id); the reverse does not."""
    mixed = exchange(raw, f"mixed-{uid}", "fanout")
    use(configure, amqp_url, mixed=f"exchange/{mixed}")
    with asyncbdd.scenario("header wins") as scenario:
        ours = scenario.correlation_id
        publish(raw, mixed, "", {"n": 1}, correlation_id="rpc-1", headers={"correlation_id": ours})
        publish(raw, mixed, "", {"n": 2}, correlation_id=ours, headers={"correlation_id": "x"})
        [message] = expect_messages("mixed", 1)
    assert message.json == {"n": 1}


def test_a_celery_task_message_is_matched_by_its_kwargs(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str
) -> None:
    """A message shaped as Celery publishes a task (protocol 2: headers task and id, the
    correlation_id property the task id, the body [args, kwargs, embed]) is found by a
    correlation id among its kwargs and matched by field paths into the body."""
    celery = exchange(raw, f"celery-{uid}", "direct")
    configure(
        {"tasks": f"amqp:exchange/{celery}/celery"},
        amqp_url=amqp_url,
        queues_correlation="field:[1].correlation_id",
    )
    with asyncbdd.scenario("celery") as scenario:
        expect_no_messages("tasks", during=0.1)  # tapped from here on
        for correlation_id in ("someone-else", scenario.correlation_id):
            task_id = f"task-{correlation_id}"
            raw.basic_publish(
                celery,
                "celery",
                json.dumps(
                    [
                        ["ord-1"],
                        {"amount": 99.99, "correlation_id": correlation_id},
                        {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
                    ]
                ).encode(),
                pika.BasicProperties(
                    correlation_id=task_id,
                    content_type="application/json",
                    content_encoding="utf-8",
                    headers={"lang": "py", "task": "billing.charge", "id": task_id},
                ),
            )
        [message] = expect_messages(
            "tasks",
            1,
            where=MessageMatcher(fields={"[0][0]": "ord-1", "[1].amount": 99.99}),
        )
    assert message.attributes["task"] == "billing.charge"
    assert message.attributes["correlation_id"] == f"task-{scenario.correlation_id}"


# --------------------------------------------------------------------------------------
# Reading a named queue
# --------------------------------------------------------------------------------------


def test_a_named_queue_is_consumed_and_others_messages_are_requeued_never_dead_lettered(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str
) -> None:
    """The scenario's messages are taken from the queue; another's is given back
    (requeued) and stays in the queue, and nothing reaches its dead-letter exchange."""
    dead = exchange(raw, f"dead-{uid}", "fanout")
    graveyard = queue(raw, f"graveyard-{uid}")
    raw.queue_bind(graveyard, dead)
    work = queue(raw, f"work-{uid}", **{"x-dead-letter-exchange": dead})
    use(configure, amqp_url, work=f"queue/{work}")
    with asyncbdd.scenario("named") as scenario:
        publish(raw, "", work, {"n": 1}, headers={"correlation_id": "someone-else"})
        send_message("work", {"n": 2})
        [message] = expect_messages("work", 1)
    close_readers()
    assert message.json == {"n": 2}
    assert message.correlation_id == scenario.correlation_id
    assert ready(raw, graveyard) == 0
    method, _properties, body = raw.basic_get(work, auto_ack=True)
    assert method is not None
    assert json.loads(body) == {"n": 1}
    assert ready(raw, work) == 0


def test_a_message_sent_to_a_named_queue_goes_through_the_default_exchange(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str
) -> None:
    """Sending to amqp:queue/NAME does not start a reader (the service consumes it):
    the message waits in the queue; a key is refused."""
    inbox_queue = queue(raw, f"inbox-{uid}")
    use(configure, amqp_url, inbox=f"queue/{inbox_queue}")
    with asyncbdd.scenario("send only"):
        send_message("inbox", {"n": 1})
        with pytest.raises(InvalidInput, match="routed by the queue's name"):
            send_message("inbox", {"n": 2}, key="k")
    assert ready(raw, inbox_queue) == 1


# --------------------------------------------------------------------------------------
# Bad input and outages
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["exchange", "queue"])
def test_an_exchange_or_queue_that_does_not_exist_is_named(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str, target: str
) -> None:
    use(configure, amqp_url, missing=f"{target}/missing-{uid}")
    with asyncbdd.scenario("missing"), pytest.raises(QueueNotFound) as raised:
        expect_messages("missing", 1, timeout=1)
    message = str(raised.value)
    assert f"'missing-{uid}' (alias 'missing'): it does not exist on RabbitMQ at" in message
    assert "NOT_FOUND" in message
    assert "guest:guest" not in message
    with asyncbdd.scenario("send"), pytest.raises(QueueNotFound, match=f"missing-{uid}"):
        send_message("missing", {"n": 1})


def test_a_malformed_url_a_bad_setting_or_an_unknown_form_is_a_configuration_error(
    configure: Configure, amqp_url: str, uid: str
) -> None:
    configure({"x": f"amqp:queue/x-{uid}"}, amqp_url="http://user:hunter2@host:5672/%2F")
    with pytest.raises(ConfigurationError) as raised:
        queue_named("x")
    assert "asyncbdd.amqp.url = 'http://user:***@host:5672/%2F' is invalid" in str(raised.value)
    assert "amqp://USER:PASSWORD@HOST:PORT/VHOST" in str(raised.value)
    configure({"x": f"amqp:queue/x-{uid}"}, amqp_url=amqp_url, amqp_prefetch="0")
    with pytest.raises(ConfigurationError, match=r"asyncbdd\.amqp\.prefetch = '0' is invalid"):
        transport_options("amqp")
    for target in (f"x-{uid}", "exchange/", "queue/", f"topic/x-{uid}"):
        configure({"x": f"amqp:{target}"}, amqp_url=amqp_url)
        with pytest.raises(ConfigurationError, match="Write amqp:exchange/EXCHANGE"):
            queue_named("x")


def test_wrong_credentials_and_an_unknown_vhost_are_named_without_the_password(
    configure: Configure, amqp_url: str, uid: str
) -> None:
    parts = urlsplit(amqp_url)
    netloc = f"nobody-{uid}:hunter2@{parts.hostname}:{parts.port or 5672}"
    use(configure, urlunsplit(parts._replace(netloc=netloc)), locked=f"queue/locked-{uid}")
    with asyncbdd.scenario("credentials"), pytest.raises(QueueUnavailable) as raised:
        expect_messages("locked", 1, timeout=1)
    message = str(raised.value)
    assert "refused the credentials" in message
    assert "Check the user and password in asyncbdd.amqp.url" in message
    assert "hunter2" not in message
    assert not isinstance(raised.value, BrokerUnreachable)
    use(configure, urlunsplit(parts._replace(path=f"/nowhere-{uid}")), locked=f"queue/q-{uid}")
    with asyncbdd.scenario("vhost"), pytest.raises(QueueUnavailable) as raised:
        send_message("locked", {"n": 1})
    assert f"does not let the user in to the vhost 'nowhere-{uid}'" in str(raised.value)


@pytest.mark.parametrize("target", ["exchange/e", "queue/q"])
def test_a_broker_that_is_down_fails_the_first_step_within_the_connect_timeout(
    configure: Configure, uid: str, target: str
) -> None:
    """Nothing listens: the step fails at once, naming the alias, the broker with its
    password masked, and the fix."""
    with FaultyProxy(("127.0.0.1", 1)) as proxy:
        proxy.kill()
        url = f"amqp://guest:hunter2@127.0.0.1:{proxy.port}/%2F"
        use(configure, url, down=f"{target}-{uid}")
        started = time.monotonic()
        with asyncbdd.scenario("down"), pytest.raises(QueueUnavailable) as raised:
            expect_messages("down", 1, timeout=5)
        elapsed = time.monotonic() - started
    message = str(raised.value)
    assert isinstance(raised.value, BrokerUnreachable)
    assert "(alias 'down')" in message
    assert f"RabbitMQ at amqp://guest:***@127.0.0.1:{proxy.port}/%2F did not answer" in message
    assert "hunter2" not in message
    assert "asyncbdd.amqp.url" in message
    assert elapsed < CONNECT_TIMEOUT + 1.0, f"took {elapsed:.2f} s"


@pytest.mark.parametrize("target", ["exchange", "queue"])
def test_a_broker_lost_during_a_wait_is_named_and_the_next_scenario_reads_again(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str, target: str
) -> None:
    """A broker that stops answering mid-run fails the wait saying so; once it answers
    again, the next scenario receives its messages (a tap says what it missed)."""
    name = f"flaky-{uid}"
    if target == "exchange":
        exchange(raw, name, "fanout")
    else:
        queue(raw, name)
    parts = urlsplit(amqp_url)
    with FaultyProxy((parts.hostname or "127.0.0.1", parts.port or 5672)) as proxy:
        url = urlunsplit(parts._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}"))
        use(configure, url, flaky=f"{target}/{name}")
        with asyncbdd.scenario("healthy"):
            send_message("flaky", {"n": 1})
            expect_messages("flaky", 1)
        proxy.black_hole()
        with asyncbdd.scenario("silent"), pytest.raises(WaitTimeout) as raised:
            expect_messages("flaky", 1, timeout=3)
        assert f"RabbitMQ at amqp://guest:***@127.0.0.1:{proxy.port}/%2F did not answer" in str(
            raised.value
        )
        proxy.kill()
        proxy.revive()
        with asyncbdd.scenario("back") as scenario:
            if target == "queue":  # kept by the queue until its reader reads again
                send_message("flaky", {"n": 2})
                [message] = expect_messages("flaky", 1, timeout=4)
            else:  # routed nowhere, or lost, until the reader has bound its tap again
                box = inbox()
                while not box.wait(lambda: bool(box.messages["flaky"]), 0.2):
                    with contextlib.suppress(QueueUnavailable):
                        send_message("flaky", {"n": 2})
                message = expect_messages("flaky", 1, exactly=False)[0]
        assert message.json == {"n": 2}
        assert message.correlation_id == scenario.correlation_id
        if target == "exchange":
            assert "was lost for " in (queue_named("flaky").problems() or "")
        close_readers()
        close_queues()


@pytest.mark.parametrize("target", ["exchange", "queue"])
def test_every_call_to_a_broker_that_stopped_answering_is_bounded(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str, target: str
) -> None:
    """A send, and a read, to a broker that accepts and never answers each fail within
    the connect timeout (plus the read's own wait), naming the broker; closing is
    bounded too."""
    name = f"silent-{uid}"
    if target == "exchange":
        exchange(raw, name, "fanout")
    else:
        queue(raw, name)
    parts = urlsplit(amqp_url)
    with FaultyProxy((parts.hostname or "127.0.0.1", parts.port or 5672)) as proxy:
        url = urlunsplit(parts._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}"))
        use(configure, url, silent=f"{target}/{name}")
        silent = queue_named("silent")
        silent.open()
        with asyncbdd.scenario("silent"):
            send_message("silent", {"n": 0})
            proxy.black_hole()
            for call in (lambda: send_message("silent", {"n": 1}), lambda: silent.receive(1.0)):
                started = time.monotonic()
                error = _first_error(call)  # a read asks the broker after a quiet second
                elapsed = time.monotonic() - started
                assert isinstance(error, BrokerUnreachable), repr(error)
                assert "did not answer" in str(error)
                assert elapsed < 2 * CONNECT_TIMEOUT + 1.5, f"took {elapsed:.2f} s"
        started = time.monotonic()
        silent.close()
        assert time.monotonic() - started < 2 * CONNECT_TIMEOUT + 0.5


def test_closing_stops_every_connection_thread(
    configure: Configure, amqp_url: str, raw: BlockingChannel, uid: str
) -> None:
    """Readers and senders of a tap and of a named queue leave no thread behind once
    the run's readers and queues are closed."""
    before = {thread.ident for thread in threading.enumerate()}
    tapped = exchange(raw, f"threads-{uid}", "fanout")
    named = queue(raw, f"threads-{uid}")
    use(configure, amqp_url, tapped=f"exchange/{tapped}", named=f"queue/{named}")
    with asyncbdd.scenario("threads"):
        send_message("tapped", {"n": 1})
        send_message("named", {"n": 1})
        expect_messages(["tapped", "named"], 1)
    close_readers()
    close_queues()
    left = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert left == []


# --------------------------------------------------------------------------------------
# Under behave
# --------------------------------------------------------------------------------------

FEATURES = Path(__file__).resolve().parents[1] / "features" / "amqp"
MUST_FAIL = {
    "Must fail: one message is not two": [
        'the "orders" queue receives 2 messages',
        "received 1 of 2",
    ],
    "Must fail: another run's message does not count": [
        "belongs to another scenario or run",
        '"ord-6"',
    ],
    "Must fail: the content differs": ["amount: expected 11, got 10"],
}


def test_the_queue_phrases_pass_and_fail_on_rabbitmq_under_behave(
    tmp_path: Path, amqp_url: str, raw: BlockingChannel, uid: str
) -> None:
    """The library's phrases pass against an exchange tap and a named queue, and the
    must-fail scenarios fail with their diagnostics."""
    exchange(raw, f"orders-{uid}")
    queue(raw, f"billing-{uid}")
    defines = {
        "asyncbdd.queues": "\n".join(
            [f"orders = amqp:exchange/orders-{uid}/order.*", f"billing = amqp:queue/billing-{uid}"]
        ),
        "asyncbdd.amqp.url": amqp_url,
        "asyncbdd.grace": "100 ms",
    }
    outcomes = run_behave(tmp_path, str(FEATURES), defines=defines, timeout=120)
    assert set(outcomes) == {
        "A message the service publishes is counted and its content checked",
        "A message sent by a step arrives with its content",
        "Another run's message is not this scenario's",
        "A message sent to a named queue is read from it",
        *MUST_FAIL,
    }
    passing = {name for name in outcomes if name not in MUST_FAIL}
    assert failed(outcomes) == set(MUST_FAIL), {n: outcomes[n].report for n in failed(outcomes)}
    assert not passing & failed(outcomes)
    assert_diagnostics(outcomes, MUST_FAIL)


def _first_error(call: Callable[[], object]) -> BaseException:
    """What ``call`` raises first, calling it until it raises."""
    while True:
        try:
            call()
        except Exception as error:
            return error
