"""Settings, gathered from every place a team may put them.

Sources, later wins: built-in defaults < ``setup.cfg`` ``[behave.userdata]`` keys
``asyncbdd.*`` < environment variables ``ASYNCBDD_*`` < ``behave -D asyncbdd.*=...``.
The key ``asyncbdd.timeout_scale`` is ``ASYNCBDD_TIMEOUT_SCALE`` in the environment.

Outside behave, :func:`get_settings` reads the environment on first use, so scripts get
the same defaults and environment overrides without any set-up. Under pytest, the plugin
(:mod:`asyncbdd.pytest_plugin`) installs its sources with :func:`use_sources`:
``[tool.asyncbdd]`` in pyproject.toml or the ini option ``asyncbdd`` in place of setup.cfg,
its command-line options in place of ``-D``.
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
import math
import os
import re
import urllib.parse
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from asyncbdd.durations import to_seconds
from asyncbdd.errors import AsyncBddError, ConfigurationError, suggest
from asyncbdd.secrets import MASK, is_secret_name, mask_mapping, mask_url, mask_value

__all__ = [
    "PREFIX",
    "Settings",
    "boolean",
    "check_environment_unchanged",
    "get_settings",
    "load_settings",
    "load_settings_later",
    "one_of",
    "optional_text",
    "set_settings",
    "setting_key",
    "setting_sources",
    "shown_settings",
    "shown_text",
    "use_sources",
]

PREFIX = "asyncbdd."
ENVIRONMENT_PREFIX = "ASYNCBDD_"


@dataclass(frozen=True, repr=False)
class Settings:
    """Every asyncbdd setting, with its default.

    Durations accept seconds or English text ("10 seconds", "500 ms"). Its repr masks
    secrets (:mod:`asyncbdd.secrets`): the webhooks secret, secret client options, the
    passwords and tokens in URLs.
    """

    timeout: float = 10.0
    """Deadline of a wait whose step names none."""
    timeout_scale: float = 1.0
    """Multiplies every deadline (not minimum times or hold windows): 2 on a slow CI."""
    max_interval: float = 1.0
    """Longest pause between two checks of a polled condition."""
    scenario_budget: float = 300.0
    """Wall-clock time a scenario may run; a wait that cannot fit in what is left is rejected."""
    grace: float = 0.5
    """How long "exactly N" keeps watching after the Nth arrival for an unwanted extra."""
    settle: float = 0.5
    """How long rows must stay as they are before a change counts as settled: a matching
    change must hold this long, and a wrong change that stays this long fails."""
    database_url: str | None = None
    """SQLAlchemy URL of the database that probes and snapshots read by default."""
    connect_timeout: float = 5.0
    """How long to try to reach a database or broker before reporting it unreachable."""
    queues: Mapping[str, str] = field(default_factory=dict)
    """Queue and topic aliases: ``billing = sqs:billing``, ``orders = kafka:order.created``."""
    queues_correlation: str = "attribute:correlation_id"
    """Where messages carry the scenario's correlation id: ``attribute:NAME`` (an SQS
    message attribute or Kafka header), ``field:a.b`` (a JSON body field), or ``off``."""
    webhooks_host: str = "127.0.0.1"
    """Address the webhook capture server listens on; loopback unless the system under test
    runs elsewhere (another container), which a warning then points out."""
    webhooks_port: int = 0
    """Port of the webhook capture server; 0: a free one the operating system picks."""
    webhooks_public_url: str | None = None
    """Base URL the system under test calls the capture server by (behind a proxy or from a
    container: ``http://host.docker.internal:8099``); unset: ``http://HOST:PORT``."""
    webhooks_secret: str | None = None
    """HMAC secret every webhook call must be signed with; unset: signatures are not checked."""
    webhooks_signature_header: str = "X-Signature"
    """Header carrying a webhook call's signature, as ``sha256=<hex HMAC of the raw body>``."""
    webhooks_signature_algorithm: str = "sha256"
    """Hash of the HMAC signature (``sha256``, ``sha1``, ``sha512``); also its prefix."""
    webhooks_max_body_size: int = 1024 * 1024
    """Largest webhook body recorded, in bytes (``1 MiB``, ``512 KiB``); larger gets 413."""
    webhooks_correlation: str = "off"
    """Where webhook calls carry the scenario's correlation id (``header:X-Correlation-Id``,
    ``field:PATH`` of a JSON body); a call carrying another scenario's does not count.
    ``off``: every call to a scenario's receiver is its own."""
    traces_table: str | None = None
    """A table of trace events in ``database_url``; when set, "the trace" and "the trace for
    this order" name it (unset: trace stores are registered in Python)."""
    traces_order_by: str = "sequence"
    """What orders a trace's events: ``sequence`` (their sequence numbers) or ``timestamp``."""
    secrets_names: tuple[str, ...] = ()
    """Names whose values are secret besides those :mod:`asyncbdd.secrets` knows (token,
    password, api key, ...): headers, query parameters, options named so are masked."""
    transport_settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """The options of other transports, as given: ``asyncbdd.amqp.url`` is
    ``{"amqp": {"url": ...}}``; each transport declares and checks its own
    (:func:`asyncbdd.queues.transports.transport_options`)."""
    progress: str = "auto"
    """Whether long waits print progress lines: ``auto`` (when stderr is a terminal),
    ``always`` (a CI log), ``never``."""
    progress_after: float = 5.0
    """How long a wait runs before it prints its first progress line."""
    progress_every: float = 5.0
    """How often a long wait prints a progress line after the first."""

    def __post_init__(self) -> None:
        for name in _BOUNDED_DURATIONS:
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (0 <= value < math.inf)
            ):
                raise ConfigurationError(
                    f"Setting asyncbdd.{name} = {value!r} is invalid: it must be a finite "
                    "number of seconds, 0 or more; an unbounded wait can never fail. Write "
                    "e.g. 10 or '10 seconds'."
                )
        if not 0 < self.timeout_scale <= MAX_TIMEOUT_SCALE:
            raise ConfigurationError(
                f"Setting asyncbdd.timeout_scale = {self.timeout_scale!r} is invalid: "
                f"{_SCALE_RULE}."
            )

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in shown_settings(self).items())
        return f"Settings({shown})"


