"""The library's steps, and two that play the service: they publish to an exchange with
a plain pika connection, carrying the scenario's correlation id or another's."""

import json

import pika
from behave import when

from asyncbdd.queues.aliases import queue_named
from asyncbdd.steps import *  # noqa: F403


def publish(context, alias, routing_key, correlation_id):
    tapped = queue_named(alias)
    connection = pika.BlockingConnection(pika.URLParameters(tapped.url))
    try:
        body = json.dumps(json.loads(context.asyncbdd.expand(context.text)))
        properties = pika.BasicProperties(
            correlation_id=correlation_id, headers={"source": "service"}
        )
        connection.channel().basic_publish(tapped.exchange, routing_key, body, properties)
    finally:
        connection.close()


@when('the service publishes to the "{alias}" exchange with routing key "{routing_key}":')
def step_service_publishes(context, alias, routing_key):
    publish(context, alias, routing_key, context.asyncbdd.correlation_id)


@when('another run publishes to the "{alias}" exchange with routing key "{routing_key}":')
def step_another_run_publishes(context, alias, routing_key):
    publish(context, alias, routing_key, "another-run")
