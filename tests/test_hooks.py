"""behave hooks: installing them beside a team's own, and settings from behave's userdata."""

from __future__ import annotations

import os
import runpy
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from behave.configuration import Configuration
from behave.runner_util import exec_file
from doubles import ClosingQueue, FakeService

from asyncbdd.config import Settings, get_settings, set_settings
from asyncbdd.errors import AsyncBddError, ConfigurationError, WaitTimeout
from asyncbdd.hooks import install_hooks, settings_from_behave
from asyncbdd.infra.run_scoped import RunScoped
from asyncbdd.probes import PROBES, read_probe
from asyncbdd.queues import register_queue
from asyncbdd.queues.sqs import sqs_settings
from asyncbdd.scenario import Scenario, current_scenario, end_scenario
from asyncbdd.wait import wait_until

HOOK_NAMES = [
    "before_all_workers",
    "before_all",
    "before_scenario",
    "before_step",
    "after_step",
    "after_scenario",
    "after_all",
]


@pytest.fixture(autouse=True)
def clean_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ASYNCBDD_* variable of the machine leaks in; no settings or scenario outlive a test."""
    for variable in list(os.environ):
        if variable.startswith("ASYNCBDD_"):
            monkeypatch.delenv(variable)
    set_settings(None)
    yield
    end_scenario()
    set_settings(None)


def behave_config(
    file_values: dict[str, str] | None = None, defines: list[tuple[str, str]] | None = None
) -> SimpleNamespace:
    """A stand-in for behave's Configuration: userdata holds setup.cfg values and -D on top."""
    defines = defines or []
    return SimpleNamespace(
        userdata={**(file_values or {}), **dict(defines)}, userdata_defines=defines
    )


def behave_context(config: Any = None) -> SimpleNamespace:
    return SimpleNamespace(config=config or behave_config())


def run_scenario(namespace: dict[str, Any], context: Any, steps: list[str]) -> None:
    """Call the hooks in the order behave calls them for one scenario."""
    feature_scenario = SimpleNamespace(name="pay an order")
    namespace["before_scenario"](context, feature_scenario)
    for text in steps:
        keyword, name = text.split(" ", 1)
        namespace["before_step"](context, SimpleNamespace(keyword=keyword, name=name))
    namespace["after_scenario"](context, feature_scenario)


# --- install_hooks ------------------------------------------------------------------------


def test_install_hooks_adds_every_hook_to_an_empty_namespace() -> None:
    """An environment.py without hooks gets every one of asyncbdd's."""
    namespace: dict[str, Any] = {}
    install_hooks(namespace)
    assert sorted(namespace) == sorted(HOOK_NAMES)
    assert all(callable(namespace[name]) for name in HOOK_NAMES)


def test_install_hooks_leaves_other_names_alone() -> None:
    """Names that are not the hooks asyncbdd uses are untouched."""

    def before_feature(context: Any, feature: Any) -> None: ...

    namespace: dict[str, Any] = {"before_feature": before_feature, "TIMEOUT": 3}
    install_hooks(namespace)
    assert namespace["before_feature"] is before_feature
    assert namespace["TIMEOUT"] == 3


def test_a_scenario_runs_through_the_hooks() -> None:
    """before_scenario starts a scenario on context.asyncbdd; after_scenario ends it."""
    namespace: dict[str, Any] = {}
    install_hooks(namespace)
    context = behave_context()
    namespace["before_all"](context)
    namespace["before_scenario"](context, SimpleNamespace(name="pay an order"))
    state = context.asyncbdd
    assert isinstance(state, Scenario)
    assert current_scenario() is state
    assert state.name == "pay an order"
    namespace["after_scenario"](context, SimpleNamespace(name="pay an order"))
    with pytest.raises(AsyncBddError):
        current_scenario()


def test_before_step_records_the_step_text_with_its_keyword() -> None:
    """Waits describe themselves in the words of the step being run."""
    namespace: dict[str, Any] = {}
    install_hooks(namespace)
    context = behave_context()
    namespace["before_scenario"](context, SimpleNamespace(name="pay an order"))
    namespace["before_step"](
        context, SimpleNamespace(keyword="Then", name='the order status is "paid"')
    )
    assert context.asyncbdd.current_step == 'Then the order status is "paid"'


