"""The registry of named things: registration, lookup by phrase, and its error messages."""

from __future__ import annotations

import os

import pytest

from asyncbdd.errors import AsyncBddError, UnknownName
from asyncbdd.registry import Registry, Resolved, new_run

HOW_TO_REGISTER = "Register one with registry.register('the order status', function)."


@pytest.fixture
def registry() -> Registry[str]:
    return Registry("probe", HOW_TO_REGISTER)


def test_an_exact_name_resolves_to_its_item_without_fields(registry: Registry[str]) -> None:
    """A phrase equal to a registered name resolves to that registration, with no fields."""
    registry.register("the order status", "status")
    assert registry.resolve("the order status") == Resolved("the order status", "status", {})


@pytest.mark.parametrize(
    ("registered", "phrase"),
    [
        ("the  order\tstatus ", "the order status"),
        ("the order status", "  the order   status"),
    ],
)
def test_whitespace_is_normalised(registry: Registry[str], registered: str, phrase: str) -> None:
    """Runs of whitespace and surrounding blanks do not distinguish names."""
    registry.register(registered, "status")
    resolved = registry.resolve(phrase)
    assert (resolved.name, resolved.item) == ("the order status", "status")


@pytest.mark.parametrize(
    ("pattern", "phrase", "fields"),
    [
        ('the status of order "{order_id}"', 'the status of order "ord-1"', {"order_id": "ord-1"}),
        (
            'the stock of "{product}" in "{warehouse}"',
            'the stock of "prod-789" in "north"',
            {"product": "prod-789", "warehouse": "north"},
        ),
        ("the {count:d} newest orders", "the 3 newest orders", {"count": 3}),
        ('the status of order "{order_id}"', 'the status of order "a b"', {"order_id": "a b"}),
    ],
)
def test_a_pattern_resolves_with_the_values_of_its_fields(
    registry: Registry[str], pattern: str, phrase: str, fields: dict[str, object]
) -> None:
    """A name with parse fields matches phrases and hands back the (typed) field values."""
    registry.register(pattern, "item")
    assert registry.resolve(phrase) == Resolved(pattern, "item", fields)


def test_an_exact_name_wins_over_a_pattern(registry: Registry[str]) -> None:
    """When a phrase is a registered name and also fits a pattern, the exact name is used."""
    registry.register("the status of {what}", "pattern")
    registry.register("the status of the order", "exact")
    assert registry.resolve("the status of the order").item == "exact"
    assert registry.resolve("the status of the parcel").fields == {"what": "the parcel"}


def test_names_are_case_sensitive(registry: Registry[str]) -> None:
    """A phrase differing only in case is unknown, and the message suggests the real name."""
    registry.register("the order status", "status")
    with pytest.raises(UnknownName, match="Did you mean 'the order status'"):
        registry.resolve("the Order Status")


def test_a_phrase_fitting_two_patterns_is_ambiguous(registry: Registry[str]) -> None:
    """A phrase that two patterns match is an error naming the phrase and both patterns."""
    registry.register('the status of order "{order_id}"', "orders")
    registry.register("the status of {thing}", "anything")
    with pytest.raises(AsyncBddError) as caught:
        registry.resolve('the status of order "ord-1"')
    assert str(caught.value) == (
        "'the status of order \"ord-1\"' matches more than one probe: "
        "'the status of order \"{order_id}\"', 'the status of {thing}'. "
        "Rename one so each phrase means one thing."
    )


def test_an_unknown_phrase_lists_the_registered_names_and_suggests_one(
    registry: Registry[str],
) -> None:
    """UnknownName says what was asked, the closest name, every name, and how to register."""
    registry.register("the order status", "status")
    registry.register("the billing queue", "queue")
    with pytest.raises(UnknownName) as caught:
        registry.resolve("the ordr status")
    assert str(caught.value).splitlines() == [
        "No probe named 'the ordr status' is registered.",
        "Did you mean 'the order status'?",
        "Registered probes: 'the billing queue', 'the order status'",
        HOW_TO_REGISTER,
    ]
    assert caught.value.kind == "probe"
    assert caught.value.name == "the ordr status"
    assert caught.value.known == ["the billing queue", "the order status"]


def test_an_unknown_phrase_far_from_every_name_gets_no_suggestion(
    registry: Registry[str],
) -> None:
    """Without a close match the message lists the names but guesses none."""
    registry.register("the order status", "status")
    with pytest.raises(UnknownName) as caught:
        registry.resolve("the weather")
    assert "Did you mean" not in str(caught.value)
    assert "Registered probes: 'the order status'" in str(caught.value)


def test_an_empty_registry_says_nothing_is_registered(registry: Registry[str]) -> None:
    """Looking up in an empty registry says none are registered yet, and how to register."""
    with pytest.raises(UnknownName) as caught:
        registry.resolve("the order status")
    assert str(caught.value).splitlines() == [
        "No probe named 'the order status' is registered.",
        "No probes are registered yet.",
        HOW_TO_REGISTER,
    ]


def test_unknown_name_is_a_lookup_error(registry: Registry[str]) -> None:
    """UnknownName is both the package's error and a LookupError."""
    with pytest.raises(LookupError):
        registry.resolve("anything")


def test_a_name_registers_once_in_a_run(registry: Registry[str]) -> None:
    """A second registration of a name in one run fails, naming it, both items and the fixes."""
    registry.register("the order status", "first")
    with pytest.raises(AsyncBddError) as caught:
        registry.register("the  order status", "second")
    assert str(caught.value) == (
        "A probe named 'the order status' is already registered in this run, as 'first'; "
        "it cannot also be 'second'. Register each name once, or pass replace=True to take "
        "it over. (A runner that runs the same code again in one process calls "
        "asyncbdd.registry.new_run() before each run; asyncbdd's behave hooks do.)"
    )
    assert registry.resolve("the order status").item == "first"


