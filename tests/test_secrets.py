"""Secrets never appear in output: the naming rule, the maskers, and every report, error
and log line built from inputs with secrets planted in them."""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

import asyncbdd
from asyncbdd.config import Settings, get_settings, load_settings, set_settings
from asyncbdd.errors import AsyncBddError, ConfigurationError, ExpectationFailed, InvalidInput
from asyncbdd.queues.aliases import queue_from_spec
from asyncbdd.queues.kafka import kafka_settings
from asyncbdd.queues.sqs import SqsQueue, sqs_settings
from asyncbdd.scenario import end_scenario
from asyncbdd.secrets import (
    UNPARSEABLE_URL,
    add_secret_names,
    is_secret_name,
    mask_mapping,
    mask_query,
    mask_url,
    mask_urls_in,
    mask_value,
)
from asyncbdd.traces.http import HttpTraceStore
from asyncbdd.webhooks import (
    Call,
    CallMatcher,
    assert_call,
    expect_calls,
    sign,
    stop_webhook_server,
    webhook_receiver,
    webhook_server,
)

PLANTED = {
    "hmac": "PLANTEDhmacsecret",
    "sasl": "PLANTEDsaslpw",
    "sasl_tail": "PLANTEDsasltail",
    "team": "PLANTEDteampin",
    "sqs_password": "PLANTEDsqspw",
    "sqs_token": "PLANTEDsqstoken",
    "trace_password": "PLANTEDtracepw",
    "trace_token": "PLANTEDtracetoken",
    "db_password": "PLANTEDdbpw",
    "db_query": "PLANTEDdbquerypw",
    "db_ssl": "PLANTEDdbsslpw",
    "public": "PLANTEDpublicpw",
    "api_key": "PLANTEDapikey",
    "auth_token": "PLANTEDauthtoken",
    "hub": "PLANTEDhubsig",
    "bearer": "PLANTEDbearer",
    "query": "PLANTEDquerytoken",
    "tenant": "PLANTEDtenantkey",
}
"""Every secret the tests plant; none of them may appear in anything rendered."""


@pytest.fixture(autouse=True)
def own_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ASYNCBDD_* variable leaks in; the settings in force are restored afterwards."""
    for variable in list(os.environ):
        if variable.startswith("ASYNCBDD_"):
            monkeypatch.delenv(variable)
    previous = get_settings()
    set_settings(load_settings(environ={}))
    yield
    end_scenario()
    set_settings(previous)


@pytest.fixture(scope="module", autouse=True)
def stop_the_capture_server() -> Iterator[None]:
    """The capture server the webhook test starts stops with the module."""
    yield
    stop_webhook_server()


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log line of the asyncbdd loggers, down to DEBUG, checked for secrets at the end."""
    caplog.set_level(logging.DEBUG, logger="asyncbdd")
    yield caplog
    assert_no_secret(caplog.text, "the asyncbdd log")


def assert_no_secret(text: str, what: str) -> None:
    """Fail naming each planted secret found in ``text``."""
    found = [name for name, secret in PLANTED.items() if secret in text]
    assert not found, f"{what} shows the planted secrets {found}:\n{text}"


def assert_shown(text: str, pieces: Iterable[str]) -> None:
    """Fail naming each non-secret piece missing from ``text``."""
    missing = [piece for piece in pieces if piece not in text]
    assert not missing, f"the output lost {missing}:\n{text}"


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def send(port: int, target: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``target`` of the capture server on ``port``; return the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


# -------------------------------------------------------------------------------------
# The rule on names


@pytest.mark.parametrize(
    "name",
    [
        "X-Api-Key", "api_key", "APIKEY", "X-Auth-Token", "Authorization",
        "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Hub-Signature-256", "access_token",
        "refresh-token", "client_secret", "sasl_plain_password", "ssl_password", "passwd",
        "PWD", "session_id", "X-Session", "aws_credentials", "private_key", "PRIVATE-KEY",
    ],
)  # fmt: skip
def test_secret_names_follow_the_rule(name: str) -> None:
    """A name containing a secret word, in any case and with - or _ anywhere, is secret."""
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["Content-Type", "X-Correlation-Id", "page", "sasl_plain_username", "security_protocol",
     "host", "X-Request-Id", "key", "sasl_mechanism"],
)  # fmt: skip
def test_other_names_are_not_secret(name: str) -> None:
    """Names without a secret word are shown as they are."""
    assert not is_secret_name(name)


