"""Settings: defaults, the three sources and their precedence, validation, and lookup."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterator

import pytest

from asyncbdd.config import Settings, get_settings, load_settings, set_settings
from asyncbdd.errors import ConfigurationError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ASYNCBDD_* variable of the machine leaks in; settings reload after each test."""
    for variable in list(os.environ):
        if variable.startswith("ASYNCBDD_"):
            monkeypatch.delenv(variable)
    set_settings(None)
    yield
    set_settings(None)


def test_defaults_apply_when_nothing_is_configured() -> None:
    """With no source, every setting has its documented default."""
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.timeout == 10.0
    assert settings.timeout_scale == 1.0
    assert settings.max_interval == 1.0
    assert settings.scenario_budget == 300.0
    assert settings.grace == 0.5
    assert settings.database_url is None
    assert settings.connect_timeout == 5.0


@pytest.mark.parametrize(
    ("file_values", "environ", "overrides", "timeout"),
    [
        ({"asyncbdd.timeout": "5 seconds"}, {}, {}, 5.0),
        ({}, {"ASYNCBDD_TIMEOUT": "6 seconds"}, {}, 6.0),
        ({}, {}, {"asyncbdd.timeout": "7 seconds"}, 7.0),
        ({"asyncbdd.timeout": "5 seconds"}, {"ASYNCBDD_TIMEOUT": "6 seconds"}, {}, 6.0),
        ({"asyncbdd.timeout": "5 seconds"}, {}, {"asyncbdd.timeout": "7 seconds"}, 7.0),
        ({}, {"ASYNCBDD_TIMEOUT": "6 seconds"}, {"asyncbdd.timeout": "7 seconds"}, 7.0),
        (
            {"asyncbdd.timeout": "5 seconds"},
            {"ASYNCBDD_TIMEOUT": "6 seconds"},
            {"asyncbdd.timeout": "7 seconds"},
            7.0,
        ),
    ],
)
def test_later_sources_win(
    file_values: dict[str, object],
    environ: dict[str, str],
    overrides: dict[str, object],
    timeout: float,
) -> None:
    """setup.cfg < environment < -D: the latest source that sets a key decides it."""
    settings = load_settings(file_values=file_values, environ=environ, overrides=overrides)
    assert settings.timeout == timeout


def test_sources_merge_key_by_key() -> None:
    """Each source sets its own keys; a later source does not reset the others."""
    settings = load_settings(
        file_values={"asyncbdd.grace": "1 s"},
        environ={"ASYNCBDD_TIMEOUT_SCALE": "2"},
        overrides={"asyncbdd.database_url": "sqlite:///app.db"},
    )
    assert (settings.grace, settings.timeout_scale, settings.database_url) == (
        1.0,
        2.0,
        "sqlite:///app.db",
    )


@pytest.mark.parametrize(
    "key", ["asyncbdd.timeout_scale", "asyncbdd.timeout-scale", "asyncbdd.timeout.scale"]
)
def test_keys_accept_underscores_dashes_or_dots(key: str) -> None:
    """A multi-word key may be spelled with "_", "-" or "." between its words."""
    assert load_settings(file_values={key: "3"}, environ={}).timeout_scale == 3.0


def test_keys_of_other_owners_are_ignored() -> None:
    """behave userdata keys and environment variables that are not asyncbdd's are ignored."""
    settings = load_settings(
        file_values={"team.timeout": "nonsense", "browser": "firefox"},
        environ={"TIMEOUT": "nonsense", "PATH": "/bin"},
        overrides={"retries": "3"},
    )
    assert settings == Settings()


