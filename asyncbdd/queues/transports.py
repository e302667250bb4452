"""Transports: the kinds of queue an alias can name, each one module plus a registration.

An alias's configuration text is ``SCHEME:TARGET`` (``billing = sqs:billing``). The
scheme picks a :class:`Transport`, which builds the :class:`~asyncbdd.queues.base.Queue`
for the target. A transport registers itself when its module is imported::

    register_transport(Transport(
        scheme="amqp",
        build=AmqpQueue,
        forms="amqp:EXCHANGE, amqp:queue/QUEUE",
        describes="a RabbitMQ exchange, tapped, or a queue",
        extra="rabbitmq",
    ))

The built-in transports' modules are imported on first use of their scheme, so a
missing client library is an error naming the extra that installs it, met only by a run
that uses the transport. Another package's transports are found through the
``asyncbdd.transports`` entry point group (each entry point names a module that
registers its transports when imported).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from asyncbdd.config import Settings, get_settings, shown_text
from asyncbdd.errors import ConfigurationError, UnknownName, suggest

if TYPE_CHECKING:
    from asyncbdd.queues.base import Queue

__all__ = [
    "NOUNS",
    "Option",
    "Transport",
    "register_transport",
    "schemes",
    "transport_named",
    "transport_options",
    "transports",
    "unregister_transport",
]

NOUNS = ("queue", "topic", "stream", "subject", "channel")
"""What features may call an alias ("the billing queue", "the "orders" topic"): a
queue's :attr:`~asyncbdd.queues.base.Queue.noun` is one of them, so that a step can name
it."""
ENTRY_POINT_GROUP = "asyncbdd.transports"

_BUILT_IN = {
    "sqs": ("asyncbdd.queues.sqs", None),
    "sns": ("asyncbdd.queues.sns", None),
    "kafka": ("asyncbdd.queues.kafka", "kafka"),
    "mqtt": ("asyncbdd.queues.mqtt", "mqtt"),
    "redis": ("asyncbdd.queues.redis_streams", "redis"),
    "amqp": ("asyncbdd.queues.amqp", "rabbitmq"),
    "nats": ("asyncbdd.queues.nats", "nats"),
}
"""Scheme -> (module that registers it, the extra that installs its client library)."""


@dataclass(frozen=True)
class Option:
    """A setting a transport declares, ``asyncbdd.SCHEME.NAME`` (``ASYNCBDD_SCHEME_NAME``).

    ``convert`` turns the text given into the value (raising ``ValueError`` with what to
    write); ``secret`` masks it in output (names like ``password`` are masked anyway, and
    URLs lose their passwords).
    """

    default: object
    doc: str
    convert: Callable[[str], object] = str
    secret: bool = False
    told_secret_names: bool = False
    """Whether ``convert`` takes the secret names too (``asyncbdd.secrets.names``), as
    ``convert(text, names)``, so that its errors never show a value of one."""


@dataclass(frozen=True)
class Transport:
    """One kind of queue: how an alias's ``SCHEME:TARGET`` becomes a queue, and its words.

    ``build(alias, target)`` makes the queue; ``forms`` and ``describes`` go into errors
    and the phrase catalogue (``sqs:QUEUE-NAME, sqs:QUEUE-URL``, "an SQS queue");
    ``options`` are its own settings, ``asyncbdd.SCHEME.NAME`` (:func:`transport_options`:
    a queue is built again when they change); ``extra`` names the pip extra installing
    its client;
    ``embedded(settings, aliases)``, for a transport with an embedded broker, names it
    and says whether a run with ``aliases`` of its scheme would start it, and why
    (``("SQS server", "starts (moto, in the test process) on first use of billing")``).
    """

    scheme: str
    build: Callable[[str, str], Queue]
    forms: str
    describes: str
    options: Mapping[str, Option] = field(default_factory=dict)
    extra: str | None = None
    embedded: Callable[[Settings, Sequence[str]], tuple[str, str]] | None = None
    module: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.scheme.isidentifier() or self.scheme != self.scheme.lower():
            raise ConfigurationError(
                f"Transport scheme {self.scheme!r} must be a lower-case word (sqs, amqp)."
            )


def register_transport(transport: Transport, *, replace: bool = False) -> None:
    """Make ``SCHEME:TARGET`` aliases build ``transport``'s queues."""
    with _lock:
        known = _registered.get(transport.scheme)
        if known is not None and not replace and known.module != transport.module:
            raise ConfigurationError(
                f"A transport {transport.scheme!r} is already registered (by "
                f"{known.module or 'Python'}); register each scheme once, or pass replace=True."
            )
        _registered[transport.scheme] = transport


