"""What ``asyncbdd config`` prints: the settings in force, where each came from, and which
embedded services a run would start, secrets masked.

The settings are read as a behave run in the current directory reads them (its config
files, ``ASYNCBDD_*`` variables, ``-D`` defines); nothing is started or connected to, and
the project's ``environment.py`` is not run, so queues it registers in Python are not seen.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from behave.configuration import config_filenames, read_configuration

from asyncbdd.behave_project import behave_configuration
from asyncbdd.config import (
    PREFIX,
    Settings,
    load_settings,
    setting_key,
    setting_sources,
    shown_settings,
)
from asyncbdd.durations import format_duration
from asyncbdd.queues.transports import transports
from asyncbdd.secrets import mask_url

__all__ = ["embedded_services", "settings_report"]

_DURATIONS = frozenset({
    "timeout", "max_interval", "scenario_budget", "grace", "settle", "connect_timeout",
    "progress_after", "progress_every",
})  # fmt: skip
_DEMO_URL = "demo.url"
_DEMO_URL_VARIABLE = "ASYNCBDD_DEMO_URL"


def settings_report(defines: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> str:
    """The report for the current directory, with ``-D name=value`` ``defines``."""
    environment = os.environ if environ is None else environ
    config = behave_configuration(defines)
    overrides = dict(getattr(config, "userdata_defines", None) or [])
    userdata = dict(getattr(config, "userdata", None) or {})
    file_values = {key: value for key, value in userdata.items() if key not in overrides}
    settings = load_settings(file_values=file_values, environ=environment, overrides=overrides)
    sources = setting_sources(file_values=file_values, environ=environment, overrides=overrides)
    files = _files_defining(file_values)
    shown = shown_settings(settings)
    rows = [
        (setting_key(name), _source(sources[name], files), _text(name, value))
        for name, value in shown.items()
        if name != "transport_settings"
    ]
    given: Mapping[str, Mapping[str, str]] = shown["transport_settings"]  # type: ignore[assignment]
    for transport in transports():  # each transport's own options: asyncbdd.sqs.endpoint
        for option, declared in transport.options.items():
            key = f"{transport.scheme}.{option}"
            text = given.get(transport.scheme, {}).get(option)
            value = declared.default if text is None else text
            if isinstance(value, str):  # a default URL may hold a password too (guest:guest)
                value = mask_url(value, extra_names=settings.secrets_names) if value else None
            shown_value = "***" if declared.secret and value is not None else value
            rows.append((f"{PREFIX}{key}", _source(sources.get(key, "default"), files),
                         _text(option, shown_value)))  # fmt: skip
    lines = [
        "Settings in force, and where each came from (later wins: default < config file <",
        "environment ASYNCBDD_* < -D):",
        "",
    ]
    lines += _aligned(rows)
    lines += [
        "",
        "Embedded services (a run starts them on first use and stops them at its end):",
        "",
    ]
    demo = _demo_service(userdata, environment)
    services = embedded_services(settings) + ([demo] if demo else [])
    lines += _aligned(services)
    return "\n".join(lines) + "\n"


def embedded_services(settings: Settings) -> list[tuple[str, str]]:
    """For each embedded service, its name and whether (and why) a run would start it."""
    services = []
    for transport in transports():
        if transport.embedded is not None:
            aliases = sorted(
                alias for alias, spec in settings.queues.items()
                if spec.partition(":")[0].strip().lower() == transport.scheme
            )  # fmt: skip
            services.append(transport.embedded(settings, aliases))
    port = "a free port" if settings.webhooks_port == 0 else f"port {settings.webhooks_port}"
    webhook_text = (
        f"starts when a scenario declares a webhook receiver, on {settings.webhooks_host}, {port}"
    )
    if settings.webhooks_public_url:
        public = mask_url(settings.webhooks_public_url, extra_names=settings.secrets_names)
        webhook_text += f", called by {public}"
    return [*services, ("webhook capture server", webhook_text)]


def _demo_service(
    userdata: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[str, str] | None:
    """The demo order service, when the project's environment.py is the demo's."""
    candidates = (Path("environment.py"), Path("features") / "environment.py")
    if not any(
        path.is_file() and "asyncbdd.demo" in path.read_text(encoding="utf-8")
        for path in candidates
    ):
        return None
    url = userdata.get(_DEMO_URL) or environ.get(_DEMO_URL_VARIABLE)
    if url:
        return "demo order service", f"not started: {_DEMO_URL} is {mask_url(str(url))}"
    return (
        "demo order service",
        f"starts in-process before the features (unless {_DEMO_URL} is set)",
    )


def _files_defining(file_values: Mapping[str, object]) -> dict[str, str]:
    """The config file behave took each ``asyncbdd.*`` key from (the last that has it)."""
    files: dict[str, str] = {}
    for filename in config_filenames():
        try:
            userdata = read_configuration(filename).get("userdata") or {}
        except Exception:  # a file behave cannot read names no key
            continue
        for key in userdata:
            if key.startswith(PREFIX) and key in file_values:
                files[key] = os.path.relpath(filename) if _inside_cwd(filename) else filename
    return files


def _inside_cwd(filename: str) -> bool:
    return Path(filename).resolve().is_relative_to(Path.cwd().resolve())


def _source(source: str, files: Mapping[str, str]) -> str:
    """A source as :func:`setting_sources` names it, shortened for a column."""
    key, in_file, _ = source.partition(" in setup.cfg")
    if in_file:
        return files.get(key, "setup.cfg")
    if source.startswith("environment variable "):
        return "environment " + source.removeprefix("environment variable ")
    if source.startswith("-D "):
        return "-D"
    return source


def _text(name: str, value: object) -> str:
    """A setting's (masked) value as the report shows it."""
    if value is None:
        text = "(unset)"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif name in _DURATIONS and isinstance(value, (int, float)):
        text = format_duration(float(value))
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, Mapping):
        text = ", ".join(f"{key} = {item}" for key, item in value.items()) or "(none)"
    elif isinstance(value, tuple):
        text = ", ".join(map(str, value)) or "(none)"
    else:
        text = str(value)
    return text


def _aligned(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    ]
