"""The library's steps, and two that play the service: they add entries to a stream
with a plain redis-py client, carrying the scenario's correlation id or another's."""

import json

import redis
from behave import when

from asyncbdd.queues.aliases import queue_named
from asyncbdd.steps import *  # noqa: F403


def add(context, alias, correlation_id):
    stream = queue_named(alias)
    client = redis.Redis.from_url(stream.url, socket_connect_timeout=5, socket_timeout=5)
    try:
        body = json.dumps(json.loads(context.asyncbdd.expand(context.text)))
        fields = {"body": body, "correlation_id": correlation_id, "source": "service"}
        client.xadd(stream.stream, fields)
    finally:
        client.close()


@when('the service adds to the "{alias}" stream:')
def step_service_adds(context, alias):
    add(context, alias, context.asyncbdd.correlation_id)


@when('another run adds to the "{alias}" stream:')
def step_another_run_adds(context, alias):
    add(context, alias, "another-run")
