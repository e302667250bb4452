"""behave environment of the demo: asyncbdd's hooks, and the order service under test.

This is what a team writes for its own service: one call installs asyncbdd's hooks, and
a few lines say what "the order status" and "the inventory of product X" mean.

The demo service starts once per run, in-process, and is reached only through real
transports: HTTP, SQL, Kafka (it reads "order.created"), SQS (it sends to billing,
shipping and inventory; or Redis streams, when the three aliases name streams: ``-D
"asyncbdd.queues=billing = redis:stream/billing, ..."``), webhooks (signed calls on
payment.completed) and its trace table (named in setup.cfg). The queue aliases are in
setup.cfg; the brokers are the embedded ones unless settings name others, and the
service is given whichever asyncbdd uses.
``-D demo.faults=wrong-quantity`` (or ``ASYNCBDD_DEMO_FAULTS``) makes it misbehave, to
prove the features fail when they should.

``-D demo.url=http://127.0.0.1:8080`` (or ``ASYNCBDD_DEMO_URL``) tests a service started
elsewhere (``python -m asyncbdd.demo``, shared by parallel behave processes) instead:
nothing starts here, and ``asyncbdd.database_url`` must name that service's database.
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from asyncbdd import get_settings, ignore_columns, set_settings, snapshot_source, sql_probe
from asyncbdd.demo import QUEUES, KafkaInput, OrderService, RedisOutput, SqsOutput, parse_faults
from asyncbdd.demo.order_messages import Output
from asyncbdd.errors import ConfigurationError
from asyncbdd.hooks import install_hooks
from asyncbdd.queues import KafkaTopic, SqsQueue, queue_named
from asyncbdd.queues.transports import transport_options

REDIS_STREAM = "redis:stream/"
"""How an alias names a Redis stream: the service then adds its messages to streams."""

# What the features' phrases mean. Registered as the file loads, so that listing the
# phrases (asyncbdd phrases, or behave --dry-run) shows them without starting anything.
sql_probe("the order status", "SELECT status FROM orders WHERE id = :order_id")
sql_probe('the status of order "{order_id}"', "SELECT status FROM orders WHERE id = :order_id")
sql_probe(
    'the stock of product "{product_id}"',
    "SELECT quantity FROM inventory WHERE product_id = :product_id",
)
snapshot_source('the inventory of product "{product_id}"', table="inventory", ignore=["updated_at"])
ignore_columns("inventory", "updated_at")


def before_all(context: Any) -> None:
    url = context.config.userdata.get("demo.url", os.environ.get("ASYNCBDD_DEMO_URL"))
    context.order_service_url = _service_elsewhere(context, url) if url else _start_service(context)


def after_all(context: Any) -> None:
    if hasattr(context, "order_service"):
        context.order_service.stop()
    if hasattr(context, "demo_directory"):
        context.demo_directory.cleanup()


def _service_elsewhere(context: Any, url: str) -> str:
    """The URL of a service started elsewhere, checked: it answers, and its database is set."""
    url = url.rstrip("/")
    if get_settings().database_url is None:
        raise ConfigurationError(
            f"demo.url is {url!r}, a service started elsewhere, but asyncbdd.database_url "
            "is not set: set it to that service's database (its --database-url), which "
            "the probes, snapshots and trace read"
        )
    if _faults(context):
        raise ConfigurationError(
            "demo.faults applies to the service started here, not to the one at demo.url: "
            "start that one with --fault instead"
        )
    try:
        urllib.request.urlopen(f"{url}/health", timeout=5).close()
    except (OSError, ValueError) as error:
        raise ConfigurationError(
            f"demo.url is {url!r}, but no service answers there ({error}): start it "
            "(python -m asyncbdd.demo prints its URL), or fix demo.url"
        ) from None
    return url


def _start_service(context: Any) -> str:
    settings = get_settings()
    database_url = settings.database_url
    if database_url is None:
        context.demo_directory = tempfile.TemporaryDirectory(prefix="asyncbdd-demo-")
        database_url = f"sqlite:///{Path(context.demo_directory.name) / 'orders.db'}"
        settings = settings.replace(database_url=database_url)
        set_settings(settings)
    orders = queue_named("order.created")
    assert isinstance(orders, KafkaTopic), "the demo reads orders from a Kafka topic"
    context.order_service = OrderService(
        database_url,
        faults=parse_faults(_faults(context)),
        jitter=(0.03, 0.1),
        kafka=KafkaInput(orders.bootstrap_servers, orders.topic, orders.options),
        output=_output(),
        late_message_delay=float(context.config.userdata.get("demo.late_message_delay", 8)),
        slow_step_delay=float(context.config.userdata.get("demo.slow_step_delay", 8)),
        webhook_secret=settings.webhooks_secret,
    )
    context.order_service.start()
    return str(context.order_service.url)


def _faults(context: Any) -> str:
    return str(
        context.config.userdata.get("demo.faults", os.environ.get("ASYNCBDD_DEMO_FAULTS", ""))
    )


def _output() -> Output:
    """Where the service sends its messages: the queues the aliases name, SQS queues or,
    all three being ``redis:stream/NAME``, Redis streams (the features are the same)."""
    specs = {name: get_settings().queues.get(name, "") for name in QUEUES}
    if all(spec.startswith(REDIS_STREAM) for spec in specs.values()):
        streams = {name: spec.removeprefix(REDIS_STREAM) for name, spec in specs.items()}
        return RedisOutput(str(transport_options("redis")["url"]), streams=streams)
    queues = {name: _sqs_queue(name) for name in QUEUES}
    for queue in queues.values():
        queue.open()
    return SqsOutput(
        queue_urls={name: queue.url or "" for name, queue in queues.items()},
        client=queues["billing"].client,
    )


def _sqs_queue(alias: str) -> SqsQueue:
    queue = queue_named(alias)
    assert isinstance(queue, SqsQueue), f"the demo sends to SQS or Redis; {alias!r} is {queue!r}"
    return queue


install_hooks(globals())