def test_a_team_adds_secret_names_by_setting() -> None:
    """Names of the asyncbdd.secrets.names setting are secret too, by the same rule."""
    set_settings(load_settings(environ={"ASYNCBDD_SECRETS_NAMES": "X-Tenant, pin"}))
    assert get_settings().secrets_names == ("X-Tenant", "pin")
    assert is_secret_name("x_tenant_id")
    assert is_secret_name("PIN")
    assert not is_secret_name("X-Region")


def test_add_secret_names_adds_to_the_setting_in_force() -> None:
    """add_secret_names puts its names into the asyncbdd.secrets.names setting in force."""
    set_settings(load_settings(environ={}, overrides={"asyncbdd.secrets.names": "pin"}))
    asyncbdd.add_secret_names("X-Tenant-Key", "pin")
    assert get_settings().secrets_names == ("pin", "X-Tenant-Key")
    assert is_secret_name("x-tenant-key")


@pytest.mark.parametrize("name", ["", " ", "-_", 7])
def test_add_secret_names_needs_a_letter_or_digit(name: object) -> None:
    """A name that would match every name (empty once - and _ are left out) is refused."""
    with pytest.raises(InvalidInput, match="letter or digit"):
        add_secret_names(name)  # type: ignore[arg-type]


@pytest.mark.parametrize("names", ["pin, -", "_", "pin\n--"])
def test_the_secret_names_setting_needs_letters_or_digits(names: str) -> None:
    """The setting refuses a name that would match every name."""
    with pytest.raises(ConfigurationError, match="letter or digit"):
        load_settings(environ={}, overrides={"asyncbdd.secrets.names": names})


# -------------------------------------------------------------------------------------
# The maskers


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Bearer abc", "Bearer ***"), ("Basic dTpw", "Basic ***"), ("sha256=abc", "sha256=***"),
        ("sha1=abc", "sha1=***"), ("abc", "***"), ("", "***"), ("hunter2=abc", "***"),
        ("my secret", "***"), (12345, "***"), (None, "***"),
    ],
)  # fmt: skip
def test_mask_value_keeps_only_a_known_scheme(value: object, shown: str) -> None:
    """A masked value keeps an HTTP authentication scheme or a digest name, nothing else."""
    assert mask_value(value) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://u:pw@h/db?password=x&sslpassword=y",
            "postgresql+psycopg://u:***@h/db?password=***&sslpassword=***",
        ),
        ("postgresql://u:Zq%40Xw@db.internal:abc/shop", "postgresql://u:***@db.internal:abc/shop"),
        ("mysql+pymysql://u:Zq@Xw@localhost:3306/db", "mysql+pymysql://u:***@localhost:3306/db"),
        ("sqlite:///shop.db?password=x", "sqlite:///shop.db?password=***"),
        (
            "http://ak:sk@127.0.0.1:4566/?access_token=t&region=eu",
            "http://ak:***@127.0.0.1:4566/?access_token=***&region=eu",
        ),
        ("https://h/t/{correlation_id}?api-key=k", "https://h/t/{correlation_id}?api-key=***"),
        ("http://h/cb#access_token=t&state=s", "http://h/cb#access_token=***&state=s"),
        ("sqs:https://u:pw@h/1/billing", "sqs:https://u:***@h/1/billing"),
        ("HTTP://U:PW@H/", "HTTP://U:***@H/"),
        ("amqp://u:@h", "amqp://u:***@h"),
    ],
)
def test_mask_url_masks_the_password_and_secret_parameters(url: str, shown: str) -> None:
    """The userinfo password and secret query and fragment values become ***, in any scheme."""
    assert mask_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "http://h:8080/path?page=2&sort=asc", "sqlite:///shop.db?timeout=soon",
        "https://medium.com/@someone", "postgresql://postgres@127.0.0.1:5432/test",
        "not a url at all", "127.0.0.1:9092,127.0.0.1:9093", "attribute:correlation_id", "",
        " kafka: ",
    ],
)  # fmt: skip
def test_mask_url_keeps_a_url_without_secrets_as_it_is(url: str) -> None:
    """A URL (or text) with nothing secret in it is returned unchanged."""
    assert mask_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:Zq@Xw:Jk/Vb#Np@localhost/db",
        "postgresql+psycopg://u:Zq@Xw@[::1/db",
        "://u:Zq@Xw@localhost/db",
        "u:Zq@Xw@localhost/db",
        "postgresql:/u:Zq@Xw@localhost/db",
        "http://u:Zq?Xw@localhost/",
        "http://u:123/Zq@localhost/",
    ],
)
def test_mask_url_never_shows_a_password_it_cannot_read(url: str) -> None:
    """A URL whose password cannot be told apart from the rest is shown as a placeholder."""
    assert mask_url(url) == UNPARSEABLE_URL


