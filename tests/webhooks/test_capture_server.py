"""The capture server over real HTTP: what it records, how receivers answer, its limits,
stray calls, errors of its threads, its lifecycle, and per-scenario receivers."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from capture_client import send

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import AsyncBddError, InvalidInput
from asyncbdd.hooks import _after_all
from asyncbdd.webhooks import (
    Call,
    Request,
    Response,
    WebhookServer,
    WebhookServerError,
    captures,
    expect_calls,
    expect_no_calls,
    webhook_receiver,
    webhook_server,
    webhook_url,
)

Configure = Callable[..., Settings]


def test_a_call_is_recorded_with_everything_it_carried() -> None:
    """Method, path below the receiver, query, headers, raw and parsed body and arrival time."""
    with asyncbdd.scenario("record"):
        receiver = webhook_receiver("payment-complete")
        before = time.monotonic()
        answer = send(
            receiver.url + "/orders/ord-1?attempt=1&tag=a&tag=b",
            {"order_id": "ord-1", "amount": 99.99},
            method="PUT",
            headers={"X-Correlation-Id": "cid-1"},
        )
        [call] = expect_calls("payment-complete", 1)
    assert (answer.status, answer.body) == (200, b"")
    assert call.receiver == "payment-complete"
    assert call.method == "PUT"
    assert call.path == receiver.path + "/orders/ord-1"
    assert call.relative_path == "/orders/ord-1"
    assert call.query == "attempt=1&tag=a&tag=b"
    assert call.query_params == {"attempt": ["1"], "tag": ["a", "b"]}
    assert call.header("x-correlation-id") == "cid-1"
    assert call.header("Content-Type") == "application/json"
    assert call.body == b'{"order_id": "ord-1", "amount": 99.99}'
    assert call.json == {"order_id": "ord-1", "amount": 99.99}
    assert before <= call.received_at <= time.monotonic()
    assert call.status == 200
    assert call.note is None


def test_every_method_and_an_empty_body_are_captured() -> None:
    """GET, DELETE and a made-up method reach the receiver; a call may have no body."""
    with asyncbdd.scenario("methods"):
        url = webhook_receiver("ping").url
        statuses = [send(url, method=method).status for method in ("GET", "DELETE", "NOTIFY")]
        calls = expect_calls("ping", 3)
    assert statuses == [200, 200, 200]
    assert [(call.method, call.body) for call in calls] == [
        ("GET", b""),
        ("DELETE", b""),
        ("NOTIFY", b""),
    ]
    assert calls[0].summary() == "GET (empty body)"


def test_a_receiver_answers_its_status_and_body() -> None:
    """A receiver answers the status and body it was declared with; a document as JSON."""
    with asyncbdd.scenario("answers"):
        accepted = webhook_receiver("accepted", status=202, body={"received": True})
        text = webhook_receiver("text", status=201, body="thanks")
        reflecting = webhook_receiver("reflecting", body=lambda call: {"got": call.json})
        answers = [send(accepted.url, {}), send(text.url, {}), send(reflecting.url, {"a": 1})]
    assert [(a.status, a.body) for a in answers] == [
        (202, b'{"received": true}'),
        (201, b"thanks"),
        (200, b'{"got": {"a": 1}}'),
    ]
    assert answers[0].headers["Content-Type"] == "application/json"
    assert answers[1].headers["Content-Type"] == "text/plain; charset=utf-8"


def test_fail_first_answers_the_failure_then_succeeds_and_every_call_counts() -> None:
    """The first N calls get the failure status, later ones the receiver's; all are calls."""
    with asyncbdd.scenario("retries"):
        url = webhook_receiver("flaky", fail_first=2, fail_status=503, status=202).url
        statuses = [send(url, {"attempt": n}).status for n in (1, 2, 3, 4)]
        calls = expect_calls("flaky", 4)
    assert statuses == [503, 503, 202, 202]
    assert [call.status for call in calls] == [503, 503, 202, 202]
    assert calls[0].note == "the receiver fails the first 2 calls"
    assert calls[2].note is None


def test_a_delayed_answer_is_recorded_on_arrival() -> None:
    """A receiver that answers after a delay records the call at once and answers later."""
    answered = threading.Event()
    took: list[float] = []

    def call_it(url: str) -> None:
        started = time.monotonic()
        send(url, {"order_id": "ord-1"})
        took.append(time.monotonic() - started)
        answered.set()

    with asyncbdd.scenario("slow"):
        url = webhook_receiver("slow", delay=0.5).url
        client = threading.Thread(target=call_it, args=(url,))
        client.start()
        expect_calls("slow", 1, exactly=False)
        recorded_before_the_answer = not answered.is_set()
        client.join(10)
    assert recorded_before_the_answer
    assert len(took) == 1
    assert took[0] >= 0.5


