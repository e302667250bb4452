"""Trace names: what "the trace for this order" means, registered once.

In Python, for any store::

    register_trace_store("the trace for this order", SqlTraceStore("trace_events"))
    register_trace_store('the trace of correlation id "{correlation_id}"', store)

or by configuration, for the common case of a table in the database the probes read::

    [behave.userdata]
    asyncbdd.traces.table = trace_events

which makes both "the trace" and "the trace for this order" name that table (columns as
in :data:`~asyncbdd.traces.sql.DEFAULT_COLUMNS`). Unset, no trace is named by default.
Python registrations win over the configured names.

A trace is the scenario's: its events are those of the scenario's correlation id, unless
the name holds a ``{correlation_id}`` field, whose value is used instead. Steps that name
no trace ("Then "a" occurs before "b"") use the only store there is, and ask for a name
when there are several.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import parse

from asyncbdd.config import get_settings
from asyncbdd.errors import InvalidInput, UnknownName
from asyncbdd.registry import Registry
from asyncbdd.traces.sql import SqlTraceStore
from asyncbdd.traces.store import TraceStore

__all__ = [
    "CONFIGURED_NAMES",
    "TRACE_STORES",
    "ResolvedTrace",
    "register_trace_store",
    "resolve_trace",
    "trace_names",
    "unregister_trace_store",
]

CONFIGURED_NAMES = ("the trace", "the trace for this order")
"""The names the setting ``asyncbdd.traces.table`` gives its table."""

HOW_TO_REGISTER = (
    "Set asyncbdd.traces.table to a table of trace events in asyncbdd.database_url (it is "
    "then 'the trace' and 'the trace for this order'), or register one in Python: "
    "asyncbdd.traces.register_trace_store('the trace for this order', SqlTraceStore(...))."
)

TRACE_STORES: Registry[TraceStore] = Registry("trace", HOW_TO_REGISTER)


@dataclass(frozen=True)
class ResolvedTrace:
    """A trace name resolved: the store, and the correlation id the name gives, if any."""

    name: str
    store: TraceStore
    correlation_id: str | None = None


def register_trace_store(name: str, store: TraceStore, *, replace: bool = False) -> None:
    """Make the phrase ``name`` mean the trace that ``store`` holds.

    :raises InvalidInput: ``name`` holds a field other than ``{correlation_id}``.
    """
    try:
        fields = set(parse.compile(name).named_fields)
    except ValueError:
        fields = set()  # the registry reports a malformed pattern
    if fields - {"correlation_id"}:
        raise InvalidInput(
            f"The trace name {name!r} holds {', '.join(sorted(fields - {'correlation_id'}))}; "
            "a trace name may hold only {correlation_id}, the id whose events it means."
        )
    TRACE_STORES.register(name, store, replace=replace)


def unregister_trace_store(name: str) -> None:
    """Forget a trace registered in Python (no error if there is none)."""
    TRACE_STORES.unregister(name)


def trace_names() -> list[str]:
    """Every trace name known now, registered or configured, sorted."""
    configured = CONFIGURED_NAMES if get_settings().traces_table else ()
    return sorted({*TRACE_STORES.names, *configured})


def resolve_trace(phrase: str | None = None) -> ResolvedTrace:
    """The store a phrase names; with ``None``, the only store there is.

    :raises UnknownName: nothing is registered under ``phrase`` (or at all).
    :raises InvalidInput: ``phrase`` is ``None`` and several stores are known.
    """
    if phrase is None:
        return _only_store()
    phrase = " ".join(phrase.split())
    if phrase not in TRACE_STORES:
        configured = _configured_store()
        if configured is not None and phrase in CONFIGURED_NAMES:
            return ResolvedTrace(phrase, configured)
    try:
        resolved = TRACE_STORES.resolve(phrase)
    except UnknownName:
        raise UnknownName("trace", phrase, trace_names(), HOW_TO_REGISTER) from None
    return ResolvedTrace(resolved.name, resolved.item, resolved.fields.get("correlation_id"))


def _only_store() -> ResolvedTrace:
    stores: dict[int, ResolvedTrace] = {}
    for name in TRACE_STORES.names:  # an exact name resolves to its store, fields or not
        store = TRACE_STORES.resolve(name).item
        stores.setdefault(id(store), ResolvedTrace(name, store))
    configured = _configured_store()
    if configured is not None and any(name not in TRACE_STORES for name in CONFIGURED_NAMES):
        stores.setdefault(id(configured), ResolvedTrace(CONFIGURED_NAMES[-1], configured))
    if len(stores) == 1:
        return next(iter(stores.values()))
    if not stores:
        raise UnknownName("trace", "the trace", [], HOW_TO_REGISTER)
    raise InvalidInput(
        f"Several traces are known ({', '.join(map(repr, trace_names()))}), so the step must "
        'say which, e.g. \'Then in the trace for this order "payment.completed" occurs '
        'before "shipping.label_created"\'.'
    )


def _configured_store() -> TraceStore | None:
    settings = get_settings()
    if not settings.traces_table:
        return None
    key = (settings.traces_table, settings.database_url)
    with _lock:
        store = _configured.get(key)
        if store is None:
            store = _configured[key] = SqlTraceStore(settings.traces_table)
        return store


_lock = threading.Lock()
_configured: dict[tuple[str, str | None], TraceStore] = {}
