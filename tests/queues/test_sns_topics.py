"""SNS topics: read through a tap queue the run subscribes, never another subscriber's."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.infra.sqs_server import shared_embedded_sqs
from asyncbdd.queues import (
    QueueNotFound,
    close_readers,
    expect_messages,
    expect_no_messages,
    queue_named,
    send_message,
)
from asyncbdd.queues.sns import SnsTopic
from asyncbdd.queues.sqs_sharing import TAP_PREFIX

if TYPE_CHECKING:
    from types_boto3_sns.client import SNSClient
    from types_boto3_sqs.client import SQSClient

Configure = Callable[..., Settings]


@pytest.fixture
def raw_sns() -> SNSClient:
    return shared_embedded_sqs().sns_client()


@pytest.fixture(autouse=True)
def readers_stop_after_each_test() -> Iterator[None]:
    yield
    close_readers()


def taps_of(client: SQSClient, uid: str) -> list[str]:
    urls = client.list_queues(QueueNamePrefix=TAP_PREFIX).get("QueueUrls", [])
    return [url for url in urls if uid in url]


def test_an_sns_alias_reads_what_is_published_and_leaves_other_subscribers_alone(
    configure: Configure, uid: str, raw_sqs: SQSClient, raw_sns: SNSClient
) -> None:
    """A publish step publishes to the topic; the scenario's tap gets it, another
    subscriber's queue keeps its own copy, and the end of the run removes the tap."""
    topic = raw_sns.create_topic(Name=f"orders-{uid}")["TopicArn"]
    service = raw_sqs.create_queue(QueueName=f"service-{uid}")["QueueUrl"]
    service_arn = raw_sqs.get_queue_attributes(QueueUrl=service, AttributeNames=["QueueArn"])
    raw_sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=service_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    alias = f"orders-{uid}"
    configure({alias: f"sns:orders-{uid}"})
    with asyncbdd.scenario("published"):
        assert isinstance(queue_named(alias), SnsTopic)
        send_message(alias, {"order_id": "ord-1"})
        raw_sns.publish(
            TopicArn=topic,
            Message=json.dumps({"order_id": "theirs"}),
            MessageAttributes={
                "correlation_id": {"DataType": "String", "StringValue": "another-run"}
            },
        )
        [message] = expect_messages(alias, 1)
        assert taps_of(raw_sqs, uid)
    assert message.json == {"order_id": "ord-1"}
    close_readers()
    assert taps_of(raw_sqs, uid) == []
    subscribers = raw_sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Endpoint"] for s in subscribers] == [service_arn["Attributes"]["QueueArn"]]
    kept = raw_sqs.receive_message(QueueUrl=service, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["order_id"] for m in kept) == ["ord-1", "theirs"]


def test_a_failure_calls_it_a_topic_and_lists_others_messages(
    configure: Configure, uid: str, raw_sns: SNSClient
) -> None:
    alias = f"events-{uid}"
    configure({alias: f"sns:events-{uid}"})
    with asyncbdd.scenario("quiet"):
        expect_no_messages(alias, during=0.2)  # the tap exists from here on
        topic = raw_sns.create_topic(Name=f"events-{uid}")["TopicArn"]
        raw_sns.publish(
            TopicArn=topic,
            Message="{}",
            MessageAttributes={
                "correlation_id": {"DataType": "String", "StringValue": "another-run"}
            },
        )
        with pytest.raises(WaitTimeout) as failed:
            expect_messages(alias, 1, timeout=1.5)
    text = str(failed.value)
    assert f'the "{alias}" topic' in text
    assert "SNS topic" in text
    assert "another scenario or run" in text


def test_a_topic_missing_on_an_endpoint_of_the_settings_is_named(
    configure: Configure, uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off the embedded server asyncbdd creates no topic: a missing one is an error."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = shared_embedded_sqs().endpoint_url
    alias = f"missing-{uid}"
    configure({alias: f"sns:missing-{uid}"}, sqs_endpoint=endpoint, sqs_region="us-east-1")
    with pytest.raises(QueueNotFound, match=f"SNS topic 'missing-{uid}'.*does not exist"):
        queue_named(alias).open()
