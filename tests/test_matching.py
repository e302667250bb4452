"""Typed values and markers, comparison with hints, field paths, JSON and table matching."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from asyncbdd.errors import InvalidInput
from asyncbdd.matching import (
    MISSING,
    Marker,
    Mismatch,
    field_value,
    json_expectation,
    json_mismatches,
    mismatch_hint,
    parse_json_document,
    parse_marker,
    parse_value,
    same_value,
    show_value,
    table_mismatches,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("97", 97),
        ("-3", -3),
        ("+5", 5),
        ("99.99", 99.99),
        (".5", 0.5),
        ("1e3", 1000.0),
        ('"97"', "97"),
        ("'97'", "97"),
        ('"true"', "true"),
        ('""', ""),
        ("true", True),
        ("False", False),
        ("null", None),
        ("None", None),
        ("pending", "pending"),
        ("  spaced out  ", "spaced out"),
        ('"  kept  "', "  kept  "),
        ("[1, 2]", [1, 2]),
        ('{"order_id": "ord-1", "amount": 99.99}', {"order_id": "ord-1", "amount": 99.99}),
        ("{not json", "{not json"),
        ('"', '"'),
        ("NaN", "NaN"),
    ],
)
def test_parse_value_reads_typed_values(text: str, value: object) -> None:
    """Bare numbers are numbers, quoted text is text, true/false/null are literals."""
    parsed = parse_value(text)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        (97, 97),
        (97, 97.0),
        (97, Decimal("97.0")),
        (99.99, Decimal("99.99")),
        (99.99, 99.99),
        (0.5, Decimal("0.50")),
        ("97", "97"),
        ("pending", "pending"),
        (True, True),
        (None, None),
        ("2024-01-31", dt.date(2024, 1, 31)),
        ("10:30:00", dt.time(10, 30)),
        ("2024-01-31T10:30:00", dt.datetime(2024, 1, 31, 10, 30)),
        ([1, 2], [1, 2]),
        ({"a": 1}, {"a": 1}),
    ],
)
def test_same_value_accepts_what_the_feature_asks_for(expected: object, actual: object) -> None:
    """Numbers compare by numeric value, dates and times by ISO text, the rest by equality."""
    assert same_value(expected, actual)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("97", 97),
        (97, "97"),
        (True, 1),
        (1, True),
        (False, 0),
        (0, False),
        (None, "None"),
        ("None", None),
        (99.99, 99.98),
        ("pending", "Pending"),
        ("2024-01-31", dt.date(2024, 2, 1)),
        ([1, 2], (1, 2)),
    ],
)
def test_same_value_respects_types(expected: object, actual: object) -> None:
    """Text never equals a number, booleans never equal 0/1, and None is not "None"."""
    assert not same_value(expected, actual)


def test_same_value_accepts_a_datetime_written_with_a_space() -> None:
    """A datetime matches its text with a space as well as with a "T" between date and time."""
    assert same_value("2024-01-31 10:30:00", dt.datetime(2024, 1, 31, 10, 30))


@pytest.mark.parametrize(
    ("expected", "actual", "hint"),
    [
        ("97", 97, "the value is the number 97; write it without quotes to expect a number"),
        (97, "97", "the value is the text '97'; write it in quotes (\"97\")"),
        (99.99, "99.99", "the value is the text '99.99'; write it in quotes (\"99.99\")"),
        (None, "None", "the value is the text 'None'; write it in quotes (\"None\")"),
    ],
)
def test_mismatch_hint_explains_a_near_miss_of_types(
    expected: object, actual: object, hint: str
) -> None:
    """When text and number spell the same, the hint says how to write the expectation."""
    assert mismatch_hint(expected, actual) == hint


@pytest.mark.parametrize(
    ("expected", "actual"),
    [("97", 98), (97, "98"), ("paid", "pending"), (97, 97), ("97", "97"), (None, None)],
)
def test_mismatch_hint_stays_silent_without_a_type_mix_up(expected: object, actual: object) -> None:
    """A plain difference, or no difference, gets no hint."""
    assert mismatch_hint(expected, actual) is None


def test_mismatch_hint_does_not_call_a_boolean_a_number() -> None:
    """A boolean read against quoted text is not described as a number."""
    hint = mismatch_hint("True", True)
    assert hint is None or "number" not in hint


def test_mismatch_hint_shows_a_decimal_as_a_plain_number() -> None:
    """A Decimal from a NUMERIC column is shown as the number a feature would write."""
    assert mismatch_hint("99.99", Decimal("99.99")) == (
        "the value is the number 99.99; write it without quotes to expect a number"
    )


# Markers


@pytest.mark.parametrize(
    "text",
    [
        "<any>",
        "<any text>",
        "<any number>",
        "<uuid>",
        r"<regex:ord-\d+>",
        "<near:99.99±0.01>",
        "<near:99.99+-0.01>",
        "<near: -5 ± 1>",
    ],
)
def test_parse_value_reads_a_marker_and_shows_it_as_written(text: str) -> None:
    """A bare marker in a cell becomes a Marker, shown in messages exactly as it was written."""
    marker = parse_value(f"  {text}  ")
    assert isinstance(marker, Marker)
    assert show_value(marker) == text
    assert str(marker) == text


@pytest.mark.parametrize(
    "text",
    ['"<any>"', "'<uuid>'", "<b>bold</b>", "<html>", "<none>", "<b>", "<>", "a <any>", "<any"],
)
def test_parse_value_keeps_quoted_markers_and_other_angle_brackets_as_text(text: str) -> None:
    """Quoted markers and angle-bracket text that is not marker-like stay literal text."""
    value = parse_value(text)
    assert isinstance(value, str)


@pytest.mark.parametrize(
    ("marker", "actual"),
    [
        ("<any>", None),
        ("<any>", 0),
        ("<any>", ""),
        ("<any>", False),
        ("<any>", []),
        ("<any text>", ""),
        ("<any text>", "pending"),
        ("<any number>", 97),
        ("<any number>", -0.5),
        ("<any number>", Decimal("99.99")),
        ("<uuid>", "123e4567-e89b-12d3-a456-426614174000"),
        ("<uuid>", "123E4567-E89B-12D3-A456-426614174000"),
        ("<uuid>", uuid.UUID("123e4567-e89b-12d3-a456-426614174000")),
        (r"<regex:ord-\d+>", "ord-12"),
        (r"<regex:(?P<id>\d+)>", "12"),
        ("<regex:a>b>", "a>b"),
        ("<regex:>", ""),
        ("<near:99.99±0.01>", 99.99),
        ("<near:99.99±0.01>", 99.98),
        ("<near:99.99±0.01>", 100),
        ("<near:99.99+-0.01>", Decimal("99.995")),
        ("<near:-5±1>", -4),
        ("<near:7±0>", 7.0),
    ],
)
def test_same_value_honours_markers(marker: str, actual: object) -> None:
    """Each marker accepts the family of values it names."""
    assert same_value(parse_value(marker), actual)


@pytest.mark.parametrize(
    ("marker", "actual"),
    [
        ("<any>", MISSING),
        ("<any text>", 97),
        ("<any text>", None),
        ("<any number>", "97"),
        ("<any number>", True),
        ("<any number>", None),
        ("<uuid>", "not-a-uuid"),
        ("<uuid>", "123e4567e89b12d3a456426614174000"),
        ("<uuid>", "{123e4567-e89b-12d3-a456-426614174000}"),
        ("<uuid>", 97),
        (r"<regex:ord-\d+>", "xord-12"),
        (r"<regex:ord-\d+>", "ord-12x"),
        (r"<regex:\d+>", 12),
        ("<near:99.99±0.01>", 100.001),
        ("<near:99.99±0.01>", 99.979),
        ("<near:99.99±0.01>", "99.99"),
        ("<near:1±1>", True),
        ("<near:1±1>", float("nan")),
    ],
)
def test_same_value_rejects_what_a_marker_does_not_name(marker: str, actual: object) -> None:
    """Markers respect types: text is not a number, a missing field is not "anything"."""
    assert not same_value(parse_value(marker), actual)


def test_same_value_compares_marker_text_as_plain_text() -> None:
    """A marker written as a plain string is compared literally, whatever it looks like."""
    assert not same_value("<any>", "x")
    assert not same_value("<anything>", "x")
    assert same_value("<anything>", "<anything>")


@pytest.mark.parametrize(
    "text",
    ["<anything>", "<any string>", "<any_text>", "<ANY>", "<uuid4>", "<regex>", "<nearly>"],
)
def test_parse_value_rejects_an_unknown_marker(text: str) -> None:
    """A marker-like form that is not a marker is an error that lists the markers."""
    with pytest.raises(InvalidInput, match="Markers are: <any>, <any text>"):
        parse_value(text)


def test_unknown_marker_message_names_the_input_and_the_fix() -> None:
    """The message quotes the unknown marker, lists the real ones and says how to keep text."""
    with pytest.raises(InvalidInput) as error:
        parse_value(" <anything> ")
    assert str(error.value) == (
        "Unknown marker <anything>. Markers are: <any>, <any text>, <any number>, <uuid>, "
        "<regex:PATTERN>, <near:NUMBER±TOLERANCE>. "
        'To expect the text itself, write it in quotes: "<anything>".'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<near:5>", "Malformed marker <near:5>: write <near:NUMBER±TOLERANCE>"),
        ("<near:5±-1>", "Malformed marker <near:5±-1>: write <near:NUMBER±TOLERANCE>"),
        ("<near:abc±1>", "Malformed marker <near:abc±1>: write <near:NUMBER±TOLERANCE>"),
        ("<regex:(>", r"Marker <regex:\(> has an invalid pattern: missing \)"),
    ],
)
def test_a_malformed_marker_says_what_is_wrong(text: str, message: str) -> None:
    """A near marker without a tolerance, or a broken pattern, is explained."""
    with pytest.raises(InvalidInput, match=message):
        parse_value(text)


def test_parse_marker_leaves_other_text_alone() -> None:
    """Text that is not marker-like is not a marker, and its spaces count."""
    assert parse_marker("<b>bold</b>") is None
    assert parse_marker("pending") is None
    assert parse_marker(" <any>") is None


# Field paths

ORDER = {
    "order": {
        "id": "ord-1",
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": None}],
        "note": None,
    },
    "tags": ["new", "paid"],
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("order.id", "ord-1"),
        ("order.items[0].sku", "A-1"),
        ("order.items[1].sku", "B-2"),
        ("order.items[-1].sku", "B-2"),
        ("order.items[1].qty", None),
        ("order.note", None),
        ("tags[1]", "paid"),
        (" tags[0] ", "new"),
        ("order", ORDER["order"]),
    ],
)
def test_field_value_follows_dotted_and_indexed_paths(path: str, value: object) -> None:
    """Names are joined by dots, list positions are written in brackets, negatives count back."""
    assert field_value(ORDER, path) == value


@pytest.mark.parametrize(
    "path",
    [
        "status",
        "order.status",
        "order.items[2].sku",
        "order.items[-3]",
        "order.items.sku",
        "order.id.length",
        "order[0]",
        "order.note.text",
        "tags[0].name",
    ],
)
def test_field_value_reports_a_missing_field_as_missing(path: str) -> None:
    """An absent key, an index out of range or a step into a scalar is MISSING, not None."""
    assert field_value(ORDER, path) is MISSING


def test_field_value_reads_an_index_at_the_top_of_a_list() -> None:
    """A document that is a list is indexed from the start of the path."""
    assert field_value([{"sku": "A-1"}], "[0].sku") == "A-1"


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a.", "a[x]", "a[0", "a]", "a[0]b", "[]"])
def test_field_value_rejects_a_malformed_path(path: str) -> None:
    """A path that is not names and [index] parts is an error showing the expected form."""
    with pytest.raises(InvalidInput, match=r"e\.g\. order\.items\[0\]\.sku"):
        field_value(ORDER, path)


def test_field_path_message_points_at_the_problem() -> None:
    """The message quotes the path and says where it stops making sense."""
    with pytest.raises(InvalidInput) as error:
        field_value(ORDER, "order.items[x].sku")
    assert str(error.value) == (
        "Invalid field path 'order.items[x].sku': cannot read '[x].sku' after 'order.items'. "
        "Write names joined by dots and list positions in brackets, e.g. order.items[0].sku."
    )


# JSON subset matching

PAYMENT = {
    "order_id": "ord-1",
    "amount": 99.99,
    "status": "completed",
    "customer": {"id": "c-7", "tier": "gold"},
    "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
}


def test_json_mismatches_accepts_a_nested_subset() -> None:
    """Extra fields at any depth are allowed; numbers compare by value."""
    expected = {
        "amount": Decimal("99.99"),
        "customer": {"id": "c-7"},
        "items": [{"sku": "A-1"}, {"qty": 1.0}],
    }
    assert json_mismatches(expected, PAYMENT) == []


def test_json_mismatches_names_each_difference_by_path() -> None:
    """A wrong value, a missing field and a nested difference each get a line with their path."""
    expected = {
        "amount": 9999,
        "currency": "EUR",
        "items": [{"sku": "A-1"}, {"sku": "C-3"}],
    }
    assert [str(m) for m in json_mismatches(expected, PAYMENT)] == [
        "amount: expected 9999, got 99.99",
        "currency: missing (expected 'EUR')",
        "items[1].sku: expected 'C-3', got 'B-2'",
    ]


def test_json_mismatches_keeps_the_values_on_each_mismatch() -> None:
    """A Mismatch carries the path, both values (MISSING when absent) and its reason."""
    assert json_mismatches({"customer": {"email": "a@b"}}, PAYMENT) == [
        Mismatch("customer.email", "a@b", MISSING, "missing (expected 'a@b')")
    ]


def test_json_mismatches_explains_a_string_against_a_number() -> None:
    """Text against a number of the same spelling gets the hint to drop the quotes."""
    (mismatch,) = json_mismatches({"qty": "97"}, {"qty": 97})
    assert str(mismatch) == (
        "qty: expected '97', got 97; "
        "the value is the number 97; write it without quotes to expect a number"
    )


def test_json_mismatches_in_exact_mode_reports_extra_fields_at_any_depth() -> None:
    """With exact=True, fields the expectation does not name are mismatches too."""
    expected = {
        "order_id": "ord-1",
        "amount": 99.99,
        "status": "completed",
        "customer": {"id": "c-7"},
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
    }
    assert [str(m) for m in json_mismatches(expected, PAYMENT, exact=True)] == [
        "customer.tier: unexpected field with value 'gold'"
    ]
    assert json_mismatches(PAYMENT, PAYMENT, exact=True) == []


def test_json_mismatches_requires_lists_of_equal_length() -> None:
    """Lists match element by element, so a missing or extra element is a length mismatch."""
    (mismatch,) = json_mismatches({"items": [{"sku": "A-1"}]}, PAYMENT)
    assert str(mismatch) == (
        "items: expected 1 item, got 2: [{'sku': 'A-1', 'qty': 2}, {'sku': 'B-2', 'qty': 1}]"
    )
    (mismatch,) = json_mismatches({"tags": ["a", "b"]}, {"tags": []})
    assert str(mismatch) == "tags: expected 2 items, got 0: []"


@pytest.mark.parametrize(
    ("expected", "actual", "message"),
    [
        (
            {"customer": {"id": "c-7"}},
            {"customer": "c-7"},
            "customer: expected an object, got 'c-7'",
        ),
        ({"customer": {"id": "c-7"}}, {"customer": None}, "customer: expected an object, got None"),
        ({"items": [1]}, {"items": {"0": 1}}, "items: expected a list, got {'0': 1}"),
        ({"items": [1]}, {"items": "1"}, "items: expected a list, got '1'"),
        ({"note": None}, {"note": "x"}, "note: expected None, got 'x'"),
        ({"a": 1}, [1], "the document: expected an object, got [1]"),
        (5, 6, "the document: expected 5, got 6"),
    ],
)
def test_json_mismatches_reports_a_change_of_shape(
    expected: object, actual: object, message: str
) -> None:
    """An object where a scalar came, or a list where an object came, says which shape it wanted."""
    assert [str(m) for m in json_mismatches(expected, actual)] == [message]


def test_json_mismatches_reads_markers_in_json_strings() -> None:
    """Markers written as JSON strings match by kind and show bare in messages."""
    expected = {
        "order_id": r"<regex:ord-\d+>",
        "amount": "<near:90±5>",
        "customer": "<any>",
        "status": "<any number>",
        "coupon": "<any>",
    }
    assert [str(m) for m in json_mismatches(expected, PAYMENT)] == [
        "amount: expected <near:90±5>, got 99.99",
        "status: expected <any number>, got 'completed'",
        "coupon: missing (expected <any>)",
    ]


def test_json_mismatches_keeps_other_angle_bracket_text_literal() -> None:
    """HTML-like text in an expectation is compared as the text it is."""
    assert json_mismatches({"note": "<b>bold</b>"}, {"note": "<b>bold</b>"}) == []
    assert len(json_mismatches({"note": "<b>bold</b>"}, {"note": "bold"})) == 1


def test_json_mismatches_rejects_an_unknown_marker_with_its_path() -> None:
    """An unknown marker in the expectation is an input error naming where it is."""
    with pytest.raises(InvalidInput, match=r"^In the expected JSON, at items\[0\]\.sku: Unknown"):
        json_mismatches({"items": [{"sku": "<anything>"}]}, PAYMENT)


def test_json_expectation_reads_markers_ahead_of_comparison() -> None:
    """Markers become Marker objects at once, so a typo fails before any waiting."""
    expected = json_expectation({"id": "<uuid>", "tags": ["<any text>", "<b>"]}, "the doc string")
    assert expected == {"id": parse_value("<uuid>"), "tags": [parse_value("<any text>"), "<b>"]}
    assert json_mismatches(expected, {"id": str(uuid.uuid4()), "tags": ["x", "<b>"]}) == []
    with pytest.raises(InvalidInput, match=r"^In the doc string, at tags\[1\]: Unknown marker"):
        json_expectation({"tags": ["x", "<any_text>"]}, "the doc string")


# Tables of fields


def test_table_mismatches_accepts_typed_cells_paths_and_markers() -> None:
    """Cells are typed values or markers, and fields are dotted or indexed paths."""
    rows = [
        ("order_id", "ord-1"),
        ("amount", "99.99"),
        ("customer.tier", '"gold"'),
        ("items[1].sku", "<regex:B-\\d>"),
        ("items[-1].qty", "1"),
        ("status", "<any text>"),
    ]
    assert table_mismatches(rows, PAYMENT) == []


def test_table_mismatches_reports_wrong_and_missing_fields() -> None:
    """Each failing row is a mismatch with its path, including the near-miss hint."""
    rows = [
        ("order_id", "ord-2"),
        ("items[0].qty", '"2"'),
        ("customer.email", "<any>"),
        ("items[5].sku", "A-1"),
    ]
    assert [str(m) for m in table_mismatches(rows, PAYMENT)] == [
        "order_id: expected 'ord-2', got 'ord-1'",
        "items[0].qty: expected '2', got 2; "
        "the value is the number 2; write it without quotes to expect a number",
        "customer.email: missing (expected <any>)",
        "items[5].sku: missing (expected 'A-1')",
    ]


def test_table_mismatches_matches_json_cells_as_subsets() -> None:
    """A cell holding a JSON object is matched as a subset, its differences named by full path."""
    rows = [("customer", '{"id": "c-7"}'), ("items[0]", '{"sku": "<any text>", "qty": 3}')]
    assert [str(m) for m in table_mismatches(rows, PAYMENT)] == ["items[0].qty: expected 3, got 2"]


def test_table_mismatches_rejects_a_malformed_path() -> None:
    """A malformed field path in a table is an input error, not a mismatch."""
    with pytest.raises(InvalidInput, match="Invalid field path 'items\\[\\]'"):
        table_mismatches([("items[]", "1")], PAYMENT)


# JSON documents from features

WHAT = 'the doc string of step "When "order.created" is published with"'


def test_parse_json_document_reads_a_json_document() -> None:
    """A well-formed document is returned as Python values."""
    assert parse_json_document('{\n  "order_id": "ord-1",\n  "amount": 99.99\n}\n', WHAT) == {
        "order_id": "ord-1",
        "amount": 99.99,
    }


@pytest.mark.parametrize("text", ["", "   \n  "])
def test_parse_json_document_rejects_empty_text(text: str) -> None:
    """An empty document is an error that says so."""
    with pytest.raises(InvalidInput) as error:
        parse_json_document(text, WHAT)
    assert str(error.value) == (
        f'No JSON in {WHAT}: it is empty. Write one JSON value there, e.g. {{"order_id": "ord-1"}}.'
    )


def test_parse_json_document_points_at_single_quotes() -> None:
    """The message names the place, quotes the line with a caret and hints at double quotes."""
    text = '{\n  "order_id": "ord-1",\n  \'amount\': 99.99\n}'
    with pytest.raises(InvalidInput) as error:
        parse_json_document(text, WHAT)
    assert str(error.value) == (
        f"Invalid JSON in {WHAT} at line 3, column 3: "
        "expecting property name enclosed in double quotes\n"
        "      'amount': 99.99\n"
        "      ^\n"
        "Hint: JSON puts text and keys in double quotes: write \"amount\", not 'amount'."
    )


def test_parse_json_document_points_at_a_trailing_comma() -> None:
    """A comma before a closing bracket is pointed at and named."""
    with pytest.raises(InvalidInput) as error:
        parse_json_document('{"items": [1, 2,]}', WHAT)
    assert str(error.value) == (
        f"Invalid JSON in {WHAT} at line 1, column 16: a comma after the last item\n"
        '    {"items": [1, 2,]}\n'
        "                   ^\n"
        "Hint: JSON allows none; remove it."
    )


def test_parse_json_document_points_at_a_trailing_comma_on_an_earlier_line() -> None:
    """A trailing comma is pointed at on its own line, not at the bracket that follows it."""
    with pytest.raises(InvalidInput) as error:
        parse_json_document('{\n  "amount": 99.99,\n}', WHAT)
    assert str(error.value).splitlines()[:3] == [
        f"Invalid JSON in {WHAT} at line 2, column 18: a comma after the last item",
        '      "amount": 99.99,',
        "                     ^",
    ]


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ('{"a": 1, }', "a comma after the last item\n"),
        ("{order_id: 1}", 'Hint: JSON keys need double quotes: write "order_id".'),
        ('{"paid": True}', "Hint: write true, false and null, not Python's True, False and None."),
        ('{"note": None}', "Hint: write true, false and null, not Python's True, False and None."),
        ('{"a": 1} {"b": 2}', "Hint: a document holds one value; put several in a list"),
        ('{"a": 1 "b": 2}', "Hint: a comma is missing between two items"),
        ('{"a": [1, 2}', "Hint: a comma is missing between two items"),
        ('{"a": "x}', "Hint: close the text with a double quote"),
        ('{"a": "x\ny"}', "Hint: JSON text cannot hold a line break or tab; write \\n or \\t"),
        ('// order\n{"a": 1}', "Hint: JSON has no comments; remove them."),
        ('{"a" 1}', 'Hint: a colon must follow each key: "key": value.'),
    ],
)
def test_parse_json_document_hints_at_common_mistakes(text: str, hint: str) -> None:
    """Common slips (Python literals, unquoted keys, a stray comma) get a hint."""
    with pytest.raises(InvalidInput) as error:
        parse_json_document(text, WHAT)
    assert hint in str(error.value)


def test_parse_json_document_points_at_the_end_of_a_cut_document() -> None:
    """A document that ends too early is pointed at after its last character."""
    with pytest.raises(InvalidInput) as error:
        parse_json_document('{\n  "a": [1, 2\n\n', WHAT)
    assert str(error.value) == (
        f"Invalid JSON in {WHAT} at line 2, column 13: the document ends too early\n"
        '      "a": [1, 2\n'
        "                ^\n"
        "Hint: finish the last value and close every { and [ that is open."
    )


def test_parse_json_document_shows_a_window_of_a_long_line() -> None:
    """A long line is cut around the error so the caret stays readable."""
    text = "[" + ", ".join(str(n) for n in range(100)) + ", 'x']"
    with pytest.raises(InvalidInput) as error:
        parse_json_document(text, WHAT)
    quoted, caret = str(error.value).splitlines()[1:3]
    assert quoted.startswith("    ...")
    assert len(quoted) <= 4 + 3 + 100 + 3
    assert quoted[caret.index("^")] == "'"
