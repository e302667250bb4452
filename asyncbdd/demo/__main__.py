"""Run the demo order service until Ctrl-C: ``python -m asyncbdd.demo --help``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from types import FrameType
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import make_url

from asyncbdd.demo.errors import TransportError
from asyncbdd.demo.faults import Fault, parse_faults
from asyncbdd.demo.kafka_input import ORDER_CREATED, KafkaInput
from asyncbdd.demo.order_messages import QUEUES
from asyncbdd.demo.service import DEFAULT_DATABASE_URL, DEFAULT_JITTER, OrderService
from asyncbdd.demo.sqs_output import SqsOutput, sqs_client

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient

PROGRAM = "python -m asyncbdd.demo"
WEBHOOK_SECRET_VARIABLE = "ASYNCBDD_DEMO_WEBHOOK_SECRET"


def main(argv: Sequence[str] | None = None) -> int:
    """Start the service, print where it listens, and stop it cleanly on Ctrl-C or SIGTERM.

    Returns 0 after a clean stop, 1 when Kafka or SQS cannot be used at the start.
    """
    arguments = _parser().parse_args(argv)
    # A shell starts background jobs with SIGINT ignored; kill -INT must still stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with ExitStack() as cleanup:
        try:
            sqs = _sqs_output(arguments, cleanup)
            kafka = None
            if arguments.kafka_bootstrap_servers is not None:
                kafka = KafkaInput(arguments.kafka_bootstrap_servers, topic=arguments.kafka_topic)
            service = OrderService(
                arguments.database_url,
                host=arguments.host,
                port=arguments.port,
                faults=arguments.fault,
                jitter=arguments.jitter,
                kafka=kafka,
                sqs=sqs,
                late_message_delay=arguments.late_message_delay,
                connect_timeout=arguments.connect_timeout,
                webhook_secret=arguments.webhook_secret,
                slow_step_delay=arguments.slow_step_delay,
            )
            service.start()
        except (TransportError, ValueError) as error:
            print(f"{PROGRAM}: error: {error}", file=sys.stderr, flush=True)
            return 1
        try:
            print(f"order service: {service.url}", flush=True)
            print(f"database: {make_url(service.database_url).render_as_string()}", flush=True)
            if kafka is not None:
                print(f"kafka: {kafka.topic} on {kafka.bootstrap_servers}", flush=True)
            if sqs is not None:
                queues = ", ".join(f"{name} {url}" for name, url in sqs.queue_urls.items())
                print(f"sqs: {queues}", flush=True)
            if arguments.webhook_secret is not None:
                print("webhooks: signed (X-Signature: sha256=...)", flush=True)
            if service.faults:
                print(f"faults: {', '.join(sorted(f.value for f in service.faults))}", flush=True)
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            service.stop()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Run the asyncbdd demo order service until Ctrl-C.",
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="SQLAlchemy URL of its database (default: %(default)s)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="HTTP port (default: a free one)")
    parser.add_argument(
        "--fault",
        type=_faults,
        action="extend",
        default=[],
        metavar="NAME[,NAME]",
        help="misbehave on purpose; repeatable; one of: " + ", ".join(f.value for f in Fault),
    )
    parser.add_argument(
        "--jitter",
        type=_jitter,
        default=DEFAULT_JITTER,
        metavar="MIN,MAX",
        help="seconds the worker waits, drawn at random, before each processing step "
        f"(default: {','.join(f'{bound:g}' for bound in DEFAULT_JITTER)})",
    )
    parser.add_argument(
        "--late-message-delay",
        type=float,
        default=8.0,
        metavar="SECONDS",
        help="how late late-billing-message sends (default: %(default)s)",
    )
    parser.add_argument(
        "--slow-step-delay",
        type=float,
        default=8.0,
        metavar="SECONDS",
        help="how late slow-trace-step records notification.sent (default: %(default)s)",
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get(WEBHOOK_SECRET_VARIABLE) or None,
        metavar="SECRET",
        help="sign webhook bodies with HMAC-SHA256 in X-Signature (default: "
        f"${WEBHOOK_SECRET_VARIABLE}; unsigned when neither is set)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to wait for Kafka, SQS and webhook receivers (default: %(default)s)",
    )
    kafka = parser.add_argument_group(
        "Kafka input", "Off unless --kafka-bootstrap-servers is given."
    )
    kafka.add_argument(
        "--kafka-bootstrap-servers",
        metavar="HOST:PORT[,HOST:PORT]",
        help="also read orders from Kafka, produced after the start",
    )
    kafka.add_argument(
        "--kafka-topic",
        default=ORDER_CREATED,
        metavar="NAME",
        help="the topic of the orders (default: %(default)s)",
    )
    sqs = parser.add_argument_group(
        "SQS output",
        "Off unless --sqs or another --sqs-* option is given. Credentials come from the AWS "
        "configuration (AWS_ACCESS_KEY_ID, a profile); missing queues are created.",
    )
    sqs.add_argument(
        "--sqs", action="store_true", help="send each paid order's messages to SQS queues"
    )
    sqs.add_argument("--sqs-endpoint", metavar="URL", help="SQS endpoint (default: AWS's own)")
    sqs.add_argument(
        "--sqs-region", metavar="REGION", help="AWS region (default: the AWS configuration's)"
    )
    for queue in QUEUES:
        sqs.add_argument(
            f"--sqs-{queue}-queue",
            metavar="NAME",
            help=f"name of the {queue} queue (default: {queue})",
        )
    return parser


def _sqs_output(arguments: argparse.Namespace, cleanup: ExitStack) -> SqsOutput | None:
    """The SQS output the arguments ask for, its queues created if missing; or None."""
    names = {queue: getattr(arguments, f"sqs_{queue}_queue") for queue in QUEUES}
    wanted = [arguments.sqs, arguments.sqs_endpoint, arguments.sqs_region, *names.values()]
    if not any(wanted):
        return None
    client = sqs_client(
        arguments.sqs_endpoint, arguments.sqs_region, connect_timeout=arguments.connect_timeout
    )
    cleanup.callback(client.close)
    queue_urls = {queue: _queue_url(client, name or queue) for queue, name in names.items()}
    return SqsOutput(queue_urls=queue_urls, client=client)


def _queue_url(client: SQSClient, name: str) -> str:
    """The URL of the queue ``name``, created if it does not exist."""
    try:
        try:
            return client.get_queue_url(QueueName=name)["QueueUrl"]
        except client.exceptions.QueueDoesNotExist:
            return client.create_queue(QueueName=name)["QueueUrl"]
    except (BotoCoreError, ClientError) as error:
        raise TransportError(
            f"SQS output: cannot find or create the queue {name!r}: {error}; check "
            "--sqs-endpoint, --sqs-region and the AWS credentials"
        ) from error


def _faults(text: str) -> frozenset[Fault]:
    try:
        return parse_faults(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _jitter(text: str) -> tuple[float, float]:
    shortest, comma, longest = text.partition(",")
    try:
        jitter = (float(shortest), float(longest))
    except ValueError:
        jitter = None
    if not comma or jitter is None or not 0 <= jitter[0] <= jitter[1]:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not MIN,MAX seconds with 0 <= MIN <= MAX, such as 0.03,0.1"
        )
    return jitter


def _interrupt(_signal: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