def test_mask_query_masks_what_an_ampersand_cut_off() -> None:
    """Text after a secret value up to the next name= is taken as part of the secret."""
    assert mask_query("a=1&token=x&y&b=2&X-Api-Key=k") == "a=1&token=***&b=2&X-Api-Key=***"
    assert mask_query("flag&page=2") == "flag&page=2"


def test_mask_mapping_masks_secret_names_and_urls() -> None:
    """Secret names' values are masked, URLs in other values through mask_url, the rest kept."""
    shown = mask_mapping(
        {"Authorization": "Bearer t", "X-Hub": "sha256=d", "Referer": "http://u:p@h/", "n": 3},
        also=["x-hub"],
    )
    assert shown == {
        "Authorization": "Bearer ***", "X-Hub": "sha256=***", "Referer": "http://u:***@h/", "n": 3,
    }  # fmt: skip


def test_mask_urls_in_masks_each_url_of_a_text() -> None:
    """Every URL in another library's message is masked, the words around it kept."""
    text = 'Could not connect to the endpoint URL: "http://ak:sk@127.0.0.1:1/?token=t"'
    assert mask_urls_in(text) == (
        'Could not connect to the endpoint URL: "http://ak:***@127.0.0.1:1/?token=***"'
    )


# -------------------------------------------------------------------------------------
# Planted secrets: none appears in anything rendered


def planted_settings() -> Settings:
    """Settings with a secret in every field that may hold one."""
    return load_settings(
        environ={
            "ASYNCBDD_KAFKA_OPTIONS": (
                f"security_protocol=SASL_SSL, sasl_mechanism=PLAIN, sasl_plain_username=alice, "
                f"sasl_plain_password={PLANTED['sasl']}"
            ),
            "ASYNCBDD_SQS_ENDPOINT": (
                f"http://ak:{PLANTED['sqs_password']}@127.0.0.1:4566/"
                f"?access_token={PLANTED['sqs_token']}"
            ),
        },
        overrides={
            "asyncbdd.webhooks.secret": PLANTED["hmac"],
            "asyncbdd.database_url": (
                f"postgresql+psycopg://shop:{PLANTED['db_password']}@127.0.0.1:5432/shop"
                f"?password={PLANTED['db_query']}&sslpassword={PLANTED['db_ssl']}"
            ),
            "asyncbdd.webhooks.public_url": f"http://hooks:{PLANTED['public']}@127.0.0.1:8099",
            "asyncbdd.queues": f"billing = sqs:http://ak:{PLANTED['sqs_password']}@127.0.0.1:1/1/b",
        },
    )


def test_the_repr_of_settings_shows_no_secret(logged: pytest.LogCaptureFixture) -> None:
    """repr(Settings) masks the webhooks secret, secret Kafka options and URLs' secrets."""
    settings = planted_settings()
    shown = repr(settings)
    assert_no_secret(shown, "repr(Settings)")
    assert_shown(
        shown,
        ["127.0.0.1:4566", "ak:***@", "sasl_plain_password", "sasl_plain_username=alice",
         "webhooks_secret='***'", "hooks:***@127.0.0.1:8099", "shop:***@",
         "webhooks_signature_header='X-Signature'", "billing': 'sqs:http://ak:***@127.0.0.1:1"],
    )  # fmt: skip
    assert kafka_settings(settings).options["sasl_plain_password"] == PLANTED["sasl"]
    assert_no_secret(str(settings), "str(Settings)")


def used_settings(**sources: Any) -> Settings:
    """Settings loaded, and the options of the Kafka transport read from them, as a run
    that uses a topic reads them (a transport checks its options when it is used)."""
    settings = load_settings(**sources)
    kafka_settings(settings)
    return settings


