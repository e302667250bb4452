"""The library's steps, and two that play the service: they publish to a stream's subject
with a plain nats-py client, carrying the scenario's correlation id or another's."""

import asyncio
import json

import nats
from behave import when

from asyncbdd.queues.aliases import queue_named
from asyncbdd.steps import *  # noqa: F403


async def publish(url, subject, body, correlation_id):
    client = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
    try:
        headers = {"correlation_id": correlation_id, "source": "service"}
        await client.jetstream().publish(subject, body.encode(), headers=headers)
    finally:
        await client.close()


def add(context, alias, correlation_id):
    stream = queue_named(alias)
    body = json.dumps(json.loads(context.asyncbdd.expand(context.text)))
    asyncio.run(publish(stream.address.url, stream.filter_subject, body, correlation_id))


@when('the service publishes to the "{alias}" stream:')
def step_service_publishes(context, alias):
    add(context, alias, context.asyncbdd.correlation_id)


@when('another run publishes to the "{alias}" stream:')
def step_another_run_publishes(context, alias):
    add(context, alias, "another-run")