def test_a_body_over_the_limit_is_answered_413_and_recorded_without_it(
    configure: Configure,
) -> None:
    """A body larger than asyncbdd.webhooks.max_body_size gets 413; the call is listed."""
    configure(webhooks_max_body_size="16 bytes")
    with asyncbdd.scenario("too large"):
        url = webhook_receiver("limited").url
        fits = send(url, b"x" * 16)
        too_large = send(url, b"x" * 17)
        calls = expect_calls("limited", 2)
    assert (fits.status, too_large.status) == (200, 413)
    assert too_large.headers["Connection"] == "close"
    assert calls[1].body == b""
    assert calls[1].note == (
        "a body of 17 bytes, over the limit of 16 (setting asyncbdd.webhooks.max_body_size)"
    )


def test_a_chunked_body_is_read_and_limited_too(configure: Configure) -> None:
    """A body sent in chunks is recorded whole, and one over the limit is answered 413."""
    configure(webhooks_max_body_size="10 bytes")
    with asyncbdd.scenario("chunked"):
        url = webhook_receiver("chunked").url
        small = _send_chunked(url, [b'{"a":', b" 1}"])
        large = _send_chunked(url, [b"0123456", b"789ab"])
        calls = expect_calls("chunked", 2)
    assert (small, large) == (200, 413)
    assert calls[0].json == {"a": 1}


def test_a_call_to_an_unknown_path_is_a_stray_answered_404() -> None:
    """A path no receiver owns gets 404 and is kept as a stray call of the scenario."""
    with asyncbdd.scenario("stray"):
        url = webhook_receiver("payment-complete").url
        answer = send(url.replace("payment-complete", "payment-completed"), {"a": 1})
        outside = send(webhook_server().url + "/somewhere", {"b": 2})
        box = captures()
    assert (answer.status, outside.status) == (404, 404)
    assert box.calls["payment-complete"] == []
    assert [(call.receiver, call.note, call.status) for call in box.strays] == [
        (None, "no receiver at this path", 404),
        (None, "no receiver at this path", 404),
    ]
    assert box.strays[0].json == {"a": 1}
    assert box.strays[1].path == "/somewhere"


def test_receivers_reset_per_scenario_and_late_calls_do_not_count() -> None:
    """A call to the previous scenario's receiver URL is a 404 stray, not a call now."""
    with asyncbdd.scenario("first") as first:
        old_url = webhook_receiver("payment-complete").url
    with asyncbdd.scenario("second") as second:
        new_url = webhook_receiver("payment-complete").url
        late = send(old_url, {"order_id": "ord-old"})
        expect_no_calls("payment-complete", during=0.1)
        box = captures()
    assert first.scenario_id in old_url
    assert second.scenario_id in new_url
    assert late.status == 404
    assert box.calls["payment-complete"] == []
    assert [call.note for call in box.strays] == ["a receiver of an earlier scenario"]


def test_a_receiver_is_declared_once_per_scenario() -> None:
    """Declaring the same receiver twice in a scenario names the URL it already has."""
    with asyncbdd.scenario("twice"):
        url = webhook_receiver("payment-complete").url
        with pytest.raises(InvalidInput) as raised:
            webhook_receiver("payment-complete", status=202)
    assert str(raised.value) == (
        f'A webhook receiver "payment-complete" is declared already in this scenario, at '
        f"{url}; declare each receiver once per scenario."
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"status": 99},
            'Webhook receiver "payment-complete": status is an HTTP status from 200 to 599; '
            "got 99.",
        ),
        ({"fail_status": 200}, "fail_status is an HTTP status from 400 to 599; got 200."),
        ({"fail_first": -1}, "fail_first is a number of calls, 0 or more; got -1."),
        ({"delay": "soon"}, "'soon' is not a duration."),
        ({"body": {"when": object()}}, "A webhook receiver answers text, bytes or a JSON"),
    ],
)
def test_a_receiver_with_impossible_answers_is_refused(
    options: dict[str, object], message: str
) -> None:
    """Impossible statuses, counts, delays and bodies fail when declared, naming the value."""
    with asyncbdd.scenario("refused"), pytest.raises(InvalidInput) as raised:
        webhook_receiver("payment-complete", **options)  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_an_error_in_the_server_thread_is_raised_by_the_waiting_step() -> None:
    """A body function that raises is answered 500, and the waiting step raises its error."""

    def broken(call: Call) -> str:
        raise ValueError(f"cannot answer {call.method}")

    with asyncbdd.scenario("broken"):
        url = webhook_receiver("broken", body=broken).url
        answer = send(url, {"a": 1})
        with pytest.raises(AsyncBddError) as raised:
            expect_calls("broken", 1)
    assert answer.status == 500
    assert str(raised.value) == (
        'The webhook capture server failed answering a call to the "broken" webhook: '
        "ValueError('cannot answer POST')"
    )
    assert isinstance(raised.value.__cause__, ValueError)