@pytest.mark.parametrize(
    ("key", "value", "kept"),
    [
        pytest.param(
            "asyncbdd.kafka.options",
            f"security_protocol=SASL_SSL, sasl_plain_password={PLANTED['sasl']},"
            f"{PLANTED['sasl_tail']}",
            "security_protocol=SASL_SSL",
            id="kafka-password-with-a-comma",
        ),
        pytest.param(
            "asyncbdd.kafka.options",
            f"sasl_plain_password={PLANTED['sasl']}, not-a-pair",
            "sasl_plain_password=***",
            id="kafka-password-then-a-bad-item",
        ),
        pytest.param(
            "asyncbdd.webhooks.public_url",
            f"http://hooks:{PLANTED['public']}@127.0.0.1:8099/?access_token={PLANTED['query']}",
            "127.0.0.1:8099",
            id="public-url-with-a-query",
        ),
        pytest.param(
            "asyncbdd.webhooks.public_url",
            f"ftp://hooks:{PLANTED['public']}@127.0.0.1",
            "hooks:***@127.0.0.1",
            id="public-url-of-another-scheme",
        ),
        pytest.param(
            "asyncbdd.queues",
            f"billing = sqs:http://ak:{PLANTED['sqs_password']}@127.0.0.1:1/1/b, "
            f"{PLANTED['sasl_tail']}@x",
            "billing = sqs:http://ak:***@127.0.0.1:1/1/b",
            id="queue-url-with-a-password",
        ),
    ],
)
def test_a_configuration_error_echoes_no_secret(
    key: str, value: str, kept: str, logged: pytest.LogCaptureFixture
) -> None:
    """An invalid setting's error shows the setting with its secrets masked, and why."""
    with pytest.raises(ConfigurationError) as raised:
        used_settings(environ={}, overrides={key: value})
    message = str(raised.value)
    assert_no_secret(message, "the configuration error")
    assert_shown(message, [key, "is invalid", kept])


def test_webhook_reports_show_no_secret_header_or_parameter(
    logged: pytest.LogCaptureFixture,
) -> None:
    """Failure reports and reprs of webhook calls mask secret headers, the signature
    header and secret query parameters, and show the names and the host."""
    set_settings(planted_settings().replace(timeout=3.0, grace=0.1))
    body = json.dumps({"order_id": "ord-1"}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Api-Key": PLANTED["api_key"],
        "X-Auth-Token": PLANTED["auth_token"],
        "X-Hub-Signature-256": f"sha256={PLANTED['hub']}",
        "Authorization": f"Bearer {PLANTED['bearer']}",
        "X-Signature": sign(body, PLANTED["hmac"]),
    }
    signature = headers["X-Signature"].partition("=")[2]
    reports: list[str] = []
    with asyncbdd.scenario("planted webhook secrets"):
        receiver = webhook_receiver("payment-complete")
        port = int(webhook_server().url.rsplit(":", 1)[1])
        query = f"?access_token={PLANTED['query']}&page=2"
        assert send(port, receiver.path + query, body, headers) == 200
        assert send(port, "/nobody" + query, body, headers) == 404
        [call] = expect_calls("payment-complete", 1)
        wrong = CallMatcher(
            headers={"X-Api-Key": "other", "X-Auth-Token": "other"},
            query={"access_token": "other", "page": "3"},
        )
        with pytest.raises(ExpectationFailed) as failed:
            assert_call(wrong)
        reports.append(str(failed.value))
        with pytest.raises(AssertionError) as timed_out:
            expect_calls("payment-complete", 2, where=wrong, timeout=0.2)
        reports.append(str(timed_out.value))
        reports += [repr(call), call.summary(), str(call.shown_headers()), repr(receiver)]
        reports.append(receiver.describe())
    report = "\n".join(reports)
    found = [secret for secret in (signature, *PLANTED.values()) if secret in report]
    assert not found, f"the webhook reports show {found}:\n{report}"
    assert_shown(
        report,
        ["X-Api-Key", "X-Auth-Token", "X-Hub-Signature-256", "'sha256=***'", "Bearer ***",
         "access_token=***&page=2", "hooks:***@127.0.0.1:8099", "page': expected '3'",
         "/nobody?access_token=***", "Content-Type': 'application/json'"],
    )  # fmt: skip
    assert call.header("X-Api-Key") == PLANTED["api_key"]  # only its display is masked


def test_names_a_team_adds_are_masked_everywhere(logged: pytest.LogCaptureFixture) -> None:
    """Options, headers and parameters named by asyncbdd.secrets.names are masked in the
    repr of Settings, in configuration errors and in webhook calls."""
    settings = load_settings(
        environ={"ASYNCBDD_KAFKA_OPTIONS": f"tenant_pin={PLANTED['team']}, client_id=shop"},
        overrides={"asyncbdd.secrets.names": "pin, X-Tenant-Key"},
    )
    cut = f"tenant_pin={PLANTED['team']};{PLANTED['sasl_tail']}"  # a ; in the pin
    with pytest.raises(ConfigurationError) as raised:
        used_settings(
            environ={"ASYNCBDD_SECRETS_NAMES": "pin"}, overrides={"asyncbdd.kafka.options": cut}
        )
    set_settings(settings)
    call = Call(
        receiver="r", method="POST", path="/p", query=f"pin={PLANTED['team']}&page=2",
        headers=(("X-Tenant-Key", PLANTED["tenant"]),), body=b"{}",
    )  # fmt: skip
    shown = "\n".join([repr(settings), str(raised.value), repr(call)])
    assert_no_secret(shown, "the output")
    assert_shown(
        shown,
        ["tenant_pin=***, client_id=shop", "tenant_pin=***", "pin=***&page=2",
         "'X-Tenant-Key': '***'"],
    )  # fmt: skip