def test_before_step_without_a_scenario_does_nothing() -> None:
    """A step hook outside a scenario (no context.asyncbdd) is not an error."""
    namespace: dict[str, Any] = {}
    install_hooks(namespace)
    context = behave_context()
    namespace["before_step"](context, SimpleNamespace(keyword="Given", name="anything"))
    assert not hasattr(context, "asyncbdd")


def test_after_step_attaches_the_evidence_of_a_failed_step() -> None:
    """A step that failed with a wait's evidence hands it to ``context.attach`` as JSON
    (behave 1.3; the JSON formatter embeds it); a passing step attaches nothing."""
    namespace: dict[str, Any] = {}
    install_hooks(namespace)
    attached: list[str] = []
    context = behave_context()
    context.attach = lambda mime_type, data: attached.append(mime_type)
    namespace["before_all"](context)
    namespace["before_scenario"](context, SimpleNamespace(name="pay an order"))
    with pytest.raises(WaitTimeout) as raised:
        wait_until(lambda: False, timeout=0.02)
    namespace["after_step"](context, SimpleNamespace(name="x", status="passed", exception=None))
    assert attached == []
    failed = SimpleNamespace(name="paid", status="failed", exception=raised.value)
    namespace["after_step"](context, failed)
    namespace["after_scenario"](context, SimpleNamespace(name="pay an order"))
    assert attached[0] == "application/json"


def test_existing_hooks_run_after_ours_going_in_and_before_ours_going_out() -> None:
    """A team's before_* hooks see a running scenario, and so do its after_* hooks."""
    seen: list[tuple[str, str | None]] = []

    def running() -> str | None:
        try:
            return current_scenario().name
        except AsyncBddError:
            return None

    def before_scenario(context: Any, scenario: Any) -> None:
        seen.append(("before_scenario", running()))

    def before_step(context: Any, step: Any) -> None:
        seen.append(("before_step", context.asyncbdd.current_step))

    def after_scenario(context: Any, scenario: Any) -> None:
        seen.append(("after_scenario", running()))

    namespace: dict[str, Any] = {
        "before_scenario": before_scenario,
        "before_step": before_step,
        "after_scenario": after_scenario,
    }
    install_hooks(namespace)
    run_scenario(namespace, behave_context(), ["Given an order"])
    assert seen == [
        ("before_scenario", "pay an order"),
        ("before_step", "Given an order"),
        ("after_scenario", "pay an order"),
    ]
    with pytest.raises(AsyncBddError):
        current_scenario()


def test_existing_before_all_sees_the_settings_in_force() -> None:
    """A team's before_all runs after asyncbdd's and sees the settings from behave."""
    seen: list[float] = []
    namespace: dict[str, Any] = {"before_all": lambda context: seen.append(get_settings().grace)}
    install_hooks(namespace)
    namespace["before_all"](behave_context(behave_config({"asyncbdd.grace": "2 s"})))
    assert seen == [2.0]


def test_our_after_hooks_run_even_when_the_team_hook_fails() -> None:
    """A failing after_scenario of the team still ends the scenario; its error propagates."""

    def after_scenario(context: Any, scenario: Any) -> None:
        raise RuntimeError("team hook failed")

    namespace: dict[str, Any] = {"after_scenario": after_scenario}
    install_hooks(namespace)
    context = behave_context()
    namespace["before_scenario"](context, SimpleNamespace(name="pay an order"))
    with pytest.raises(RuntimeError, match="team hook failed"):
        namespace["after_scenario"](context, SimpleNamespace(name="pay an order"))
    with pytest.raises(AsyncBddError):
        current_scenario()


