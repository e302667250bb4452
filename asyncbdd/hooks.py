"""behave hooks: one call in ``environment.py`` gives every scenario its asyncbdd state.

::

    # environment.py
    from asyncbdd.hooks import install_hooks

    install_hooks(globals())

A step that fails with asyncbdd's evidence has it attached, as JSON and SVG pictures,
to the reports that take attachments (:func:`asyncbdd.report.attach_evidence`).

Hooks the file already defines keep working: asyncbdd's part runs first on the way in
(``before_*``) and last on the way out (``after_*``), so a team's own hooks always see a
running scenario. Steps reach the state as ``context.asyncbdd``.

Settings are read at their first use, not in ``before_all``: an ``ASYNCBDD_*`` variable
the team's own ``before_all`` sets still counts. One set or changed after the settings
were read stops the next scenario with an error naming it.

When the run ends (``after_all``), everything it started is stopped and closed: queue
readers and clients, the webhook capture server, the embedded brokers, database engines
(:func:`end_run`). The process holds afterwards what it held before the run, so behave
may run again in it (behavex).

Each run registers its probes, subjects and traces anew (:func:`asyncbdd.registry.new_run`):
``before_all`` starts the next run, and so does behavex's ``before_all_workers``, called
in its main process after it executes ``environment.py`` there and before the behave runs
execute it again.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, MutableMapping
from typing import Any

from asyncbdd.config import (
    Settings,
    check_environment_unchanged,
    load_settings,
    load_settings_later,
    set_settings,
)
from asyncbdd.database import dispose_engines
from asyncbdd.infra.run_scoped import stop_run_scoped_services
from asyncbdd.probe_calls import stop_idle_workers
from asyncbdd.registry import new_run
from asyncbdd.report.attachments import attach_evidence
from asyncbdd.scenario import end_scenario, start_scenario

__all__ = ["end_run", "install_hooks", "settings_from_behave"]


def install_hooks(namespace: MutableMapping[str, Any]) -> None:
    """Add asyncbdd's behave hooks to ``namespace`` (pass ``globals()``).

    Call it at the end of ``environment.py``, after the file's own hooks, so they are
    chained rather than replaced. Calling it again changes nothing.
    """
    for name, ours in _HOOKS.items():
        theirs = namespace.get(name)
        if getattr(theirs, _MARK, False):
            continue
        hook = ours if theirs is None else _chain(name, ours, theirs)
        setattr(hook, _MARK, True)
        namespace[name] = hook


def settings_from_behave(config: Any) -> Settings:
    """Settings from behave's userdata: setup.cfg < environment < ``-D``."""
    overrides = dict(getattr(config, "userdata_defines", None) or [])
    userdata = dict(getattr(config, "userdata", None) or {})
    file_values = {key: value for key, value in userdata.items() if key not in overrides}
    return load_settings(file_values=file_values, overrides=overrides)


def _before_all_workers(context: Any) -> None:
    new_run()


def _before_all(context: Any) -> None:
    new_run()  # a next behave run in this process executes environment.py and the steps again
    config = context.config
    load_settings_later(lambda: settings_from_behave(config))


def _before_scenario(context: Any, scenario: Any) -> None:
    check_environment_unchanged()
    context.asyncbdd = start_scenario(scenario.name)


def _before_step(context: Any, step: Any) -> None:
    state = getattr(context, "asyncbdd", None)
    if state is not None:
        state.current_step = f"{step.keyword} {step.name}"


def _after_step(context: Any, step: Any) -> None:
    attach_evidence(context, step)


def _after_scenario(context: Any, scenario: Any) -> None:
    end_scenario()


def _after_all(context: Any) -> None:
    end_run()


def end_run() -> None:
    """Stop and close everything the run started, and forget the run's settings.

    In order: the queue readers, the queues' clients (configured queues are forgotten,
    so that the next run builds them for its own settings and brokers), the capture
    server and the embedded brokers, the database engines, the idle check workers. Every
    part is done even when an earlier one fails (or a second Ctrl-C interrupts it); the
    failure is raised after.
    Every part is bounded: readers stop within the longest call they may be in (a broker
    that does not answer), and a client that does not close cleanly (a Kafka producer
    holding records for a broker that died) is reported in one line on stderr, not raised.
    behave's ``after_all`` calls it; so may a script that ran scenarios itself.
    """
    with contextlib.ExitStack() as stack:  # callbacks run last-pushed first, all of them
        stack.callback(set_settings, None)
        stack.callback(stop_idle_workers)
        stack.callback(dispose_engines)
        stack.callback(stop_run_scoped_services)
        queues = sys.modules.get("asyncbdd.queues.aliases")  # only if queues were used
        if queues is not None:
            stack.callback(queues.close_queues)
        readers = sys.modules.get("asyncbdd.queues.inbox")
        if readers is not None:
            stack.callback(readers.close_readers)


_MARK = "_asyncbdd_hook"
_HOOKS: dict[str, Callable[..., None]] = {
    "before_all_workers": _before_all_workers,
    "before_all": _before_all,
    "before_scenario": _before_scenario,
    "before_step": _before_step,
    "after_step": _after_step,
    "after_scenario": _after_scenario,
    "after_all": _after_all,
}


def _chain(
    name: str, ours: Callable[..., None], theirs: Callable[..., None]
) -> Callable[..., None]:
    if name.startswith("before_"):

        def both(*arguments: Any) -> None:
            ours(*arguments)
            theirs(*arguments)

    else:

        def both(*arguments: Any) -> None:
            try:
                theirs(*arguments)
            finally:
                ours(*arguments)

    return functools.wraps(theirs)(both)