def load_settings(
    *,
    file_values: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    places: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
) -> Settings:
    """Merge the configuration sources, later wins, and validate every value.

    ``file_values`` and ``overrides`` hold ``asyncbdd.*`` keys (other keys are ignored, as
    behave's userdata holds a team's own keys too); ``environ`` holds ``ASYNCBDD_*``
    variables. An unknown ``asyncbdd.*`` key is an error with a close-match suggestion.
    For messages, ``places`` names the file a key of ``file_values`` was written in
    (``"pyproject.toml [tool.asyncbdd]"``; unnamed: setup.cfg), and ``flags`` the
    command-line option that gave a key of ``overrides`` (``"--asyncbdd-set"``;
    unnamed: ``-D``).
    """
    raw, unknown = _gathered(file_values, environ, overrides, places, flags)
    for variable in unknown:
        warnings.warn(_unknown_message(variable, "environment variable"), stacklevel=2)
    names = _secret_names_in(raw)
    values = {
        name: _converted(name, value, origin, names)
        for name, (value, origin) in raw.items()
        if "." not in name  # a transport's option, in transport_settings
    }
    return Settings(**values)


def setting_sources(
    *,
    file_values: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    places: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Where :func:`load_settings`, given the same sources, takes each setting from.

    Every setting name maps to ``"default"`` or to the place that set it last, as error
    messages name it: ``"asyncbdd.timeout in setup.cfg"``, ``"environment variable
    ASYNCBDD_GRACE"``, ``"-D asyncbdd.timeout_scale"``; each transport option given
    maps too, by ``SCHEME.NAME`` (``"sqs.endpoint"``).
    """
    raw, _ = _gathered(file_values, environ, overrides, places, flags)
    sources = {
        item.name: raw[item.name][1] if item.name in raw else "default"
        for item in dataclasses.fields(Settings)
    }
    return sources | {name: origin for name, (_, origin) in raw.items() if "." in name}


def setting_key(name: str) -> str:
    """The key a team writes for setting ``name``: ``asyncbdd.webhooks.port`` for
    ``webhooks_port``, ``asyncbdd.timeout_scale`` for ``timeout_scale``."""
    group, underscore, rest = name.partition("_")
    if underscore and group in _GROUPS:
        return f"{PREFIX}{group}.{rest}"
    return PREFIX + name


def shown_settings(settings: Settings) -> dict[str, object]:
    """Each setting's value, by name, as output may show it: secrets masked."""
    names = tuple(settings.secrets_names)
    return {
        item.name: _shown_value(item.name, getattr(settings, item.name), names)
        for item in dataclasses.fields(settings)
    }


def get_settings() -> Settings:
    """Return the settings in force, loading them on first use: from the loader that
    :func:`load_settings_later` gave (behave's configuration), else from the sources
    :func:`use_sources` installed (pytest's), else from the defaults and the environment."""
    settings = _in_force[0]
    if settings is None:
        _environment_read.clear()
        _environment_read.update(_our_variables(os.environ))
        loader = _loader[0] or _sources[0] or load_settings
        settings = _in_force[0] = loader()
    return settings


def set_settings(settings: Settings | None) -> None:
    """Put ``settings`` in force (``None``: load them again on next use)."""
    _in_force[0] = settings
    if settings is None:
        _environment_read.clear()
        _loader[0] = None


def load_settings_later(loader: Callable[[], Settings]) -> None:
    """Load the settings with ``loader`` at their first use, not now.

    behave's hooks call it in ``before_all``: environment variables that the project's
    own ``before_all`` sets afterwards still count, as long as nothing read a setting
    before.
    """
    _in_force[0] = None
    _environment_read.clear()
    _loader[0] = loader


def use_sources(loader: Callable[[], Settings] | None) -> Callable[[], Settings] | None:
    """Load the settings with ``loader`` whenever they are (re)loaded, and return the
    loader used before (``None``: the defaults and the environment).

    Unlike :func:`load_settings_later`'s, it outlives ``set_settings(None)`` and the end
    of a run: the pytest plugin installs the session's configuration with it, and puts
    the previous one back when the session ends.
    """
    previous = _sources[0]
    _sources[0] = loader
    _in_force[0] = None
    _environment_read.clear()
    return previous


def check_environment_unchanged() -> None:
    """Refuse ``ASYNCBDD_*`` variables set or changed after the settings were read.

    Such a change would be silently ignored (a broker would already run at the old
    endpoint); :class:`~asyncbdd.errors.ConfigurationError` names each variable instead.
    """
    if _in_force[0] is None or (not _environment_read and _loader[0] is None):
        return  # not read yet, or put in force by hand rather than loaded
    now = _our_variables(os.environ)
    changed = sorted(set(now.items()) ^ set(_environment_read.items()))
    if changed:
        names = sorted({name for name, _ in changed})
        raise ConfigurationError(
            f"{', '.join(names)} changed after asyncbdd had read its settings, so the "
            "change would be ignored. Set it before the run starts, or in before_all "
            "before anything uses asyncbdd (a probe, a queue, get_settings()); or put the "
            "value in setup.cfg [behave.userdata] or behave -D."
        )


_in_force: list[Settings | None] = [None]
_loader: list[Callable[[], Settings] | None] = [None]
_sources: list[Callable[[], Settings] | None] = [None]
_environment_read: dict[str, str] = {}
"""The ``ASYNCBDD_*`` setting variables as they were when the settings were loaded."""


def _gathered(
    file_values: Mapping[str, object] | None,
    environ: Mapping[str, str] | None,
    overrides: Mapping[str, object] | None,
    places: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
) -> tuple[dict[str, tuple[object, str]], list[str]]:
    """The raw value of each setting a source sets, later sources winning, with where it
    came from; and the ``ASYNCBDD_*`` variables that name no setting."""
    raw: dict[str, tuple[object, str]] = {}
    unknown: list[str] = []
    options: dict[str, dict[str, str]] = {}  # asyncbdd.<scheme>.<name> of a transport

    def add(name: str, value: object, origin: str) -> None:
        if name in _CONVERTERS:
            raw[name] = (value, origin)
            return
        scheme, _, option = name.partition("_")
        options.setdefault(scheme, {})[option] = str(value)
        raw["transport_settings"] = (options, origin)
        raw[f"{scheme}.{option}"] = (value, origin)  # where each option came from

    for key, value in (file_values or {}).items():
        if key.startswith(PREFIX):
            place = (places or {}).get(key)
            origin = f"{key} in {place or 'setup.cfg'}"
            add(_field_name(key, place or "setup.cfg [behave.userdata]"), value, origin)
    environment = os.environ if environ is None else environ
    for variable, value in environment.items():
        if variable.startswith(ENVIRONMENT_PREFIX):
            name = variable[len(ENVIRONMENT_PREFIX) :].lower()
            if name in _CONVERTERS or _is_transport_option(name):
                add(name, value, f"environment variable {variable}")
            elif not name.startswith(("test_", "demo_")):
                unknown.append(variable)
    for key, value in (overrides or {}).items():
        if key.startswith(PREFIX):
            flag = (flags or {}).get(key, "-D")
            add(_field_name(key, flag), value, f"{flag} {key}")
    return raw, unknown


def _is_transport_option(name: str) -> bool:
    """Whether setting ``name`` (``amqp_url``) is an option of a transport's scheme
    (``amqp``), which the transport declares and checks when it builds a queue."""
    # Imported here: the queues package imports the settings.
    from asyncbdd.queues.transports import schemes  # noqa: PLC0415

    scheme, underscore, option = name.partition("_")
    return bool(underscore and option) and scheme not in _GROUPS and scheme in schemes()


_GROUPS = frozenset({"queues", "webhooks", "traces", "secrets", "progress"})
"""Setting names whose first word groups them: ``webhooks_port`` is ``asyncbdd.webhooks.port``."""


def _our_variables(environment: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in environment.items()
        if name.startswith(ENVIRONMENT_PREFIX)
        and (
            name[len(ENVIRONMENT_PREFIX) :].lower() in _CONVERTERS
            or _is_transport_option(name[len(ENVIRONMENT_PREFIX) :].lower())
        )
    }


def _converted(name: str, value: object, origin: str, names: tuple[str, ...]) -> Any:
    """Setting ``name``'s ``value`` converted; the error of an invalid one shows it with
    its secrets masked (``names``: the extra secret names)."""
    try:
        return _CONVERTERS[name](value)
    except (AsyncBddError, ValueError) as error:
        shown = _shown_value(name, value, names)
        reason = str(error)
        if shown != value and str(value).strip():
            reason = reason.replace(str(value).strip(), str(shown))
        raise ConfigurationError(f"Setting {origin} = {shown!r} is invalid: {reason}") from None


def _seconds(value: object) -> float:
    """A duration: seconds as a number (``30``, ``"0.5"``) or English text."""
    try:
        number = float(str(value))
    except ValueError:
        return to_seconds(str(value))
    return to_seconds(number)


def _positive_seconds(value: object) -> float:
    seconds = _seconds(value)
    if seconds <= 0:
        raise ValueError("it must be longer than zero")
    return seconds


def _scale(value: object) -> float:
    try:
        scale = float(str(value))
    except ValueError:
        scale = math.nan
    if not 0 < scale <= MAX_TIMEOUT_SCALE:
        raise ValueError(_SCALE_RULE)
    return scale


MAX_TIMEOUT_SCALE = 100.0
"""The largest timeout scale: beyond it a 10 s deadline becomes a wait of hours."""
_SCALE_RULE = (
    "the timeout scale must be a number above zero, e.g. 1.5 on a slow CI machine, and "
    f"at most {MAX_TIMEOUT_SCALE:g}"
)
_BOUNDED_DURATIONS = (
    "timeout", "max_interval", "scenario_budget", "grace", "settle", "connect_timeout",
    "progress_after", "progress_every",
)  # fmt: skip


def optional_text(value: object) -> str | None:
    """A setting's text, stripped; ``None`` when empty (for a transport's options)."""
    return _optional_text(value)


def boolean(value: object) -> bool:
    """A setting's true/false (yes/no, on/off, 1/0), for a transport's options."""
    return _boolean(value)


def one_of(*choices: str) -> Callable[[object], str]:
    """A converter of a setting to one of ``choices`` (lower case), for a transport's options."""
    return functools.partial(_one_of, choices=choices)


def _optional_text(value: object) -> str | None:
    text = str(value).strip()
    return text or None


PROGRESS_MODES = ("auto", "always", "never")
"""When long waits print progress lines (setting ``asyncbdd.progress``)."""


def _transport_settings(value: object) -> dict[str, dict[str, str]]:
    if not isinstance(value, Mapping):
        raise ValueError("give each option as asyncbdd.SCHEME.NAME (asyncbdd.amqp.url)")
    return {str(scheme): dict(options) for scheme, options in value.items()}


def _one_of(value: object, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise ValueError(f"write one of {', '.join(choices)}")
    return text


def _boolean(value: object) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError("write true or false")


def _pairs(value: object, names: tuple[str, ...] | None = None) -> dict[str, str]:
    """``name = value`` items, one per line or separated by commas or semicolons.

    With ``names`` (extra secret names), the values of secret names are never echoed in
    an error, nor is what follows one when a separator in it cut it.
    """
    if isinstance(value, Mapping):
        return {str(name): str(item) for name, item in value.items()}
    pairs: dict[str, str] = {}
    secret: str | None = None  # the name of the item before, when its value is secret
    for item in _SEPARATORS.split(str(value)):
        if not item.strip():
            continue
        name, equals, text = item.partition("=")
        if not equals or not name.strip() or not text.strip():
            if secret is not None:
                raise ValueError(
                    f"the value of {secret} holds a ',' or ';', which separate items; give "
                    "such a value from Python instead: KafkaTopic(..., options={...})"
                )
            shown = mask_url(item.strip(), extra_names=())
            raise ValueError(f"{shown!r} is not of the form 'name = value'")
        secret = name.strip() if names is not None and is_secret_name(name, names) else None
        pairs[name.strip()] = text.strip()
    return pairs


def client_options(value: object, names: tuple[str, ...] = ()) -> dict[str, object]:
    """A client's options, ``name = value`` items (``security_protocol = SASL_SSL,
    request_timeout_ms = 5000``), integers read as such, for a transport's options; an
    error never shows the value of a secret name (``names``: the extra ones)."""
    options: dict[str, object] = {}
    for name, text in _pairs(value, names).items():
        options[name] = int(text) if _INTEGER.fullmatch(text) else text
    return options


def shown_text(text: str, names: tuple[str, ...] = ()) -> str:
    """A setting's text as output may show it: the secret values of ``name = value``
    items masked, and the passwords and tokens of URLs."""
    if _PAIRS.match(text):
        return _shown_pairs(text, names)
    return mask_url(text, extra_names=names)


def _names(value: object) -> tuple[str, ...]:
    """Names separated by commas or on lines of their own: ``X-Tenant-Key, pin``."""
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\n,]", str(value))
    names = tuple(str(item).strip() for item in items if str(item).strip())
    if any(not re.search(r"[A-Za-z0-9]", name) for name in names):
        raise ValueError("write names with a letter or digit, separated by commas, e.g. X-Tenant")
    return names


def _correlation(value: object, *, carrier: str, example: str) -> str:
    """``off``, ``field:PATH`` or ``<carrier>:NAME`` (attribute for queues, header for calls)."""
    text = str(value).strip()
    kind, colon, name = text.partition(":")
    if text == "off" or (colon and kind in (carrier, "field") and name.strip()):
        return text
    raise ValueError(f"write {carrier}:NAME, field:PATH or off, e.g. {example}")


def _trace_order(value: object) -> str:
    text = str(value).strip().lower()
    if text in ("sequence", "timestamp"):
        return text
    raise ValueError("write sequence or timestamp")


def _host(value: object) -> str:
    text = str(value).strip()
    if not text or "/" in text or any(character.isspace() for character in text):
        raise ValueError("write a host name or address to listen on, e.g. 127.0.0.1 or 0.0.0.0")
    return text


def _port(value: object) -> int:
    text = str(value).strip()
    if not _INTEGER.fullmatch(text) or not 0 <= int(text) <= 65535:
        raise ValueError("write a TCP port from 1 to 65535, or 0 for a free one")
    return int(text)


def _public_url(value: object) -> str | None:
    text = _optional_text(value)
    if text is None:
        return None
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            "write the base URL the system under test reaches the server by, e.g. "
            "http://host.docker.internal:8099 (http or https, no query)"
        )
    return text.rstrip("/")


