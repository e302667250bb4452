"""The lifecycle every embedded service shares: idempotent stop and the run-scoped instance."""

from __future__ import annotations

import pytest
from doubles import FakeService

from asyncbdd.infra.run_scoped import RunScoped, stop_run_scoped_services


def test_context_manager_starts_and_stops() -> None:
    """``with service:`` starts the service on entry and stops it on exit."""
    service = FakeService()
    with service as entered:
        assert entered is service
        assert service.running
    assert (service.starts, service.stops, service.running) == (1, 1, False)


def test_run_scoped_service_is_shared_while_it_runs() -> None:
    """Every get() returns the same started service while it keeps running."""
    scoped = RunScoped(FakeService)
    first = scoped.get()
    assert scoped.get() is first
    assert (first.starts, first.stops) == (1, 0)


def test_a_service_that_died_is_stopped_before_it_is_replaced() -> None:
    """get() stops a service that died, so it releases what it left behind, then starts a
    new one."""
    scoped = RunScoped(FakeService)
    first = scoped.get()
    first.die()
    second = scoped.get()
    assert second is not first
    assert second.running
    assert first.stops == 1


def test_stop_ends_the_run_service_now_and_get_starts_another() -> None:
    """stop() stops the shared service at once; the next get() starts a new one."""
    scoped = RunScoped(FakeService)
    scoped.stop()  # none yet: nothing to do
    first = scoped.get()
    scoped.stop()
    scoped.stop()
    assert (first.running, first.stops) == (False, 1)
    second = scoped.get()
    assert second is not first
    assert second.running


def test_stop_run_scoped_services_stops_every_one_at_the_end_of_a_run() -> None:
    """Every run-scoped service of the process stops; each starts afresh on its next use."""
    first, second = RunScoped(FakeService), RunScoped(FakeService)
    services = [first.get(), second.get()]
    stop_run_scoped_services()
    assert [(service.running, service.stops) for service in services] == [(False, 1)] * 2
    assert first.get() is not services[0]
    first.stop()


def test_stop_run_scoped_services_stops_the_others_when_one_fails() -> None:
    """A service that fails to stop does not keep the others running; its error is raised."""
    failing = RunScoped(lambda: FakeService(fails_to_stop=True))
    other = RunScoped(FakeService)
    failing.get()
    service = other.get()
    with pytest.raises(RuntimeError, match="could not stop"):
        stop_run_scoped_services()
    assert not service.running
