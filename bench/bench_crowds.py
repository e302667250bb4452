"""Crowded queues: how soon a step finds its message behind many of another run's.

Each row fills SQS queues on the embedded moto server with N messages of another run
(correlation id ``another-run``, which no reader takes) and one message behind them.
Baseline: a plain boto3 sweep of such a queue, ``receive_message`` ten at a time without
waiting, each received message hidden for 5 minutes, until the last message comes (the
mean of one sweep before and one after asyncbdd's). Figure: the time from
``expect_messages`` starting to wait until it returns the scenario's message, its reader
started by that wait.

moto scans the whole queue on each receive (about 0.8 ms per message it holds), so
reading past N messages costs about N²/12,500 seconds: the sweep is the floor on moto.
Real SQS answers a receive in tens of milliseconds whatever the queue's depth.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING

import asyncbdd
from asyncbdd.config import load_settings
from asyncbdd.infra.sqs_server import shared_embedded_sqs
from asyncbdd.queues import close_readers, expect_messages, send_message
from bench.core import Result, settings_in_force

if TYPE_CHECKING:
    from types_boto3_sqs.client import SQSClient

__all__ = ["run"]

SMALL_CROWD = 100
SMALL_CROWD_TARGET_S = 3.0
RATIO_TARGET = 1.1


def run(quick: bool) -> list[Result]:
    """Find times behind 100, 500 and 1,000 others' messages (``quick``: 100 and 500)."""
    client = shared_embedded_sqs().client(read_timeout=120)
    results = []
    for crowd in (SMALL_CROWD, 500) if quick else (SMALL_CROWD, 500, 1000):
        plain, found = _find_times(client, crowd)
        if crowd == SMALL_CROWD:
            target, met = f"<= {SMALL_CROWD_TARGET_S:g} s", found <= SMALL_CROWD_TARGET_S
        else:
            target, met = f"<= {RATIO_TARGET:g}x sweep", found <= RATIO_TARGET * plain
        results.append(
            Result(
                name=f"find ours behind {crowd:,} others' (SQS, moto)",
                value=found,
                unit="s",
                baseline_name="plain boto3 sweep",
                baseline_value=plain,
                better="lower",
                target=target,
                met=met,
                note="moto rescans the queue on every receive; real SQS does not",
            )
        )
    return results


def _find_times(client: SQSClient, crowd: int) -> tuple[float, float]:
    """The plain sweep's and asyncbdd's time to reach a message behind ``crowd`` others
    (the sweep's the mean of one before and one after asyncbdd's, so that a machine
    getting busier or quieter meanwhile moves both alike)."""
    run_id = uuid.uuid4().hex[:8]
    before = _plain_sweep(client, f"crowd-plain-{run_id}", crowd)
    alias = f"crowd-{run_id}"
    ours_url = _crowded(client, alias, crowd)
    overrides = {"asyncbdd.queues": f"{alias} = sqs:{alias}", "asyncbdd.timeout": "4 minutes"}
    try:
        settings = load_settings(environ={}, overrides=overrides)
        with settings_in_force(settings), asyncbdd.scenario("behind the crowd"):
            send_message(alias, {"n": "ours"})
            started = time.perf_counter()
            expect_messages(alias, 1, exactly=False)
            found = time.perf_counter() - started
    finally:
        close_readers()
        client.delete_queue(QueueUrl=ours_url)
    after = _plain_sweep(client, f"crowd-plain-again-{run_id}", crowd)
    return (before + after) / 2, found


def _plain_sweep(client: SQSClient, name: str, crowd: int) -> float:
    """Seconds a plain boto3 sweep takes to reach the last of ``crowd`` + 1 messages."""
    url = _crowded(client, name, crowd)
    client.send_message(QueueUrl=url, MessageBody='{"n": "last"}')
    started = time.perf_counter()
    _sweep_until_last(client, url)
    took = time.perf_counter() - started
    client.delete_queue(QueueUrl=url)
    return took


def _crowded(client: SQSClient, name: str, crowd: int) -> str:
    url = client.create_queue(QueueName=name)["QueueUrl"]
    for start in range(0, crowd, 10):
        client.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": str(n),
                    "MessageBody": json.dumps({"n": n}),
                    "MessageAttributes": {
                        "correlation_id": {"DataType": "String", "StringValue": "another-run"}
                    },
                }
                for n in range(start, min(start + 10, crowd))
            ],
        )
    return url


def _sweep_until_last(client: SQSClient, url: str) -> None:
    while True:
        reply = client.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=300
        )
        if any(m["Body"] == '{"n": "last"}' for m in reply.get("Messages", [])):
            return
