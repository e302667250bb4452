"""What every embedded service shares: context-manager use, and one instance per run.

A run-scoped service (the embedded SQS server, the Kafka broker, the webhook capture
server) starts on first use and stops at the end of the run: behave's ``after_all`` calls
:func:`stop_run_scoped_services`, and an ``atexit`` hook does it for any other caller.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

__all__ = ["EmbeddedService", "RunScoped", "stop_run_scoped_services"]

S = TypeVar("S", bound="EmbeddedService")


class EmbeddedService(ABC):
    """A service the tests start and stop; ``with service:`` does both.

    :meth:`stop` is idempotent, so every owner that may end a service (a ``with`` block,
    a signal handler, an ``atexit`` hook) can call it without checking :attr:`running`.
    """

    @property
    @abstractmethod
    def running(self) -> bool:
        """Whether the service is up."""

    @abstractmethod
    def start(self) -> str:
        """Start the service; return the address clients use."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the service and release what it holds, such as a child process that died.

        Stopping a service that is stopped, or was never started, does nothing.
        """

    def __enter__(self: S) -> S:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class RunScoped(Generic[S]):
    """One service for the whole run: started on first use, replaced if it died, stopped at
    the end of the run (:func:`stop_run_scoped_services`) or at exit. With a ``label``,
    each start is named on stderr (``asyncbdd: started the embedded SQS server ... at
    http://127.0.0.1:PORT``), so a run says which embedded services it used.

    A service that died is stopped (which releases what it left behind) before a new one
    replaces it.
    """

    def __init__(self, factory: Callable[[], S], *, label: str | None = None):
        self._factory = factory
        self._label = label
        self._service: S | None = None
        self._lock = threading.Lock()
        self._stops_at_exit = False
        with _instances_lock:
            _instances.add(self)

    def get(self) -> S:
        """The run's service, started if it is not running."""
        with self._lock:
            service = self._service
            if service is None or not service.running:
                if service is not None:
                    service.stop()
                service = self._factory()
                address = service.start()
                if self._label is not None:  # named once per start, so a run says what it used
                    again = " again" if self._stops_at_exit else ""
                    print(f"asyncbdd: started {self._label}{again} at {address}", file=sys.stderr)
                if not self._stops_at_exit:
                    atexit.register(self.stop)
                    self._stops_at_exit = True
                self._service = service
            return service

    @property
    def running(self) -> bool:
        """Whether the run's service has started and runs (asking starts nothing)."""
        service = self._service
        return service is not None and service.running

    def stop(self) -> None:
        """Stop the run's service now, if there is one; the next :meth:`get` starts another."""
        with self._lock:
            service, self._service = self._service, None
        if service is not None:
            service.stop()


def stop_run_scoped_services() -> None:
    """Stop every run-scoped service of this process (at the end of a run).

    Each starts again on its next use. Every service is stopped even when stopping
    another one fails (or is interrupted); that failure is raised afterwards.
    """
    with _instances_lock:
        scoped = list(_instances)
    with contextlib.ExitStack() as stack:  # runs every callback, whatever the others raise
        for instance in scoped:
            stack.callback(instance.stop)


_instances: weakref.WeakSet[RunScoped[Any]] = weakref.WeakSet()
_instances_lock = threading.Lock()
