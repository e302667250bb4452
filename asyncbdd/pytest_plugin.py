"""asyncbdd under pytest: fixtures, options and hooks; the engine does the work.

Installed with asyncbdd (entry point ``pytest11``), so a test only names what it needs::

    from asyncbdd.webhooks import expect_calls

    def test_payment_calls_back(webhook_receiver):
        receiver = webhook_receiver("payment-complete")   # give receiver.url to the system
        ...
        expect_calls("payment-complete", 1, timeout=15)

Fixtures:

* ``asyncbdd_scenario``: the test's :class:`~asyncbdd.scenario.Scenario` (its correlation
  id, placeholders, values), named by the test's node id; started before the test and
  ended after it. With the ini option ``asyncbdd_autouse = true`` every test has one.
  ``async def`` tests (pytest-asyncio) see it too: they run in a copy of the context
  the fixture set it in.
* ``webhook_receiver``: ``webhook_receiver("payment-complete", status=202)`` declares a
  receiver in the test's scenario (:func:`asyncbdd.webhooks.webhook_receiver`).
* ``queue``: ``queue("billing")`` is the :class:`~asyncbdd.queues.Queue` an alias names;
  ``queue("sqs:billing")`` or ``queue("https://sqs.../billing")`` makes one from its
  configuration text, usable as an alias by that text for the rest of the session.
* ``asyncbdd_run``: the session as asyncbdd's run. When it ends, everything the run
  started (embedded brokers, the webhook capture server, queue readers) is stopped, as
  behave's ``after_all`` does; a session fixture that starts a system under test
  against the embedded brokers depends on it, so that it stops first.

Settings, later wins: defaults < ``[tool.asyncbdd]`` in pyproject.toml or the ini option
``asyncbdd`` < ``ASYNCBDD_*`` variables < ``--asyncbdd-set KEY=VALUE`` and
``--asyncbdd-timeout-scale``. The keys are behave's ``asyncbdd.*`` userdata keys, written
without the ``asyncbdd.`` prefix; a queue alias is a key of ``queues`` (any but
``correlation``: ``queues.correlation`` is that setting)::

    [tool.asyncbdd]                     # pyproject.toml
    timeout = "10 seconds"
    sqs.endpoint = "http://localhost:4566"
    queues.billing = "sqs:billing"

    [pytest]                            # pytest.ini (or the ini section of another file)
    asyncbdd =
        timeout = 10 seconds
        queues.billing = sqs:billing

A key set in both files is an error, as is a malformed line or value: the session stops
before any test runs.

``moto.mock_aws`` resets moto's in-process state, which the embedded SQS server serves:
before each test the plugin makes the embedded queues again if a test before it reset
them (with a warning saying so); a reset during a test fails its waits, naming mock_aws.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import pytest

from asyncbdd.config import (
    PREFIX,
    Settings,
    check_environment_unchanged,
    load_settings,
    use_sources,
)
from asyncbdd.errors import AsyncBddError, ConfigurationError, UnknownName
from asyncbdd.scenario import Scenario, end_scenario, running_scenario, start_scenario

if TYPE_CHECKING:
    from asyncbdd.queues.base import Queue
    from asyncbdd.webhooks.receivers import Receiver

# Every pytest session in an environment with asyncbdd loads this module: what only a
# test using asyncbdd needs (queues, webhooks, the end of a run) is imported when it does.

__all__ = [
    "asyncbdd_run",
    "asyncbdd_scenario",
    "pytest_addoption",
    "pytest_configure",
    "pytest_unconfigure",
    "queue",
    "webhook_receiver",
]

P = ParamSpec("P")
T = TypeVar("T")

PYPROJECT_PLACE = "pyproject.toml [tool.asyncbdd]"
SET_OPTION = "--asyncbdd-set"
SCALE_OPTION = "--asyncbdd-timeout-scale"
_QUEUES = "queues"


def pytest_addoption(parser: pytest.Parser) -> None:
    """asyncbdd's command-line and ini options."""
    group = parser.getgroup("asyncbdd", "asyncbdd (waits, webhooks, queues, traces)")
    group.addoption(
        SCALE_OPTION,
        dest="asyncbdd_timeout_scale",
        metavar="X",
        default=None,
        help="multiply every asyncbdd deadline by X (e.g. 2 on a slow CI machine); the "
        "setting asyncbdd.timeout_scale",
    )
    group.addoption(
        SET_OPTION,
        dest="asyncbdd_set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set an asyncbdd setting, as behave's -D asyncbdd.KEY=VALUE does "
        "(e.g. timeout=5s, sqs.endpoint=http://localhost:4566, queues.billing=sqs:billing); "
        "repeatable; wins over the files and ASYNCBDD_* variables",
    )
    parser.addini(
        "asyncbdd",
        type="linelist",
        default=[],
        help="asyncbdd settings, one 'KEY = VALUE' a line (keys as behave's asyncbdd.* "
        "userdata, without the prefix)",
    )
    parser.addini(
        "asyncbdd_autouse",
        type="bool",
        default=False,
        help="give every test an asyncbdd scenario (the asyncbdd_scenario fixture)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Install the session's settings sources (read now, and checked if any is given)."""
    files, places = _file_values(config)
    overrides, flags = _command_line_values(config)

    def loader() -> Settings:
        return load_settings(file_values=files, overrides=overrides, places=places, flags=flags)

    if files or overrides:
        try:
            loader()  # a malformed setting stops the session before any test runs
        except ConfigurationError as error:
            raise pytest.UsageError(str(error)) from None
    config.stash[_PREVIOUS_SOURCES] = use_sources(loader)
    config.stash[_MADE] = []


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put back the settings sources that were in use before the session."""
    if _PREVIOUS_SOURCES in config.stash:
        use_sources(config.stash[_PREVIOUS_SOURCES])


@pytest.fixture(scope="session")
def asyncbdd_run(pytestconfig: pytest.Config) -> Iterator[None]:
    """The session as asyncbdd's run: at its end, stop everything the run started.

    Embedded brokers and the capture server start on their first use; at the end of the
    session they, the queue readers and clients, and the database engines are stopped
    and closed (:func:`asyncbdd.hooks.end_run`), and the queues this session's ``queue``
    fixture made are forgotten.
    """
    from asyncbdd.hooks import end_run  # noqa: PLC0415
    from asyncbdd.queues.aliases import unregister_queue  # noqa: PLC0415

    yield
    try:
        end_run()
    finally:
        made = pytestconfig.stash.get(_MADE, [])
        with _lock:
            aliases, made[:] = list(made), []
        for alias in aliases:
            unregister_queue(alias)


@pytest.fixture
def asyncbdd_scenario(request: pytest.FixtureRequest, asyncbdd_run: None) -> Iterator[Scenario]:
    """The test's asyncbdd scenario, named by its node id: a fresh correlation id, its
    placeholders and values, its time budget; ended (its receivers and captures gone)
    after the test."""
    check_environment_unchanged()
    _make_embedded_queues_again_if_reset(request.node.nodeid)
    state = start_scenario(request.node.nodeid)
    try:
        yield state
    finally:
        if running_scenario() is state:
            end_scenario()


@pytest.fixture(autouse=True)
def _asyncbdd_autouse(request: pytest.FixtureRequest) -> None:
    """Give the test its scenario when the ini option ``asyncbdd_autouse`` is set."""
    if request.config.getini("asyncbdd_autouse"):
        request.getfixturevalue("asyncbdd_scenario")


@pytest.fixture
def webhook_receiver(asyncbdd_scenario: Scenario) -> Callable[..., Receiver]:
    """``webhook_receiver(name, **how_it_answers)``: declare a webhook receiver in the
    test's scenario and return it (its URL is ``.url``), as
    :func:`asyncbdd.webhooks.webhook_receiver` does."""
    from asyncbdd.webhooks.receivers import webhook_receiver as declare  # noqa: PLC0415

    return _within(asyncbdd_scenario, "webhook_receiver", declare, current=True)


@pytest.fixture
def queue(asyncbdd_scenario: Scenario, pytestconfig: pytest.Config) -> Callable[[str], Queue]:
    """``queue(name)``: the queue an alias names (setting ``asyncbdd.queues`` or
    :func:`asyncbdd.queues.register_queue`); or, for ``SCHEME:TARGET`` text
    (``sqs:billing``, ``kafka:order.created``) or an SQS queue URL, a queue made from it,
    which engine calls then name by that text (``expect_messages("sqs:billing", 1)``)."""
    made = pytestconfig.stash[_MADE]

    def queue(name: str) -> Queue:
        return _queue(name, made)

    return _within(asyncbdd_scenario, "queue", queue, current=False)


# --------------------------------------------------------------------------------------


def _within(
    scenario: Scenario, fixture: str, function: Callable[P, T], *, current: bool
) -> Callable[P, T]:
    """``function``, refusing to run once the test that requested ``fixture`` ended, or
    (``current``) where that test's scenario is not the running one."""

    @functools.wraps(function)
    def bound(*args: P.args, **kwargs: P.kwargs) -> T:
        if scenario.ended:
            raise AsyncBddError(
                f"The {fixture} fixture of test {scenario.name} was used after that test "
                f"ended. A fixture belongs to the test that requested it: use it within "
                f"that test, and let a later test request {fixture} itself."
            )
        running = running_scenario()
        if current and running is not scenario:
            where = (
                "where no asyncbdd scenario runs (a thread the test started does not inherit it)"
                if running is None
                else f"while another scenario, {running.name!r}, runs"
            )
            raise AsyncBddError(
                f"The {fixture} fixture of test {scenario.name} was used {where}. Use it in "
                "the test itself (or in a task it starts, which inherits its scenario)."
            )
        return function(*args, **kwargs)

    return bound


def _queue(name: str, made: list[str]) -> Queue:
    """The queue ``name`` means: an alias, else ``SCHEME:TARGET`` text or an SQS URL,
    registered as an alias by that text (listed in ``made``)."""
    from asyncbdd.queues.aliases import (  # noqa: PLC0415
        HOW_TO_REGISTER,
        alias_names,
        queue_from_spec,
        queue_named,
        register_queue,
    )

    if name in alias_names():
        return queue_named(name)
    if ":" not in name:
        raise UnknownName(
            "queue",
            name,
            alias_names(),
            HOW_TO_REGISTER + " The queue fixture takes SCHEME:TARGET too (queue('sqs:billing')).",
        )
    spec = f"sqs:{name}" if name.startswith(("http://", "https://")) else name
    queue = queue_from_spec(name, spec)
    with _lock:
        if name in alias_names():  # made meanwhile by another thread of the test
            return queue_named(name)
        register_queue(name, queue)
        made.append(name)
    return queue


def _make_embedded_queues_again_if_reset(test: str) -> None:
    """Close every queue and reader when moto's state, which the embedded SQS server
    serves, was reset since they were opened (``moto.mock_aws`` resets it when it starts
    and when it stops): the next use opens them again, making the embedded queues anew."""
    sqs_server = sys.modules.get("asyncbdd.infra.sqs_server")  # not imported: not running
    if sqs_server is None or not sqs_server.embedded_state_reset():
        return
    warnings.warn(
        f"moto.mock_aws reset the state of moto in this process, which the embedded SQS "
        f"server serves, before test {test}: asyncbdd makes its queues again (queues and "
        "SNS topics made otherwise on that server are gone). Set asyncbdd.sqs.endpoint to "
        "an SQS server of its own to keep them apart.",
        stacklevel=1,
    )
    from asyncbdd.queues.aliases import close_queues  # noqa: PLC0415
    from asyncbdd.queues.inbox import close_readers  # noqa: PLC0415

    close_readers()
    close_queues()
    sqs_server.mark_embedded_state()


def _file_values(config: pytest.Config) -> tuple[dict[str, object], dict[str, str]]:
    """Settings from pyproject.toml's ``[tool.asyncbdd]`` and the ini option ``asyncbdd``,
    by ``asyncbdd.*`` key, and the place each was written in."""
    values: dict[str, object] = {}
    places: dict[str, str] = {}
    for key, value in _pyproject_values(config.rootpath / "pyproject.toml").items():
        values[key], places[key] = value, PYPROJECT_PLACE
    ini_place = _ini_place(config)
    lines: list[str] = config.getini("asyncbdd")
    for key, value in _pairs_given(lines, ini_place).items():
        if key in values:
            raise pytest.UsageError(
                f"The asyncbdd setting {key} is set both in {places[key]} and in "
                f"{ini_place}; set it in one of them."
            )
        values[key], places[key] = value, ini_place
    return values, places


def _command_line_values(config: pytest.Config) -> tuple[dict[str, object], dict[str, str]]:
    given: list[str] = config.getoption("asyncbdd_set") or []
    values: dict[str, object] = dict(_pairs_given(given, SET_OPTION, separator="="))
    flags = dict.fromkeys(values, SET_OPTION)
    scale = config.getoption("asyncbdd_timeout_scale")
    if scale is not None:
        key = f"{PREFIX}timeout_scale"
        if key in values:
            raise pytest.UsageError(
                f"The timeout scale is given both by {SCALE_OPTION} and by {SET_OPTION} "
                "timeout_scale=...; give it once."
            )
        values[key], flags[key] = scale, SCALE_OPTION
    return values, flags


def _pyproject_values(path: Path) -> dict[str, object]:
    """``[tool.asyncbdd]`` of ``path``, by ``asyncbdd.*`` key (tables flattened to dotted
    keys; ``queues`` stays one table of aliases)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    if "asyncbdd" not in text:
        return {}
    toml = _toml_reader()
    if toml is None:
        if "[tool.asyncbdd" in text:
            raise pytest.UsageError(
                f"{path} has a [tool.asyncbdd] table, but this Python cannot read TOML: "
                "use Python 3.11 or later, or pip install tomli."
            )
        return {}
    try:
        document = toml.loads(text)
    except ValueError as error:  # tomllib.TOMLDecodeError
        raise pytest.UsageError(f"{path} is not valid TOML: {error}.") from None
    table = document.get("tool", {}).get("asyncbdd", {})
    if not isinstance(table, Mapping):
        raise pytest.UsageError(f"tool.asyncbdd in {path} must be a table: [tool.asyncbdd].")
    values: dict[str, object] = {}
    aliases: dict[str, object] = {}
    for key, value in _flattened(table):
        if _is_alias(key):
            aliases[key[len(_QUEUES) + 1 :]] = value
        else:
            values[PREFIX + key] = value
    if aliases:
        values[PREFIX + _QUEUES] = {name: str(spec) for name, spec in aliases.items()}
    return values


def _flattened(table: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, object]]:
    for name, value in table.items():
        key = f"{path}{name}"
        if isinstance(value, Mapping):
            yield from _flattened(value, f"{key}.")
        else:
            yield key, value


def _pairs_given(lines: list[str], place: str, *, separator: str = "=") -> dict[str, object]:
    """``KEY = VALUE`` lines by ``asyncbdd.*`` key; ``queues.ALIAS = SPEC`` lines make
    one table of aliases. A malformed line is a usage error naming ``place``."""
    values: dict[str, object] = {}
    aliases: dict[str, str] = {}
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, equals, value = line.partition(separator)
        key = key.strip().removeprefix(PREFIX)
        if not equals or not key:
            raise pytest.UsageError(
                f"{place}: {line.strip()!r} is not of the form KEY{separator}VALUE, e.g. "
                f"timeout{separator}10 seconds or queues.billing{separator}sqs:billing."
            )
        if _is_alias(key):
            aliases[key[len(_QUEUES) + 1 :].strip()] = value.strip()
        else:
            values[PREFIX + key] = value.strip()
    if aliases:
        if PREFIX + _QUEUES in values:
            raise pytest.UsageError(
                f"{place} gives the queue aliases both as queues = ... and as "
                "queues.ALIAS = ... lines; give them one way."
            )
        values[PREFIX + _QUEUES] = aliases
    return values


def _is_alias(key: str) -> bool:
    """Whether ``key`` is ``queues.ALIAS``, and not a setting (``queues.correlation``)."""
    setting = key.replace(".", "_").replace("-", "_")
    return key.startswith(f"{_QUEUES}.") and setting not in _SETTING_NAMES


def _ini_place(config: pytest.Config) -> str:
    path = config.inipath
    name = path.name if path is not None else "the pytest ini"
    section = {
        "pyproject.toml": "[tool.pytest.ini_options]",
        "setup.cfg": "[tool:pytest]",
    }.get(name, "[pytest]")
    return f"{name} {section} asyncbdd"


def _toml_reader() -> Any:
    for name in ("tomllib", "tomli"):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    return None


_PREVIOUS_SOURCES = pytest.StashKey[Callable[[], Settings] | None]()
_MADE = pytest.StashKey[list[str]]()
"""Aliases the ``queue`` fixture registered this session (forgotten at its end)."""
_lock = threading.Lock()
_SETTING_NAMES = frozenset(item.name for item in dataclasses.fields(Settings))