def test_the_same_code_run_twice_in_one_run_is_a_duplicate(registry: Registry[str]) -> None:
    """Without a new run, one line registering a name again with another item is an error:
    where the call is made no longer decides."""

    def register_each(items: tuple[str, ...]) -> None:
        for item in items:
            registry.register("the order status", item)

    with pytest.raises(AsyncBddError, match="already registered in this run"):
        register_each(("first", "second"))
    assert registry.resolve("the order status").item == "first"


def test_a_new_run_registers_the_same_names_again(registry: Registry[str]) -> None:
    """Code run again in a new run (behavex running environment.py once per behave run in
    one process) registers anew; within that run the name is again registered once."""
    for run in ("first run", "second run", "third run"):
        new_run()
        registry.register("the order status", run)
        registry.register("the billing queue", f"queue of the {run}")
    assert registry.resolve("the order status").item == "third run"
    assert registry.resolve("the billing queue").item == "queue of the third run"
    with pytest.raises(AsyncBddError, match="as 'third run'; it cannot also be 'another'"):
        registry.register("the order status", "another")


def test_a_new_run_concerns_every_registry() -> None:
    """new_run() starts a run for all named things at once: probes, traces, subjects."""
    probes: Registry[str] = Registry("probe", HOW_TO_REGISTER)
    traces: Registry[str] = Registry("trace", HOW_TO_REGISTER)
    probes.register("the order status", "old probe")
    traces.register("the order trace", "old trace")
    new_run()
    probes.register("the order status", "new probe")
    traces.register("the order trace", "new trace")
    assert (probes.resolve("the order status").item, traces.resolve("the order trace").item) == (
        "new probe",
        "new trace",
    )


def test_the_same_item_registered_again_in_a_run_changes_nothing() -> None:
    """Registering the very object a name already means is not a conflict."""
    registry: Registry[object] = Registry("probe", HOW_TO_REGISTER)
    item = object()
    registry.register("the order status", item)
    registry.register("the order  status", item)
    assert registry.resolve("the order status").item is item
    with pytest.raises(AsyncBddError, match="already registered in this run"):
        registry.register("the order status", object())


def read_status() -> str:
    return "paid"


def test_a_duplicate_function_is_named_with_where_it_is_defined() -> None:
    """Functions are named by module and qualified name, with the file and line of their
    definition, so the message tells the two registrations apart."""
    registry: Registry[object] = Registry("probe", HOW_TO_REGISTER)

    def read_other_status() -> str:
        return "shipped"

    registry.register("the order status", read_status)
    with pytest.raises(AsyncBddError) as caught:
        registry.register("the order status", read_other_status)
    here = os.path.relpath(__file__)
    first = read_status.__code__.co_firstlineno
    second = read_other_status.__code__.co_firstlineno
    assert (
        f"as {__name__}.read_status ({here}:{first}); it cannot also be "
        f"{__name__}.test_a_duplicate_function_is_named_with_where_it_is_defined."
        f"<locals>.read_other_status ({here}:{second})."
    ) in str(caught.value)


def test_replace_true_replaces_a_registration(registry: Registry[str]) -> None:
    """With replace=True a second registration takes the name over."""
    registry.register("the order status", "first")
    registry.register("the order status", "second", replace=True)
    assert registry.resolve("the order status").item == "second"


def test_an_invalid_pattern_is_rejected_at_registration(registry: Registry[str]) -> None:
    """A name whose field has an unknown format spec fails when registered, naming it."""
    with pytest.raises(AsyncBddError, match=r"probe name 'the \{count:q\} orders' is not a valid"):
        registry.register("the {count:q} orders", "item")
    assert registry.names == []


def test_unregister_forgets_a_name_and_ignores_unknown_ones(registry: Registry[str]) -> None:
    """unregister() removes a name; removing a name never registered is not an error."""
    registry.register("the order status", "status")
    registry.unregister(" the order  status ")
    registry.unregister("never registered")
    assert "the order status" not in registry
    assert registry.names == []


def test_names_are_sorted_and_membership_normalises(registry: Registry[str]) -> None:
    """names lists registrations sorted; `in` normalises whitespace and rejects non-text."""
    registry.register("the order status", "status")
    registry.register("the billing queue", "queue")
    assert registry.names == ["the billing queue", "the order status"]
    assert "the  order status" in registry
    assert "the Order status" not in registry
    assert 42 not in registry


def test_isolated_forgets_registrations_made_inside(registry: Registry[str]) -> None:
    """Within isolated(), new registrations are temporary; earlier ones stay."""
    registry.register("the order status", "status")
    with registry.isolated() as inside:
        assert inside is registry
        registry.register("the billing queue", "queue")
        assert registry.names == ["the billing queue", "the order status"]
    assert registry.names == ["the order status"]


def test_isolated_restores_replaced_and_removed_registrations(registry: Registry[str]) -> None:
    """A registration replaced or removed inside isolated() is back as it was afterwards."""
    registry.register("the order status", "original")
    registry.register("the billing queue", "queue")
    with registry.isolated():
        registry.register("the order status", "replacement", replace=True)
        registry.unregister("the billing queue")
    assert registry.resolve("the order status").item == "original"
    assert "the billing queue" in registry


def test_isolated_restores_even_when_the_block_fails(registry: Registry[str]) -> None:
    """An exception in the block does not leave temporary registrations behind."""

    def register_then_fail() -> None:
        with registry.isolated():
            registry.register("the order status", "status")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        register_then_fail()
    assert registry.names == []
