"""The demo features, run by behave as CI runs them, beyond the healthy run.

``tests/acceptance/must_fail.feature`` holds one scenario per step that must fail against
the healthy service, each with the diagnostic that says why; a step that passes against a
system that disagrees is a defect. The same features pass unchanged on PostgreSQL, and
two runs sharing the brokers see only their own messages. The fault matrix, soak and
parallel runs (which also run the features against brokers started apart from behave)
are in ``tests/reliability/``.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from demo_features import (
    ALL_SCENARIOS,
    Brokers,
    Outcome,
    assert_diagnostics,
    failed,
    run_behave,
)
from sqlalchemy import create_engine, text

MUST_FAIL = "tests/acceptance/must_fail.feature"
SHARED_BROKERS = "tests/acceptance/shared_brokers.feature"


MUST_FAIL_DIAGNOSTICS = {
    "A status that never comes times out with the statuses seen": [
        'Waited for: Then within 1 second the order status is "lost"',
        "Failed because the deadline passed.",
        "last value:  'shipped'",
        "'pending'",
        "expected 'lost'",
    ],
    "A status that moves on does not stay": [
        "Failed because it stopped holding after",
        "of the required 2 s",
        "last value:  'paid'",
    ],
    "A forbidden status stops the wait at once": [
        "Failed because it reached a state it must never reach: 'paid'.",
    ],
    "A status that does not hold long enough fails the hold": [
        'Waited for: Then within 3 seconds the order status is "pending" and stays so for 2 s',
        "last value:  'shipped'",
    ],
    "A status reached too early fails the minimum time": [
        "earlier than the minimum of 2 s",
    ],
    "A status that is reached fails the negative form": [
        "Failed because it stopped holding after",
        "last value:  'shipped'",
    ],
    "Eventually waits only as long as the default timeout": [
        "deadline:    1 s",
    ],
    "A number written in quotes is not the number": [
        "the value is the number 97; write it without quotes to expect a number",
    ],
    "A different change than expected is shown beside the expectation": [
        "missing: quantity 100 -> 90 (actual: 100 -> 97)",
    ],
    "A change to a row that should not change is reported": [
        "missing: quantity 50 -> 47 (actual: that row did not change)",
        "unexpected: quantity 100 -> 97",
    ],
    "Rows that never change time out": [
        "No row changed",
        "product_id='prod-123'  {quantity: 50}",
    ],
    "Rows that change fail the negative form": [
        "changed  product_id='prod-789'  quantity: 100 -> 97",
    ],
    "A snapshot never taken is named": [
        'No snapshot of the inventory of product "prod-789" was taken in this scenario.',
    ],
    "A queue that receives one message fails a count of two": [
        "Waited for: And within 1 second the billing queue receives 2 messages",
        "Failed because the deadline passed: the billing queue received 1 of 2.",
        "expected:  exactly 2",
        "received:  1 message of this scenario:",
    ],
    "A second message within the grace window fails exactly one": [
        "the billing queue received 2, more than the 1 expected (the extra one arrived",
        "within the 500 ms grace window)",
    ],
    "A message that arrives fails the negative form": [
        "Failed because a message reached the shipping queue",
        "into the 5 s window.",
    ],
    "A message with a different field is shown beside the expectation": [
        "expected:  at least 1 with amount = 10.5",
        "amount: expected 10.5, got 99.99",
    ],
    "A message body that does not contain the document is explained": [
        "quantity_change: expected -30, got -3",
    ],
    "A wrong message attribute is named": [
        "attribute/header 'event_type': expected 'invoice.requested', got 'billing.requested'",
    ],
    "Nothing published on a topic times out naming the topic": [
        'the "order.created" topic received 0 of 1.',
        "Kafka topic 'order.created' at 127.0.0.1:",
    ],
    "The message before any message is named": [
        "No message has been received in this scenario yet",
    ],
    "Events across channels out of order fail at once, with their timeline": [
        "Failed because the events are out of order: message on shipping (at +",
        "came after payment.completed (at +",
        "all 4 expected events were in the trace, so it was checked at once",
        "timeline (by timestamp):",
        "http     order accepted",
        "webhook  call to payment-complete",
        "queue    message on shipping",
        "<- out of order",
    ],
    "A tripwire ends a later wait at once, naming it": [
        "Waited for: Then within 10 seconds the billing queue receives 2 messages",
        'Failed because the scenario\'s tripwire tripped: the order status becomes "paid" (',
        "into this wait; it read 'paid')",
        "billing: SQS queue",
    ],
    "A trace tripwire ends a later wait at once": [
        'Failed because the scenario\'s tripwire tripped: "payment.completed" occurs in the trace',
        "it read payment.completed #3 (payments))",
        "last value:",
    ],
    "A queue tripwire ends a later wait at once": [
        "Failed because the scenario's tripwire tripped: the shipping queue receives a message (",
    ],
    "Seeded stock that is too little fails the order": [
        "last value:  'failed'",
    ],
}


def test_every_step_fails_with_its_diagnostic_when_the_system_disagrees(
    tmp_path: Path,
) -> None:
    """Each must-fail scenario fails (none passes), and its report explains the failure."""
    outcomes = run_behave(
        tmp_path, MUST_FAIL, defines={"asyncbdd.timeout": "1 second"}, environment={}
    )
    assert set(outcomes) == set(MUST_FAIL_DIAGNOSTICS)
    passed = set(outcomes) - failed(outcomes)
    assert passed == set(), f"steps passed against a system that disagrees: {passed}"
    assert_diagnostics(outcomes, MUST_FAIL_DIAGNOSTICS)


def test_the_features_pass_unchanged_against_postgresql(
    tmp_path: Path, postgresql_url: str
) -> None:
    """Only the database URL changes: the same features pass on PostgreSQL."""
    schema = f"asyncbdd_features_{uuid.uuid4().hex[:8]}"
    engine = create_engine(postgresql_url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = f"{postgresql_url}?options=-csearch_path%3D{schema}"
        outcomes = run_behave(tmp_path, defines={"asyncbdd.database_url": url}, environment={})
        assert set(outcomes) == ALL_SCENARIOS
        assert failed(outcomes) == set(), {name: outcomes[name].report for name in failed(outcomes)}
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def test_the_features_pass_unchanged_with_the_messages_on_redis_streams(
    tmp_path: Path, redis_url: str
) -> None:
    """Only the aliases change: the service adds its messages to Redis streams, which the
    same queue phrases read."""
    import redis  # noqa: PLC0415  (the redis_url fixture skips without it)

    run = uuid.uuid4().hex[:8]
    streams = {name: f"{name}-{run}" for name in ("billing", "shipping", "inventory")}
    aliases = ", ".join(f"{name} = redis:stream/{stream}" for name, stream in streams.items())
    defines = {
        "asyncbdd.queues": f"{aliases}, order.created = kafka:order.created",
        "asyncbdd.redis.url": redis_url,
    }
    try:
        outcomes = run_behave(tmp_path, defines=defines, environment={})
    finally:
        client = redis.Redis.from_url(redis_url)
        client.delete(*streams.values())
        client.close()
    assert set(outcomes) == ALL_SCENARIOS
    assert failed(outcomes) == set(), {name: outcomes[name].report for name in failed(outcomes)}


def test_two_runs_sharing_the_brokers_see_only_their_own_messages(
    tmp_path: Path, separate_brokers: Brokers
) -> None:
    """Two behave processes at once, same queue and topic: each scenario gets its own."""

    def run(name: str) -> dict[str, Outcome]:
        directory = tmp_path / name
        directory.mkdir()
        return run_behave(
            directory,
            SHARED_BROKERS,
            defines=separate_brokers.defines,
            environment=separate_brokers.environment,
        )

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(run, ["first", "second"])
    for outcomes in (first, second):
        assert len(outcomes) == 8
        assert failed(outcomes) == set(), {n: outcomes[n].report for n in failed(outcomes)}
