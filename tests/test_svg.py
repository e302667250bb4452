"""The pictures of evidence: well-formed, self-contained SVG that shows what went wrong.

Each picture is drawn for crafted evidence and parsed with ``xml.etree``: the marks
(missing, out of order, duplicate, unexpected) are there as distinct symbols with a
legend, labels stay readable (12 px or more, cut with an ellipsis and a tooltip when
long), and no secret planted in a URL or a header reaches the picture.
"""

from __future__ import annotations

import itertools
from xml.etree import ElementTree

import pytest

from asyncbdd.evidence import (
    ArrivalEntry,
    ChannelArrivals,
    DiffRow,
    Evidence,
    ExpectedEvent,
    Polling,
    SnapshotChange,
    TimelineEvent,
    TraceTimeline,
    ValueRun,
)
from asyncbdd.evidence.svg import CHAR_WIDTH, FONT_SIZE, WIDTH

SVG = "{http://www.w3.org/2000/svg}"
SECRET = "s3cr3t-value-42"


def parsed(svg: str) -> ElementTree.Element:
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("width") == str(WIDTH)
    return root


def shown(node: ElementTree.Element) -> str:
    """The text a <text> element shows (its tooltip left out)."""
    return (node.text or "") + "".join(child.tail or "" for child in node)


def texts(root: ElementTree.Element) -> list[str]:
    return [shown(node) for node in root.iter(f"{SVG}text")]


def marks(root: ElementTree.Element, part: str = "item") -> list[str]:
    """The marks drawn on items (``expected``: beside the lanes; ``legend``: explained)."""
    return [
        node.get("data-mark", "")
        for node in root.iter(f"{SVG}g")
        if node.get("data-mark") and node.get("data-part") == part
    ]


def assert_readable(root: ElementTree.Element) -> None:
    for node in root.iter(f"{SVG}text"):
        assert int(node.get("font-size", "0")) >= 12
    for node in root.iter():
        for name in ("href", "{http://www.w3.org/1999/xlink}href"):
            assert node.get(name) is None, "a picture refers to nothing outside itself"


def trace_evidence() -> Evidence:
    timeline = TraceTimeline(
        correlation_id="corr-1",
        store="the trace table trace_events",
        order_by="sequence",
        events=(
            TimelineEvent(0.0, 1, "orders", "order.created"),
            TimelineEvent(52.0, 2, "payments", "payment.initiated"),
            TimelineEvent(101.0, 3, "inventory", "inventory.reserved", "out of order"),
            TimelineEvent(130.0, 4, "payments", "payment.completed"),
            TimelineEvent(180.0, 5, "payments", "payment.completed", "duplicate"),
            TimelineEvent(220.0, 6, "audit", "audit.logged", "unexpected"),
        ),
        expected=(
            ExpectedEvent("order.created"),
            ExpectedEvent("payment.initiated"),
            ExpectedEvent("payment.completed"),
            ExpectedEvent("inventory.reserved"),
            ExpectedEvent("notification.sent", missing=True),
        ),
        deadline_ms=5000.0,
    )
    return Evidence(
        awaited="the trace contains, in order: ...",
        pattern="trace",
        passed=False,
        timeout=5.0,
        elapsed=5.0,
        reason="the deadline passed",
        sections=(timeline,),
    )


def arrivals_evidence() -> Evidence:
    billing = ChannelArrivals(
        channel="queue",
        key="billing",
        description=f"SQS queue 'billing' at https://user:{SECRET}@sqs.local/q?token={SECRET}",
        noun="message",
        expectation="exactly 2 with amount = 10",
        expected_count=2,
        exactly=True,
        filtered=True,
        arrivals=(
            ArrivalEntry(0.12, '{"amount": 10}', matched=True),
            ArrivalEntry(
                0.30,
                f'{{"amount": 99, "callback": "https://x.test/cb?access_token={SECRET}"}}',
                matched=False,
                problems=("amount: expected 10, got 99",),
            ),
        ),
    )
    hooks = ChannelArrivals(
        channel="webhook",
        key="payment-complete",
        description="webhook receiver payment-complete",
        noun="call",
        expectation="exactly 1",
        expected_count=1,
        exactly=True,
        filtered=False,
        arrivals=(
            ArrivalEntry(0.5, "POST /hooks/payment-complete " + "x" * 300, matched=True),
            ArrivalEntry(0.6, "POST /hooks/payment-complete (retry)", matched=True),
        ),
    )
    return Evidence(
        awaited="the billing queue receives 2 messages",
        pattern="arrivals",
        passed=False,
        timeout=1.0,
        elapsed=1.0,
        reason="the deadline passed",
        sections=(billing, hooks),
    )


def test_trace_swimlanes_mark_every_kind_of_wrong_event_and_the_deadline() -> None:
    [picture] = trace_evidence().pictures()
    root = parsed(picture.svg)
    assert_readable(root)
    labels = texts(root)
    for lane in ("orders", "payments", "inventory", "audit"):
        assert lane in labels
    assert {"out of order", "duplicate", "unexpected", "arrived"} <= set(marks(root))
    assert marks(root, "expected").count("missing") == 1
    assert "5. notification.sent (missing)" in labels
    assert any(text.startswith("deadline 5 s") for text in labels)
    for legend in ("out of order", "duplicate", "unexpected", "missing"):
        assert legend in marks(root, "legend"), f"no legend for {legend}"
        assert legend in labels


