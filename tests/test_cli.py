"""The ``asyncbdd`` command: its version, and ``infra up`` run as a real process."""

from __future__ import annotations

import functools
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from asyncbdd import __version__, cli
from asyncbdd.infra.kafka_broker import BOOTSTRAP_SERVERS_VARIABLE, EmbeddedKafka
from asyncbdd.infra.sqs_server import EmbeddedSqs, sqs_client

STARTUP_DEADLINE = 30.0  # seconds for a fresh interpreter to import moto and start both
DEADLINE = 10.0  # seconds for any other wait, stopping included (the broker may take 5 s)
READY_LINE = "asyncbdd infra is up; press Ctrl-C (or send SIGTERM) to stop."

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="sends POSIX signals")


@dataclass
class InfraProcess:
    """A running ``asyncbdd infra up`` and the stdout lines it printed so far."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def read_until(self, wanted: str, deadline: float) -> list[str]:
        """Collect stdout lines until one equals ``wanted``; fail at ``deadline`` or EOF."""
        while wanted not in self.seen:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no {wanted!r} line by the deadline; stdout so far: {self.seen}")
            if line is None:
                stderr = self.process.stderr.read() if self.process.stderr else ""
                pytest.fail(f"stdout closed before {wanted!r}: {self.seen}\nstderr: {stderr}")
            self.seen.append(line)
        return self.seen


@pytest.fixture
def start_infra() -> Iterator[functools.partial[InfraProcess]]:
    """Starts ``python -m asyncbdd infra up`` with given options, in a session of its own;
    kills whatever is left of it at the end."""
    started: list[InfraProcess] = []

    def start(*options: str) -> InfraProcess:
        process = subprocess.Popen(
            [sys.executable, "-m", "asyncbdd", "infra", "up", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
        infra = InfraProcess(process)
        started.append(infra)
        threading.Thread(target=_pump, args=(process, infra.lines), daemon=True).start()
        return infra

    yield functools.partial(start)
    for infra in started:
        if infra.process.poll() is None:
            os.killpg(infra.process.pid, signal.SIGKILL)
        infra.process.wait()
        for pipe in (infra.process.stdout, infra.process.stderr):
            if pipe is not None:
                pipe.close()


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    """``asyncbdd --version`` prints the package version and exits 0."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"asyncbdd {__version__}\n"


def test_no_command_prints_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """``asyncbdd`` alone prints its usage, which lists the infra command, and exits 0."""
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: asyncbdd [-h] [--version] COMMAND ...")
    assert "infra" in out


@posix_only
@pytest.mark.parametrize(
    ("stop_signal", "to_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl-c-to-the-process-group", "sigterm-to-the-process"],
)
def test_infra_up_serves_sqs_and_kafka_until_a_signal(
    start_infra: functools.partial[InfraProcess],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    stop_signal: signal.Signals,
    to_group: bool,
) -> None:
    """``infra up`` prints and writes settings that reach a working SQS and Kafka, and on
    Ctrl-C or SIGTERM exits 0 with its ports closed, its Kafka child gone and its env file
    removed."""
    kafka = pytest.importorskip("kafka", reason="this test produces with kafka-python")
    env_file = tmp_path / "infra.env"
    infra = start_infra("--env-file", str(env_file))
    stdout = infra.read_until(READY_LINE, time.monotonic() + STARTUP_DEADLINE)

    environment = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    endpoint = environment["ASYNCBDD_SQS_ENDPOINT"]
    bootstrap = environment[BOOTSTRAP_SERVERS_VARIABLE]
    assert environment == {
        "ASYNCBDD_SQS_ENDPOINT": endpoint,
        "ASYNCBDD_SQS_REGION": "us-east-1",
        "ASYNCBDD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", endpoint)
    assert re.fullmatch(r"127\.0\.0\.1:\d+", bootstrap)
    assert f"export ASYNCBDD_SQS_ENDPOINT={endpoint}" in stdout
    assert (
        f"-D asyncbdd.sqs.endpoint={endpoint} -D asyncbdd.sqs.region=us-east-1 "
        f"-D asyncbdd.kafka.bootstrap_servers={bootstrap}"
    ) in stdout
    setup_cfg = stdout.index("[behave.userdata]")
    assert stdout[setup_cfg + 1 : setup_cfg + 4] == [
        f"asyncbdd.sqs.endpoint = {endpoint}",
        "asyncbdd.sqs.region = us-east-1",
        f"asyncbdd.kafka.bootstrap_servers = {bootstrap}",
    ]
    (kafka_line,) = (line for line in stdout if line.startswith("Kafka: "))
    kafka_pid = re.fullmatch(
        rf"Kafka: {bootstrap} \(librdkafka mock cluster, pid (\d+)\)", kafka_line
    )
    assert kafka_pid, kafka_line

    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, environment[variable])
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    sqs = sqs_client(endpoint, environment["ASYNCBDD_SQS_REGION"])
    queue_url = sqs.create_queue(QueueName=f"test-{uuid.uuid4().hex}")["QueueUrl"]
    assert queue_url in sqs.list_queues()["QueueUrls"]
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    try:
        topic = f"test-{uuid.uuid4().hex[:12]}"
        assert producer.send(topic, b"{}").get(timeout=DEADLINE).offset == 0
    finally:
        producer.close()

    if to_group:
        os.killpg(infra.process.pid, stop_signal)
    else:
        infra.process.send_signal(stop_signal)
    assert infra.process.wait(timeout=DEADLINE) == 0
    stopped = f"asyncbdd infra stopped ({stop_signal.name}): SQS and Kafka down."
    assert infra.read_until(stopped, time.monotonic() + DEADLINE)[-1] == stopped
    assert infra.process.stderr is not None
    assert infra.process.stderr.read() == ""
    for address in (endpoint.removeprefix("http://"), bootstrap):
        host, _, port = address.rpartition(":")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=DEADLINE).close()
    with pytest.raises(ProcessLookupError):
        os.kill(int(kafka_pid[1]), 0)
    assert not env_file.exists()


