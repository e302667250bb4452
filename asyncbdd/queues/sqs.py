"""SQS queues through boto3: long polling bounded by the caller, never a fixed sleep.

The endpoint comes from settings: ``asyncbdd.sqs.endpoint`` (LocalStack, a shared moto),
or ``asyncbdd.sqs.region`` alone for AWS itself, or, with neither, the embedded moto
server, where asyncbdd creates the queues it is asked for. A queue given as a full URL is
used as it is, on AWS or wherever the URL points. A queue whose other consumers' messages
reading could harm (a redrive policy, FIFO groups) is read through a tap, or refused
(:mod:`asyncbdd.queues.sqs_sharing`).
"""

from __future__ import annotations

import threading
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from asyncbdd.config import Settings, boolean, one_of, optional_text
from asyncbdd.infra.sqs_server import (
    MOCK_AWS_RESET,
    RETRIES,
    call_timeouts,
    check_reachable,
    embedded_sqs_running,
    embedded_state_reset,
    shared_embedded_sqs,
    sns_client,
    sqs_client,
)
from asyncbdd.queues.base import (
    BrokerUnreachable,
    Correlation,
    Queue,
    QueueNotFound,
    QueueUnavailable,
)
from asyncbdd.queues.message import Message, parse_body
from asyncbdd.queues.sqs_sharing import (
    INSPECTED_ATTRIBUTES,
    QueueUnsafeToShare,
    SnsTap,
    find_subscription,
    hazards,
)
from asyncbdd.queues.transports import Option, Transport, register_transport, transport_options
from asyncbdd.secrets import mask_url, mask_urls_in

if TYPE_CHECKING:
    from types_boto3_sns.client import SNSClient
    from types_boto3_sqs.client import SQSClient

__all__ = ["SHARING", "SqsQueue", "SqsSettings", "sqs_settings"]

LONGEST_POLL = 20
"""SQS's longest long poll, in seconds."""
HIDES_RECEIVED_FOR = 120
"""The visibility timeout of asyncbdd's receives, in seconds: a reader deletes or gives
back what it receives as soon as it has read past others' messages, so this only bounds
how long another consumer's message stays hidden should the reader's process be killed
meanwhile (rather than the queue's own visibility timeout, which may be hours)."""


SHARING = ("auto", "tap", "exclusive")
"""The ways to read a shared SQS queue (setting ``asyncbdd.sqs.sharing``)."""


@dataclass(frozen=True)
class SqsSettings:
    """The SQS transport's settings in force (``asyncbdd.sqs.*``)."""

    endpoint: str | None
    region: str | None
    unwrap_sns: bool
    sharing: str


def sqs_settings(settings: Settings | None = None) -> SqsSettings:
    """The SQS settings of ``settings`` (default: those in force)."""
    options = transport_options("sqs", settings)
    return SqsSettings(
        endpoint=cast("str | None", options["endpoint"]),
        region=cast("str | None", options["region"]),
        unwrap_sns=bool(options["unwrap_sns"]),
        sharing=str(options["sharing"]),
    )