@pytest.mark.parametrize(
    ("file_values", "setting", "expected"),
    [
        ({"asyncbdd.timeout": "1.5 minutes"}, "timeout", 90.0),
        ({"asyncbdd.timeout": 12}, "timeout", 12.0),
        ({"asyncbdd.max_interval": "250 ms"}, "max_interval", 0.25),
        ({"asyncbdd.scenario_budget": "2 minutes"}, "scenario_budget", 120.0),
        ({"asyncbdd.grace": "0 ms"}, "grace", 0.0),
        ({"asyncbdd.grace": 0}, "grace", 0.0),
        ({"asyncbdd.connect_timeout": "2 s"}, "connect_timeout", 2.0),
        ({"asyncbdd.timeout_scale": "1.5"}, "timeout_scale", 1.5),
        ({"asyncbdd.database_url": "  sqlite:///app.db "}, "database_url", "sqlite:///app.db"),
        ({"asyncbdd.database_url": "   "}, "database_url", None),
    ],
)
def test_values_are_converted(
    file_values: dict[str, object], setting: str, expected: object
) -> None:
    """Durations accept English text or numbers; URLs are trimmed and blank means unset."""
    settings = load_settings(file_values=file_values, environ={})
    assert getattr(settings, setting) == expected


@pytest.mark.parametrize(
    ("file_values", "environ"),
    [({"asyncbdd.timeout": "30"}, {}), ({}, {"ASYNCBDD_TIMEOUT": "30"})],
)
def test_a_bare_number_of_seconds_is_a_duration(
    file_values: dict[str, object], environ: dict[str, str]
) -> None:
    """A duration written as bare seconds in setup.cfg or the environment is accepted."""
    assert load_settings(file_values=file_values, environ=environ).timeout == 30.0


@pytest.mark.parametrize(
    ("source", "key", "value", "fragments"),
    [
        (
            "file",
            "asyncbdd.timeout",
            "0 s",
            ["Setting asyncbdd.timeout in setup.cfg = '0 s' is invalid", "longer than zero"],
        ),
        (
            "env",
            "ASYNCBDD_TIMEOUT",
            "soon",
            ["environment variable ASYNCBDD_TIMEOUT = 'soon'", "'soon' is not a duration"],
        ),
        (
            "override",
            "asyncbdd.max_interval",
            "-1 s",
            ["Setting -D asyncbdd.max_interval = '-1 s' is invalid", "is not a duration"],
        ),
        (
            "override",
            "asyncbdd.timeout_scale",
            "0",
            ["-D asyncbdd.timeout_scale = '0'", "a number above zero, e.g. 1.5"],
        ),
        (
            "env",
            "ASYNCBDD_TIMEOUT_SCALE",
            "-2",
            ["ASYNCBDD_TIMEOUT_SCALE = '-2'", "a number above zero"],
        ),
        ("file", "asyncbdd.grace", -1, ["asyncbdd.grace in setup.cfg = -1", "negative"]),
        ("file", "asyncbdd.scenario_budget", "nan", ["cannot be negative, NaN or infinite"]),
    ],
)
def test_invalid_values_name_the_source_the_value_and_the_fix(
    source: str, key: str, value: object, fragments: list[str]
) -> None:
    """A bad value is a ConfigurationError naming where it came from, the value and why."""
    sources: dict[str, dict[str, object]] = {"file": {}, "env": {}, "override": {}}
    sources[source][key] = value
    with pytest.raises(ConfigurationError) as caught:
        load_settings(
            file_values=sources["file"],
            environ={k: str(v) for k, v in sources["env"].items()},
            overrides=sources["override"],
        )
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_a_timeout_scale_that_is_not_a_number_says_what_to_write() -> None:
    """A timeout scale that is not a number gets the same advice as one that is zero."""
    with pytest.raises(ConfigurationError, match=r"a number above zero, e\.g\. 1\.5"):
        load_settings(environ={"ASYNCBDD_TIMEOUT_SCALE": "fast"})


