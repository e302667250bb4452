"""Resource hygiene: a long run gives back all it took, and Ctrl-C leaves nothing behind.

**The leak test** runs behave in this process (behave's own ``Configuration`` and
``run_behave``, as ``python -m behave`` does) over one Scenario Outline whose every example
uses each pattern once, cheaply: a poll wait, a snapshot, a webhook receiver and a call to
it, an SQS message and a Kafka message sent and received, a trace check and a check across
channels. The features, steps and environment are in ``resources/``: they start nothing
themselves, so whatever outlives the run is the engine's. It counts this process's
threads, open file descriptors, listening sockets, TCP connections to the run's servers and
brokers, and child processes:

* before the run (the baseline) and after it: the same, as behave's ``after_all`` stops
  and closes everything the engine started (brokers, capture server, readers, clients,
  database engines);
* after scenario 50 and after the last one: the same, so no scenario leaves anything behind.

The number of scenarios is ``ASYNCBDD_TEST_LEAK_SCENARIOS`` (default 500; 150 under ``CI=true``,
to keep the suite fast). The full run::

    ASYNCBDD_TEST_LEAK_SCENARIOS=500 python3 -m pytest tests/reliability/test_resources.py

**The Ctrl-C test** starts ``python -m behave`` in a session of its own on a scenario that
waits 60 seconds for a message and a call that never come, and interrupts it during the
wait, as Ctrl-C in a terminal does (SIGINT to the whole process group), and as a runner
that signals only behave's process does. behave must stop within seconds, say it was
aborted, and leave no process behind (the Kafka broker's child) and no port listening. A
run killed outright (SIGKILL, no cleanup at all) must not leave its broker behind either.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from pathlib import Path

import psutil
import pytest
from behave.__main__ import run_behave
from behave.configuration import Configuration

from asyncbdd import wait_until
from asyncbdd.hooks import end_run

RESOURCES = Path(__file__).with_name("resources")
SCENARIOS_VARIABLE = "ASYNCBDD_TEST_LEAK_SCENARIOS"
EARLY_SAMPLE = 50
"""The scenario after which the first in-run sample is taken; by then every reader,
client and server has started and its pools are warm."""
WAITING_MARKER = "resources: the run starts waiting"
EXIT_BOUND = 10.0
"""Seconds an interrupted behave may take to exit: it stops its readers (each within about
a second), its servers and its broker."""
STARTUP_BOUND = 60.0
"""Seconds a child behave may take to reach its long wait, on a busy two-core machine."""

Report = Callable[[str, Sequence[str], Sequence[Sequence[object]]], None]


@pytest.fixture(autouse=True)
def without_the_test_s_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's own variable is no setting: asyncbdd, here or in a child behave, would
    warn about an unknown ASYNCBDD_* variable."""
    monkeypatch.delenv(SCENARIOS_VARIABLE, raising=False)


# --------------------------------------------------------------------------------------
# What a process holds


@dataclass(frozen=True)
class Resources:
    """What this process holds at one moment, as the leak test compares it."""

    python_threads: int
    os_threads: int
    open_files: int
    listening_sockets: int
    server_connections: int
    """TCP connections to or from a port that this process or its children listen on
    (or listened on during the run): the brokers, the SQS server, the capture server."""
    child_processes: int


