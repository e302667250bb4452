"""The ``asyncbdd`` command.

``asyncbdd phrases`` prints the phrase catalogue (:mod:`asyncbdd.phrases`) and ``asyncbdd
config`` the settings in force and where each came from (:mod:`asyncbdd.settings_report`),
both for the project in the current directory, starting nothing.

``asyncbdd infra up`` runs the embedded SQS server and Kafka broker until Ctrl-C or SIGTERM,
for local development and for several test processes (behave runs, a system under test
started on its own) that share one set of brokers. Once both are up it prints the settings
that point asyncbdd at them, as environment variables, behave ``-D`` options and
``setup.cfg`` lines.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType

from asyncbdd import __version__
from asyncbdd.behave_project import ProjectLoadFailed
from asyncbdd.config import ENVIRONMENT_PREFIX, PREFIX
from asyncbdd.errors import AsyncBddError
from asyncbdd.infra.kafka_broker import EmbeddedKafka
from asyncbdd.infra.run_scoped import EmbeddedService
from asyncbdd.infra.sqs_server import EMBEDDED_REGION, ENDPOINT_SETTING, EmbeddedSqs
from asyncbdd.phrases import catalogue_of_current_directory
from asyncbdd.settings_report import settings_report

__all__ = ["main"]

_REGION_SETTING = "asyncbdd.sqs.region"
_BOOTSTRAP_SERVERS_SETTING = "asyncbdd.kafka.bootstrap_servers"
_DUMMY_AWS_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
"""moto accepts any credentials, but boto3 refuses to sign a request without some."""

_INFRA_UP_EPILOG = """\
The --env-file is written (atomically) once every service is up, and removed when they
stop, so a script can wait for it to appear. The Kafka broker always listens on a port the
operating system picks: librdkafka's mock cluster has no setting to choose one."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``asyncbdd`` command line; return its exit status."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.command is None:
        parser.print_help()
        return 0
    if arguments.command == "phrases":
        return _phrases(arguments)
    if arguments.command == "config":
        return _config(arguments)
    return _infra_up(arguments)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asyncbdd",
        description="Behaviour-driven testing for asynchronous, event-driven systems.",
    )
    parser.add_argument("--version", action="version", version=f"asyncbdd {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    infra = commands.add_parser(
        "infra",
        help="run the embedded brokers for other processes",
        description="Run the embedded SQS server and Kafka broker for other processes.",
    )
    actions = infra.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser(
        "up",
        help="start them, print their settings, and serve until Ctrl-C",
        description=(
            "Start the embedded SQS server (moto) and Kafka broker (librdkafka's mock "
            "cluster) on 127.0.0.1, print the settings that point asyncbdd at them, and "
            "serve until Ctrl-C or SIGTERM."
        ),
        epilog=_INFRA_UP_EPILOG,
    )
    up.add_argument(
        "--only", choices=["sqs", "kafka"], help="start only this service (default: both)"
    )
    up.add_argument(
        "--sqs-port", type=_port, default=0, metavar="PORT", help="SQS port (default: a free one)"
    )
    up.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help="also write the environment variables to PATH, one KEY=value a line",
    )
    phrases = commands.add_parser(
        "phrases",
        help="print every phrase a feature can use, with this project's names",
        description=(
            "Print every phrase of asyncbdd's steps in plain words, with an example and the "
            "defaults in force, and, inside a project, its probes, snapshot subjects, queues, "
            "traces, webhook receivers and own steps. Loads environment.py and the steps as "
            "behave would; starts nothing."
        ),
    )
    phrases.add_argument(
        "--format", choices=["markdown", "html"], default="markdown",
        help="Markdown (default), or one self-contained HTML page for a wiki",
    )  # fmt: skip
    _add_defines(phrases)
    config = commands.add_parser(
        "config",
        help="print the settings in force, where each came from, and what would start",
        description=(
            "Print every asyncbdd setting in force here, where it came from (default, config "
            "file, ASYNCBDD_* variable, -D), secrets masked, and which embedded services a run "
            "would start. Starts nothing."
        ),
    )
    _add_defines(config)
    return parser


def _add_defines(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-D", "--define", action="append", default=[], metavar="NAME=VALUE", dest="defines",
        help="a setting as behave -D gives it, e.g. -D asyncbdd.timeout_scale=2",
    )  # fmt: skip


