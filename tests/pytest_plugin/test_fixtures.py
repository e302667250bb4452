"""The plugin's fixtures: a scenario per test, webhook receivers and queues in it."""

from __future__ import annotations

import pytest
from plugin_runs import run

from asyncbdd.queues import alias_names
from asyncbdd.scenario import running_scenario


def test_each_test_has_a_scenario_of_its_own_named_by_its_node_id(
    pytester: pytest.Pytester,
) -> None:
    """The fixture is the running scenario during its test, a fresh one for each test,
    ended after it; a test that does not ask for it runs in none."""
    pytester.makepyfile(
        test_scenarios="""
        from asyncbdd.scenario import current_scenario, running_scenario

        seen = []

        def test_first(asyncbdd_scenario, request):
            assert current_scenario() is asyncbdd_scenario
            assert asyncbdd_scenario.name == request.node.nodeid == "test_scenarios.py::test_first"
            assert asyncbdd_scenario.expand("{correlation_id}") == asyncbdd_scenario.correlation_id
            seen.append(asyncbdd_scenario)

        def test_second(asyncbdd_scenario):
            assert seen[0].ended and not asyncbdd_scenario.ended
            assert asyncbdd_scenario.correlation_id != seen[0].correlation_id
            seen.append(asyncbdd_scenario)

        def test_without_the_fixture():
            assert seen[1].ended
            assert running_scenario() is None
        """
    )
    run(pytester).assert_outcomes(passed=3)
    assert running_scenario() is None


@pytest.mark.parametrize(("setting", "has_one"), [("true", True), ("false", False), (None, False)])
def test_the_autouse_ini_option_gives_every_test_a_scenario(
    pytester: pytest.Pytester, setting: str | None, has_one: bool
) -> None:
    """``asyncbdd_autouse = true`` starts a scenario for tests that do not ask for one."""
    pytester.makepyfile(
        test_autouse=f"""
        from asyncbdd.scenario import running_scenario

        def test_plain(request):
            state = running_scenario()
            assert (state is not None) is {has_one}
            if state is not None:
                assert state.name == request.node.nodeid

        def test_asking_too(asyncbdd_scenario):
            assert running_scenario() is asyncbdd_scenario
        """
    )
    ini = "" if setting is None else f"asyncbdd_autouse = {setting}\n"
    run(pytester, ini=ini).assert_outcomes(passed=2)


def test_async_tests_and_their_tasks_see_the_scenario(pytester: pytest.Pytester) -> None:
    """pytest-asyncio runs an ``async def`` test in a copy of the context the fixture set
    the scenario in: the test, tasks it starts, and async fixtures see it."""
    pytester.makepyfile(
        test_async="""
        import asyncio
        import json
        import urllib.request

        import pytest
        import pytest_asyncio

        from asyncbdd.scenario import current_scenario, running_scenario
        from asyncbdd.webhooks import captures

        @pytest_asyncio.fixture
        async def seen_by_a_fixture(asyncbdd_scenario):
            return current_scenario()

        @pytest.mark.asyncio
        async def test_awaits_in_its_scenario(asyncbdd_scenario, seen_by_a_fixture):
            assert current_scenario() is asyncbdd_scenario is seen_by_a_fixture

            async def in_a_task():
                return current_scenario()

            assert await asyncio.create_task(in_a_task()) is asyncbdd_scenario

        @pytest.mark.asyncio
        async def test_declares_a_receiver(webhook_receiver):
            receiver = webhook_receiver("payment-complete")
            request = urllib.request.Request(receiver.url, data=b'{"paid": true}', method="POST")
            await asyncio.to_thread(urllib.request.urlopen, request, timeout=5)
            assert [call.json for call in captures().calls["payment-complete"]] == [{"paid": True}]

        @pytest.mark.asyncio
        async def test_autouse_reaches_async_tests(request):
            assert running_scenario().name == request.node.nodeid
        """
    )
    run(pytester, ini="asyncbdd_autouse = true\n").assert_outcomes(passed=3)