def test_a_chained_hook_keeps_the_name_of_the_team_hook() -> None:
    """The chained hook wraps the team's function, so tracebacks and reports name it."""

    def before_scenario(context: Any, scenario: Any) -> None:
        """The team's own hook."""

    namespace: dict[str, Any] = {"before_scenario": before_scenario}
    install_hooks(namespace)
    chained = namespace["before_scenario"]
    assert chained is not before_scenario
    assert chained.__name__ == "before_scenario"
    assert chained.__doc__ == "The team's own hook."
    assert chained.__wrapped__ is before_scenario


def test_after_all_resets_the_settings() -> None:
    """After the run, settings are no longer those of behave: the next use reloads them."""
    namespace: dict[str, Any] = {}
    install_hooks(namespace)
    context = behave_context(behave_config({"asyncbdd.timeout": "3 s"}))
    namespace["before_all"](context)
    assert get_settings().timeout == 3.0
    namespace["after_all"](context)
    assert get_settings() == Settings()


@pytest.mark.usefixtures("own_queues")
def test_after_all_closes_the_queues_and_stops_the_run_s_services() -> None:
    """The end of the run closes every queue and stops every run-scoped service (brokers,
    capture server): the process holds afterwards what it held before the run."""
    queue = ClosingQueue("billing")
    register_queue("billing", queue)
    service = RunScoped(FakeService).get()
    namespace: dict[str, Any] = {}
    install_hooks(namespace)
    context = behave_context()
    namespace["before_all"](context)
    namespace["after_all"](context)
    assert queue.closed == 1
    assert not service.running


@pytest.mark.usefixtures("own_queues")
def test_after_all_finishes_the_end_of_the_run_when_a_part_fails() -> None:
    """A queue that fails to close still lets the services stop and the settings reset;
    its error is raised, so behave reports it."""
    register_queue("billing", ClosingQueue("billing", fails=True))
    service = RunScoped(FakeService).get()
    namespace: dict[str, Any] = {}
    install_hooks(namespace)
    context = behave_context(behave_config({"asyncbdd.timeout": "3 s"}))
    namespace["before_all"](context)
    with pytest.raises(RuntimeError, match="billing could not close"):
        namespace["after_all"](context)
    assert not service.running
    assert get_settings() == Settings()


# --- behave run again in one process (behavex) --------------------------------------------

ENVIRONMENT = """\
from asyncbdd.hooks import install_hooks
from asyncbdd.probes import probe, register_probe


@probe("the answer")
def the_answer():
    return 42


def before_all(context):
    register_probe("the question", lambda: "six by nine")


install_hooks(globals())
"""

STEPS = """\
from asyncbdd.probes import probe


@probe("the order status")
def the_order_status():
    return "paid"
"""

DUPLICATE_STEPS = """\
from asyncbdd.probes import probe


@probe("the answer")
def another_answer():
    return 43
"""


@pytest.fixture
def own_probes() -> Iterator[None]:
    """Only the probes the test registers (others' registrations are put back after)."""
    with PROBES.isolated():
        for name in PROBES.names:
            PROBES.unregister(name)
        yield


def behave_project(directory: Path) -> Path:
    """A features folder whose environment.py and step module register probes at module
    level, and whose own before_all registers one more."""
    (directory / "steps").mkdir(parents=True)
    (directory / "environment.py").write_text(ENVIRONMENT)
    (directory / "steps" / "orders.py").write_text(STEPS)
    return directory


