"""The transport seam: a queue backend is one module plus a registration."""

from __future__ import annotations

import ast
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import asyncbdd
from asyncbdd.config import Settings, load_settings
from asyncbdd.errors import ConfigurationError, WaitTimeout
from asyncbdd.queues import Message, Queue, close_readers, expect_messages, send_message
from asyncbdd.queues import transports as transports_module
from asyncbdd.queues.aliases import queue_from_spec, queue_named
from asyncbdd.queues.transports import (
    _BUILT_IN,
    Option,
    Transport,
    register_transport,
    transport_named,
    transport_options,
    transports,
    unregister_transport,
)

Configure = Callable[..., Settings]


class MemoryStream(Queue):
    """A stream held in memory: every reader sees every record, as on Kafka."""

    kind = "memory stream"
    noun = "stream"
    read_from_scenario_start = True

    def __init__(self, alias: str, name: str) -> None:
        super().__init__(alias)
        self.name = name
        self.records: list[Message] = []
        self.read_up_to = 0
        self.changed = threading.Condition()

    def describe(self) -> str:
        return f"memory stream {self.name!r}"

    def open(self) -> None:
        with self.changed:
            self.read_up_to = len(self.records)

    def receive(self, wait: float) -> list[Message]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.records) > self.read_up_to, timeout=wait)
            batch, self.read_up_to = self.records[self.read_up_to :], len(self.records)
            return batch

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        with self.changed:
            message_id = uuid.uuid4().hex
            self.records.append(self.message(body, attributes, message_id=message_id))
            self.changed.notify_all()


@pytest.fixture(scope="module", autouse=True)
def memory_transport() -> Iterator[None]:
    register_transport(
        Transport(
            scheme="memory",
            build=MemoryStream,
            forms="memory:NAME",
            describes="a stream held in this process",
            options={
                "depth": Option(10, "records kept", int),
                "url": Option("memory://local", "where it lives"),
            },
            module=__name__,
        )
    )
    yield
    close_readers()
    unregister_transport("memory")


def test_a_registered_transport_serves_its_aliases_with_its_own_noun(
    configure: Configure, uid: str
) -> None:
    """An alias of the registered scheme builds its queue; waits and failures call it by
    its noun, and only the scenario's own records count."""
    alias = f"events-{uid}"
    configure({alias: f"memory:events-{uid}"})
    assert isinstance(queue_named(alias), MemoryStream)
    with asyncbdd.scenario("one record"):
        send_message(alias, {"n": 1})
        [message] = expect_messages(alias, 1)
        assert message.json == {"n": 1}
    with asyncbdd.scenario("none"), pytest.raises(WaitTimeout) as failed:
        expect_messages(alias, 1, timeout=0.2)
    assert f'the "{alias}" stream' in str(failed.value)
    assert "memory stream" in str(failed.value)


def test_an_unknown_scheme_lists_the_forms_of_every_transport() -> None:
    with pytest.raises(ConfigurationError) as raised:
        queue_from_spec("billing", "carrier-pigeon:loft")
    message = str(raised.value)
    assert "memory:NAME (a stream held in this process)" in message
    assert "sqs:QUEUE-NAME" in message


def test_transports_lists_the_built_in_ones_and_registered_ones() -> None:
    assert {"sqs", "kafka", "memory"} <= {transport.scheme for transport in transports()}
    assert transport_named("sqs").forms.startswith("sqs:")


def test_registering_a_scheme_twice_is_refused_unless_replaced() -> None:
    other = Transport(scheme="memory", build=MemoryStream, forms="memory:X", describes="x")
    with pytest.raises(ConfigurationError, match="already registered"):
        register_transport(other)


def test_a_missing_client_library_names_the_extra_that_installs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"transport_needing_a_client_{uuid.uuid4().hex[:6]}"
    (tmp_path / f"{module}.py").write_text("import client_library_not_installed_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(_BUILT_IN, "pigeon", (module, "pigeon"))
    with pytest.raises(ConfigurationError) as raised:
        transport_named("pigeon")
    assert "pip install 'asyncbdd[pigeon]'" in str(raised.value)
    assert "client_library_not_installed_anywhere" in str(raised.value)
    assert module not in sys.modules


def test_core_modules_name_no_transport() -> None:
    """The alias table, readers and expectations import no transport and name none of
    their classes (only the list of built-in transports names their modules)."""
    root = Path(asyncbdd.__file__).parent / "queues"
    for name in ("aliases.py", "expect.py", "inbox.py", "base.py", "message.py"):
        tree = ast.parse((root / name).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not imported & {"asyncbdd.queues.sqs", "asyncbdd.queues.kafka"}, name
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert not names & {"SqsQueue", "KafkaTopic"}, name


def test_a_transport_declares_its_options_and_settings_set_them(configure: Configure) -> None:
    """``asyncbdd.SCHEME.NAME`` (or ``ASYNCBDD_SCHEME_NAME``) sets a declared option,
    converted; the rest keep their defaults; a password in a URL option is masked."""
    assert transport_options("memory") == {"depth": 10, "url": "memory://local"}
    settings = configure(memory_depth="5", memory_url="memory://me:hunter2@host")
    assert transport_options("memory") == {"depth": 5, "url": "memory://me:hunter2@host"}
    assert "hunter2" not in repr(settings)
    from_environment = load_settings(environ={"ASYNCBDD_MEMORY_DEPTH": "7"})
    assert from_environment.transport_settings == {"memory": {"depth": "7"}}


def test_an_unknown_or_invalid_option_names_the_setting(configure: Configure) -> None:
    configure(memory_dept="5")
    with pytest.raises(
        ConfigurationError, match=r"'asyncbdd.memory.dept'.*'asyncbdd.memory.depth'"
    ):
        transport_options("memory")
    configure(memory_depth="deep")
    with pytest.raises(ConfigurationError, match=r"asyncbdd.memory.depth = 'deep' is invalid"):
        transport_options("memory")


def test_a_setting_of_no_transport_is_still_unknown() -> None:
    with pytest.raises(ConfigurationError, match=r"setting \(from -D\) 'asyncbdd\.pigeon\.url'"):
        load_settings(environ={}, overrides={"asyncbdd.pigeon.url": "x"})


def test_a_transport_of_another_package_is_found_through_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ``asyncbdd.transports`` entry point names the module that registers a scheme;
    it is imported on the scheme's first use."""
    module = f"loft_transport_{uuid.uuid4().hex[:6]}"
    (tmp_path / f"{module}.py").write_text(
        "from asyncbdd.queues.transports import Transport, register_transport\n"
        "from tests_memory_stream import MemoryStream\n"
        "register_transport(Transport(scheme='loft', build=MemoryStream, forms='loft:NAME',"
        " describes='a loft', module=__name__))\n"
    )
    (tmp_path / "tests_memory_stream.py").write_text(
        "import sys\nMemoryStream = sys.modules['test_transports'].MemoryStream\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    point = EntryPoint(name="loft", value=f"{module}:unused", group="asyncbdd.transports")
    monkeypatch.setattr(transports_module, "entry_points", lambda group: [point])
    try:
        assert "loft" in transports_module.schemes()
        assert isinstance(queue_from_spec("pigeons", "loft:seven"), MemoryStream)
    finally:
        unregister_transport("loft")
