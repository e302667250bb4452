"""Queue settings and aliases: parsing, and errors that name the input and the fix."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from doubles import ClosingQueue

import asyncbdd
from asyncbdd.config import Settings, load_settings
from asyncbdd.errors import ConfigurationError, InvalidInput, UnknownName
from asyncbdd.queues import (
    Correlation,
    KafkaTopic,
    SqsQueue,
    alias_names,
    expect_messages,
    queue_named,
    register_queue,
    unregister_queue,
)
from asyncbdd.queues.aliases import close_queues, queue_from_spec
from asyncbdd.queues.kafka import kafka_settings
from asyncbdd.queues.sqs import sqs_settings
from asyncbdd.registry import new_run

Configure = Callable[..., Settings]


def settings_with(key: str, value: object) -> Settings:
    """Settings loaded with one ``asyncbdd.*`` key set, as behave's -D would set it."""
    return load_settings(environ={}, overrides={key: value})


def test_queues_setting_accepts_newlines_commas_and_semicolons() -> None:
    """Aliases may be one per line (behave's multi-line userdata) or separated by , and ;."""
    text = (
        "\n  billing = sqs:billing\n"
        "  order.created = kafka:order.created, shipping=sqs:shipping ;"
        "inventory = sqs:https://sqs.eu-west-1.amazonaws.com/123456789012/inventory\n"
    )
    assert settings_with("asyncbdd.queues", text).queues == {
        "billing": "sqs:billing",
        "order.created": "kafka:order.created",
        "shipping": "sqs:shipping",
        "inventory": "sqs:https://sqs.eu-west-1.amazonaws.com/123456789012/inventory",
    }


def test_queues_setting_without_an_equals_sign_is_a_configuration_error() -> None:
    """An item that is not 'alias = spec' is reported with the setting and the item."""
    with pytest.raises(ConfigurationError) as raised:
        settings_with("asyncbdd.queues", "billing = sqs:billing, shipping sqs:shipping")
    message = str(raised.value)
    assert "asyncbdd.queues" in message
    assert "'shipping sqs:shipping' is not of the form 'name = value'" in message


def test_queue_from_spec_builds_sqs_queues_and_kafka_topics() -> None:
    """sqs:NAME, sqs:URL and kafka:TOPIC give the matching queue, not yet connected."""
    by_name = queue_from_spec("billing", " SQS : billing ")
    assert isinstance(by_name, SqsQueue)
    assert (by_name.alias, by_name.name, by_name.url) == ("billing", "billing", None)
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/billing.fifo"
    by_url = queue_from_spec("billing", f"sqs:{url}")
    assert isinstance(by_url, SqsQueue)
    assert (by_url.name, by_url.url) == ("billing.fifo", url)
    topic = queue_from_spec("orders", "kafka:order.created")
    assert isinstance(topic, KafkaTopic)
    assert (topic.alias, topic.topic) == ("orders", "order.created")


@pytest.mark.parametrize("spec", ["rabbitmq:billing", "sqs:", "billing", "kafka: "])
def test_queue_from_spec_rejects_what_it_does_not_understand(spec: str) -> None:
    """A malformed spec names the alias, the spec and the forms that are understood."""
    with pytest.raises(ConfigurationError) as raised:
        queue_from_spec("billing", spec)
    message = str(raised.value)
    assert f"Queue alias 'billing' = {spec!r} is not understood" in message
    assert "asyncbdd.queues" in message
    assert "kafka:TOPIC (a Kafka topic" in message
    assert "sqs:QUEUE-NAME, sqs:QUEUE-URL (an SQS queue" in message


def test_unknown_alias_lists_the_known_aliases(configure: Configure, uid: str) -> None:
    """A mistyped alias is an UnknownName that suggests the close one and lists them all."""
    configure({f"billing-{uid}": f"sqs:billing-{uid}", f"orders-{uid}": f"kafka:orders-{uid}"})
    with pytest.raises(UnknownName) as raised:
        queue_named(f"biling-{uid}")
    message = str(raised.value)
    assert f"No queue named 'biling-{uid}' is registered." in message
    assert f"Did you mean 'billing-{uid}'?" in message
    assert f"'billing-{uid}', 'orders-{uid}'" in message
    assert "asyncbdd.queues" in message