def behave_run(features: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """What one behave run does in this process: execute environment.py and the step
    modules anew (with behave's own exec_file), then run the hooks around a scenario that
    reads every probe. Gives the environment's namespace and the values read."""
    namespace: dict[str, Any] = {}
    exec_file(str(features / "environment.py"), namespace)
    for steps in sorted((features / "steps").glob("*.py")):
        exec_file(str(steps), {})
    context = behave_context()
    namespace["before_all"](context)
    try:
        namespace["before_scenario"](context, SimpleNamespace(name="read the probes"))
        read = {name: read_probe(name)() for name in PROBES.names}
        namespace["after_scenario"](context, SimpleNamespace(name="read the probes"))
    finally:
        namespace["after_all"](context)
    return namespace, read


@pytest.mark.usefixtures("own_probes")
def test_behave_run_again_in_one_process_registers_its_names_again(tmp_path: Path) -> None:
    """behavex runs behave once per scenario in a worker: each run executes environment.py
    and the step modules again, and registers the same names anew, not as duplicates."""
    features = behave_project(tmp_path / "features")
    for _ in range(3):
        namespace, read = behave_run(features)
        assert read == {"the answer": 42, "the order status": "paid", "the question": "six by nine"}
        assert PROBES.resolve("the answer").item is namespace["the_answer"]


@pytest.mark.usefixtures("own_probes")
def test_behavex_executing_environment_py_before_the_runs_registers_nothing_twice(
    tmp_path: Path,
) -> None:
    """behavex's main process executes environment.py itself, for its before_all_workers
    hook, before the behave runs (in it, or in the workers it forks) execute it again."""
    features = behave_project(tmp_path / "features")
    behavex_main = runpy.run_path(str(features / "environment.py"), run_name="bhx_user_environment")
    behavex_main["before_all_workers"](SimpleNamespace())
    for _ in range(2):
        namespace, read = behave_run(features)
        assert read == {"the answer": 42, "the order status": "paid", "the question": "six by nine"}
        assert PROBES.resolve("the answer").item is namespace["the_answer"]


@pytest.mark.usefixtures("own_probes")
def test_a_name_registered_in_two_places_of_one_run_fails_naming_both(tmp_path: Path) -> None:
    """Two modules registering one name in the same run is a duplicate, after earlier runs
    as in the first: the error names both functions and where they are defined."""
    features = behave_project(tmp_path / "features")
    behave_run(features)
    (features / "steps" / "answers.py").write_text(DUPLICATE_STEPS)
    with pytest.raises(AsyncBddError) as caught:
        behave_run(features)
    assert str(caught.value) == (
        "A probe named 'the answer' is already registered in this run, as "
        f"the_answer ({features / 'environment.py'}:5); it cannot also be "
        f"another_answer ({features / 'steps' / 'answers.py'}:4). Register each "
        "name once, or pass replace=True to take it over. (A runner that runs the same code "
        "again in one process calls asyncbdd.registry.new_run() before each run; asyncbdd's "
        "behave hooks do.)"
    )


# --- settings_from_behave -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_values", "environment", "defines", "timeout"),
    [
        ({}, {}, [], 10.0),
        ({"asyncbdd.timeout": "5 s"}, {}, [], 5.0),
        ({"asyncbdd.timeout": "5 s"}, {"ASYNCBDD_TIMEOUT": "6 s"}, [], 6.0),
        ({"asyncbdd.timeout": "5 s"}, {}, [("asyncbdd.timeout", "7 s")], 7.0),
        ({}, {"ASYNCBDD_TIMEOUT": "6 s"}, [("asyncbdd.timeout", "7 s")], 7.0),
        (
            {"asyncbdd.timeout": "5 s"},
            {"ASYNCBDD_TIMEOUT": "6 s"},
            [("asyncbdd.timeout", "7 s")],
            7.0,
        ),
    ],
)
def test_settings_from_behave_precedence(
    monkeypatch: pytest.MonkeyPatch,
    file_values: dict[str, str],
    environment: dict[str, str],
    defines: list[tuple[str, str]],
    timeout: float,
) -> None:
    """setup.cfg < environment < -D, even though behave's userdata already merged -D in."""
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    settings = settings_from_behave(behave_config(file_values, defines))
    assert settings.timeout == timeout


