"""SNS topics, read through a private SQS tap queue the run subscribes to the topic.

An alias ``orders = sns:orders`` (or ``sns:arn:aws:sns:REGION:ACCOUNT:orders``) reads
what is published to the topic from the first scenario's start: asyncbdd creates a queue
of its own (:class:`~asyncbdd.queues.sqs_sharing.SnsTap`), subscribes it with raw message
delivery (SNS message attributes become SQS message attributes, so the correlation id is
found as on any SQS queue), and unsubscribes and deletes it when the run ends. No other
subscriber's queue is read. A publish step publishes to the topic. The endpoint and
region are SQS's (``asyncbdd.sqs.endpoint``, ``asyncbdd.sqs.region``): the embedded moto
server by default, where asyncbdd creates the topics it is asked for.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from asyncbdd.queues.base import QueueNotFound
from asyncbdd.queues.sqs import SqsQueue
from asyncbdd.queues.sqs_sharing import SnsTap, Subscription
from asyncbdd.queues.transports import Transport, register_transport
from asyncbdd.secrets import mask_url

if TYPE_CHECKING:
    from types_boto3_sns.client import SNSClient

__all__ = ["SnsTopic"]

MOST_TOPIC_PAGES = 50
"""Pages of the account's topics searched for one given by name."""


class SnsTopic(SqsQueue):
    """An SNS topic, by name or ARN, read through a tap queue of the run's own."""

    kind = "SNS topic"
    noun = "topic"
    read_from_scenario_start = True  # a tap copies only what is published after it is made

    def __init__(self, alias: str, name_or_arn: str, **options: Any) -> None:
        self.arn: str | None = name_or_arn if name_or_arn.startswith("arn:") else None
        name = name_or_arn.rsplit(":", 1)[-1]
        super().__init__(alias, name, unwrap_sns=False, **options)
        self._publisher: SNSClient | None = None

    def describe(self) -> str:
        where = mask_url(self._endpoint or "(not opened yet)")
        return f"SNS topic {self.name!r} at {where} (read through a tap queue of the run's)"

    def open(self) -> None:
        """Find (on the embedded server, create) the topic, and make and subscribe the
        run's tap queue, unless that is done."""
        client = self.client
        if self._reading_url is not None:
            return
        sns = self._sns_client()
        arn = self.arn = self._call("find", self._topic_arn, sns=sns)
        tap = SnsTap(client, sns, Subscription(arn, {"RawMessageDelivery": "true"}))
        self.url = self._reading_url = self._call("make a tap of", tap.make, queue_name=self.name)
        self._tap, self._publisher = tap, sns

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        self._require_reading_url()
        request: dict[str, Any] = {
            "TopicArn": self.arn,
            "Message": body,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            },
        }
        if self.name.endswith(".fifo"):
            request["MessageGroupId"] = key or "asyncbdd"
            request["MessageDeduplicationId"] = uuid.uuid4().hex
        assert self._publisher is not None
        self._call("publish to", self._publisher.publish, **request)

    def broker(self) -> str:
        return f"SNS at {mask_url(self._endpoint or 'AWS')}"

    def _topic_arn(self, sns: SNSClient) -> str:
        if self._embedded:
            fifo = {"FifoTopic": "true"} if self.name.endswith(".fifo") else {}
            created: str = sns.create_topic(Name=self.name, Attributes=fifo)["TopicArn"]
            return created
        if self.arn is not None:
            found = [self.arn] if _exists(sns, self.arn) else []
        else:
            found = _named(sns, self.name)
        if not found:
            raise QueueNotFound(
                f"The SNS topic {self.name!r} (alias {self.alias!r}) does not exist at "
                f"{mask_url(self._endpoint or 'AWS')}. Create it, or point the alias at the "
                "topic that exists, by name or ARN (setting asyncbdd.queues)."
            )
        return found[0]


def _exists(sns: SNSClient, arn: str) -> bool:
    try:
        sns.get_topic_attributes(TopicArn=arn)
    except sns.exceptions.NotFoundException:
        return False
    return True


def _named(sns: SNSClient, name: str) -> list[str]:
    request: dict[str, Any] = {}
    for _ in range(MOST_TOPIC_PAGES):
        page = sns.list_topics(**request)
        found = [t["TopicArn"] for t in page["Topics"] if t["TopicArn"].rsplit(":", 1)[-1] == name]
        if found or "NextToken" not in page:
            return found
        request["NextToken"] = page["NextToken"]
    return []


register_transport(
    Transport(
        scheme="sns",
        build=SnsTopic,
        forms="sns:TOPIC-NAME, sns:TOPIC-ARN",
        describes="an SNS topic, read through a tap queue the run subscribes to it",
        module=__name__,
    )
)
