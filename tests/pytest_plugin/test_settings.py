"""Settings under pytest: pyproject.toml or the ini < ASYNCBDD_* < the command line."""

from __future__ import annotations

import json
import textwrap

import pytest
from plugin_runs import INI, QUICK, run

from asyncbdd.config import Settings, get_settings

SHOW = """
import json
from pathlib import Path

from asyncbdd.config import get_settings, set_settings

def test_show():
    settings = get_settings()
    Path("settings.json").write_text(json.dumps({
        "timeout": settings.timeout,
        "timeout_scale": settings.timeout_scale,
        "grace": settings.grace,
        "queues": dict(settings.queues),
        "queues_correlation": settings.queues_correlation,
        "sqs": dict(settings.transport_settings.get("sqs", {})),
        "secrets_names": list(settings.secrets_names),
    }))
    set_settings(None)  # loaded again: from the same sources
    assert get_settings() == settings
"""
"""A test that writes down the settings in force (and checks they survive a reload)."""

PYPROJECT = """
[tool.asyncbdd]
timeout = "3 seconds"
grace = 0.25
sqs.endpoint = "http://127.0.0.1:4566"
secrets.names = ["X-Tenant", "pin"]

[tool.asyncbdd.queues]
correlation = "field:meta.correlation_id"
billing = "sqs:billing"
"order.created" = "kafka:order.created"
"""

EXPECTED = {
    "timeout": 3.0,
    "timeout_scale": 1.0,
    "grace": 0.25,
    "queues": {"billing": "sqs:billing", "order.created": "kafka:order.created"},
    "queues_correlation": "field:meta.correlation_id",
    "sqs": {"endpoint": "http://127.0.0.1:4566"},
    "secrets_names": ["X-Tenant", "pin"],
}


@pytest.fixture(autouse=True)
def unscaled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs' settings are the tests' alone."""
    monkeypatch.delenv("ASYNCBDD_TIMEOUT_SCALE", raising=False)


def shown(pytester: pytest.Pytester, result: pytest.RunResult) -> dict[str, object]:
    """The settings the run's test wrote down."""
    result.assert_outcomes(passed=1)
    settings: dict[str, object] = json.loads((pytester.path / "settings.json").read_text())
    return settings


def test_pyproject_tool_asyncbdd_holds_behaves_keys(pytester: pytest.Pytester) -> None:
    """Dotted keys and tables are the keys of ``asyncbdd.*``; ``queues`` is the alias table
    (but for the setting ``queues.correlation``)."""
    pytester.makepyprojecttoml(PYPROJECT)
    pytester.makepyfile(test_show=SHOW)
    assert shown(pytester, run(pytester)) == EXPECTED


def test_the_ini_option_holds_the_same_keys(pytester: pytest.Pytester) -> None:
    """One ``KEY = VALUE`` a line; ``queues.ALIAS = SPEC`` lines make the alias table; the
    ``asyncbdd.`` prefix may be written too."""
    pytester.makepyfile(test_show=SHOW)
    ini = textwrap.dedent("""\
        asyncbdd =
            timeout = 3 seconds
            asyncbdd.grace = 250 ms
            sqs.endpoint = http://127.0.0.1:4566
            secrets.names = X-Tenant, pin
            queues.billing = sqs:billing
            queues.correlation = field:meta.correlation_id
            queues.order.created = kafka:order.created
        """)
    assert shown(pytester, run(pytester, ini=ini)) == EXPECTED


@pytest.mark.parametrize(
    ("environment", "command_line", "timeout"),
    [
        ({}, [], 3.0),
        ({"ASYNCBDD_TIMEOUT": "4"}, [], 4.0),
        ({"ASYNCBDD_TIMEOUT": "4"}, ["--asyncbdd-set", "timeout=5 s"], 5.0),
        ({}, ["--asyncbdd-set=asyncbdd.timeout=5"], 5.0),
    ],
)
def test_the_environment_wins_over_the_files_and_the_command_line_over_both(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    command_line: list[str],
    timeout: float,
) -> None:
    pytester.makepyprojecttoml(PYPROJECT)
    pytester.makepyfile(test_show=SHOW)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    settings = shown(pytester, run(pytester, *command_line))
    assert settings["timeout"] == timeout
    assert settings["grace"] == 0.25