def _phrases(arguments: argparse.Namespace) -> int:
    try:
        text = catalogue_of_current_directory(arguments.format, arguments.defines)
    except ProjectLoadFailed as error:
        print(f"asyncbdd phrases: {error}", file=sys.stderr)
        return 1
    except AsyncBddError as error:
        print(f"asyncbdd phrases: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _config(arguments: argparse.Namespace) -> int:
    try:
        text = settings_report(arguments.defines)
    except AsyncBddError as error:
        print(f"asyncbdd config: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0 to 65535)")
    return int(text)


def _infra_up(arguments: argparse.Namespace) -> int:
    """Start the services, print their settings, serve until a stop signal, stop them."""
    sqs = EmbeddedSqs(port=arguments.sqs_port) if arguments.only != "kafka" else None
    kafka = EmbeddedKafka() if arguments.only != "sqs" else None
    services: dict[str, EmbeddedService] = {}
    if sqs is not None:
        services["SQS"] = sqs
    if kafka is not None:
        services["Kafka"] = kafka
    env_file: Path | None = arguments.env_file
    written: str | None = None  # what this run wrote to env_file, to remove on stop
    with _StopSignals() as stop_signals:
        try:
            for name, service in services.items():
                try:
                    service.start()
                except AsyncBddError as error:
                    print(_startup_failure(name, error), file=sys.stderr)
                    return 1
            if env_file is not None:
                environment = _environment(sqs, kafka).items()
                text = "".join(f"{key}={value}\n" for key, value in environment)
                try:
                    _write_atomically(env_file, text)
                except OSError as error:
                    print(_env_file_failure(env_file, error), file=sys.stderr)
                    return 1
                written = text
            print(_ready_text(sqs, kafka, env_file), flush=True)
            received = stop_signals.wait()
        finally:
            for service in reversed(services.values()):
                service.stop()  # stopping one that never started does nothing
            if env_file is not None and written is not None:
                _remove_if_unchanged(env_file, written)
    print(f"asyncbdd infra stopped ({received.name}): {' and '.join(services)} down.", flush=True)
    return 0


def _settings(sqs: EmbeddedSqs | None, kafka: EmbeddedKafka | None) -> dict[str, str]:
    """The asyncbdd settings, by key, that point at the running services."""
    settings: dict[str, str] = {}
    if sqs is not None:
        settings[ENDPOINT_SETTING] = sqs.endpoint_url
        settings[_REGION_SETTING] = EMBEDDED_REGION
    if kafka is not None:
        settings[_BOOTSTRAP_SERVERS_SETTING] = kafka.bootstrap_servers
    return settings


def _environment(sqs: EmbeddedSqs | None, kafka: EmbeddedKafka | None) -> dict[str, str]:
    """The environment variables that point at the running services, dummy AWS keys included."""
    environment = {
        ENVIRONMENT_PREFIX + key[len(PREFIX) :].replace(".", "_").upper(): value
        for key, value in _settings(sqs, kafka).items()
    }
    if sqs is not None:
        environment.update(_DUMMY_AWS_CREDENTIALS)
    return environment


def _ready_text(sqs: EmbeddedSqs | None, kafka: EmbeddedKafka | None, env_file: Path | None) -> str:
    settings = _settings(sqs, kafka)
    lines = []
    if sqs is not None:
        lines.append(f"SQS:   {sqs.endpoint_url} (moto, in this process)")
    if kafka is not None:
        lines.append(f"Kafka: {kafka.bootstrap_servers} (librdkafka mock cluster, pid {kafka.pid})")
    lines += ["", "Environment" + (f" (also written to {env_file}):" if env_file else ":")]
    lines += [f"export {key}={value}" for key, value in _environment(sqs, kafka).items()]
    lines += ["", "behave options:"]
    lines.append(" ".join(f"-D {key}={value}" for key, value in settings.items()))
    lines += ["", "setup.cfg:", "[behave.userdata]"]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    if sqs is not None:
        lines += [
            "",
            "With -D or setup.cfg, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
            "environment too (any value: moto accepts all).",
        ]
    lines += ["", "asyncbdd infra is up; press Ctrl-C (or send SIGTERM) to stop."]
    return "\n".join(lines)


def _startup_failure(service: str, error: AsyncBddError) -> str:
    return f"asyncbdd infra up: {service} did not start, so nothing is left running.\n{error}"


def _env_file_failure(path: Path, error: OSError) -> str:
    return (
        f"asyncbdd infra up: cannot write the env file {str(path)!r} "
        f"({error.strerror or error}), so nothing is left running. Pass an --env-file in a "
        "folder that exists and is writable."
    )


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees no file or the whole file."""
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _remove_if_unchanged(path: Path, text: str) -> None:
    """Remove the env file if it still holds what we wrote (nobody replaced it since)."""
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8") == text:
            path.unlink()


class _StopSignals:
    """Catches SIGINT and SIGTERM while active, so waiting for one is a blocking read.

    The handlers do nothing themselves: Python's wakeup file descriptor carries each
    signal's number to a socket. A signal during start-up therefore interrupts nothing; the
    stop happens as soon as the services are up.
    """

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self) -> _StopSignals:
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._previous = {number: signal.signal(number, _note) for number in self._SIGNALS}
        return self

    def wait(self) -> signal.Signals:
        """Block until SIGINT or SIGTERM arrives (or arrived since entering); return it."""
        while True:
            for number in self._reader.recv(64):
                if number in self._SIGNALS:
                    return signal.Signals(number)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()


def _note(signum: int, frame: FrameType | None) -> None:
    """Signal handler that leaves the work to the wakeup file descriptor."""