class SqsQueue(Queue):
    """An SQS queue, by name (resolved on the endpoint) or by URL.

    ``client`` overrides the client that settings would build (tests, custom sessions).
    ``unwrap_sns`` reads the message inside an SNS notification envelope (default: the
    ``asyncbdd.sqs.unwrap_sns`` setting).
    """

    kind = "SQS queue"
    reads_exclusively = True
    hides_received_for = float(HIDES_RECEIVED_FOR)

    def __init__(
        self,
        alias: str,
        name_or_url: str,
        *,
        client: SQSClient | None = None,
        correlation: Correlation | None = None,
        unwrap_sns: bool | None = None,
    ) -> None:
        super().__init__(alias, correlation)
        path = urllib.parse.urlsplit(name_or_url).path if "://" in name_or_url else name_or_url
        self.name = path.rstrip("/").rsplit("/", 1)[-1]  # never the query: it may hold a token
        self.url: str | None = name_or_url if "://" in name_or_url else None
        self.unwrap_sns = sqs_settings().unwrap_sns if unwrap_sns is None else unwrap_sns
        self._client = client
        self._own_client = client is None
        self._given_url = self.url
        self._endpoint: str | None = None
        self._embedded = False
        self._lock = threading.Lock()
        self._reading_url: str | None = None
        """The URL it is read from once open: its own, or its tap's."""
        self._tap: SnsTap | None = None

    def describe(self) -> str:
        where = mask_url(self.url or self._endpoint or "(not opened yet)")
        tap = " (read through a tap subscribed to its SNS topic)" if self._tap else ""
        return f"SQS queue {self.name!r} at {where}{tap}"

    @property
    def holds_copies(self) -> bool:  # type: ignore[override]
        """Whether it is read through a tap, whose messages are all copies."""
        return self._tap is not None

    @property
    def read_from_scenario_start(self) -> bool:  # type: ignore[override]
        """Whether it is read through a tap, which copies only what is published after it
        is made: it must then be made, and read, from the first scenario's start.

        Asking opens the queue (two calls, once) where it may already exist with
        others' messages in it: on an endpoint of the settings, or the embedded server
        once running. It does not read it.
        """
        if self._reading_url is None and (
            self._given_url is not None
            or sqs_settings().endpoint
            or sqs_settings().region
            or embedded_sqs_running()
        ):
            self.open()
        return self._tap is not None

    @property
    def client(self) -> SQSClient:
        """The boto3 client, built from settings on first use."""
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def open(self) -> None:
        """Find (or, on the embedded server, create) the queue, and choose how to read it
        (:meth:`_choose_reading`); raise :class:`QueueUnsafeToShare` if no way is safe."""
        client = self.client
        if self.url is None:
            self.url = self._find(client)
        if self._reading_url is None:
            self._reading_url = self._choose_reading(client, self.url)

    def _find(self, client: SQSClient) -> str:
        try:
            url: str = client.get_queue_url(QueueName=self.name)["QueueUrl"]
            return url
        except ClientError as error:
            if not _is_missing_queue(error):
                raise self._unavailable("find", error) from None
            if not self._embedded:
                raise QueueNotFound(
                    f"The SQS queue {self.name!r} (alias {self.alias!r}) does not exist at "
                    f"{mask_url(self._endpoint or 'AWS')}. Create it, or point the alias at the "
                    "queue that exists (setting asyncbdd.queues)."
                ) from None
            fifo = self.name.endswith(".fifo")
            attributes: dict[Any, str] = {"FifoQueue": "true"} if fifo else {}
            created: str = client.create_queue(QueueName=self.name, Attributes=attributes)[
                "QueueUrl"
            ]
            return created
        except (BotoCoreError, OSError) as error:
            raise self._unavailable("find", error) from None

    def _choose_reading(self, client: SQSClient, url: str) -> str:
        """The URL to read: the queue's own, or that of a tap made now (see
        :mod:`asyncbdd.queues.sqs_sharing` and the ``asyncbdd.sqs.sharing`` setting)."""
        reply = self._call(
            "read the attributes of",
            client.get_queue_attributes,
            QueueUrl=url,
            AttributeNames=INSPECTED_ATTRIBUTES,
        )
        attributes = reply.get("Attributes", {})
        sharing = sqs_settings().sharing
        harms = hazards(attributes, embedded=self._embedded) if self.correlation.enabled else []
        if sharing == "exclusive" or (sharing == "auto" and not harms):
            return url
        sns = self._sns_client()
        subscription = self._call(
            "find the SNS topic that feeds",
            find_subscription,
            sns=sns,
            queue_arn=attributes.get("QueueArn", ""),
            queue_policy=attributes.get("Policy"),
        )
        if subscription is None:
            raise self._unsafe(harms, sharing)
        tap = SnsTap(client, sns, subscription)
        tap_url: str = self._call("make a tap of", tap.make, queue_name=self.name)
        self._tap = tap
        return tap_url

    def _unsafe(self, harms: list[str], sharing: str) -> QueueUnsafeToShare:
        where = f"The SQS queue {self.name!r} (alias {self.alias!r}) at {mask_url(self._endpoint)}"
        if sharing == "tap":
            return QueueUnsafeToShare(
                f"{where} is to be read through a tap (asyncbdd.sqs.sharing = tap), but no SNS "
                "topic delivers to it. Subscribe it to the topic its messages are published "
                "to, or set asyncbdd.sqs.sharing = auto."
            )
        return QueueUnsafeToShare(
            f"{where} has {' and '.join(harms)}. asyncbdd reads every message a queue holds "
            "and gives back those of other consumers, so it does not read this one, and no "
            "SNS topic delivers to it that it could tap instead. Safe ways: publish to it "
            "through an SNS topic (asyncbdd then reads a private tap queue subscribed to "
            "that topic, and never receives from the queue itself); give each test run a "
            "queue of its own; or, if this run is the only one reading it, set "
            "asyncbdd.sqs.sharing = exclusive."
        )

    def _sns_client(self) -> SNSClient:
        if self._embedded:
            return shared_embedded_sqs().sns_client()
        settings = sqs_settings()
        if self._given_url is not None:
            region = _region_of(self._given_url) or settings.region
            return sns_client(_endpoint_of(self._given_url), region)
        return sns_client(settings.endpoint, settings.region)

    def backlog(self) -> int | None:
        reply = self._call(
            "read the attributes of",
            self.client.get_queue_attributes,
            QueueUrl=self._require_reading_url(),
            AttributeNames=["ApproximateNumberOfMessages"],
        )
        count = reply.get("Attributes", {}).get("ApproximateNumberOfMessages")
        return int(count) if count is not None and count.isdigit() else None

    def receive(self, wait: float) -> list[Message]:
        client = self.client
        # The long poll must end before the client's read timeout, or every quiet receive
        # would be a timeout.
        longest = int(_timeouts_of(client)[1] - 1)
        reply = self._call(
            "receive from",
            client.receive_message,
            QueueUrl=self._require_reading_url(),
            MaxNumberOfMessages=10,
            WaitTimeSeconds=max(0, min(LONGEST_POLL, int(wait), longest)),
            VisibilityTimeout=HIDES_RECEIVED_FOR,
            MessageAttributeNames=["All"],
            AttributeNames=["SentTimestamp"],
        )
        return [self._message(raw) for raw in reply.get("Messages", [])]

    def delete(self, messages: Sequence[Message]) -> None:
        for batch in _batches(messages):
            self._call(
                "delete from",
                self.client.delete_message_batch,
                QueueUrl=self._require_reading_url(),
                Entries=[{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in batch],
            )

    def release(self, messages: Sequence[Message], hide_for: int) -> None:
        for batch in _batches(messages):
            self._call(
                "release messages to",
                self.client.change_message_visibility_batch,
                QueueUrl=self._require_reading_url(),
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m.receipt, "VisibilityTimeout": hide_for}
                    for i, m in batch
                ],
            )

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        request: dict[str, Any] = {
            "QueueUrl": self._require_url(),
            "MessageBody": body,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            },
        }
        if self.name.endswith(".fifo"):
            request["MessageGroupId"] = key or "asyncbdd"
            request["MessageDeduplicationId"] = uuid.uuid4().hex
        self._call("send to", self.client.send_message, **request)

    def close(self) -> None:
        """Close the client this queue built (a client passed in is its owner's to close).

        The next use builds a new one, and looks up the queue's URL again: the embedded
        server that served it may have stopped with the run.
        """
        with self._lock:
            tap, self._tap, self._reading_url = self._tap, None, None
            client = self._client if self._own_client else None
            if client is not None:
                self._client = None
                self.url, self._endpoint, self._embedded = self._given_url, None, False
        try:
            if tap is not None:
                self._call("remove the tap of", tap.remove)
        finally:
            if client is not None:
                client.close()

    def broker(self) -> str:
        return f"SQS at {mask_url(self._endpoint or self.url or 'AWS')}"

    def longest_call(self) -> float:
        connect, read = self._timeouts()
        return (RETRIES + 1) * (connect + read)  # a refused attempt, then a silent one

    def _timeouts(self) -> tuple[float, float]:
        """The connect and read timeouts of the client (as it will be built, if it is not)."""
        client = self._client
        return call_timeouts() if client is None else _timeouts_of(client)

    def _build_client(self) -> SQSClient:
        settings = sqs_settings()
        if self.url is not None or settings.endpoint or settings.region:
            # boto3 sends every request to the client's endpoint, whatever the QueueUrl
            # says, so a queue URL must bring its own endpoint and region.
            endpoint = settings.endpoint if self.url is None else _endpoint_of(self.url)
            region = _region_of(self.url) or settings.region
            if endpoint:
                check_reachable(endpoint)
            self._endpoint = endpoint or f"AWS ({region})"
            return sqs_client(endpoint, region)
        embedded = shared_embedded_sqs()
        self._embedded = True
        self._endpoint = embedded.endpoint_url
        return embedded.client()

    def _require_url(self) -> str:
        if self.url is None:
            self.open()
        assert self.url is not None
        return self.url

    def _require_reading_url(self) -> str:
        if self._reading_url is None:
            self.open()
        assert self._reading_url is not None
        return self._reading_url

    def _call(self, action: str, method: Any, **request: Any) -> Any:
        try:
            return method(**request)
        except ClientError as error:
            if _is_missing_queue(error) and self._embedded and embedded_state_reset():
                raise QueueNotFound(
                    f"The {self.kind} {self.name!r} (alias {self.alias!r}) is gone from the "
                    f"embedded SQS server at {mask_url(self._endpoint)}: {MOCK_AWS_RESET}"
                ) from None
            if _is_missing_queue(error):
                raise QueueNotFound(
                    f"The {self.kind} {self.name!r} (alias {self.alias!r}) does not exist at "
                    f"{mask_url(self._endpoint or self.url)} (or was deleted). Create it, or "
                    "point the alias at the queue that exists (setting asyncbdd.queues)."
                ) from None
            raise self._unavailable(action, error) from None
        except (BotoCoreError, OSError) as error:
            raise self._unavailable(action, error) from None

    def _unavailable(self, action: str, error: BaseException) -> QueueUnavailable:
        where = mask_url(self._endpoint or self.url or "AWS")
        reason = self._unanswered(error)
        if reason is not None:
            return BrokerUnreachable(
                f"Could not {action} the {self.kind} {self.name!r} (alias {self.alias!r}): "
                f"{self.broker()} did not answer ({reason}: {mask_urls_in(str(error))}). "
                "Check that the SQS service there runs and is not stopped or overloaded, or "
                "set asyncbdd.sqs.endpoint to one that answers (leave it unset for the "
                "embedded server); asyncbdd.connect_timeout bounds each attempt.",
                broker=self.broker(),
                reason=reason,
            )
        return QueueUnavailable(
            f"Could not {action} the {self.kind} {self.name!r} (alias {self.alias!r}) at "
            f"{where}: {mask_urls_in(str(error))}. Check the credentials and permissions of "
            "the AWS configuration."
        )

    def _unanswered(self, error: BaseException) -> str | None:
        """How the endpoint failed to answer, if that is what ``error`` says."""
        connect, read = self._timeouts()
        if isinstance(error, ReadTimeoutError):
            return f"no answer within the {read:g} s read timeout"
        if isinstance(error, ConnectTimeoutError):
            return f"no connection within the {connect:g} s connect timeout"
        if isinstance(error, EndpointConnectionError):
            return f"could not connect, {RETRIES + 1} attempts"
        if isinstance(error, ConnectionClosedError):
            return "it closed the connection without answering"
        if isinstance(error, OSError):
            return error.strerror or type(error).__name__
        return None

    def _message(self, raw: Any) -> Message:
        body: str = raw.get("Body", "")
        attributes = {
            name: value.get("StringValue") or _text(value.get("BinaryValue"))
            for name, value in raw.get("MessageAttributes", {}).items()
        }
        if self.unwrap_sns:
            body, attributes = _unwrap_sns(body, attributes)
        return self.message(
            body,
            attributes,
            message_id=raw.get("MessageId", ""),
            sent_at=_seconds(raw.get("Attributes", {}).get("SentTimestamp")),
            receipt=raw.get("ReceiptHandle"),
        )


