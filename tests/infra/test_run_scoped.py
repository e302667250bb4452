"""The lifecycle every embedded service shares: idempotent stop and the run-scoped instance."""

from __future__ import annotations

from asyncbdd.infra.run_scoped import EmbeddedService, RunScoped


class FakeService(EmbeddedService):
    """A service that only counts its starts and stops; ``die()`` simulates a crash."""

    def __init__(self) -> None:
        self.up = False
        self.starts = 0
        self.stops = 0

    @property
    def running(self) -> bool:
        return self.up

    def start(self) -> str:
        self.up = True
        self.starts += 1
        return "fake://service"

    def stop(self) -> None:
        self.up = False
        self.stops += 1

    def die(self) -> None:
        self.up = False


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