def test_arrival_swimlanes_show_missing_extra_and_non_matching_arrivals() -> None:
    [picture] = arrivals_evidence().pictures()
    root = parsed(picture.svg)
    assert_readable(root)
    labels = texts(root)
    assert "queue billing" in labels
    assert "webhook payment-complete" in labels
    found = marks(root)
    assert found.count("missing") == 1  # billing: 1 of 2 matching
    assert "not matching" in found
    assert "duplicate" in found
    assert any(text.startswith("deadline 1 s") for text in labels)


def test_long_labels_end_in_an_ellipsis_with_the_full_text_in_a_tooltip() -> None:
    [picture] = arrivals_evidence().pictures()
    root = parsed(picture.svg)
    cut = [node for node in root.iter(f"{SVG}text") if shown(node).endswith("\u2026")]
    assert cut
    for node in cut:
        title = node.find(f"{SVG}title")
        assert title is not None
        assert len(title.text or "") > len(shown(node))
    assert any("x" * 300 in (node.findtext(f"{SVG}title") or "") for node in cut)


def test_labels_of_items_close_in_time_do_not_overlap() -> None:
    crowd = ChannelArrivals(
        channel="queue",
        key="busy",
        description="queue busy",
        noun="message",
        expectation="exactly 1",
        expected_count=1,
        exactly=True,
        filtered=False,
        arrivals=tuple(
            ArrivalEntry(0.001 * n, f"message number {n}", matched=True) for n in range(8)
        ),
    )
    evidence = Evidence("x", "queue", False, 1.0, 1.0, "r", sections=(crowd,))
    root = parsed(evidence.pictures()[0].svg)
    boxes = []
    for node in root.iter(f"{SVG}text"):
        text = shown(node)
        if "message number" not in text:
            continue
        x, y = float(node.get("x", "0")), float(node.get("y", "0"))
        boxes.append((y, x, x + len(text) * FONT_SIZE * CHAR_WIDTH))
    rows: dict[float, list[tuple[float, float]]] = {}
    for y, start, end in boxes:
        rows.setdefault(y, []).append((start, end))
    assert len(rows) > 1, "items close together go on rows of their own"
    for spans in rows.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_value_history_chart_has_a_band_per_value_and_the_deadline() -> None:
    polling = Polling(
        attempts=9,
        interval="every 100 ms",
        last_interval=0.1,
        last_value="'paid'",
        history=(
            ValueRun("'pending'", 0.0, 0.2, 3),
            ValueRun("'paid'", 0.3, 0.5, 3),
            ValueRun("'refunded'", 0.6, 0.6, 1),
            ValueRun("'paid'", 0.7, 0.9, 2),
        ),
    )
    evidence = Evidence(
        "the order status becomes 'shipped'", "poll", False, 1.0, 1.0, "the deadline passed",
        sections=(polling,),
    )  # fmt: skip
    [picture] = evidence.pictures()
    root = parsed(picture.svg)
    assert_readable(root)
    values = [t for t in texts(root) if t.startswith("'")]
    assert values == ["'pending'", "'paid'", "'refunded'"]
    runs = [node for node in root.iter(f"{SVG}rect") if node.get("class") == "run"]
    assert len(runs) == 4
    assert any(text.startswith("deadline 1 s") for text in texts(root))


def test_snapshot_diff_table_shows_each_cell_with_its_verdict() -> None:
    change = SnapshotChange(
        "the inventory (table inventory)",
        (
            DiffRow("product_id='prod-789'", "quantity", "100", "96", "changed", "unexpected"),
            DiffRow("product_id='prod-789'", "status", "'ok'", "'low'", "changed", "expected"),
            DiffRow("", "quantity", "100", "97", "expected", "missing"),
            DiffRow("product_id='prod-999'", "(row)", "", "quantity: 5", "inserted", "unexpected"),
        ),
    )
    evidence = Evidence("x", "snapshot", False, None, 0.0, "r", sections=(change,))
    [picture] = evidence.pictures()
    root = parsed(picture.svg)
    assert_readable(root)
    labels = set(texts(root))
    assert {"row", "column", "before", "after", "verdict"} <= labels
    assert {"100", "96", "97", "inserted"} <= labels
    verdicts = [node.get("data-verdict") for node in root.iter(f"{SVG}rect")]
    assert verdicts.count("unexpected") == 2
    assert "missing" in verdicts
    assert "expected" in verdicts


@pytest.mark.parametrize("make", [trace_evidence, arrivals_evidence])
def test_no_secret_reaches_a_picture_or_the_json(make: object) -> None:
    assert callable(make)
    evidence = make()
    for picture in evidence.pictures():
        assert SECRET not in picture.svg
        parsed(picture.svg)
    assert SECRET not in str(evidence.to_json())


def test_a_passing_wait_without_history_has_no_picture() -> None:
    polling = Polling(attempts=0, interval="x", last_interval=0.0, last_value=None)
    evidence = Evidence("x", "poll", True, 1.0, 0.1, sections=(polling,))
    assert evidence.pictures() == []
