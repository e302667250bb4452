"""Named probes: registration, SQL probes against SQLite, reading, and waiting on values."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from asyncbdd.config import Settings, set_settings
from asyncbdd.database import dispose_engines
from asyncbdd.errors import (
    AsyncBddError,
    ConfigurationError,
    DatabaseUnavailable,
    InvalidInput,
    UnknownName,
    WaitAborted,
    WaitTimeout,
)
from asyncbdd.probes import (
    PROBES,
    expect_never,
    expect_stays,
    expect_value,
    probe,
    read_probe,
    register_probe,
    sql_probe,
)
from asyncbdd.scenario import Scenario, end_scenario, scenario

STATUS_QUERY = "SELECT status FROM orders WHERE id = :order_id"
UNREACHABLE_URL = "postgresql+psycopg://u:secret@127.0.0.1:1/x"


@pytest.fixture(autouse=True)
def isolated_probes() -> Iterator[None]:
    """Probes, settings, scenarios and database engines do not outlive a test."""
    set_settings(Settings(connect_timeout=1.0))
    with PROBES.isolated():
        yield
    end_scenario()
    dispose_engines()
    set_settings(None)


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A SQLite file with an orders table holding order ord-1, pending, 97; its URL."""
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE orders (id TEXT PRIMARY KEY, status TEXT, amount NUMERIC, code TEXT)"
        )
        connection.execute("INSERT INTO orders VALUES ('ord-1', 'pending', 97, '97')")
    connection.close()
    return f"sqlite:///{path}"


@pytest.fixture
def set_status(database: str) -> Callable[[str, str], None]:
    """Change an order's status in the database, as the system under test would."""
    path = database.removeprefix("sqlite:///")

    def update(order_id: str, status: str) -> None:
        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE orders SET status = ? WHERE id = ?", (status, order_id))
        connection.close()

    return update


def sequence(*values: object) -> Callable[[], object]:
    """A probe function returning ``values`` one per call, then the last one forever."""
    remaining = list(values)

    def read() -> object:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return read


# --- registration -----------------------------------------------------------------------


def test_probe_decorator_registers_and_returns_the_function() -> None:
    """@probe registers the function under the phrase and leaves it usable as before."""

    @probe("the answer")
    def answer() -> int:
        return 42

    assert answer() == 42
    assert PROBES.resolve("the answer").item is answer
    assert read_probe("the answer")() == 42


def test_register_probe_refuses_a_second_registration_unless_replacing() -> None:
    """A probe name registers once; replace=True takes it over."""
    register_probe("the answer", lambda: 1)
    with pytest.raises(AsyncBddError, match="already registered"):
        register_probe("the answer", lambda: 2)
    register_probe("the answer", lambda: 3, replace=True)
    assert read_probe("the answer")() == 3


def test_registrations_inside_a_test_do_not_leak() -> None:
    """The isolated registry starts each test without the probes of other tests."""
    assert "the answer" not in PROBES


# --- read_probe ---------------------------------------------------------------------------


def test_read_probe_binds_the_fields_of_the_phrase() -> None:
    """The fields of a pattern are passed to the function as keyword arguments."""

    @probe('the stock of "{product}" in {warehouse}')
    def stock(product: str, warehouse: str) -> str:
        return f"{product}@{warehouse}"

    read = read_probe('the stock of "prod-789" in north')
    assert read() == "prod-789@north"
    assert read.__name__ == 'the stock of "{product}" in {warehouse}'


def test_read_probe_passes_the_current_scenario_to_functions_that_ask() -> None:
    """A function with a ``scenario`` parameter receives the running scenario."""

    @probe("the order id")
    def order_id(scenario: Scenario) -> str:
        return str(scenario.values["order_id"])

    with scenario("checkout") as state:
        state.values["order_id"] = "ord-1"
        assert read_probe("the order id")() == "ord-1"


def test_read_probe_prefers_an_explicit_scenario() -> None:
    """A scenario passed to read_probe() is used instead of the running one."""

    @probe("the scenario name")
    def scenario_name(scenario: Scenario) -> str:
        return scenario.name

    with scenario("running"):
        assert read_probe("the scenario name", Scenario("given"))() == "given"


def test_a_probe_without_scenario_parameter_reads_outside_a_scenario() -> None:
    """A function that does not ask for the scenario needs none to be running."""
    register_probe("the answer", lambda: 42)
    assert read_probe("the answer")() == 42