def test_a_call_built_directly_masks_the_signature_header_it_is_given() -> None:
    """A Call masks the headers it is told to (a receiver's signature header) besides the rule."""
    call = Call(
        receiver="r", method="POST", path="/p", query=f"token={PLANTED['query']}",
        headers=(("X-Sig", f"sha256={PLANTED['hub']}"), ("X-Other", "shown")), body=b"{}",
        masked=frozenset({"x-sig"}),
    )  # fmt: skip
    shown = repr(call)
    assert_no_secret(shown, "repr(Call)")
    assert_shown(shown, ["'X-Sig': 'sha256=***'", "'X-Other': 'shown'", "token=***"])


def test_an_sqs_queue_shows_its_endpoint_without_secrets(
    logged: pytest.LogCaptureFixture,
) -> None:
    """describe() and the errors of an SQS queue mask the endpoint's password and token."""
    listening = socket.create_server(("127.0.0.1", 0))
    reachable = listening.getsockname()[1]
    planted = planted_settings()
    endpoint = sqs_settings(planted).endpoint or ""

    def with_endpoint(url: str) -> Settings:
        sqs = {"endpoint": url, "region": "us-east-1"}
        return planted.replace(transport_settings={**planted.transport_settings, "sqs": sqs})

    shown: list[str] = []
    try:
        set_settings(with_endpoint(endpoint.replace("4566", str(reachable))))
        queue = SqsQueue("billing", "billing")
        assert queue.client is not None  # built: the endpoint is known now
        shown.append(queue.describe())
        queue.close()
    finally:
        listening.close()
    closed = endpoint.replace("4566", str(closed_port()))
    set_settings(with_endpoint(closed))
    with pytest.raises(AsyncBddError) as unreachable:
        SqsQueue("billing", "billing").open()
    shown.append(str(unreachable.value))
    text = "\n".join(shown)
    assert_no_secret(text, "the SQS queue's output")
    assert_shown(text, ["SQS queue 'billing' at http://ak:***@127.0.0.1:", "access_token=***"])


def test_a_queue_spec_not_understood_shows_no_password(logged: pytest.LogCaptureFixture) -> None:
    """A queue alias whose text is neither sqs: nor kafka: is named with its URL masked."""
    with pytest.raises(ConfigurationError) as raised:
        queue_from_spec("billing", f"https://ak:{PLANTED['sqs_password']}@127.0.0.1:1/1/b")
    assert_no_secret(str(raised.value), "the queue alias error")
    assert_shown(str(raised.value), ["'billing'", "https://ak:***@127.0.0.1:1/1/b"])


def test_an_http_trace_store_shows_its_url_without_secrets(
    logged: pytest.LogCaptureFixture,
) -> None:
    """describe() and the errors of an HTTP trace store mask the URL's password and token."""
    port = closed_port()
    store = HttpTraceStore(
        f"http://127.0.0.1:{port}/traces/{{correlation_id}}?access_token={PLANTED['trace_token']}"
    )
    shown = [store.describe()]
    with pytest.raises(AsyncBddError) as unreachable:
        store.events("c-1")
    shown.append(str(unreachable.value))
    with_password = HttpTraceStore(
        f"http://tracer:{PLANTED['trace_password']}@127.0.0.1:{port}/t/{{correlation_id}}"
    )
    shown.append(with_password.describe())
    with pytest.raises(AsyncBddError) as malformed:
        with_password.events("c-1")
    shown.append(str(malformed.value))
    with pytest.raises(InvalidInput) as no_placeholder:
        HttpTraceStore(f"http://127.0.0.1:{port}/t?token={PLANTED['trace_token']}")
    shown.append(str(no_placeholder.value))
    text = "\n".join(shown)
    assert_no_secret(text, "the trace store's output")
    assert_shown(
        text,
        [f"127.0.0.1:{port}/traces/{{correlation_id}}?access_token=***", "tracer:***@127.0.0.1",
         f"GET http://127.0.0.1:{port}/traces/c-1?access_token=***"],
    )  # fmt: skip


def test_a_queue_given_by_url_names_itself_without_the_urls_query() -> None:
    """An SQS queue given by a URL with a token in its query keeps the token out of its
    name, and so out of every description and error."""
    queue = SqsQueue("billing", "https://sqs.example.test/1234/billing?access_token=tok-7Zq9")
    assert queue.name == "billing"
    assert "tok-7Zq9" not in queue.describe()
