"""Queue and topic aliases: the names feature files use ("the billing queue").

An alias comes from configuration (setting ``asyncbdd.queues``)::

    [behave.userdata]
    asyncbdd.queues =
        billing = sqs:billing
        order.created = kafka:order.created

or from Python, for a queue that needs more than a name::

    register_queue("billing", SqsQueue("billing", "https://sqs.eu-west-1.amazonaws.com/1/billing"))

Python registrations win over configuration.
"""

from __future__ import annotations

import contextlib
import threading

from asyncbdd.config import get_settings
from asyncbdd.errors import ConfigurationError, UnknownName
from asyncbdd.queues.base import Queue
from asyncbdd.queues.transports import Transport, transport_named, transports
from asyncbdd.registry import current_run
from asyncbdd.secrets import mask_url

__all__ = [
    "alias_names",
    "close_queues",
    "queue_from_spec",
    "queue_named",
    "register_queue",
    "unregister_queue",
]

HOW_TO_REGISTER = (
    "Name it in the setting asyncbdd.queues ('billing = sqs:billing', "
    "'order.created = kafka:order.created'), or call asyncbdd.register_queue(alias, queue)."
)


def register_queue(alias: str, queue: Queue, *, replace: bool = False) -> None:
    """Make ``alias`` mean ``queue`` in steps and engine calls.

    An alias registers once per run (:func:`asyncbdd.registry.new_run`): the same code
    run again in a later run (behavex running behave several times in one process)
    registers it anew; within one run, registering it to another queue is an error.
    """
    with _lock:
        known = _registered.get(alias)
        run = current_run()
        if known is not None and not replace and known is not queue and _runs[alias] == run:
            raise ConfigurationError(
                f"A queue alias {alias!r} is already registered in this run, as "
                f"{known.describe()}; register each alias once, or pass replace=True."
            )
        _registered[alias] = queue
        _runs[alias] = run


def unregister_queue(alias: str) -> None:
    """Forget a queue registered in Python (no error if there is none)."""
    with _lock:
        _registered.pop(alias, None)


def alias_names() -> list[str]:
    """Every alias known now, registered or configured, sorted."""
    with _lock:
        return sorted({*_registered, *get_settings().queues})


def queue_named(alias: str) -> Queue:
    """The queue an alias means; :class:`UnknownName` lists the aliases if none."""
    with _lock:
        if alias in _registered:
            return _registered[alias]
    spec = get_settings().queues.get(alias)
    if spec is None:
        raise UnknownName("queue", alias, alias_names(), HOW_TO_REGISTER)
    settings = get_settings()
    transport = _transport_of(alias, spec)
    identity = (
        alias,
        spec,
        settings.queues_correlation,
        repr(sorted(settings.transport_settings.get(transport.scheme, {}).items())),
    )
    with _lock:
        queue = _configured.get(identity)
        if queue is None:
            queue = _configured[identity] = transport.build(alias, _target_of(spec))
        return queue


def close_queues() -> None:
    """Close every queue an alias named (end of a run), and forget the configured ones.

    Closing releases their connections; a queue registered in Python stays registered and
    opens again on its next use, and a configured one is built afresh, for the settings
    and brokers in force then. Every queue is closed even when closing another one fails;
    that failure is raised afterwards.
    """
    with _lock:
        queues = [*_registered.values(), *_configured.values()]
        _configured.clear()
    with contextlib.ExitStack() as stack:  # runs every callback, whatever the others raise
        for queue in queues:
            stack.callback(queue.close)


def queue_from_spec(alias: str, spec: str) -> Queue:
    """A queue from its configuration text, ``SCHEME:TARGET``: ``sqs:NAME``, ``sqs:URL``,
    ``kafka:TOPIC``, or the form of another registered transport."""
    return _transport_of(alias, spec).build(alias, _target_of(spec))


def _transport_of(alias: str, spec: str) -> Transport:
    scheme, colon, target = spec.partition(":")
    try:
        if colon and target.strip():
            return transport_named(scheme.strip().lower())
    except UnknownName:
        pass
    forms = "; ".join(f"{t.forms} ({t.describes})" for t in transports())
    raise ConfigurationError(
        f"Queue alias {alias!r} = {mask_url(spec)!r} is not understood (setting "
        f"asyncbdd.queues). Write SCHEME:TARGET, e.g. 'billing = sqs:billing': {forms}."
    )


def _target_of(spec: str) -> str:
    return spec.partition(":")[2].strip()


_lock = threading.Lock()
_registered: dict[str, Queue] = {}
_runs: dict[str, int] = {}
"""The run each alias was registered in."""
_configured: dict[tuple[object, ...], Queue] = {}
