"""A behave project as behave sees it, read without running it.

:func:`behave_configuration` reads the configuration behave would (its config files in
the current directory and the home directory, ``-D`` defines); :func:`load_project` then
finds the project's base directory as behave does, executes its ``environment.py`` and
loads its step modules. What they register as they load (probes, snapshot subjects,
queues, trace stores, steps) is then registered; no hook runs, so nothing starts: no
broker, no service, no database connection.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from behave.configuration import Configuration
from behave.runner import Runner

from asyncbdd.config import Settings, get_settings, load_settings_later, set_settings
from asyncbdd.hooks import settings_from_behave

try:  # behave 1.3
    from behave.exception import ConfigError
except ImportError:  # behave 1.2.6
    from behave.configuration import ConfigError

__all__ = [
    "NotAProject",
    "ProjectLoadFailed",
    "behave_configuration",
    "is_project_directory",
    "load_project",
    "settings_of",
]


class NotAProject(Exception):
    """The current directory holds no behave project to load."""


class ProjectLoadFailed(Exception):
    """The project's environment.py or a step module raised as it loaded."""


def behave_configuration(defines: Sequence[str] = ()) -> Any:
    """behave's configuration for the current directory, with ``-D name=value`` ``defines``."""
    arguments = ["--dry-run"]
    for define in defines:
        arguments += ["-D", define]
    return Configuration(arguments)


def is_project_directory(directory: Path) -> bool:
    """Whether ``directory`` holds a behave project: an ``environment.py`` or ``features/``."""
    return (directory / "environment.py").is_file() or (directory / "features").is_dir()


def load_project(config: Any) -> Path:
    """Load the project in the current directory as behave would; return its base directory.

    Executes ``environment.py`` and the step modules with the base directory on
    ``sys.path`` (removed again after). Registrations made when they load count; those made
    in ``before_all`` or later do not, since no hook runs.

    :raises NotAProject: the current directory holds no project.
    :raises ProjectLoadFailed: its environment.py or a step module raised.
    """
    if not is_project_directory(Path.cwd()):
        raise NotAProject(
            f"{os.getcwd()} holds no behave project (no environment.py, no features/ folder)"
        )
    runner = Runner(config)
    with runner.path_manager:
        try:
            runner.setup_paths()
        except ConfigError as error:
            raise NotAProject(f"behave finds no project here: {error}") from None
        try:
            runner.load_hooks()
            runner.load_step_definitions()
        except Exception as error:  # whatever the project's code raises
            raise ProjectLoadFailed(
                f"Loading the project in {runner.base_dir} (its environment.py and step "
                f"modules, as behave would) failed with {type(error).__name__}: {error}. "
                "Fix that error; behave would stop on it too."
            ) from error
    return Path(runner.base_dir)


@contextlib.contextmanager
def settings_of(config: Any) -> Iterator[Settings]:
    """Within the block, the settings in force are those behave's ``config`` gives (config
    files < environment < ``-D``), as in a run; outside it, none are loaded."""
    load_settings_later(lambda: settings_from_behave(config))
    try:
        yield get_settings()
    finally:
        set_settings(None)