def _header_name(value: object) -> str:
    text = str(value).strip()
    if not _TOKEN.fullmatch(text):
        raise ValueError("write an HTTP header name, e.g. X-Signature")
    return text


def _hmac_algorithm(value: object) -> str:
    name = str(value).strip().lower()
    try:
        hmac.new(b"", b"", name)
    except (ValueError, TypeError):
        usable = ", ".join(sorted(_HMAC_EXAMPLES))
        raise ValueError(f"write a hash algorithm for HMAC, e.g. {usable}") from None
    return name


def _byte_size(value: object) -> int:
    match = _BYTE_SIZE.fullmatch(str(value).strip())
    size = 0.0
    unit = (match.group(2) or "b").lower() if match else ""
    if match and unit in _BYTE_UNITS:
        size = float(match.group(1)) * _BYTE_UNITS[unit]
    if size < 1 or size != int(size):
        raise ValueError("write a whole number of bytes above zero, or e.g. 512 KiB, 1 MiB, 2 MB")
    return int(size)


_INTEGER = re.compile(r"-?\d+")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BYTE_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)?")
_BYTE_UNITS = {
    "b": 1, "byte": 1, "bytes": 1, "kb": 1000, "mb": 1000**2, "kib": 1024, "mib": 1024**2,
    "k": 1024, "m": 1024**2,
}  # fmt: skip
_HMAC_EXAMPLES = ("sha1", "sha256", "sha512")

