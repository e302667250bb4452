"""Reading an SQS queue that others read too, without harming their messages.

A reader receives every message a queue holds, others' as well as the scenario's, and
gives others' back. That is harmless on a plain queue, but not on:

* a queue with a **redrive policy**: every receive counts toward the message's
  ``maxReceiveCount``, and a message received that many times moves to the dead-letter
  queue, though its owner never saw it;
* a **FIFO** queue: a message received holds back every later message of its group from
  every consumer, and one of ours behind another's cannot be received at all until that
  one is deleted.

(On the embedded server, FIFO groups are harmless: every reader there is a test run.)
On such a queue, asyncbdd reads a *tap* instead when an SNS topic feeds the queue: a
private queue of the run's, subscribed to the topic with the queue's own subscription
settings, so that it receives a copy of each message the queue does, and nobody else's
message is ever received from the queue itself. Without a topic it refuses, saying what
is safe. The ``asyncbdd.sqs.sharing`` setting chooses (:data:`~asyncbdd.queues.sqs.SHARING`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asyncbdd.errors import ConfigurationError

if TYPE_CHECKING:
    from types_boto3_sns.client import SNSClient
    from types_boto3_sqs.client import SQSClient

__all__ = ["QueueUnsafeToShare", "SnsTap", "Subscription", "find_subscription", "hazards"]

INSPECTED_ATTRIBUTES = ["QueueArn", "RedrivePolicy", "FifoQueue", "Policy"]
"""The queue attributes that tell whether reading it could harm others' messages."""
TAP_PREFIX = "asyncbdd-tap-"
"""How tap queues are named: a run that was killed leaves its tap behind, to be deleted."""
TAP_RETENTION = 3600
"""Seconds a tap keeps a message: one left behind by a killed run empties itself."""
MOST_SUBSCRIPTION_PAGES = 50
"""Pages of the account's SNS subscriptions searched for the one feeding a queue."""
_COPIED_SUBSCRIPTION_ATTRIBUTES = ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope")


class QueueUnsafeToShare(ConfigurationError):
    """Reading a queue directly could harm other consumers' messages, and it cannot be
    read through a tap."""


@dataclass(frozen=True)
class Subscription:
    """An SNS topic's subscription that feeds a queue, and the settings to copy."""

    topic_arn: str
    attributes: Mapping[str, str]


def hazards(attributes: Mapping[str, str], *, embedded: bool = False) -> list[str]:
    """Why receiving others' messages from a queue with ``attributes`` would harm them.

    FIFO groups are no harm on the ``embedded`` server, where every reader is a test run
    that gives others' messages back at once; a redrive policy is harm anywhere.
    """
    found = []
    policy = attributes.get("RedrivePolicy")
    if policy:
        try:
            redrive = json.loads(policy)
        except ValueError:
            redrive = {}
        limit = redrive.get("maxReceiveCount", "?")
        target = str(redrive.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1]
        found.append(
            f"a redrive policy: a message received {limit} times moves to the dead-letter "
            f"queue {target!r}, so receiving and giving back other consumers' messages "
            "pushes them there"
        )
    if attributes.get("FifoQueue") == "true" and not embedded:
        found.append(
            "FIFO message groups: receiving another consumer's message holds back every "
            "later message of its group, ours among them"
        )
    return found


def find_subscription(
    sns: SNSClient, queue_arn: str, queue_policy: str | None
) -> Subscription | None:
    """The SNS subscription that delivers to the queue ``queue_arn``, if there is one.

    The topics the queue's access policy lets send to it are asked first (one call each);
    then the account's subscriptions, at most :data:`MOST_SUBSCRIPTION_PAGES` pages.
    """
    for topic in _topics_allowed_by(queue_policy):
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        found = _feeding(sns, subscriptions, queue_arn)
        if found is not None:
            return found
    request: dict[str, Any] = {}
    for _ in range(MOST_SUBSCRIPTION_PAGES):
        page = sns.list_subscriptions(**request)
        found = _feeding(sns, page["Subscriptions"], queue_arn)
        if found is not None or "NextToken" not in page:
            return found
        request["NextToken"] = page["NextToken"]
    return None


class SnsTap:
    """A private queue subscribed to the topic feeding a shared queue, for one run.

    :meth:`make` creates it (named :data:`TAP_PREFIX`...), lets the topic send to it and
    subscribes it with the shared queue's subscription settings; :meth:`remove`
    unsubscribes and deletes it. It holds copies: whatever is read from it may be deleted.
    """

    def __init__(self, sqs: SQSClient, sns: SNSClient, subscription: Subscription) -> None:
        self.sqs, self.sns, self.subscription = sqs, sns, subscription
        self.url: str | None = None
        self._subscription_arn: str | None = None

    def make(self, queue_name: str) -> str:
        """Create and subscribe the tap of ``queue_name``; return its URL."""
        fifo = queue_name.endswith(".fifo")
        stem = queue_name.removesuffix(".fifo")
        name = f"{TAP_PREFIX}{uuid.uuid4().hex[:8]}-{stem}"[: 80 - 5 * fifo]
        attributes: dict[Any, str] = {"MessageRetentionPeriod": str(TAP_RETENTION)}
        if fifo:
            name, attributes["FifoQueue"] = f"{name}.fifo", "true"
        self.url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        try:
            arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
            tap_arn = arn["Attributes"]["QueueArn"]
            self.sqs.set_queue_attributes(
                QueueUrl=self.url, Attributes={"Policy": _policy_for(tap_arn, self.subscription)}
            )
            copied = {
                name: value
                for name, value in self.subscription.attributes.items()
                if name in _COPIED_SUBSCRIPTION_ATTRIBUTES
            }
            self._subscription_arn = self.sns.subscribe(
                TopicArn=self.subscription.topic_arn,
                Protocol="sqs",
                Endpoint=tap_arn,
                Attributes=copied,
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
        except BaseException:
            self.remove()
            raise
        return self.url

    def remove(self) -> None:
        """Unsubscribe and delete the tap (each at most once; what is gone stays gone)."""
        arn, self._subscription_arn = self._subscription_arn, None
        url, self.url = self.url, None
        try:
            if arn is not None:
                self.sns.unsubscribe(SubscriptionArn=arn)
        finally:
            if url is not None:
                self.sqs.delete_queue(QueueUrl=url)


def _feeding(sns: SNSClient, subscriptions: list[Any], queue_arn: str) -> Subscription | None:
    for subscription in subscriptions:
        if subscription.get("Protocol") == "sqs" and subscription.get("Endpoint") == queue_arn:
            arn = subscription["SubscriptionArn"]
            attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
            return Subscription(subscription["TopicArn"], dict(attributes))
    return None


def _topics_allowed_by(policy: str | None) -> Iterator[str]:
    """The SNS topic ARNs an SQS access policy names as ``aws:SourceArn``."""
    try:
        statements = json.loads(policy or "{}").get("Statement", [])
    except (ValueError, AttributeError):
        return
    for statement in statements if isinstance(statements, list) else [statements]:
        conditions = statement.get("Condition", {}) if isinstance(statement, dict) else {}
        for operator in conditions.values() if isinstance(conditions, dict) else []:
            arns = operator.get("aws:SourceArn", []) if isinstance(operator, dict) else []
            for arn in [arns] if isinstance(arns, str) else arns:
                if isinstance(arn, str) and arn.startswith("arn:aws:sns:") and "*" not in arn:
                    yield arn


def _policy_for(tap_arn: str, subscription: Subscription) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": tap_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": subscription.topic_arn}},
                }
            ],
        }
    )