class Sampler:
    """Counts the resources of this process, and remembers every port it saw listening."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.server_ports: set[int] = set()

    def sample(self) -> Resources:
        children = self.process.children(recursive=True)
        own = self.process.net_connections(kind="inet")
        listening = [c for c in own if c.status == psutil.CONN_LISTEN]
        self.server_ports.update(c.laddr.port for c in listening)
        for child in children:
            try:
                connections = child.net_connections(kind="inet")
            except psutil.NoSuchProcess:
                continue
            self.server_ports.update(
                c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN
            )
        connected = [
            c
            for c in own
            if c.status != psutil.CONN_LISTEN
            and (
                c.laddr.port in self.server_ports or (c.raddr and c.raddr.port in self.server_ports)
            )
        ]
        return Resources(
            python_threads=threading.active_count(),
            os_threads=self.process.num_threads(),
            open_files=self.process.num_fds(),
            listening_sockets=len(listening),
            server_connections=len(connected),
            child_processes=len(children),
        )


def differences(expected: Resources, actual: Resources) -> list[str]:
    """Each count that differs, as ``name: expected -> actual``."""
    return [
        f"{field.name}: {getattr(expected, field.name)} -> {getattr(actual, field.name)}"
        for field in fields(Resources)
        if getattr(expected, field.name) != getattr(actual, field.name)
    ]


# --------------------------------------------------------------------------------------
# The leak test


def scenario_count() -> int:
    """How many scenarios the leak test runs: the variable, else 500 (150 under CI)."""
    text = os.environ.get(SCENARIOS_VARIABLE)
    if text is None:
        return 150 if os.environ.get("CI", "").lower() == "true" else 500
    if not text.isdigit() or int(text) <= EARLY_SAMPLE:
        pytest.fail(
            f"{SCENARIOS_VARIABLE}={text!r}: give a number of scenarios above {EARLY_SAMPLE}."
        )
    return int(text)


LEAK_FEATURE = '''\
Feature: A long run gives back what it took

  Scenario Outline: Every pattern once, round <round>
    Given a webhook receiver "done"
    And a snapshot of the "pokes" table
    When the system under test is poked
    Then within 5 seconds the trace length of this scenario is 1
    And within 5 seconds the "pokes" table changes
    And within 5 seconds the "done" webhook receives 1 call
    When a message is sent to the jobs queue with:
      """
      {"round": <round>}
      """
    And "events" is published with:
      """
      {"round": <round>}
      """
    Then within 5 seconds the jobs and events queues each receive 1 message
    And within 5 seconds the trace contains, in order:
      | event_type |
      | poked      |
    And within 5 seconds these happen in order:
      | channel | event         |
      | webhook | done          |
      | http    | poke answered |

    Examples:
      | round |
'''


@dataclass
class LeakRun:
    """The samples of one in-process run, and how long it took."""

    scenarios: int
    baseline: Resources
    early: Resources | None
    last: Resources | None
    after: Resources
    seconds: float
    status: int
    output: str


@pytest.fixture(scope="module")
def leak_run(tmp_path_factory: pytest.TempPathFactory) -> LeakRun:
    """behave run in this process over N scenarios, with its resources sampled."""
    count = scenario_count()
    directory = tmp_path_factory.mktemp("leak") / "features"
    shutil.copytree(RESOURCES, directory)
    feature = directory / "leak.feature"
    feature.write_text(LEAK_FEATURE + "".join(f"      | {n} |\n" for n in range(1, count + 1)))
    output = directory / "behave.txt"
    uid = uuid.uuid4().hex[:10]
    config = Configuration(
        command_args=[
            "--format=progress",
            f"--outfile={output}",
            "--no-summary",
            "--stop",
            "-D",
            f"asyncbdd.database_url=sqlite:///{directory / 'resources.db'}",
            "-D",
            f"asyncbdd.queues=jobs = sqs:leak-jobs-{uid}; events = kafka:leak.events.{uid}",
            "-D",
            "asyncbdd.traces.table=trace_events",
            "-D",
            "asyncbdd.grace=10 ms",
            str(feature),
        ],
        load_config=False,
    )
    sampler = Sampler()
    finished: list[int] = []
    samples: dict[int, Resources] = {}

    def after_scenario() -> None:
        finished.append(1)
        if len(finished) in (EARLY_SAMPLE, count):
            samples[len(finished)] = sampler.sample()

    config.userdata["resources.after_scenario"] = after_scenario
    # The baseline is a process where no run is going on: earlier tests in this process
    # may have left readers and brokers running (as a run does until its end), and
    # garbage that holds files until it is collected.
    end_run()
    gc.collect()
    baseline = sampler.sample()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(SCENARIOS_VARIABLE, raising=False)  # see without_the_test_s_variable
        began = time.perf_counter()
        status = run_behave(config)
        seconds = time.perf_counter() - began
    after = sampler.sample()
    return LeakRun(
        count,
        baseline,
        samples.get(EARLY_SAMPLE),
        samples.get(count),
        after,
        seconds,
        status,
        output.read_text(),
    )


def test_every_scenario_of_the_leak_run_passes(
    leak_run: LeakRun, reliability_report: Report
) -> None:
    """The run is only a leak test if each scenario really used every pattern."""
    count = leak_run.scenarios
    reliability_report(
        f"Resources: {count} scenarios in one process ({leak_run.seconds:.1f} s, "
        f"{leak_run.seconds / count * 1000:.0f} ms a scenario)",
        ["", "before", f"after #{EARLY_SAMPLE}", f"after #{count}", "after the run"],
        [
            [field.name]
            + [
                "-" if sample is None else getattr(sample, field.name)
                for sample in (leak_run.baseline, leak_run.early, leak_run.last, leak_run.after)
            ]
            for field in fields(Resources)
        ],
    )
    assert leak_run.status == 0, f"behave failed; its output ends:\n{leak_run.output[-4000:]}"


def test_no_scenario_leaves_anything_behind(leak_run: LeakRun) -> None:
    """After scenario 50 and after the last one, the process holds exactly the same."""
    assert leak_run.early is not None, f"the run stopped before scenario {EARLY_SAMPLE}"
    assert leak_run.last is not None, "the run stopped before its last scenario"
    assert leak_run.last == leak_run.early, (
        f"Between scenario {EARLY_SAMPLE} and scenario {leak_run.scenarios} the process "
        f"gained or lost: {', '.join(differences(leak_run.early, leak_run.last))}"
    )


def test_the_run_gives_back_everything_it_took(leak_run: LeakRun) -> None:
    """After the run, every count is back to its value before the run."""
    assert leak_run.after == leak_run.baseline, (
        "After the run the process still holds what the run took: "
        + ", ".join(differences(leak_run.baseline, leak_run.after))
    )


# --------------------------------------------------------------------------------------
# Ctrl-C


@dataclass(frozen=True)
class Waiting:
    """A child behave in its long wait: its processes and the ports they listen on."""

    behave: psutil.Process
    descendants: list[psutil.Process]
    ports: set[int]


@contextmanager
def waiting_behave(directory: Path) -> Iterator[tuple[subprocess.Popen[str], Waiting, list[str]]]:
    """behave on the interrupted feature, once it waits: its process, what it holds, and
    its output so far. Whatever the test does, nothing of it outlives the test."""
    uid = uuid.uuid4().hex[:10]
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "behave",
            "--no-capture",
            "--format=plain",
            "-D",
            f"asyncbdd.database_url=sqlite:///{directory / 'resources.db'}",
            "-D",
            f"asyncbdd.queues=jobs = sqs:jobs-{uid}; spare = sqs:spare-{uid}; "
            f"events = kafka:events.{uid}",
            str(RESOURCES / "interrupted.feature"),
        ],
        cwd=directory,  # no setup.cfg there: only the settings above
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal gives a command
    )
    try:
        assert child.stdout is not None
        lines: list[str] = []
        for line in child.stdout:
            lines.append(line)
            if WAITING_MARKER in line:
                break
        else:
            child.wait()
            pytest.fail(f"behave exited with {child.returncode} before its wait:\n{''.join(lines)}")
        waiting = wait_until(
            lambda: observe(child.pid), lambda seen: seen is not None, timeout=STARTUP_BOUND
        )
        assert waiting is not None
        yield child, waiting, lines
    finally:
        if child.returncode is None:  # the test did not see it exit
            with suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.communicate()


def observe(pid: int) -> Waiting | None:
    """What behave holds once all is up (its servers and its broker's child), else None."""
    behave = psutil.Process(pid)
    descendants = behave.children(recursive=True)
    own = {c.laddr.port for c in behave.net_connections("inet") if c.status == psutil.CONN_LISTEN}
    theirs: set[int] = set()
    for process in descendants:
        theirs.update(
            c.laddr.port for c in process.net_connections("inet") if c.status == psutil.CONN_LISTEN
        )
    # The capture server and the SQS server in behave's process, the broker in its child.
    if len(own) < 2 or not descendants or not theirs:
        return None
    return Waiting(behave, descendants, own | theirs)


def listening(ports: set[int]) -> set[int]:
    """Those of ``ports`` on which any process of this machine listens."""
    return {
        c.laddr.port
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port in ports
    }


@pytest.mark.parametrize("whom", ["process group", "behave only"])
def test_ctrl_c_during_a_wait_stops_behave_and_all_it_started(
    whom: str, tmp_path: Path, reliability_report: Report
) -> None:
    """SIGINT during a wait: behave says it was aborted and exits within seconds, its
    broker's child process is gone and no port it listened on still listens."""
    with waiting_behave(tmp_path) as (child, waiting, lines):
        began = time.perf_counter()
        if whom == "process group":
            os.killpg(child.pid, signal.SIGINT)
        else:
            os.kill(child.pid, signal.SIGINT)
        try:
            rest, _ = child.communicate(timeout=EXIT_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"behave did not exit within {EXIT_BOUND:g} s of SIGINT")
        seconds = time.perf_counter() - began
    output = "".join(lines) + rest
    _, survivors = psutil.wait_procs(waiting.descendants, timeout=0)  # behave reaped them
    still_listening = listening(waiting.ports)
    reliability_report(
        f"Ctrl-C: SIGINT to the {whom}",
        ["exit code", "exit after SIGINT", "processes / ports while waiting", "left after"],
        [
            [
                child.returncode,
                f"{seconds:.2f} s",
                f"{len(waiting.descendants) + 1} / {len(waiting.ports)}",
                f"{len(survivors)} / {len(still_listening)}",
            ]
        ],
    )
    assert child.returncode == 1, output
    assert "ABORTED: By user" in output, output
    assert "Traceback" not in output, output
    assert not survivors, f"left behind: {[p.cmdline() for p in survivors]}"
    assert not still_listening, "ports still listening after behave exited"


def test_a_killed_run_leaves_no_broker_behind(tmp_path: Path) -> None:
    """behave killed outright (no hook, no atexit runs): its broker's child still exits."""
    with waiting_behave(tmp_path) as (child, waiting, _):
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
    _, alive = psutil.wait_procs(waiting.descendants, timeout=EXIT_BOUND)
    assert not alive, f"left behind: {[p.cmdline() for p in alive]}"
    assert not listening(waiting.ports), "ports still listening after behave was killed"