_CONVERTERS: dict[str, Callable[[object], Any]] = {
    "timeout": _positive_seconds,
    "timeout_scale": _scale,
    "max_interval": _positive_seconds,
    "scenario_budget": _positive_seconds,
    "grace": _seconds,
    "settle": _seconds,
    "database_url": _optional_text,
    "connect_timeout": _positive_seconds,
    "queues": _pairs,
    "queues_correlation": functools.partial(
        _correlation, carrier="attribute", example="attribute:correlation_id"
    ),
    "webhooks_host": _host,
    "webhooks_port": _port,
    "webhooks_public_url": _public_url,
    "webhooks_secret": _optional_text,
    "webhooks_signature_header": _header_name,
    "webhooks_signature_algorithm": _hmac_algorithm,
    "webhooks_max_body_size": _byte_size,
    "webhooks_correlation": functools.partial(
        _correlation, carrier="header", example="header:X-Correlation-Id"
    ),
    "traces_table": _optional_text,
    "traces_order_by": _trace_order,
    "secrets_names": _names,
    "transport_settings": _transport_settings,
    "progress": lambda value: _one_of(value, PROGRESS_MODES),
    "progress_after": _seconds,
    "progress_every": _positive_seconds,
}
_SEPARATORS = re.compile(r"[\n,;]")
_HOLDING_NAMES = frozenset({
    "webhooks_signature_header", "webhooks_signature_algorithm", "secrets_names",
})  # fmt: skip
"""Settings whose names read as secret, but whose values are names, not secrets."""


