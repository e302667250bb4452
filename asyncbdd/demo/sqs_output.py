"""The demo service's SQS output: the messages of paid orders
(:mod:`asyncbdd.demo.order_messages`) as SQS messages, their attributes String message
attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from asyncbdd.demo.errors import TransportError
from asyncbdd.demo.order_messages import QUEUES

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient
    from types_boto3_sqs.type_defs import MessageAttributeValueTypeDef

__all__ = ["SqsOutput", "SqsSender", "sqs_client"]


@dataclass(frozen=True)
class SqsOutput:
    """Where the service sends its SQS messages, and how it reaches SQS.

    Without ``client``, the service builds a boto3 client when it starts, with credentials
    from boto3's standard chain (``AWS_ACCESS_KEY_ID``, the profile, SSO, an instance
    role; any value works for moto or LocalStack).

    :param queue_urls: the URL of each queue, under exactly the names of :data:`QUEUES`.
    :param endpoint_url: the SQS endpoint, such as LocalStack's; ``None`` is AWS's own.
    :param region: the AWS region; ``None`` takes the AWS configuration's
        (``AWS_DEFAULT_REGION``, the profile).
    :param client: a ready boto3 SQS client, used instead of building one (then leave
        ``endpoint_url`` and ``region`` unset); the service does not close it.
    :raises ValueError: a queue is missing or unknown, a URL is empty, or ``client`` comes
        with ``endpoint_url`` or ``region``.
    """

    queue_urls: Mapping[str, str]
    endpoint_url: str | None = None
    region: str | None = None
    client: SQSClient | None = None

    def sender(self, *, connect_timeout: float) -> SqsSender:
        """A sender to these queues (building the client, unless one was given)."""
        return SqsSender(self, connect_timeout=connect_timeout)

    def __post_init__(self) -> None:
        missing = [name for name in QUEUES if name not in self.queue_urls]
        unknown = sorted(set(self.queue_urls) - set(QUEUES))
        if missing or unknown:
            problems = [f"missing: {', '.join(missing)}"] if missing else []
            problems += [f"unknown: {', '.join(unknown)}"] if unknown else []
            raise ValueError(
                f"SqsOutput(queue_urls=...) needs the URL of exactly the queues "
                f"{', '.join(QUEUES)}; {'; '.join(problems)}"
            )
        for name, url in self.queue_urls.items():
            if not isinstance(url, str) or not url.strip():
                raise ValueError(f"SqsOutput: the URL of queue {name!r} is empty; got {url!r}")
        if self.client is not None and (self.endpoint_url or self.region):
            raise ValueError(
                "SqsOutput: pass either a ready client or endpoint_url / region to build "
                "one, not both"
            )
        object.__setattr__(self, "queue_urls", dict(self.queue_urls))


class SqsSender:
    """Sends the demo's messages to SQS queues, the text attributes as String attributes."""

    def __init__(self, output: SqsOutput, *, connect_timeout: float) -> None:
        self._queue_urls = dict(output.queue_urls)
        self._owns_client = output.client is None
        self._client = (
            output.client
            if output.client is not None
            else sqs_client(output.endpoint_url, output.region, connect_timeout=connect_timeout)
        )

    def send(self, queue: str, body: str, attributes: Mapping[str, str]) -> None:
        values: dict[str, MessageAttributeValueTypeDef] = {
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        }
        try:
            self._client.send_message(
                QueueUrl=self._queue_urls[queue], MessageBody=body, MessageAttributes=values
            )
        except (BotoCoreError, ClientError) as error:
            raise TransportError(str(error)) from error

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def sqs_client(
    endpoint_url: str | None, region: str | None, *, connect_timeout: float
) -> SQSClient:
    """Build a boto3 SQS client with credentials from boto3's standard chain.

    :param endpoint_url: the SQS endpoint, such as LocalStack's; ``None`` is AWS's own.
    :param region: the AWS region; ``None`` takes the AWS configuration's.
    :param connect_timeout: seconds to connect, and to wait for each answer; a failed
        call is tried once more.
    :raises TransportError: no region or no credentials are configured, the AWS profile
        does not exist, or the endpoint is malformed.
    """
    endpoint = endpoint_url or "AWS's endpoint"
    try:
        session = boto3.session.Session(region_name=region)
        if session.region_name is None:
            raise TransportError(
                f"SQS output: no AWS region for {endpoint}; pass SqsOutput(region=...) "
                "(--sqs-region), or set AWS_DEFAULT_REGION or a region in your AWS profile"
            )
        if session.get_credentials() is None:
            raise TransportError(
                f"SQS output: no AWS credentials for {endpoint}; set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (any value for moto or LocalStack) or an AWS profile"
            )
        return session.client(
            "sqs",
            endpoint_url=endpoint_url,
            config=Config(
                connect_timeout=connect_timeout,
                read_timeout=connect_timeout,
                # one retry: a dead endpoint holds the worker up for two timeouts at most
                retries={"mode": "standard", "total_max_attempts": 2},
            ),
        )
    except (BotoCoreError, ValueError) as error:  # an unknown profile, a malformed URL, ...
        raise TransportError(
            f"SQS output: cannot build a client for {endpoint} in region "
            f"{region or '(from the AWS configuration)'}: {error}; fix the endpoint "
            "(--sqs-endpoint) or the AWS configuration (AWS_PROFILE, ~/.aws/config)"
        ) from error