def test_a_probe_asking_for_the_scenario_outside_one_says_how_to_start_one() -> None:
    """Reading a scenario-bound probe with no scenario running is a clear error."""
    register_probe("the order id", lambda scenario: scenario.values["order_id"])
    with pytest.raises(AsyncBddError, match="No scenario is running"):
        read_probe("the order id")


def test_read_probe_of_an_unknown_phrase_says_how_to_register() -> None:
    """An unknown phrase raises UnknownName that suggests a name and shows sql_probe use."""
    register_probe("the order status", lambda: "pending")
    with pytest.raises(UnknownName) as caught:
        read_probe("the order stauts")
    message = str(caught.value)
    assert "No probe named 'the order stauts' is registered." in message
    assert "Did you mean 'the order status'?" in message
    assert "asyncbdd.sql_probe('the order status', 'SELECT status FROM orders" in message
    assert "@asyncbdd.probe('the order status')" in message


# --- sql_probe ----------------------------------------------------------------------------


def test_sql_probe_binds_parameters_from_the_phrase(database: str) -> None:
    """A :parameter named like a field of the phrase takes the field's value."""
    sql_probe('the status of order "{order_id}"', STATUS_QUERY, database_url=database)
    with scenario("checkout"):
        assert read_probe('the status of order "ord-1"')() == "pending"


def test_sql_probe_binds_parameters_from_scenario_values(database: str) -> None:
    """A :parameter not in the phrase takes the scenario value of that name."""
    sql_probe("the order status", STATUS_QUERY, database_url=database)
    with scenario("checkout") as state:
        state.values["order_id"] = "ord-1"
        state.values["unused"] = {"not": "bindable"}
        assert read_probe("the order status")() == "pending"


def test_sql_probe_prefers_the_phrase_over_scenario_values(database: str) -> None:
    """When both provide a parameter, the phrase's field wins over the scenario's value."""
    sql_probe('the status of order "{order_id}"', STATUS_QUERY, database_url=database)
    with scenario("checkout") as state:
        state.values["order_id"] = "ord-404"
        assert read_probe('the status of order "ord-1"')() == "pending"


def test_sql_probe_binds_the_correlation_id(database: str) -> None:
    """The scenario's ids are parameters too: :correlation_id is bound."""
    sql_probe("the correlation id", "SELECT :correlation_id", database_url=database)
    with scenario("checkout") as state:
        assert read_probe("the correlation id")() == state.correlation_id


def test_sql_probe_reads_none_when_no_row_matches(database: str) -> None:
    """No row means "not there yet": the probe reads None."""
    sql_probe('the status of order "{order_id}"', STATUS_QUERY, database_url=database)
    with scenario("checkout"):
        assert read_probe('the status of order "ord-404"')() is None


def test_sql_probe_reads_the_current_row_each_time(
    database: str, set_status: Callable[[str, str], None]
) -> None:
    """Each read runs the query again and sees committed changes."""
    sql_probe('the status of order "{order_id}"', STATUS_QUERY, database_url=database)
    with scenario("checkout"):
        read = read_probe('the status of order "ord-1"')
        assert read() == "pending"
        set_status("ord-1", "paid")
        assert read() == "paid"


def test_sql_probe_uses_the_configured_database_by_default(database: str) -> None:
    """Without database_url, the probe reads the database of setting asyncbdd.database_url."""
    set_settings(Settings(database_url=database))
    sql_probe('the status of order "{order_id}"', STATUS_QUERY)
    with scenario("checkout"):
        assert read_probe('the status of order "ord-1"')() == "pending"


def test_sql_probe_without_any_database_says_how_to_configure_one() -> None:
    """With no URL given or configured, reading is a ConfigurationError naming the settings."""
    sql_probe('the status of order "{order_id}"', STATUS_QUERY)
    with scenario("checkout"), pytest.raises(ConfigurationError) as caught:
        read_probe('the status of order "ord-1"')()
    message = str(caught.value)
    assert "No database is configured." in message
    assert "asyncbdd.database_url" in message
    assert "ASYNCBDD_DATABASE_URL" in message


def test_a_missing_parameter_names_it_and_the_values_available(database: str) -> None:
    """A :parameter neither phrase nor scenario provides is an error saying how to record it."""
    sql_probe("the order status", STATUS_QUERY, database_url=database)
    with scenario("checkout") as state:
        state.values["customer"] = "c-1"
        with pytest.raises(InvalidInput) as caught:
            read_probe("the order status")()
    assert str(caught.value) == (
        "The query of probe 'the order status' needs :order_id, which neither the phrase "
        "nor the scenario provides. Scenario values: correlation_id, customer, scenario_id. "
        "A step must first record it, e.g. scenario.values['order_id'] = ..."
    )