def test_an_error_outside_any_receiver_is_raised_by_the_waiting_step() -> None:
    """An error of the server thread that belongs to no receiver still reaches the test."""
    with asyncbdd.scenario("server error"):
        webhook_receiver("payment-complete")
        server = webhook_server()
        assert server.on_error is not None
        server.on_error(None, RuntimeError("socket trouble"))
        with pytest.raises(AsyncBddError, match=r"failed handling a call: RuntimeError"):
            expect_no_calls("payment-complete", during=1)


def test_a_server_that_listens_beyond_loopback_warns() -> None:
    """Listening on a wildcard address warns that other machines can call the server."""
    server = WebhookServer(lambda request: Response(204), host="0.0.0.0")
    with pytest.warns(UserWarning, match="listens on 0.0.0.0, so other machines can call it"):
        url = server.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        assert send(url + "/any", "x").status == 204
    finally:
        server.stop()


def test_the_server_lifecycle_is_strict_and_stopping_is_idempotent() -> None:
    """Starting a running server is an error; stopping a stopped one does nothing."""
    seen: list[Request] = []

    def record(request: Request) -> Response:
        seen.append(request)
        return Response(200, b"ok", "text/plain")

    with WebhookServer(record) as server:
        with pytest.raises(WebhookServerError, match="already running"):
            server.start()
        assert send(server.url + "/x?y=1", "body").body == b"ok"
    server.stop()
    assert not server.running
    assert [(r.method, r.path, r.query, r.body) for r in seen] == [("POST", "/x", "y=1", b"body")]
    with pytest.raises(WebhookServerError, match="not running"):
        _ = server.url


def test_a_fixed_port_that_is_taken_is_named() -> None:
    """A server asked for a port another server holds says so and how to choose another."""
    with WebhookServer(lambda request: Response(200)) as holder:
        port = int(holder.url.rsplit(":", 1)[1])
        with pytest.raises(WebhookServerError, match=f"cannot listen on 127.0.0.1:{port}"):
            WebhookServer(lambda request: Response(200), port=port).start()


def test_a_kept_alive_connection_carries_several_calls() -> None:
    """One HTTP/1.1 connection may send several calls; each is recorded."""
    with asyncbdd.scenario("keep-alive"):
        receiver = webhook_receiver("payment-complete")
        connection = http.client.HTTPConnection("127.0.0.1", _port(receiver.url), timeout=10)
        try:
            for number in range(3):
                connection.request("POST", receiver.path, body=f'{{"n": {number}}}')
                assert connection.getresponse().read() == b""
        finally:
            connection.close()
        calls = expect_calls("payment-complete", 3)
    assert [call.json for call in calls] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_stop_ends_the_thread_of_a_kept_alive_connection() -> None:
    """stop() shuts down a connection its client keeps open and waits for the thread that
    served it: a stopped server leaves no thread behind."""
    server = WebhookServer(lambda request: Response(200))
    port = _port(server.start())
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/hooks/kept-alive", body=b"{}")
        assert connection.getresponse().read() == b""
        serving = [
            t for t in threading.enumerate() if t.name.startswith(f"asyncbdd-webhooks-{port}-")
        ]
        assert len(serving) == 1  # other tests' servers may be serving meanwhile
        server.stop()
        assert not serving[0].is_alive()
    finally:
        connection.close()


def test_many_senders_at_once_are_all_recorded() -> None:
    """16 senders, each call on a new connection, lose no call and get no reset."""
    answers: list[int] = []

    def sender(url: str, number: int) -> None:
        answers.extend(send(url, {"sender": number, "call": call}).status for call in range(20))

    with asyncbdd.scenario("busy"):
        url = webhook_receiver("payment-complete").url
        senders = [threading.Thread(target=sender, args=(url, n)) for n in range(16)]
        for thread in senders:
            thread.start()
        calls = expect_calls("payment-complete", 320, timeout=10)
        for thread in senders:
            thread.join(10)
    assert answers == [200] * 320
    assert len({(call.json["sender"], call.json["call"]) for call in calls}) == 320