@pytest.mark.parametrize(
    ("file_values", "overrides", "fragments"),
    [
        (
            {"asyncbdd.timout": "5 s"},
            {},
            [
                "Unknown asyncbdd setting (from setup.cfg [behave.userdata]) 'asyncbdd.timout'.",
                "Did you mean 'asyncbdd.timeout'?",
            ],
        ),
        (
            {},
            {"asyncbdd.databse_url": "sqlite://"},
            [
                "Unknown asyncbdd setting (from -D) 'asyncbdd.databse_url'.",
                "Did you mean 'asyncbdd.database_url'?",
            ],
        ),
    ],
)
def test_an_unknown_key_is_an_error_with_a_suggestion(
    file_values: dict[str, object], overrides: dict[str, object], fragments: list[str]
) -> None:
    """A misspelt asyncbdd.* key fails, says where it came from and suggests the key meant."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings(file_values=file_values, environ={}, overrides=overrides)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert "Known: asyncbdd.timeout, asyncbdd.timeout_scale," in message


@pytest.mark.parametrize("key", ["asyncbdd.colour", "asyncbdd.kafka", "asyncbdd.retries"])
def test_an_unknown_key_far_from_any_known_one_gets_no_suggestion(key: str) -> None:
    """Without a close match the message lists the known keys but guesses nothing."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings(file_values={key: "x"}, environ={})
    message = str(caught.value)
    assert repr(key) in message
    assert "asyncbdd.connect_timeout" in message
    assert "Did you mean" not in message


def test_an_unknown_key_lists_the_known_keys() -> None:
    """Whatever the key, the message lists every known asyncbdd.* key."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings(file_values={"asyncbdd.colour": "blue"}, environ={})
    message = str(caught.value)
    assert "'asyncbdd.colour'" in message
    assert "Known: asyncbdd.timeout, asyncbdd.timeout_scale, asyncbdd.max_interval," in message
    assert "asyncbdd.database_url, asyncbdd.connect_timeout" in message


def test_an_unknown_environment_variable_is_a_warning_with_a_suggestion() -> None:
    """A misspelt ASYNCBDD_* variable warns (it does not fail) and suggests the right name."""
    with pytest.warns(UserWarning, match="ASYNCBDD_TIMOUT") as caught:
        settings = load_settings(environ={"ASYNCBDD_TIMOUT": "5 s"})
    assert settings == Settings()
    message = str(caught[0].message)
    assert "Unknown asyncbdd environment variable 'ASYNCBDD_TIMOUT'." in message
    assert "Did you mean 'ASYNCBDD_TIMEOUT'?" in message
    assert "Known: ASYNCBDD_TIMEOUT, ASYNCBDD_TIMEOUT_SCALE," in message


def test_test_and_demo_environment_variables_are_not_reported() -> None:
    """ASYNCBDD_TEST_* and ASYNCBDD_DEMO_* belong to the test suite and demo: no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings = load_settings(
            environ={"ASYNCBDD_TEST_POSTGRESQL_URL": "x", "ASYNCBDD_DEMO_FAULTS": "drop"}
        )
    assert settings == Settings()


def test_settings_are_frozen_and_replace_returns_a_copy() -> None:
    """Settings cannot be changed in place; replace() gives a modified copy."""
    settings = Settings()
    changed = settings.replace(timeout=3.0)
    assert (settings.timeout, changed.timeout) == (10.0, 3.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.timeout = 1.0  # type: ignore[misc]


def test_get_settings_reads_the_environment_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside behave, the first get_settings() applies ASYNCBDD_* variables to the defaults."""
    monkeypatch.setenv("ASYNCBDD_TIMEOUT", "3 seconds")
    assert get_settings().timeout == 3.0


def test_get_settings_keeps_what_it_loaded_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings load once; set_settings(None) makes the next use reload the environment."""
    first = get_settings()
    monkeypatch.setenv("ASYNCBDD_TIMEOUT", "4 seconds")
    assert get_settings() is first
    set_settings(None)
    assert get_settings().timeout == 4.0


def test_set_settings_puts_settings_in_force() -> None:
    """Settings given to set_settings() are what get_settings() returns."""
    chosen = Settings(timeout=1.0, grace=0.1)
    set_settings(chosen)
    assert get_settings() is chosen