register_transport(
    Transport(
        scheme="sqs",
        build=SqsQueue,
        forms="sqs:QUEUE-NAME, sqs:QUEUE-URL",
        describes="an SQS queue, on the embedded server, the endpoint set, or AWS",
        options={
            "endpoint": Option(
                None,
                "SQS endpoint URL (LocalStack, a shared moto); unset: the embedded server, "
                "unless a region is set, which means AWS itself",
                optional_text,
            ),
            "region": Option(
                None, "AWS region of the queues; unset: boto3's configuration", optional_text
            ),
            "unwrap_sns": Option(
                True, "read the message inside an SNS notification envelope", boolean
            ),
            "sharing": Option(
                "auto",
                "how to read a queue others read too: auto, tap or exclusive "
                "(asyncbdd.queues.sqs_sharing)",
                one_of(*SHARING),
            ),
        },
        embedded=lambda settings, aliases: ("SQS server", _would_start(settings, aliases)),
        module=__name__,
    )
)


def _would_start(settings: Settings, aliases: Sequence[str]) -> str:
    """Whether a run using the SQS ``aliases`` would start the embedded server, and why."""
    by_name = [alias for alias in aliases if "://" not in settings.queues[alias]]
    if not aliases:
        return "not needed: no alias in asyncbdd.queues names an SQS queue"
    sqs = sqs_settings(settings)
    if sqs.endpoint:
        endpoint = mask_url(sqs.endpoint, extra_names=settings.secrets_names)
        return f"not started: asyncbdd.sqs.endpoint is {endpoint}"
    if sqs.region:
        return f"not started: asyncbdd.sqs.region {sqs.region} means AWS itself"
    if not by_name:
        return "not started: every SQS alias is a queue URL, which names its endpoint"
    return f"starts (moto, in the test process) on first use of {', '.join(by_name)}"