def test_settings_from_behave_merges_keys_from_every_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each source contributes the keys it sets."""
    monkeypatch.setenv("ASYNCBDD_TIMEOUT_SCALE", "2")
    settings = settings_from_behave(
        behave_config({"asyncbdd.grace": "1 s"}, [("asyncbdd.database_url", "sqlite://")])
    )
    assert (settings.grace, settings.timeout_scale, settings.database_url) == (
        1.0,
        2.0,
        "sqlite://",
    )


def test_settings_from_behave_ignores_a_team_s_own_userdata() -> None:
    """userdata keys that are not asyncbdd.* belong to the team and are ignored."""
    config = behave_config({"browser": "firefox"}, [("retries", "3")])
    assert settings_from_behave(config) == Settings()


def test_settings_from_behave_without_userdata_gives_defaults() -> None:
    """A config without userdata attributes (older or minimal behave) gives the defaults."""
    assert settings_from_behave(SimpleNamespace()) == Settings()
    assert settings_from_behave(SimpleNamespace(userdata=None, userdata_defines=None)) == (
        Settings()
    )


@pytest.mark.parametrize(
    ("file_values", "defines", "origin"),
    [
        ({"asyncbdd.timeout": "soon"}, [], "Setting asyncbdd.timeout in setup.cfg = 'soon'"),
        ({"asyncbdd.timeout": "5 s"}, [("asyncbdd.timeout", "soon")], "-D asyncbdd.timeout"),
    ],
)
def test_an_invalid_value_is_reported_with_where_it_came_from(
    file_values: dict[str, str], defines: list[tuple[str, str]], origin: str
) -> None:
    """A bad value names its source: setup.cfg for a file value, -D for a define."""
    with pytest.raises(ConfigurationError) as caught:
        settings_from_behave(behave_config(file_values, defines))
    assert origin in str(caught.value)
    assert "'soon' is not a duration" in str(caught.value)


def test_an_unknown_define_is_reported_as_coming_from_d() -> None:
    """A misspelt -D key is an error saying it came from -D and suggesting the key meant."""
    with pytest.raises(ConfigurationError) as caught:
        settings_from_behave(behave_config({}, [("asyncbdd.timout", "5 s")]))
    message = str(caught.value)
    assert "(from -D) 'asyncbdd.timout'" in message
    assert "Did you mean 'asyncbdd.timeout'?" in message


def test_settings_from_a_real_behave_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """behave's own Configuration, reading setup.cfg and -D, yields the same precedence."""
    (tmp_path / "setup.cfg").write_text(
        "[behave]\n[behave.userdata]\nasyncbdd.timeout = 5 seconds\nasyncbdd.grace = 1 s\n"
        "asyncbdd.max_interval = 2 s\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASYNCBDD_GRACE", "3 s")
    config = Configuration(command_args=["-D", "asyncbdd.timeout=7 s", "-D", "team=x"])
    settings = settings_from_behave(config)
    assert (settings.timeout, settings.grace, settings.max_interval) == (7.0, 3.0, 2.0)


def test_a_variable_the_team_sets_in_before_all_takes_effect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An ASYNCBDD_* variable set by the team's own before_all, which runs after asyncbdd's,
    is in the settings: they are read at their first use, not before."""
    monkeypatch.delenv("ASYNCBDD_SQS_ENDPOINT", raising=False)

    def before_all(context: Any) -> None:
        monkeypatch.setenv("ASYNCBDD_SQS_ENDPOINT", "http://127.0.0.1:4566")

    namespace: dict[str, Any] = {"before_all": before_all}
    install_hooks(namespace)
    context = behave_context()
    namespace["before_all"](context)
    assert sqs_settings().endpoint == "http://127.0.0.1:4566"
    namespace["before_scenario"](context, SimpleNamespace(name="pay an order"))
    namespace["after_scenario"](context, SimpleNamespace(name="pay an order"))


def test_a_variable_set_after_the_settings_were_read_stops_the_scenario(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A variable set once asyncbdd had read its settings is refused, named, at the next
    scenario instead of being silently ignored."""
    monkeypatch.delenv("ASYNCBDD_SQS_ENDPOINT", raising=False)

    def before_all(context: Any) -> None:
        get_settings()  # something used asyncbdd already
        monkeypatch.setenv("ASYNCBDD_SQS_ENDPOINT", "http://127.0.0.1:4566")

    namespace: dict[str, Any] = {"before_all": before_all}
    install_hooks(namespace)
    context = behave_context()
    namespace["before_all"](context)
    with pytest.raises(ConfigurationError, match="ASYNCBDD_SQS_ENDPOINT changed after"):
        namespace["before_scenario"](context, SimpleNamespace(name="pay an order"))