def _secret_names_in(raw: Mapping[str, tuple[object, str]]) -> tuple[str, ...]:
    """The extra secret names among the raw settings (none if they are invalid: that
    error is reported with the setting)."""
    if "secrets_names" not in raw:
        return ()
    try:
        return _names(raw["secrets_names"][0])
    except ValueError:
        return ()


def _shown_value(name: str, value: object, names: tuple[str, ...]) -> object:
    """The value of setting ``name`` as output may show it, secrets masked."""
    if value is None:
        shown: object = None
    elif name not in _HOLDING_NAMES and is_secret_name(name, names):
        shown = mask_value(value)
    elif isinstance(value, Mapping) and name == "transport_settings":
        shown = {
            scheme: {
                option: _shown_value(option, text, names)
                if is_secret_name(option, names)
                else shown_text(text, names)
                for option, text in options.items()
            }
            for scheme, options in value.items()
        }
    elif isinstance(value, Mapping) and name == "queues":
        # aliases are no secrets, but a queue's URL may hold one
        shown = {alias: mask_url(spec, extra_names=names) for alias, spec in value.items()}
    elif isinstance(value, Mapping):
        shown = mask_mapping(value, extra_names=names)
    elif isinstance(value, str) and name == "queues":
        shown = _shown_pairs(value, None)
    elif isinstance(value, str) and _MAY_HOLD_URL.search(value):
        shown = mask_url(value, extra_names=names)
    else:
        shown = value
    return shown