def test_webhook_receiver_declares_in_the_tests_scenario(pytester: pytest.Pytester) -> None:
    """The factory takes the engine's arguments; each test's receiver has its own URL, and
    a test's calls count for it alone."""
    pytester.makepyfile(
        test_receivers="""
        import urllib.request

        from asyncbdd.webhooks import expect_calls

        urls = []

        def call(url):
            request = urllib.request.Request(url, data=b"{}", method="POST")
            return urllib.request.urlopen(request, timeout=5).status

        def test_first(webhook_receiver, asyncbdd_scenario):
            receiver = webhook_receiver("payment-complete", status=202)
            assert asyncbdd_scenario.scenario_id in receiver.url
            assert call(receiver.url) == 202
            expect_calls("payment-complete", 1, timeout=5, grace=0)
            urls.append(receiver.url)

        def test_second(webhook_receiver):
            receiver = webhook_receiver("payment-complete")
            assert receiver.url != urls[0]
            assert call(receiver.url) == 200
            expect_calls("payment-complete", 1, timeout=5, grace=0)
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_queue_resolves_aliases_and_queue_texts(pytester: pytest.Pytester) -> None:
    """An alias gives its queue; ``SCHEME:TARGET`` or an SQS URL makes one, named by that
    text for the session; anything else is an unknown alias. Nothing is connected to."""
    pytester.makepyfile(
        test_queues="""
        import pytest

        from asyncbdd.errors import UnknownName
        from asyncbdd.queues import queue_named

        URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/invoices"

        def test_an_alias(queue):
            billing = queue("billing")
            assert (billing.alias, billing.name) == ("billing", "billing")
            assert queue("billing") is billing is queue_named("billing")

        def test_queue_texts(queue):
            orders = queue("sqs:orders")
            assert orders.alias == "sqs:orders" and orders.name == "orders"
            assert queue_named("sqs:orders") is orders is queue("sqs:orders")
            invoices = queue(URL)
            assert (invoices.name, invoices.url) == ("invoices", URL)

        def test_made_ones_last_the_session(queue):
            assert queue_named("sqs:orders").name == "orders"

        def test_an_unknown_name(queue):
            with pytest.raises(UnknownName) as caught:
                queue("biling")
            assert "Did you mean 'billing'?" in str(caught.value)
            assert "The queue fixture takes SCHEME:TARGET too" in str(caught.value)
        """
    )
    run(pytester, ini="asyncbdd =\n    queues.billing = sqs:billing\n").assert_outcomes(passed=4)
    assert "sqs:orders" not in alias_names()


def test_the_factories_refuse_use_outside_their_test(pytester: pytest.Pytester) -> None:
    """A factory kept past its test, or called in a thread that does not run the test's
    scenario, fails with what happened and what to do."""
    pytester.makepyfile(
        test_outside="""
        import threading

        import pytest

        import asyncbdd
        from asyncbdd.errors import AsyncBddError
        from asyncbdd.webhooks import captures

        kept = {}

        def test_keeps_them(webhook_receiver, queue):
            kept["webhook_receiver"], kept["queue"] = webhook_receiver, queue

        def test_uses_them_later():
            with pytest.raises(AsyncBddError) as caught:
                kept["webhook_receiver"]("late")
            assert str(caught.value) == (
                "The webhook_receiver fixture of test test_outside.py::test_keeps_them was "
                "used after that test ended. A fixture belongs to the test that requested "
                "it: use it within that test, and let a later test request "
                "webhook_receiver itself."
            )
            with pytest.raises(AsyncBddError, match="The queue fixture of test .* ended"):
                kept["queue"]("sqs:billing")

        def test_in_a_thread(webhook_receiver, asyncbdd_scenario):
            # the one scenario running is the thread's too
            declared = []
            thread = threading.Thread(target=lambda: declared.append(webhook_receiver("elsewhere")))
            thread.start()
            thread.join(10)
            assert [receiver.name for receiver in declared] == ["elsewhere"]
            assert "elsewhere" in captures().receivers

        def test_in_a_thread_of_another_scenario(webhook_receiver):
            errors = []

            def declare():
                with asyncbdd.scenario("another"):
                    try:
                        webhook_receiver("elsewhere")
                    except AsyncBddError as error:
                        errors.append(str(error))

            thread = threading.Thread(target=declare)
            thread.start()
            thread.join(10)
            assert errors == [
                "The webhook_receiver fixture of test "
                "test_outside.py::test_in_a_thread_of_another_scenario was used while another "
                "scenario, 'another', runs. Use it in the test itself (or in a task it starts, "
                "which inherits its scenario)."
            ]
        """
    )
    run(pytester).assert_outcomes(passed=4)
