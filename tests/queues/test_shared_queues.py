"""Shared SQS queues whose other consumers' messages reading could harm: a redrive policy
(every receive counts toward the dead-letter queue) or FIFO groups. asyncbdd reads them
through a tap subscribed to their SNS topic, or refuses; it never receives their messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.infra.sqs_server import shared_embedded_sqs
from asyncbdd.queues import close_readers, expect_messages, expect_no_messages, queue_named
from asyncbdd.queues.sqs_sharing import TAP_PREFIX, QueueUnsafeToShare, hazards

if TYPE_CHECKING:
    from types_boto3_sns.client import SNSClient
    from types_boto3_sqs.client import SQSClient

Configure = Callable[..., Settings]


@pytest.fixture
def raw_sns() -> SNSClient:
    """A plain boto3 SNS client of the embedded server."""
    return shared_embedded_sqs().sns_client()


@pytest.fixture(autouse=True)
def readers_stop_after_each_test() -> Iterator[None]:
    """Closing the readers closes the queues, which removes their taps."""
    yield
    close_readers()


def redriven_queue(client: SQSClient, name: str, max_receives: int = 3) -> tuple[str, str]:
    """A queue of ``name`` whose messages move to ``name``-dlq after ``max_receives``
    receives; return the URLs of both."""
    dlq = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = arn_of(client, dlq)
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
    url = client.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(policy)})[
        "QueueUrl"
    ]
    return url, dlq


def arn_of(client: SQSClient, url: str) -> str:
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def send_theirs(client: SQSClient, url: str, count: int) -> None:
    for n in range(count):
        client.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"n": n}),
            MessageAttributes={
                "correlation_id": {"DataType": "String", "StringValue": "another-run"}
            },
        )


def receive_counts(client: SQSClient, url: str) -> list[int]:
    """How often each message in the queue was received before (a plain client's view;
    it receives each once, and hides them)."""
    counts: list[int] = []
    while True:
        reply = client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            AttributeNames=["ApproximateReceiveCount"],
            VisibilityTimeout=60,
        )
        batch = reply.get("Messages", [])
        if not batch:
            return counts
        counts += [int(m["Attributes"]["ApproximateReceiveCount"]) - 1 for m in batch]


def depth(client: SQSClient, url: str) -> int:
    attributes = client.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_queue_with_a_redrive_policy_and_no_topic_is_refused_and_never_read(
    configure: Configure, uid: str, raw_sqs: SQSClient
) -> None:
    """With 20 of another run's messages and maxReceiveCount 3, reading the queue is
    refused at once, naming the harm and the safe ways; none of theirs was received."""
    url, dlq = redriven_queue(raw_sqs, f"shared-{uid}")
    send_theirs(raw_sqs, url, 20)
    alias = f"shared-{uid}"
    configure({alias: f"sqs:shared-{uid}"})
    with asyncbdd.scenario("shared"), pytest.raises(QueueUnsafeToShare) as refused:
        expect_no_messages(alias, during=1)
    text = str(refused.value)
    assert "redrive policy" in text
    assert f"shared-{uid}-dlq" in text
    assert "asyncbdd.sqs.sharing = exclusive" in text
    assert "SNS topic" in text
    assert depth(raw_sqs, dlq) == 0
    assert receive_counts(raw_sqs, url) == [0] * 20


def test_a_queue_fed_by_a_topic_is_read_through_a_tap_that_the_end_of_the_run_removes(
    configure: Configure, uid: str, raw_sqs: SQSClient, raw_sns: SNSClient
) -> None:
    """The tap, made at the scenario's start, gets a copy of each message the topic
    publishes: the scenario's own is found, others' are never received from the queue
    (receive count 0, nothing in the dead-letter queue), and closing removes the tap."""
    url, dlq = redriven_queue(raw_sqs, f"fed-{uid}", max_receives=1)
    topic = raw_sns.create_topic(Name=f"orders-{uid}")["TopicArn"]
    raw_sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn_of(raw_sqs, url),
        Attributes={"RawMessageDelivery": "true"},
    )
    alias = f"fed-{uid}"
    configure({alias: f"sqs:fed-{uid}"})
    with asyncbdd.scenario("tapped") as scenario:
        for owner in ["another-run", scenario.correlation_id, "another-run"]:
            raw_sns.publish(
                TopicArn=topic,
                Message=json.dumps({"owner": owner}),
                MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": owner}},
            )
        [message] = expect_messages(alias, 1)
        assert "read through a tap" in queue_named(alias).describe()
    assert message.json == {"owner": scenario.correlation_id}
    taps = raw_sqs.list_queues(QueueNamePrefix=TAP_PREFIX).get("QueueUrls", [])
    assert [tap for tap in taps if uid in tap]
    close_readers()
    taps = raw_sqs.list_queues(QueueNamePrefix=TAP_PREFIX).get("QueueUrls", [])
    assert not [tap for tap in taps if uid in tap]
    endpoints = [
        s["Endpoint"] for s in raw_sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    ]
    assert endpoints == [arn_of(raw_sqs, url)]
    assert depth(raw_sqs, dlq) == 0
    assert receive_counts(raw_sqs, url) == [0, 0, 0]


@pytest.mark.parametrize(
    "setting",
    [{"sqs_sharing": "exclusive"}, {"queues_correlation": "off"}],
    ids=["the run is its only reader", "correlation off: every message is the run's"],
)
def test_a_redriven_queue_of_the_runs_own_is_read_directly(
    configure: Configure, uid: str, raw_sqs: SQSClient, setting: dict[str, str]
) -> None:
    redriven_queue(raw_sqs, f"mine-{uid}")
    alias = f"mine-{uid}"
    configure({alias: f"sqs:mine-{uid}"}, **setting)
    with asyncbdd.scenario("mine"):
        asyncbdd.queues.send_message(alias, {"n": 1})
        [message] = expect_messages(alias, 1)
    assert message.json == {"n": 1}


def test_tap_sharing_without_a_topic_is_refused(
    configure: Configure, uid: str, raw_sqs: SQSClient
) -> None:
    raw_sqs.create_queue(QueueName=f"plain-{uid}")
    alias = f"plain-{uid}"
    configure({alias: f"sqs:plain-{uid}"}, sqs_sharing="tap")
    with asyncbdd.scenario("tap"), pytest.raises(QueueUnsafeToShare, match="no SNS topic"):
        expect_no_messages(alias, during=1)


def test_hazards_name_redrive_policies_and_fifo_groups_off_the_embedded_server() -> None:
    redrive = json.dumps({"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:1:orders-dlq",
                          "maxReceiveCount": 5})  # fmt: skip
    [why] = hazards({"RedrivePolicy": redrive})
    assert "received 5 times" in why
    assert "'orders-dlq'" in why
    assert "FIFO message groups" in hazards({"FifoQueue": "true"})[0]
    assert hazards({"FifoQueue": "true"}, embedded=True) == []
    assert hazards({"FifoQueue": "false", "VisibilityTimeout": "30"}) == []


def test_setting_sharing_to_an_unknown_way_names_the_choices(
    configure: Configure, uid: str
) -> None:
    configure({f"q-{uid}": f"sqs:q-{uid}"}, sqs_sharing="sometimes")
    with pytest.raises(Exception, match="auto, tap, exclusive"):
        queue_named(f"q-{uid}")
