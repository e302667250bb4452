"""behave hooks: one call in ``environment.py`` gives every scenario its asyncbdd state.

::

    # environment.py
    from asyncbdd.hooks import install_hooks

    install_hooks(globals())

Hooks the file already defines keep working: asyncbdd's part runs first on the way in
(``before_*``) and last on the way out (``after_*``), so a team's own hooks always see a
running scenario. Steps reach the state as ``context.asyncbdd``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, MutableMapping
from typing import Any

from asyncbdd.config import Settings, load_settings, set_settings
from asyncbdd.database import dispose_engines
from asyncbdd.scenario import end_scenario, start_scenario

__all__ = ["install_hooks", "settings_from_behave"]


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


def _before_all(context: Any) -> None:
    set_settings(settings_from_behave(context.config))


def _before_scenario(context: Any, scenario: Any) -> None:
    context.asyncbdd = start_scenario(scenario.name)


def _before_step(context: Any, step: Any) -> None:
    state = getattr(context, "asyncbdd", None)
    if state is not None:
        state.current_step = f"{step.keyword} {step.name}"


def _after_scenario(context: Any, scenario: Any) -> None:
    end_scenario()


def _after_all(context: Any) -> None:
    readers = sys.modules.get("asyncbdd.queues.inbox")  # only if queues were used
    if readers is not None:
        readers.close_readers()
    webhooks = sys.modules.get("asyncbdd.webhooks.receivers")  # only if webhooks were used
    if webhooks is not None:
        webhooks.stop_webhook_server()
    dispose_engines()
    set_settings(None)


_MARK = "_asyncbdd_hook"
_HOOKS: dict[str, Callable[..., None]] = {
    "before_all": _before_all,
    "before_scenario": _before_scenario,
    "before_step": _before_step,
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