def _unwrap_sns(body: str, attributes: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The message and attributes inside an SNS notification envelope, if ``body`` is one."""
    if '"Notification"' not in body:
        return body, attributes
    envelope = parse_body(body)  # never raises: a poison body is read as it is
    if not (
        isinstance(envelope, dict)
        and envelope.get("Type") == "Notification"
        and "TopicArn" in envelope
        and isinstance(envelope.get("Message"), str)
    ):
        return body, attributes
    inner = {
        name: str(value.get("Value", ""))
        for name, value in (envelope.get("MessageAttributes") or {}).items()
        if isinstance(value, dict)
    }
    return envelope["Message"], {**attributes, **inner}


def _timeouts_of(client: SQSClient) -> tuple[float, float]:
    """A client's connect and read timeouts (botocore's defaults: 60 s each)."""
    config = client.meta.config
    return getattr(config, "connect_timeout", 60.0), getattr(config, "read_timeout", 60.0)


def _is_missing_queue(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return "NonExistentQueue" in code or code == "QueueDoesNotExist"


def _batches(messages: Sequence[Message]) -> list[list[tuple[int, Message]]]:
    numbered = list(enumerate(messages))
    return [numbered[start : start + 10] for start in range(0, len(numbered), 10)]


def _seconds(milliseconds: str | None) -> float | None:
    return int(milliseconds) / 1000 if milliseconds else None


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def _endpoint_of(url: str) -> str | None:
    """The endpoint serving a queue URL: ``None`` (AWS's own, by region) for AWS's URLs."""
    parts = urlsplit(url)
    if (parts.hostname or "").endswith((".amazonaws.com", ".amazonaws.com.cn")):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _region_of(url: str | None) -> str | None:
    """The region in an AWS queue URL (``https://sqs.eu-west-1.amazonaws.com/...``)."""
    if url and ".amazonaws.com" in url:
        host = url.split("://", 1)[-1].split("/", 1)[0]
        parts = host.split(".")
        if len(parts) >= 4 and parts[0] == "sqs":
            return parts[1]
    return None
