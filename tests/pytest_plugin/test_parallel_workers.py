"""pytest-xdist: tests on parallel workers each receive their own messages and calls."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from plugin_runs import run_apart

from asyncbdd.infra.sqs_server import EmbeddedSqs

TESTS = """
import json
import os
import urllib.request
from pathlib import Path

import pytest

from asyncbdd.infra.sqs_server import shared_embedded_sqs
from asyncbdd.queues import expect_messages, send_message
from asyncbdd.webhooks import expect_calls, webhook_server

@pytest.mark.parametrize("n", range(4))
def test_receives_its_own(n, queue, webhook_receiver):
    own = queue("sqs:billing")  # on the worker's embedded server
    shared = queue(os.environ["SHARED_QUEUE_URL"])  # one queue that every worker reads
    receiver = webhook_receiver("payment-complete")
    body = {"test": n}
    send_message(own.alias, body)
    send_message(shared.alias, body)
    call = urllib.request.Request(receiver.url, data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(call, timeout=5)
    for alias in (own.alias, shared.alias):
        arrived = expect_messages(alias, 1, timeout=20)
        assert [message.json for message in arrived] == [body]
    assert [call.json for call in expect_calls("payment-complete", 1, timeout=10)] == [body]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(os.environ["SEEN"], f"{n}.json").write_text(json.dumps({
        "worker": worker,
        "sqs": shared_embedded_sqs().endpoint_url,
        "webhooks": webhook_server().url,
    }))
"""


def test_workers_share_a_queue_and_run_their_own_embedded_servers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every test gets exactly its own message from its worker's embedded queue and from a
    queue all workers read at once, and exactly its own webhook call; each worker runs
    its own embedded SQS and capture servers, on ports of their own."""
    seen = tmp_path / "seen"
    seen.mkdir()
    with EmbeddedSqs() as shared:
        url = shared.client().create_queue(QueueName=f"shared-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        monkeypatch.setenv("SHARED_QUEUE_URL", url)
        monkeypatch.setenv("SEEN", str(seen))
        for variable, value in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ]:
            monkeypatch.setenv(variable, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        pytester.makepyfile(test_parallel=TESTS)
        result = run_apart(pytester, "-n", "2", "--asyncbdd-set", "grace=0.2")
    result.assert_outcomes(passed=4)
    runs = [json.loads(path.read_text()) for path in sorted(seen.glob("*.json"))]
    assert len(runs) == 4
    by_worker: dict[str, set[tuple[str, str]]] = {}
    for run in runs:
        by_worker.setdefault(run["worker"], set()).add((run["sqs"], run["webhooks"]))
    assert sorted(by_worker) == ["gw0", "gw1"]
    assert all(len(servers) == 1 for servers in by_worker.values())  # one of each per worker
    (first_sqs, first_webhooks), (second_sqs, second_webhooks) = (
        servers.pop() for servers in by_worker.values()
    )
    assert first_sqs != second_sqs
    assert first_webhooks != second_webhooks