def test_several_missing_parameters_are_all_named(database: str) -> None:
    """Every missing :parameter is listed, sorted."""
    sql_probe(
        "the line",
        "SELECT 1 FROM orders WHERE id = :order_id AND code = :line_code",
        database_url=database,
    )
    with scenario("checkout"), pytest.raises(InvalidInput, match=r"needs :line_code, :order_id,"):
        read_probe("the line")()


def test_sql_probe_names_are_unique(database: str) -> None:
    """A second sql_probe with the same name fails unless it replaces the first."""
    sql_probe("the order status", STATUS_QUERY, database_url=database)
    with pytest.raises(AsyncBddError, match="already registered"):
        sql_probe("the order status", STATUS_QUERY, database_url=database)
    sql_probe("the order status", "SELECT 'replaced'", database_url=database, replace=True)
    with scenario("checkout"):
        assert read_probe("the order status")() == "replaced"


def test_a_sql_probe_needing_only_phrase_fields_reads_outside_a_scenario(database: str) -> None:
    """A pytest user can read a SQL probe whose parameters all come from the phrase."""
    sql_probe('the status of order "{order_id}"', STATUS_QUERY, database_url=database)
    assert read_probe('the status of order "ord-1"')() == "pending"


# --- database failures --------------------------------------------------------------------


def test_an_unreachable_database_is_named_with_its_password_hidden() -> None:
    """A refused connection is DatabaseUnavailable naming probe and URL, never the password."""
    sql_probe("the remote status", "SELECT 1", database_url=UNREACHABLE_URL)
    with scenario("checkout"), pytest.raises(DatabaseUnavailable) as caught:
        read_probe("the remote status")()
    message = str(caught.value)
    assert "Could not read probe 'the remote status'" in message
    assert "postgresql+psycopg://u:***@127.0.0.1:1/x" in message
    assert "Check that the server is running" in message
    assert "secret" not in message


def test_an_unreachable_database_stops_a_wait_at_once() -> None:
    """A wait on an unreachable database raises DatabaseUnavailable, not a timeout."""
    sql_probe("the remote status", "SELECT 1", database_url=UNREACHABLE_URL)
    with scenario("checkout"), pytest.raises(DatabaseUnavailable) as caught:
        expect_value("the remote status", "paid", timeout=0.2)
    assert not isinstance(caught.value, AssertionError)
    assert "secret" not in str(caught.value)


def test_a_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    """A SQLite path in a missing directory is DatabaseUnavailable naming the file."""
    url = f"sqlite:///{tmp_path}/missing/shop.db"
    sql_probe("the order status", "SELECT 1", database_url=url)
    with scenario("checkout"), pytest.raises(DatabaseUnavailable) as caught:
        read_probe("the order status")()
    assert url in str(caught.value)
    assert "unable to open database file" in str(caught.value)


def test_a_query_error_is_not_blamed_on_the_server(database: str) -> None:
    """A query against a missing table names the probe and the SQL error, not the server."""
    sql_probe("the parcel status", "SELECT status FROM parcels", database_url=database)
    with scenario("checkout"), pytest.raises(AsyncBddError) as caught:
        read_probe("the parcel status")()
    message = str(caught.value)
    assert "'the parcel status'" in message
    assert "no such table: parcels" in message
    assert "server is running" not in message


# --- waiting on a probe ---------------------------------------------------------------------


def test_expect_value_returns_the_value_once_it_is_read() -> None:
    """The wait passes as soon as the probe reads the expected value, and returns it."""
    register_probe("the order status", sequence("pending", "pending", "paid"))
    assert expect_value("the order status", "paid", timeout=0.2) == "paid"


def test_expect_value_compares_numbers_by_value(database: str) -> None:
    """An expected number matches a NUMERIC column read as int, float or Decimal."""
    sql_probe(
        "the order amount", "SELECT amount FROM orders WHERE id = 'ord-1'", database_url=database
    )
    with scenario("checkout"):
        assert expect_value("the order amount", 97.0, timeout=0.2) == 97


def test_expect_value_failure_states_what_was_expected_and_read() -> None:
    """A timeout names the phrase, the expected value and the last value read."""
    register_probe("the order status", lambda: "pending")
    with pytest.raises(WaitTimeout) as caught:
        expect_value("the order status", "paid", timeout=0.05)
    message = str(caught.value)
    assert message.startswith("Waited for: the order status is 'paid'\n")
    assert "Failed because the deadline passed." in message
    assert "last value:  'pending'" in message
    assert "expected 'paid'" in message