@posix_only
def test_a_taken_sqs_port_fails_startup_with_a_clear_error(
    start_infra: functools.partial[InfraProcess],
) -> None:
    """When the SQS port is taken, ``infra up`` names the service, the cause and the fix on
    stderr, without a traceback, and exits 1 having printed nothing on stdout."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        infra = start_infra("--sqs-port", str(port))
        assert infra.process.wait(timeout=STARTUP_DEADLINE) == 1
    assert infra.process.stderr is not None
    assert infra.process.stderr.read() == (
        "asyncbdd infra up: SQS did not start, so nothing is left running.\n"
        f"The embedded SQS server cannot listen on 127.0.0.1:{port}: Address already in use. "
        f"Stop the program that uses port {port}, or choose another port (0 picks a free one).\n"
    )
    assert infra.lines.get(timeout=DEADLINE) is None


def test_a_kafka_failure_stops_the_started_sqs_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """When Kafka cannot start, ``infra up`` reports it, stops the SQS server it had
    started, restores the signal handlers, and returns 1."""
    servers = _record_sqs_servers(monkeypatch)
    missing_python = str(tmp_path / "no-such-python")
    monkeypatch.setattr(
        cli, "EmbeddedKafka", functools.partial(EmbeddedKafka, python=missing_python)
    )
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

    assert cli.main(["infra", "up", "--env-file", str(tmp_path / "infra.env")]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "asyncbdd infra up: Kafka did not start, so nothing is left running.\n"
        f"Could not launch the embedded Kafka broker with {missing_python!r}: "
    )
    assert "Traceback" not in captured.err
    (sqs,) = servers
    assert sqs.startup_seconds is not None, "the SQS server should have started"
    assert not sqs.running
    assert not (tmp_path / "infra.env").exists()
    assert {number: signal.getsignal(number) for number in handlers} == handlers


def test_an_unwritable_env_file_stops_the_services(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An env file in a folder that does not exist is reported with the fix, and the
    services already started are stopped."""
    servers = _record_sqs_servers(monkeypatch)
    env_file = tmp_path / "missing" / "infra.env"

    assert cli.main(["infra", "up", "--only", "sqs", "--env-file", str(env_file)]) == 1

    assert capsys.readouterr().err == (
        f"asyncbdd infra up: cannot write the env file {str(env_file)!r} (No such file or "
        "directory), so nothing is left running. Pass an --env-file in a folder that exists "
        "and is writable.\n"
    )
    (sqs,) = servers
    assert sqs.startup_seconds is not None, "the SQS server should have started"
    assert not sqs.running


def _record_sqs_servers(monkeypatch: pytest.MonkeyPatch) -> list[EmbeddedSqs]:
    """Make the command build SQS servers that are recorded in the returned list."""
    servers: list[EmbeddedSqs] = []

    def recorded(**options: int) -> EmbeddedSqs:
        servers.append(EmbeddedSqs(**options))
        return servers[-1]

    monkeypatch.setattr(cli, "EmbeddedSqs", recorded)
    return servers