def test_an_unknown_alias_fails_before_any_waiting(configure: Configure, uid: str) -> None:
    """expect_messages checks every alias before it waits on any queue."""
    configure({f"billing-{uid}": f"sqs:billing-{uid}"})
    with asyncbdd.scenario("unknown alias"), pytest.raises(UnknownName, match="shiping"):
        expect_messages([f"billing-{uid}", f"shiping-{uid}"], 1, timeout=30)


def test_registered_queue_wins_over_configuration(configure: Configure, uid: str) -> None:
    """A queue registered in Python replaces a configured alias of the same name."""
    alias = f"billing-{uid}"
    configure({alias: f"sqs:configured-{uid}"})
    registered = SqsQueue(alias, f"registered-{uid}")
    register_queue(alias, registered)
    try:
        assert queue_named(alias) is registered
        assert alias in alias_names()
        register_queue(alias, registered)  # the same queue again changes nothing
        with pytest.raises(ConfigurationError, match="already registered in this run"):
            register_queue(alias, SqsQueue(alias, f"another-{uid}"))
    finally:
        unregister_queue(alias)
    configured = queue_named(alias)
    assert isinstance(configured, SqsQueue)
    assert configured.name == f"configured-{uid}"


@pytest.mark.parametrize("value", ["header:correlation_id", "attribute:", "field", "sometimes"])
def test_unknown_correlation_setting_is_a_configuration_error(value: str) -> None:
    """asyncbdd.queues.correlation accepts attribute:NAME, field:PATH or off, and says so."""
    with pytest.raises(ConfigurationError) as raised:
        settings_with("asyncbdd.queues.correlation", value)
    message = str(raised.value)
    assert "asyncbdd.queues.correlation" in message
    assert "write attribute:NAME, field:PATH or off" in message


def test_correlation_settings_that_are_understood() -> None:
    """The three correlation forms load, and Correlation reads them the same way."""
    for value in ("attribute:trace_id", "field:meta.correlation_id", "off"):
        assert settings_with("asyncbdd.queues.correlation", value).queues_correlation == value
    assert Correlation("field:meta.correlation_id").name == "meta.correlation_id"
    assert not Correlation("off").enabled
    with pytest.raises(InvalidInput, match="write attribute:NAME, field:PATH or off"):
        Correlation("header:trace_id")


def test_kafka_options_are_parsed_with_integers() -> None:
    """asyncbdd.kafka.options reads 'name = value' pairs, whole numbers as integers."""
    settings = settings_with(
        "asyncbdd.kafka.options",
        "security_protocol = SASL_SSL; sasl_mechanism=PLAIN, request_timeout_ms = 5000",
    )
    options = kafka_settings(settings).options
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "request_timeout_ms": 5000,
    }


def test_unknown_kafka_option_is_a_configuration_error(configure: Configure, uid: str) -> None:
    """A Kafka option kafka-python does not know is named when the topic is first used."""
    alias = f"orders-{uid}"
    configure(
        {alias: f"kafka:orders-{uid}"},
        kafka_options="security_protocol = PLAINTEXT, sasl_mechanizm = PLAIN",
    )
    with asyncbdd.scenario("bad kafka options"), pytest.raises(ConfigurationError) as raised:
        expect_messages(alias, 1, timeout=0.3)
    message = str(raised.value)
    assert "asyncbdd.kafka.options" in message
    assert "options kafka-python does not know: sasl_mechanizm." in message


@pytest.mark.parametrize(("text", "value"), [("no", False), ("true", True), ("OFF", False)])
def test_unwrap_sns_setting_reads_booleans(text: str, value: bool) -> None:
    """asyncbdd.sqs.unwrap_sns reads the usual spellings of true and false."""
    assert sqs_settings(settings_with("asyncbdd.sqs.unwrap_sns", text)).unwrap_sns is value


def test_an_sqs_setting_with_a_bad_value_names_it() -> None:
    with pytest.raises(ConfigurationError, match=r"asyncbdd\.sqs\.sharing = 'sometimes'"):
        sqs_settings(settings_with("asyncbdd.sqs.sharing", "sometimes"))