def test_command_line_options_set_any_key_and_the_timeout_scale(
    pytester: pytest.Pytester,
) -> None:
    """``--asyncbdd-set`` repeats; ``--asyncbdd-timeout-scale`` stretches every deadline."""
    pytester.makepyfile(test_show=SHOW)
    settings = shown(
        pytester,
        run(
            pytester,
            "--asyncbdd-timeout-scale=2.5",
            "--asyncbdd-set",
            "queues.billing=sqs:billing",
            "--asyncbdd-set",
            "sqs.endpoint=http://127.0.0.1:4566",
        ),
    )
    assert settings["timeout_scale"] == 2.5
    assert settings["queues"] == {"billing": "sqs:billing"}
    assert settings["sqs"] == {"endpoint": "http://127.0.0.1:4566"}


def test_the_timeout_scale_stretches_the_deadline_a_failure_states(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_scaled="""
        from asyncbdd.wait import wait_until

        def test_waits():
            wait_until(lambda: 1, lambda value: value == 2, timeout=0.1)
        """
    )
    result = run(pytester, "--asyncbdd-timeout-scale", "3")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*deadline:*300 ms*"])


@pytest.mark.parametrize(
    ("pyproject", "ini", "command_line", "message"),
    [
        (
            '[tool.asyncbdd]\ntimeout = "soon"\n',
            "",
            [],
            "ERROR: Setting asyncbdd.timeout in pyproject.toml [tool.asyncbdd] = 'soon' is "
            "invalid: 'soon' is not a duration.",
        ),
        (
            "[tool.asyncbdd]\ntimout = 3\n",
            "",
            [],
            "ERROR: Unknown asyncbdd setting (from pyproject.toml [tool.asyncbdd]) "
            "'asyncbdd.timout'. Did you mean 'asyncbdd.timeout'?",
        ),
        (
            "",
            "asyncbdd =\n    grace = -1\n",
            [],
            "ERROR: Setting asyncbdd.grace in tox.ini [pytest] asyncbdd = '-1' is invalid",
        ),
        (
            "",
            "asyncbdd =\n    timeout 3\n",
            [],
            "ERROR: tox.ini [pytest] asyncbdd: 'timeout 3' is not of the form KEY=VALUE, e.g. "
            "timeout=10 seconds or queues.billing=sqs:billing.",
        ),
        (
            "[tool.asyncbdd]\ntimeout = 3\n",
            "asyncbdd =\n    timeout = 4\n",
            [],
            "ERROR: The asyncbdd setting asyncbdd.timeout is set both in pyproject.toml "
            "[tool.asyncbdd] and in tox.ini [pytest] asyncbdd; set it in one of them.",
        ),
        (
            "",
            "",
            ["--asyncbdd-timeout-scale=0"],
            "ERROR: Setting --asyncbdd-timeout-scale asyncbdd.timeout_scale = '0' is invalid: "
            "the timeout scale must be a number above zero",
        ),
        (
            "",
            "",
            ["--asyncbdd-timeout-scale=2", "--asyncbdd-set=timeout_scale=3"],
            "ERROR: The timeout scale is given both by --asyncbdd-timeout-scale and by "
            "--asyncbdd-set timeout_scale=...; give it once.",
        ),
        (
            "",
            "",
            ["--asyncbdd-set", "timeout"],
            "ERROR: --asyncbdd-set: 'timeout' is not of the form KEY=VALUE",
        ),
    ],
)
def test_a_malformed_setting_stops_the_session_naming_where_it_is(
    pytester: pytest.Pytester, pyproject: str, ini: str, command_line: list[str], message: str
) -> None:
    """Checked as the session starts, before any test runs: a usage error."""
    if pyproject:
        pytester.makepyprojecttoml(pyproject)
    pytester.makepyfile(test_show=SHOW)
    result = run(pytester, *command_line, ini=ini)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_a_pyproject_that_is_not_toml_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """With the pytest configuration given (``-c``), pytest does not read pyproject.toml
    itself: asyncbdd does, and says what is wrong with it."""
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyprojecttoml("[tool.asyncbdd]\ntimeout = [\n")
    pytester.makepyfile(test_show=SHOW)
    result = pytester.runpytest(*QUICK, "-c", "pytest.ini")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "pyproject.toml is not valid TOML: " in result.stderr.str()


def test_the_sessions_sources_end_with_it(pytester: pytest.Pytester) -> None:
    """Once a session with settings of its own ended, this one's are in force again."""
    before = get_settings()
    pytester.makepyprojecttoml('[tool.asyncbdd]\ntimeout = "3 seconds"\n')
    pytester.makepyfile(test_show=SHOW)
    assert shown(pytester, run(pytester))["timeout"] == 3.0
    assert get_settings() == before == Settings()