def test_the_public_url_is_what_receivers_advertise(configure: Configure) -> None:
    """With asyncbdd.webhooks.public_url set, receiver URLs start with it, not host:port."""
    configure(webhooks_public_url="http://host.docker.internal:8099/")
    with asyncbdd.scenario("public") as scenario:
        receiver = webhook_receiver("payment-complete")
        assert receiver.url == (
            f"http://host.docker.internal:8099/hooks/{scenario.scenario_id}/payment-complete"
        )
        assert webhook_url() == receiver.url
        assert send(webhook_server().url + receiver.path, {}).status == 200


def test_a_public_url_path_may_reach_the_server_or_be_stripped_on_the_way(
    configure: Configure,
) -> None:
    """A proxy under a path may forward calls with that path or without it: both count."""
    configure(webhooks_public_url="https://tunnel.example/capture")
    with asyncbdd.scenario("proxied"):
        receiver = webhook_receiver("payment-complete")
        assert receiver.url == "https://tunnel.example/capture" + receiver.path
        base = webhook_server().url
        statuses = [send(base + "/capture" + receiver.path, {}), send(base + receiver.path, {})]
        calls = expect_calls("payment-complete", 2)
    assert [answer.status for answer in statuses] == [200, 200]
    assert [call.relative_path for call in calls] == ["", ""]


def test_a_changed_host_or_port_restarts_the_server_for_the_next_scenario(
    configure: Configure,
) -> None:
    """The shared server follows asyncbdd.webhooks.port when a scenario declares receivers."""
    with asyncbdd.scenario("any port"):
        webhook_receiver("payment-complete")
        port = _port(webhook_server().url)
    with WebhookServer(lambda request: Response(200)) as probe:
        free = _port(probe.url)
    configure(webhooks_port=str(free))
    with asyncbdd.scenario("fixed port"):
        receiver = webhook_receiver("payment-complete")
        assert _port(receiver.url) == free != port
        assert send(receiver.url, {}).status == 200


def test_after_all_stops_the_server_and_the_next_receiver_starts_one() -> None:
    """behave's after_all stops the capture server; a later receiver starts a new one."""
    with asyncbdd.scenario("before after_all"):
        webhook_receiver("payment-complete")
        server = webhook_server()
    _after_all(SimpleNamespace())
    assert not server.running
    with asyncbdd.scenario("after after_all"):
        receiver = webhook_receiver("payment-complete")
        assert send(receiver.url, {}).status == 200
        assert webhook_server() is not server


def _port(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def _send_chunked(url: str, chunks: list[bytes]) -> int:
    host, port = "127.0.0.1", _port(url)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.putrequest("POST", "/" + url.split("://", 1)[1].split("/", 1)[1])
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for chunk in chunks:
            connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        connection.send(b"0\r\n\r\n")
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("a/b", 'Name it "a-b" instead'),
        ("/a", 'Name it "a" instead'),
        ("a/", 'Name it "a" instead'),
        (".", 'a name such as "payment-complete"'),
        ("..", 'a name such as "payment-complete"'),
    ],
)
def test_a_receiver_name_that_is_no_single_url_segment_is_refused(name: str, fix: str) -> None:
    """A name with "/" (or a dot segment, which clients remove) is refused, naming the
    receiver and the fix, so no call can reach one receiver by another's URL."""
    with asyncbdd.scenario("slash"), pytest.raises(InvalidInput) as raised:
        webhook_receiver(name)
    assert str(raised.value).startswith(f'The webhook receiver "{name}" ')
    assert fix in str(raised.value)


def test_a_call_below_a_receivers_url_is_that_receivers_call() -> None:
    """With receiver "a" declared and "a/b" refused, a call to a's URL + "/b" is a's call
    with the path "/b", and a receiver "a-b" is a receiver of its own."""
    with asyncbdd.scenario("sub-paths"):
        first = webhook_receiver("a")
        with pytest.raises(InvalidInput, match='"a-b"'):
            webhook_receiver("a/b")
        other = webhook_receiver("a-b")
        statuses = [send(first.url + "/b", {"n": 1}).status, send(other.url, {"n": 2}).status]
        [below] = expect_calls("a", 1)
        [own] = expect_calls("a-b", 1)
    assert statuses == [200, 200]
    assert (below.relative_path, below.json) == ("/b", {"n": 1})
    assert (own.relative_path, own.json) == ("", {"n": 2})