def test_unwrap_sns_setting_rejects_other_text() -> None:
    """A value that is neither true nor false names the setting and the fix."""
    with pytest.raises(ConfigurationError, match=r"asyncbdd\.sqs\.unwrap_sns.*true or false"):
        sqs_settings(settings_with("asyncbdd.sqs.unwrap_sns", "maybe"))


def test_a_changed_setting_gives_the_alias_a_new_queue(configure: Configure, uid: str) -> None:
    """Settings a queue is built from (SNS unwrapping, Kafka options) rebuild it on change."""
    billing, orders = f"billing-{uid}", f"orders-{uid}"
    queues = {billing: f"sqs:billing-{uid}", orders: f"kafka:orders.{uid}"}
    configure(queues)
    unwrapping, plain_options = queue_named(billing), queue_named(orders)
    configure(queues, **{"sqs.unwrap_sns": "false", "kafka.options": "client_id = tests"})
    kept = queue_named(billing)
    assert isinstance(unwrapping, SqsQueue)
    assert isinstance(kept, SqsQueue)
    assert (unwrapping.unwrap_sns, kept.unwrap_sns) == (True, False)
    with_options = queue_named(orders)
    assert isinstance(plain_options, KafkaTopic)
    assert isinstance(with_options, KafkaTopic)
    assert (plain_options.options, with_options.options) == ({}, {"client_id": "tests"})
    assert queue_named(billing) is kept


def test_correlation_stamp_writes_a_nested_field_only_into_objects() -> None:
    """A field path is created in the body, and a parent that is no object is left alone."""
    correlation = Correlation("field:meta.trace.id")
    assert correlation.stamp({"order_id": "ord-1"}, {}, "c-1") == (
        {"order_id": "ord-1", "meta": {"trace": {"id": "c-1"}}},
        {},
    )
    assert correlation.stamp({"meta": {"trace": {"id": "mine"}}}, {}, "c-1")[0] == {
        "meta": {"trace": {"id": "mine"}}
    }
    assert correlation.stamp({"meta": "text"}, {}, "c-1") == ({"meta": "text"}, {})
    assert correlation.stamp(["a list"], {}, "c-1") == (["a list"], {})
    header = Correlation("attribute:trace_id")
    assert header.stamp({}, {"trace_id": "mine", "x": "1"}, "c-1")[1] == {
        "trace_id": "mine",
        "x": "1",
    }
    assert header.stamp({}, {}, "c-1")[1] == {"trace_id": "c-1"}


@pytest.mark.usefixtures("own_queues")
def test_close_queues_closes_every_queue_and_forgets_the_configured_ones(
    configure: Configure, uid: str
) -> None:
    """At the end of a run every queue is closed; a registered one stays registered, a
    configured one is built afresh on its next use (for the brokers of the next run)."""
    configured_alias = f"configured-{uid}"
    configure({configured_alias: f"sqs:configured-{uid}"})
    configured = queue_named(configured_alias)
    registered = ClosingQueue(f"registered-{uid}")
    register_queue(registered.alias, registered)
    close_queues()
    assert registered.closed == 1
    assert queue_named(registered.alias) is registered
    assert queue_named(configured_alias) is not configured


@pytest.mark.usefixtures("own_queues")
def test_close_queues_closes_the_others_when_one_fails(uid: str) -> None:
    """A queue that fails to close does not keep the others open; its error is raised."""
    failing, other = ClosingQueue(f"a-{uid}", fails=True), ClosingQueue(f"b-{uid}")
    register_queue(failing.alias, failing)
    register_queue(other.alias, other)
    with pytest.raises(RuntimeError, match="could not close"):
        close_queues()
    assert (failing.closed, other.closed) == (1, 1)


def test_an_alias_registers_again_in_a_new_run(uid: str) -> None:
    """behavex runs environment.py once per behave run in one process: the same
    registration in the next run takes the new queue, without an error."""
    alias = f"billing-{uid}"
    register_queue(alias, SqsQueue(alias, f"first-{uid}"))
    try:
        new_run()
        again = SqsQueue(alias, f"second-{uid}")
        register_queue(alias, again)
        assert queue_named(alias) is again
    finally:
        unregister_queue(alias)