@pytest.mark.parametrize(
    ("read", "expected", "hint"),
    [
        (97, "97", "the value is the number 97; write it without quotes to expect a number"),
        ("97", 97, "the value is the text '97'; write it in quotes (\"97\")"),
    ],
)
def test_expect_value_failure_explains_a_type_mix_up(
    read: object, expected: object, hint: str
) -> None:
    """When the value read spells the expected one in another type, the failure says so."""
    register_probe("the order amount", lambda: read)
    with pytest.raises(WaitTimeout) as caught:
        expect_value("the order amount", expected, timeout=0.05)
    assert f"expected {expected!r}; {hint}" in str(caught.value)


def test_expect_value_type_mix_up_from_a_text_column(database: str) -> None:
    """A number expected from a TEXT column gets the advice to write it in quotes."""
    sql_probe("the order code", "SELECT code FROM orders WHERE id = 'ord-1'", database_url=database)
    with scenario("checkout"), pytest.raises(WaitTimeout) as caught:
        expect_value("the order code", 97, timeout=0.05)
    assert 'write it in quotes ("97")' in str(caught.value)


def test_expect_value_uses_the_description_given() -> None:
    """A description (the step's text) replaces the default one in the failure."""
    register_probe("the order status", lambda: "pending")
    with pytest.raises(WaitTimeout, match=r'^Waited for: Then the order status is "paid"\n'):
        expect_value(
            "the order status",
            "paid",
            timeout=0.05,
            description='Then the order status is "paid"',
        )


def test_expect_value_stops_at_once_on_a_value_it_must_never_read() -> None:
    """Reading the ``never`` value aborts the wait before the deadline, naming that value."""
    calls: list[int] = []

    def status() -> str:
        calls.append(1)
        return "pending" if len(calls) < 3 else "failed"

    register_probe("the order status", status)
    with pytest.raises(WaitAborted) as caught:
        expect_value("the order status", "shipped", never="failed", timeout=0.5)
    assert "it reached a state it must never reach: 'failed'" in str(caught.value)
    assert len(calls) == 3


def test_expect_value_waits_on_a_sql_probe(
    database: str, set_status: Callable[[str, str], None]
) -> None:
    """Waiting on a SQL probe sees a committed change on the next check."""
    sql_probe("the order status", STATUS_QUERY, database_url=database)
    set_status("ord-1", "paid")
    with scenario("checkout") as state:
        state.values["order_id"] = "ord-1"
        assert expect_value("the order status", "paid", timeout=0.2) == "paid"


def test_expect_stays_passes_when_the_value_holds() -> None:
    """The value read throughout the window is the expected one: the check returns it."""
    register_probe("the order status", lambda: "pending")
    assert expect_stays("the order status", "pending", during=0.05) == "pending"


def test_expect_stays_fails_when_the_value_changes() -> None:
    """A change during the window fails, naming what was expected and what was read."""
    register_probe("the order status", sequence("pending", "pending", "paid"))
    with pytest.raises(WaitAborted) as caught:
        expect_stays("the order status", "pending", during=0.5)
    message = str(caught.value)
    assert message.startswith("Waited for: the order status stays 'pending'\n")
    assert "it stopped holding after" in message
    assert "last value:  'paid'" in message
    assert "expected 'pending'" in message


def test_expect_stays_explains_a_type_mix_up() -> None:
    """A value that never matched because of quotes gets the quoting hint."""
    register_probe("the order amount", lambda: 97)
    with pytest.raises(WaitAborted) as caught:
        expect_stays("the order amount", "97", during=0.05)
    assert "write it without quotes to expect a number" in str(caught.value)


def test_expect_never_passes_when_the_value_never_appears() -> None:
    """The unwanted value is not read during the window: the check returns the last value."""
    register_probe("the order status", lambda: "pending")
    assert expect_never("the order status", "failed", during=0.05) == "pending"


def test_expect_never_fails_when_the_value_appears() -> None:
    """Reading the unwanted value fails at once, naming it."""
    register_probe("the order status", sequence("pending", "failed"))
    with pytest.raises(WaitAborted) as caught:
        expect_never("the order status", "failed", during=0.5)
    message = str(caught.value)
    assert message.startswith("Waited for: the order status does not become 'failed'\n")
    assert "last value:  'failed'" in message


def test_expect_never_respects_types() -> None:
    """The number 97 is not the text "97": reading 97 while "97" is unwanted passes."""
    register_probe("the order amount", lambda: 97)
    assert expect_never("the order amount", "97", during=0.05) == 97