def unregister_transport(scheme: str) -> None:
    """Forget the transport of ``scheme`` registered in Python (no error if there is
    none); a built-in one registers again on its next use."""
    with _lock:
        _registered.pop(scheme, None)


def transport_named(scheme: str) -> Transport:
    """The transport of ``scheme``, importing its module on first use.

    Raises :class:`~asyncbdd.errors.UnknownName` listing the schemes for an unknown
    one, and :class:`~asyncbdd.errors.ConfigurationError` naming the extra to install
    when its client library is missing.
    """
    with _lock:
        found = _registered.get(scheme)
    if found is not None:
        return found
    _import_module_of(scheme)
    with _lock:
        found = _registered.get(scheme)
    if found is None:
        raise UnknownName(
            "queue scheme",
            scheme,
            sorted({*_BUILT_IN, *_registered, *_entry_point_names()}),
            "Write SCHEME:TARGET, e.g. 'billing = sqs:billing' (setting asyncbdd.queues), "
            "or register a transport (asyncbdd.queues.transports.register_transport).",
        )
    return found


def transports() -> list[Transport]:
    """Every transport that can be used here (a built-in one whose client is installed,
    or one registered), by scheme."""
    for scheme in sorted({*_BUILT_IN, *_entry_point_names()}):
        try:
            _import_module_of(scheme)
        except ConfigurationError:
            continue
    with _lock:
        return [_registered[scheme] for scheme in sorted(_registered)]


def schemes() -> set[str]:
    """The schemes of every transport, built in, registered or installed (none imported)."""
    with _lock:
        registered = set(_registered)
    return {*_BUILT_IN, *registered, *_entry_point_names()}


def transport_options(scheme: str, settings: Settings | None = None) -> dict[str, object]:
    """The options of the transport of ``scheme`` in ``settings`` (default: those in
    force): each declared :class:`Option`'s default, or the setting
    ``asyncbdd.SCHEME.NAME`` converted.

    Raises :class:`~asyncbdd.errors.ConfigurationError` naming the setting for an
    option the transport does not declare (with the closest one) or a value it refuses.
    """
    transport = transport_named(scheme)
    settings = settings or get_settings()
    given = settings.transport_settings.get(scheme, {})
    values = {name: option.default for name, option in transport.options.items()}
    for name, text in given.items():
        key = f"asyncbdd.{scheme}.{name}"
        option = transport.options.get(name)
        if option is None:
            hint = suggest(name, transport.options)
            known = ", ".join(f"asyncbdd.{scheme}.{known}" for known in transport.options)
            raise ConfigurationError(
                f"Unknown setting {key!r}."
                + (f" Did you mean 'asyncbdd.{scheme}.{hint}'?" if hint else "")
                + (f" The {scheme} transport knows: {known}." if known else "")
            )
        try:
            if option.told_secret_names:
                values[name] = option.convert(text, settings.secrets_names)  # type: ignore[call-arg]
            else:
                values[name] = option.convert(text)
        except ValueError as error:
            shown = "(secret)" if option.secret else repr(shown_text(text, settings.secrets_names))
            raise ConfigurationError(f"Setting {key} = {shown} is invalid: {error}.") from None
    return values


def _import_module_of(scheme: str) -> None:
    built_in = _BUILT_IN.get(scheme)
    if built_in is not None:
        module, extra = built_in
    else:
        named = [point for point in entry_points(group=ENTRY_POINT_GROUP) if point.name == scheme]
        if not named:
            return
        module, extra = named[0].module, None
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and module.startswith(error.name):
            raise  # the transport's own module is missing: a packaging error
        install = f"pip install 'asyncbdd[{extra}]'" if extra else f"install {error.name}"
        raise ConfigurationError(
            f"Queues of scheme {scheme!r} need the Python package {error.name!r}, which is "
            f"not installed: {install}."
        ) from None


def _entry_point_names() -> set[str]:
    return {point.name for point in entry_points(group=ENTRY_POINT_GROUP)}


_lock = threading.Lock()
_registered: dict[str, Transport] = {}
