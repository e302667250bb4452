"""Trace names: registered phrases, the configured default, and steps that name no trace."""

from __future__ import annotations

import pytest
from trace_fakes import MemoryStore, chain

from asyncbdd.config import load_settings, set_settings
from asyncbdd.errors import AsyncBddError, ConfigurationError, InvalidInput, UnknownName
from asyncbdd.scenario import Scenario
from asyncbdd.traces import (
    SqlTraceStore,
    expect_chain,
    register_trace_store,
    resolve_trace,
    trace_names,
    unregister_trace_store,
)


def configure(**settings: str) -> None:
    """Put asyncbdd.* settings in force, as setup.cfg or -D would give them."""
    overrides = {f"asyncbdd.{name}": value for name, value in settings.items()}
    set_settings(load_settings(environ={}, overrides=overrides))


def test_a_registered_phrase_resolves_to_its_store(store: MemoryStore) -> None:
    """The phrase a store is registered under names it, spaces normalised."""
    register_trace_store("the trace for this order", store)
    resolved = resolve_trace("the  trace for this order")
    assert resolved.store is store
    assert resolved.correlation_id is None
    unregister_trace_store("the trace for this order")
    assert trace_names() == []


def test_an_unknown_phrase_lists_the_known_ones(store: MemoryStore) -> None:
    """A typo is answered with the close match and how to register a trace."""
    register_trace_store("the trace for this order", store)
    with pytest.raises(UnknownName) as raised:
        resolve_trace("the trace for this ordr")
    message = str(raised.value)
    assert "No trace named 'the trace for this ordr' is registered." in message
    assert "Did you mean 'the trace for this order'?" in message
    assert "Set asyncbdd.traces.table" in message


def test_a_name_may_give_the_correlation_id(store: MemoryStore, scenario: Scenario) -> None:
    """A {correlation_id} field in the name selects another correlation id's trace."""
    register_trace_store('the trace of correlation id "{correlation_id}"', store)
    store.record("cid-42", *chain("order.created", "payment.completed"))
    resolved = resolve_trace('the trace of correlation id "cid-42"')
    assert resolved.correlation_id == "cid-42"
    expect_chain(
        ["order.created", "payment.completed"],
        trace='the trace of correlation id "cid-42"',
        timeout=5,
    )


def test_a_name_may_hold_no_other_field(store: MemoryStore) -> None:
    """Fields other than {correlation_id} would mean nothing to a store, so are refused."""
    with pytest.raises(InvalidInput, match=r"may hold only \{correlation_id\}"):
        register_trace_store('the trace of order "{order_id}"', store)


def test_a_name_is_registered_once(store: MemoryStore) -> None:
    """Registering a name twice is an error unless replacing is asked for."""
    register_trace_store("the trace", store)
    with pytest.raises(AsyncBddError, match="already registered"):
        register_trace_store("the trace", MemoryStore())
    other = MemoryStore()
    register_trace_store("the trace", other, replace=True)
    assert resolve_trace("the trace").store is other


def test_the_table_setting_names_the_trace() -> None:
    """asyncbdd.traces.table makes "the trace" and "the trace for this order" that table."""
    configure(traces_table="audit_events", database_url="sqlite:///:memory:")
    assert trace_names() == ["the trace", "the trace for this order"]
    first, second = resolve_trace("the trace"), resolve_trace("the trace for this order")
    assert isinstance(first.store, SqlTraceStore)
    assert first.store.table == "audit_events"
    assert first.store is second.store
    assert resolve_trace(None).store is first.store


def test_a_python_registration_wins_over_the_setting(store: MemoryStore) -> None:
    """A store registered under a configured name replaces the table for that name."""
    configure(traces_table="trace_events")
    register_trace_store("the trace for this order", store)
    assert resolve_trace("the trace for this order").store is store
    assert isinstance(resolve_trace("the trace").store, SqlTraceStore)


def test_without_the_setting_no_trace_is_named() -> None:
    """Unset, the table setting names nothing, and a step without a name says what to do."""
    with pytest.raises(UnknownName) as raised:
        resolve_trace("the trace")
    assert "No traces are registered yet." in str(raised.value)
    with pytest.raises(UnknownName, match=r"Set asyncbdd\.traces\.table"):
        resolve_trace(None)


def test_the_only_store_serves_steps_that_name_none(store: MemoryStore) -> None:
    """One store under two names is still one store: a step may leave the name out."""
    register_trace_store("the trace", store)
    register_trace_store("the trace for this order", store)
    assert resolve_trace(None).store is store


def test_several_stores_need_a_name(store: MemoryStore) -> None:
    """With two stores a step that names none is told to name one."""
    register_trace_store("the trace for this order", store)
    register_trace_store("the audit trail", MemoryStore())
    with pytest.raises(InvalidInput) as raised:
        resolve_trace(None)
    message = str(raised.value)
    assert "Several traces are known ('the audit trail', 'the trace for this order')" in message
    assert 'in the trace for this order "payment.completed" occurs before' in message


def test_order_by_is_a_validated_setting() -> None:
    """asyncbdd.traces.order_by takes sequence or timestamp and nothing else."""
    configure(traces_order_by="Timestamp")
    with pytest.raises(ConfigurationError, match="write sequence or timestamp"):
        configure(traces_order_by="arrival")


def test_settings_come_from_the_environment() -> None:
    """ASYNCBDD_TRACES_TABLE and ASYNCBDD_TRACES_ORDER_BY set the trace settings."""
    settings = load_settings(
        environ={"ASYNCBDD_TRACES_TABLE": "events", "ASYNCBDD_TRACES_ORDER_BY": "timestamp"}
    )
    assert (settings.traces_table, settings.traces_order_by) == ("events", "timestamp")