def _shown_pairs(text: str, names: tuple[str, ...] | None) -> str:
    """``name = value`` items as output may show them: secret values (when ``names`` is
    given) masked with whatever a separator in them cut off, URLs through ``mask_url``."""
    separators = ["", *_SEPARATORS.findall(text)]
    shown: list[str] = []
    in_secret = False
    for separator, item in zip(separators, _SEPARATORS.split(text), strict=True):
        name, equals, rest = item.partition("=")
        if equals and name.strip():
            in_secret = names is not None and is_secret_name(name, names)
            if in_secret:
                shown.append(f"{separator}{name}={MASK}")
            elif _MAY_HOLD_URL.search(rest):
                url = mask_url(rest.strip(), extra_names=names or ())
                shown.append(f"{separator}{name}= {url}")
            else:
                shown.append(separator + item)
        elif not in_secret:  # else a separator in the secret cut it here
            masked = mask_url(item, extra_names=()) if _MAY_HOLD_URL.search(item) else item
            shown.append(separator + masked)
    return "".join(shown)


_MAY_HOLD_URL = re.compile(r"://|[@?]")
_PAIRS = re.compile(r"\s*[A-Za-z_][\w.-]*\s*=")


def _field_name(key: str, origin: str) -> str:
    name = key[len(PREFIX) :].replace(".", "_").replace("-", "_")
    if name not in _CONVERTERS and not _is_transport_option(name):
        raise ConfigurationError(_unknown_message(key, f"setting (from {origin})"))
    return name


def _unknown_message(name: str, kind: str) -> str:
    prefix = ENVIRONMENT_PREFIX if name.startswith(ENVIRONMENT_PREFIX) else PREFIX
    fields = [
        field.upper() if prefix == ENVIRONMENT_PREFIX else field
        for field in _CONVERTERS
        if field != "transport_settings"  # given as asyncbdd.SCHEME.NAME
    ]
    known = [prefix + field for field in fields]
    hint = suggest(name[len(prefix) :], fields)  # the shared prefix would make all look close
    message = f"Unknown asyncbdd {kind} {name!r}."
    if hint:
        message += f" Did you mean {prefix + hint!r}?"
    return message + " Known: " + ", ".join(known)
