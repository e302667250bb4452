"""An embedded Kafka broker for tests: librdkafka's mock cluster, hosted in a child process.

The mock cluster that ships inside the ``confluent-kafka`` wheel speaks the real Kafka
protocol, so any client (asyncbdd's own code uses kafka-python) can produce to and consume
from it. It lives in a small child process rather than in the test process so that
several test processes (parallel behave runs, a system under test started separately) can
share one broker: hand them :attr:`EmbeddedKafka.bootstrap_servers`, for instance in the
environment variable named by :data:`BOOTSTRAP_SERVERS_VARIABLE`.

The child listens on 127.0.0.1 only, on a port the operating system picks (librdkafka has
no setting to choose it). It exits when its stdin closes, so a parent that crashes never
leaves it behind. A thread watches it: when it dies without being stopped (killed, out of
memory), :attr:`EmbeddedKafka.death` says how and when, and :func:`shared_embedded_kafka`
starts a new one, on a new port and with no topics, at its next call.

Facts about the mock cluster that clients must respect (librdkafka 2.16):

* topics are created on first use with 4 partitions; CreateTopics is not supported;
* consumer-group joins are slow (seconds): read with ``assign`` + ``seek`` instead;
* a consumer polling with kafka-python's default ``fetch_max_wait_ms=500`` sees a new
  record up to half a second late; ``fetch_max_wait_ms=10`` brings that to milliseconds.
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from asyncbdd.config import get_settings
from asyncbdd.errors import AsyncBddError
from asyncbdd.infra.run_scoped import EmbeddedService, RunScoped

__all__ = [
    "BOOTSTRAP_SERVERS_VARIABLE",
    "EmbeddedKafka",
    "EmbeddedKafkaError",
    "is_embedded_address",
    "shared_embedded_kafka",
]

BOOTSTRAP_SERVERS_VARIABLE = "ASYNCBDD_KAFKA_BOOTSTRAP_SERVERS"
"""Environment variable through which other processes are told where the broker is."""

STOP_TIMEOUT_SECONDS = 5.0
"""How long :meth:`EmbeddedKafka.stop` waits for the child to exit before killing it."""


class EmbeddedKafkaError(AsyncBddError):
    """The embedded Kafka broker could not start, or was used in the wrong state."""


class EmbeddedKafka(EmbeddedService):
    """librdkafka's mock Kafka cluster, run in a child process on a loopback port.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with EmbeddedKafka() as kafka:
            producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers)

    ``brokers`` is the number of mock brokers in the cluster. ``startup_timeout`` bounds
    how long :meth:`start` waits for the child to report its address (default: the
    ``asyncbdd.connect_timeout`` setting). ``python`` is the interpreter that runs the
    child (default: this one); it must be able to import ``confluent_kafka``.
    """

    def __init__(
        self,
        *,
        brokers: int = 1,
        startup_timeout: float | None = None,
        python: str | None = None,
    ) -> None:
        if brokers < 1:
            raise EmbeddedKafkaError(
                f"EmbeddedKafka(brokers={brokers!r}) is invalid: a cluster needs at least "
                "1 broker; pass brokers=1 (the default) or more."
            )
        if startup_timeout is not None and not startup_timeout > 0:
            raise EmbeddedKafkaError(
                f"EmbeddedKafka(startup_timeout={startup_timeout!r}) is invalid: pass a "
                "number of seconds above zero, e.g. 5."
            )
        self.brokers = brokers
        self.startup_timeout = startup_timeout
        self.python = python or sys.executable
        self.startup_seconds: float | None = None
        """Seconds :meth:`start` took, from launching the child to reading its address."""
        self._process: subprocess.Popen[bytes] | None = None
        self._bootstrap_servers: str | None = None
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self.death: str | None = None
        """How the child went away without being stopped, if it did: ``pid 4242 at
        127.0.0.1:39823 was killed by SIGKILL at 14:03:07.120``."""
        self.died_at: float | None = None
        """When the child went away without being stopped, on the monotonic clock."""
        self._exited = threading.Event()

    @property
    def running(self) -> bool:
        """Whether the broker was started, has not been stopped, and its process lives."""
        process = self._process
        return process is not None and self.death is None and process.poll() is None

    @property
    def bootstrap_servers(self) -> str:
        """The ``host:port[,host:port...]`` list that Kafka clients bootstrap from."""
        if self._bootstrap_servers is None or self._process is None:
            raise EmbeddedKafkaError(
                "The embedded Kafka broker has no bootstrap servers because it is not "
                "running; call start() first, or use it as a context manager "
                "('with EmbeddedKafka() as kafka: ...')."
            )
        return self._bootstrap_servers

    @property
    def pid(self) -> int | None:
        """The child process's id while it runs, for diagnostics."""
        return self._process.pid if self._process is not None else None

    def start(self) -> str:
        """Launch the child, wait until it reports its address, and return that address.

        Raises :class:`EmbeddedKafkaError` when already started, when ``confluent_kafka``
        is not installed, or when the child exits or stays silent past the startup
        timeout (the message then quotes the child's stderr).
        """
        with self._lock:
            if self._process is not None and self._process.poll() is not None:
                _end(self._process)  # the child died; reap it and start afresh
                with _addresses_lock:
                    _addresses.discard(self._bootstrap_servers or "")
                self._process = self._bootstrap_servers = None
            if self._process is not None:
                raise EmbeddedKafkaError(
                    f"The embedded Kafka broker is already started (pid {self._process.pid}, "
                    f"bootstrap servers {self._bootstrap_servers}); call stop() before "
                    "starting it again, or share the running one."
                )
            if self.python == sys.executable and not _confluent_kafka_installed():
                raise EmbeddedKafkaError(
                    "The embedded Kafka broker needs the confluent-kafka package, which is "
                    "not installed; run \"pip install 'asyncbdd[kafka]'\", or configure the "
                    "bootstrap servers of a Kafka cluster you run yourself."
                )
            timeout = self.startup_timeout or get_settings().connect_timeout
            began = time.perf_counter()
            with tempfile.TemporaryFile() as stderr:
                try:
                    process = subprocess.Popen(
                        [self.python, str(_CHILD_PROGRAM), "--brokers", str(self.brokers)],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=stderr,
                    )
                except OSError as error:
                    raise EmbeddedKafkaError(
                        f"Could not launch the embedded Kafka broker with {self.python!r}: "
                        f"{error}; pass python= an interpreter that has confluent-kafka."
                    ) from error
                try:
                    address = _read_address(process, timeout)
                except EmbeddedKafkaError as error:
                    _end(process)
                    raise EmbeddedKafkaError(f"{error}{_tail(stderr)}") from None
            self._process = process
            self._bootstrap_servers = address
            with _addresses_lock:
                _addresses.add(address)
            self.death = self.died_at = None
            self._exited.clear()
            self.startup_seconds = time.perf_counter() - began
            self._watcher = threading.Thread(
                target=self._watch,
                args=(process, address),
                name=f"asyncbdd-kafka-watcher-{process.pid}",
                daemon=True,
            )
            self._watcher.start()
            return address

    def stop(self) -> None:
        """Stop the child and wait for it to exit (a child that died is reaped).

        Stopping a broker that is stopped, or was never started, does nothing.
        """
        with self._lock:
            process, self._process = self._process, None
            address, self._bootstrap_servers = self._bootstrap_servers, None
            watcher, self._watcher = self._watcher, None
            if process is not None:
                _end(process)
            with _addresses_lock:
                _addresses.discard(address or "")
        if watcher is not None:
            watcher.join(STOP_TIMEOUT_SECONDS)  # the child was reaped: it returns at once

    def wait_exit(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for the child to exit (stopped, or died, when
        :attr:`death` says how); return whether it has. One never started has."""
        return self._watcher is None or self._exited.wait(timeout)

    def _watch(self, process: subprocess.Popen[bytes], address: str) -> None:
        """Wait for the child to exit; if nobody stopped it, record how it died."""
        try:
            self._record_exit(process, address, process.wait())
        finally:
            self._exited.set()

    def _record_exit(self, process: subprocess.Popen[bytes], address: str, code: int) -> None:
        died_at, wall = time.monotonic(), time.time()
        if self._process is not process:
            return  # stop() ended it
        if code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        clock = time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall % 1 * 1000):03d}"
        self.died_at = died_at
        self.death = f"pid {process.pid} at {address} {how} at {clock}"  # set last: the flag

    def __repr__(self) -> str:
        state = f"running at {self._bootstrap_servers}" if self.running else "stopped"
        return f"<EmbeddedKafka {state}>"


def shared_embedded_kafka() -> EmbeddedKafka:
    """Return the run's embedded broker, starting it on first call; it stops at exit.

    Every caller in the process gets the same broker. To share it with other processes,
    put its :attr:`~EmbeddedKafka.bootstrap_servers` in their environment under
    :data:`BOOTSTRAP_SERVERS_VARIABLE`.
    """
    return _SHARED.get()


def is_embedded_address(bootstrap_servers: str) -> bool:
    """Whether ``bootstrap_servers`` is the address of an embedded broker that this
    process started and has not stopped (Kafka clients speak to it in a fixed protocol
    version: :mod:`asyncbdd.infra.kafka_clients`)."""
    with _addresses_lock:
        return bootstrap_servers in _addresses


_CHILD_PROGRAM = Path(__file__).with_name("_kafka_mock_cluster.py")
_addresses: set[str] = set()
_addresses_lock = threading.Lock()
_STDERR_TAIL_CHARACTERS = 2000
_SHARED = RunScoped(
    EmbeddedKafka,
    label="the embedded Kafka broker (asyncbdd.kafka.bootstrap_servers is unset)",
)


def _confluent_kafka_installed() -> bool:
    return importlib.util.find_spec("confluent_kafka") is not None


def _read_address(process: subprocess.Popen[bytes], timeout: float) -> str:
    """Read the child's first stdout line within ``timeout`` seconds, then close stdout.

    A reader thread (rather than ``select``) keeps this portable to Windows pipes; if the
    child hangs, ending it closes the pipe and the thread finishes.
    """
    assert process.stdout is not None
    stdout = process.stdout
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        raise EmbeddedKafkaError(
            f"The embedded Kafka broker (pid {process.pid}) did not report its address "
            f"within {timeout:g} s; raise asyncbdd.connect_timeout if this machine is slow."
        )
    stdout.close()
    address = lines[0].decode("utf-8", "replace").strip() if lines else ""
    if not address:
        code = process.wait(STOP_TIMEOUT_SECONDS)
        raise EmbeddedKafkaError(
            f"The embedded Kafka broker's process exited with code {code} before reporting "
            "its address."
        )
    if not all(_is_loopback(server) for server in address.split(",")):
        raise EmbeddedKafkaError(
            f"The embedded Kafka broker reported {address!r}, which is not a loopback "
            "address; refusing to expose a test broker on the network."
        )
    return address


def _is_loopback(server: str) -> bool:
    host, _, port = server.rpartition(":")
    return host == "127.0.0.1" and port.isdigit()


def _end(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process`` (killing it if it ignores that), reap it, close its pipes.

    The pipes close last: a reader thread may still hold stdout until the process dies.
    """
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None and not pipe.closed:
            pipe.close()


def _tail(stderr: IO[bytes]) -> str:
    """The end of the child's stderr, formatted to append to an error message."""
    stderr.seek(0)
    text = stderr.read().decode("utf-8", "replace").strip()
    if not text:
        return ""
    if len(text) > _STDERR_TAIL_CHARACTERS:
        text = "..." + text[-_STDERR_TAIL_CHARACTERS:]
    return "\nIts stderr:\n" + text
