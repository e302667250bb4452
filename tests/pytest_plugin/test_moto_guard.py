"""``moto.mock_aws`` in other tests: it resets moto's state in the process, which the
embedded SQS server serves.

Run apart: the reset must not reach this process's embedded queues.
"""

from __future__ import annotations

import pytest
from plugin_runs import run_apart

TESTS = """
import boto3
import moto
import pytest

from asyncbdd.queues import QueueNotFound, expect_messages, send_message

def test_1_reads_a_queue(queue):
    billing = queue("sqs:billing")
    send_message(billing.alias, {"n": 1})
    expect_messages(billing.alias, 1, timeout=10, grace=0)

def test_2_mocks_aws():
    with moto.mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        client.create_queue(QueueName="of-the-mock")
        assert [url.rsplit("/", 1)[1] for url in client.list_queues()["QueueUrls"]] == [
            "of-the-mock"
        ]

def test_3_reads_the_queue_again(queue):
    billing = queue("sqs:billing")
    send_message(billing.alias, {"n": 3})
    arrived = expect_messages(billing.alias, 1, timeout=10, grace=0)
    assert [message.json for message in arrived] == [{"n": 3}]

def test_4_a_reset_within_the_test_fails_its_wait_naming_mock_aws(queue):
    billing = queue("sqs:billing")
    send_message(billing.alias, {"n": 4})
    expect_messages(billing.alias, 1, timeout=10, grace=0)
    with moto.mock_aws():
        pass
    with pytest.raises(QueueNotFound) as caught:
        expect_messages(billing.alias, 2, timeout=10, grace=0)
    assert "is gone from the embedded SQS server" in str(caught.value)
    assert "moto.mock_aws reset moto's state in this process" in str(caught.value)
    assert "set asyncbdd.sqs.endpoint to an SQS server of its own" in str(caught.value)

def test_5_and_after_that(queue):
    billing = queue("sqs:billing")
    send_message(billing.alias, {"n": 5})
    arrived = expect_messages(billing.alias, 1, timeout=10, grace=0)
    assert [message.json for message in arrived] == [{"n": 5}]
"""


def test_embedded_queues_are_made_again_after_a_test_that_mocked_aws(
    pytester: pytest.Pytester,
) -> None:
    """Each test after a reset finds its queues (made again, with a warning saying why);
    a reset during a test fails its wait at once, naming mock_aws and the fix."""
    pytester.makepyfile(test_mock_aws=TESTS)
    result = run_apart(pytester, "-W", "always")
    result.assert_outcomes(passed=5)
    warned = "moto.mock_aws reset the state of moto in this process, which the embedded SQS "
    result.stdout.fnmatch_lines(
        [
            "*warnings summary*",
            "test_mock_aws.py::test_3_reads_the_queue_again",
            f"*{warned}*test_mock_aws.py::test_3_reads_the_queue_again: asyncbdd makes its*",
            "test_mock_aws.py::test_5_and_after_that",
            f"*{warned}*",
        ]
    )
