"""The catalogue's text: every phrase of asyncbdd's step library, in plain words.

Each :class:`Phrase` is one thing a feature can say, however many step patterns carry it:
``Then within 10 seconds the billing queue receives 1 message`` and ``Then the billing
queue receives 1 message`` are one phrase whose ``within`` part is optional. Its examples
are real step lines; ``tests/test_phrases.py`` checks that each matches exactly one
registered step, and that every registered step is matched by some example, so a step
added without catalogue text fails the tests.

Templates write what a feature fills in as ``<slot>`` and optional words in ``[...]``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AREAS",
    "CATALOGUE",
    "MARKER_RULES",
    "PLACEHOLDER_RULES",
    "SLOTS",
    "VALUE_RULES",
    "Phrase",
]


@dataclass(frozen=True)
class Phrase:
    """One phrase of the vocabulary, as the catalogue shows it."""

    area: str
    """The heading it is listed under (one of :data:`AREAS`)."""
    keyword: str
    """``Given``, ``When`` or ``Then``: where in a scenario it belongs."""
    template: str
    """The phrase in plain words: ``[within <duration>] the <queue> queue receives <count>``."""
    description: str
    """What it does, in a sentence or two, for someone who writes features."""
    examples: tuple[str, ...]
    """Step lines, keyword included, one per written form; the first is the main example."""
    block: str = ""
    """The table or doc string the step needs below it, as the example shows it."""
    without_within: str | None = None
    """How the phrase reads without a deadline: ``""`` (leave ``within <duration>`` out),
    ``"eventually"`` (write that instead); ``None``: the deadline is not optional."""
    defaults: tuple[str, ...] = ()
    """Settings whose values the phrase uses when the feature does not say (setting
    names: ``timeout``, ``grace``, ``settle``, ``max_interval``, ``signature``)."""


AREAS = (
    "Poll and wait",
    "Snapshot comparison",
    "Test data",
    "Queue drain",
    "Callback capture",
    "Trace correlation",
)

SLOTS: tuple[tuple[str, str], ...] = (
    ("<duration>", "10 seconds, 500 ms, 1.5 minutes, 2 s, 1 minute 30 seconds"),
    ("<count>", "a number and a noun: 1 message, 3 messages, no messages, one call, 2 calls"),
    ("<value>", 'a typed value: "pending", 97, 99.99, true, null (see Values below)'),
    ("<probe>", "the name of a probe this project registers (see below), e.g. the order status"),
    (
        "<subject>",
        'a registered snapshot subject, or the "inventory" table [where <column> is <value>]',
    ),
    ("<queue>", 'a queue or topic alias, bare (billing) or quoted ("order.created")'),
    ("<trace>", "a trace name, e.g. the trace for this order"),
    ("<event>", "an event type as the trace records it: payment.completed"),
    ("<receiver>", "any name for a webhook receiver the scenario declares: payment-complete"),
    ("<nth>", "1st, 2nd, 3rd, ... or first ... fifth"),
)
"""What each ``<slot>`` of a template takes."""

VALUE_RULES: tuple[tuple[str, str], ...] = (
    ('"EUR"', 'text (quotes make anything text: "97" is text, not the number 97)'),
    ("EUR", "a bare word is text too"),
    ("3", "a whole number"),
    ("3.5", "a number; 3.5 equals 3.50 and 3.5 stored as a decimal"),
    ("true, false", "yes or no (booleans)"),
    ("null", "no value (none); a missing field is not null"),
    ('{"a": 1}, [1, 2]', "JSON objects and lists, compared as JSON"),
    (
        "{correlation_id}",
        "the scenario's correlation id; placeholders expand in values, tables and doc strings",
    ),
)
"""How a value written in a step or a table cell is read (:func:`asyncbdd.matching.parse_value`)."""

MARKER_RULES: tuple[tuple[str, str], ...] = (
    ("<any>", "any value, null included, but not a missing field"),
    ("<any text>", "any text"),
    ("<any number>", "any number"),
    ("<uuid>", "a UUID"),
    ("<regex:PATTERN>", "text the whole of which matches the regular expression"),
    ("<near:NUMBER±TOLERANCE>", "a number within the tolerance: <near:99.99±0.01> (or +-)"),
)
"""Markers: written bare in a cell or as a whole JSON string, they stand for a kind of
value (:mod:`asyncbdd.matching`); in quotes, a cell is the text itself."""

PLACEHOLDER_RULES: tuple[tuple[str, str], ...] = (
    ("{correlation_id}", "the scenario's own correlation id (one fresh id per scenario)"),
    ("{scenario_id}", "the scenario's id"),
    ("{webhook_url}", "the URL of the receiver the scenario declared last"),
    ("{webhook_url:<receiver>}", "the URL of that receiver"),
    ("{order_id}", "a value a step recorded for the scenario, such as the order it placed"),
)
"""Placeholders expanded in values, table cells and doc strings (:meth:`Scenario.expand`)."""

_TIMEOUT = ("timeout",)
_EXACTLY = ("timeout", "grace")
_POLLED = ("timeout", "max_interval")

_DOC = '  """\n  {"order_id": "{order_id}", "amount": 99.99}\n  """'
_FIELDS = (
    '  | field    | value       |\n  | order_id | "{order_id}" |\n  | amount   | 99.99       |'
)
_EVENTS = "  | event_type        |\n  | order.created     |\n  | payment.completed |"

CATALOGUE: tuple[Phrase, ...] = (
    # Poll and wait ------------------------------------------------------------------
    Phrase(
        "Poll and wait", "Then", "within <duration> <probe> is <value>",
        "Passes as soon as the probe reads the value; fails at the deadline with every "
        "value it read on the way.",
        ('Then within 10 seconds the order status is "pending"',
         'Then eventually the order status is "pending"'),
        without_within="eventually", defaults=_POLLED,
    ),
    Phrase(
        "Poll and wait", "Then", "within <duration> <probe> becomes <value> but never <value>",
        "Waits for the first value, and fails at once if the probe reads the second (a "
        "terminal wrong state) first.",
        ('Then within 10 seconds the order status becomes "shipped" but never "failed"',),
        defaults=("max_interval",),
    ),
    Phrase(
        "Poll and wait", "Then", "within <duration> <probe> is <value> and stays so for <duration>",
        "Waits for the value, then requires it to hold for the whole window; both fit in "
        "the deadline.",
        ('Then within 10 seconds the order status is "paid" and stays so for 1 second',),
        defaults=("max_interval",),
    ),
    Phrase(
        "Poll and wait", "Then",
        "<probe> becomes <value> no sooner than <duration> and within <duration>",
        "Waits for the value; reading it before the minimum time has passed is a failure "
        "(it came too early).",
        ('Then the order status becomes "shipped" no sooner than 50 ms and within 10 seconds',),
        defaults=("max_interval",),
    ),
    Phrase(
        "Poll and wait", "Then", "<probe> stays <value> for <duration>",
        "The probe reads the value now and at every check for the whole window.",
        ('Then the order status stays "pending" for 2 seconds',),
        defaults=("max_interval",),
    ),
    Phrase(
        "Poll and wait", "Then", "<probe> does not become <value> within <duration>",
        "The probe never reads the value during the window; fails at the first check that "
        "does.",
        ('Then the order status does not become "shipped" within 2 seconds',),
        defaults=("max_interval",),
    ),
    Phrase(
        "Poll and wait", "Given", "the scenario fails at once if <probe> becomes <value>",
        "A tripwire: every later wait of the scenario fails at once, naming it, when the "
        "probe reads the value.",
        ('Given the scenario fails at once if the order status becomes "failed"',),
    ),
    # Snapshot comparison ------------------------------------------------------------
    Phrase(
        "Snapshot comparison", "Given", "a snapshot of <subject>",
        "Records the rows the subject names, before the event, to compare with later.",
        ('Given a snapshot of the inventory of product "prod-789"',),
    ),
    Phrase(
        "Snapshot comparison", "Then", "within <duration> <subject> changes",
        "Passes on the first read whose rows differ from the snapshot.",
        ('Then within 10 seconds the inventory of product "prod-789" changes',),
    ),
    Phrase(
        "Snapshot comparison", "Then", "within <duration> <subject> changes to:",
        "The rows changed exactly as the table says and nothing else, and the change held "
        "for the settle window; a wrong change that holds that long fails then.",
        ('Then within 10 seconds the "inventory" table changes to:',),
        block=(
            "  | product_id | column   | before | after |\n"
            "  | prod-789   | quantity | 100    | 97    |"
        ),
        defaults=("settle",),
    ),
    Phrase(
        "Snapshot comparison", "Then", "the <subject words> change is:",
        "Checks the change just seen (by a changes step): the rows are read again until "
        "they settle, up to the default timeout. The words name the snapshot that changed.",
        ("Then the inventory change is:",),
        block="  | column   | before | after |\n  | quantity | 100    | 97    |",
        defaults=("timeout", "settle"),
    ),
    Phrase(
        "Snapshot comparison", "Then", "<subject> does not change within <duration>",
        "The rows stay as the snapshot recorded them for the whole window.",
        ('Then the inventory of product "prod-123" does not change within 2 seconds',),
    ),
    # Test data ----------------------------------------------------------------------
    Phrase(
        "Test data", "Given", 'the "<table>" table has:',
        "Puts the rows below in the table (replacing rows with the same key); they are "
        "put back as they were when the scenario ends.",
        ('Given the "inventory" table has:',),
        block="  | product_id | quantity |\n  | prod-9     | 10       |",
    ),
    Phrase(
        "Test data", "Given", 'the "<table>" table has, kept after the scenario:',
        "As above, but the rows stay after the scenario.",
        ('Given the "inventory" table has, kept after the scenario:',),
        block="  | product_id | quantity |\n  | prod-1     | 5        |",
    ),
    Phrase(
        "Test data", "Given", 'the "<table>" table has no rows where <column> is <value>',
        "Deletes the matching rows; they come back when the scenario ends.",
        ('Given the "inventory" table has no rows where product_id is "prod-9b"',),
    ),
    # Queue drain --------------------------------------------------------------------
    Phrase(
        "Queue drain", "Then", "[within <duration>] the <queue> queue receives <count>",
        "Exactly that many of the scenario's messages arrive, and no other follows within "
        "the grace window. Say topic instead of queue for a Kafka topic.",
        ("Then within 10 seconds the billing queue receives 1 message",
         "Then the billing queue receives 1 message"),
        without_within="", defaults=_EXACTLY,
    ),
    Phrase(
        "Queue drain", "Then",
        "[within <duration>] the <queue>, <queue> and <queue> queues each receive <count>",
        "Each queue receives exactly that many; they are watched at the same time.",
        ("Then within 10 seconds the billing, shipping and inventory queues each receive 1 message",
         "Then the billing, shipping and inventory queues each receive 1 message"),
        without_within="", defaults=_EXACTLY,
    ),
    Phrase(
        "Queue drain", "Then", "within <duration> the <queue> queue receives at least <count>",
        "At least that many arrive before the deadline; more are fine.",
        ('Then within 5 seconds the "order.created" topic receives at least 2 messages',),
    ),
    Phrase(
        "Queue drain", "Then", "the <queue> queue receives no messages within <duration>",
        "No message of the scenario arrives during the window; fails at the first one.",
        ("Then the billing queue receives no messages within 2 seconds",),
    ),
    Phrase(
        "Queue drain", "Then", "[within <duration>] the <queue> queue receives a message with:",
        "A message whose fields (| field | value | rows, paths like order.items[0].sku) or "
        "attributes (| attribute | value |) match the table arrives.",
        ("Then within 10 seconds the billing queue receives a message with:",
         "Then the billing queue receives a message with:"),
        block=_FIELDS, without_within="", defaults=_TIMEOUT,
    ),
    Phrase(
        "Queue drain", "Then",
        "[within <duration>] the <queue> queue receives a message containing:",
        "A message whose JSON body contains the document below (extra fields allowed) "
        "arrives.",
        ("Then within 10 seconds the billing queue receives a message containing:",
         "Then the billing queue receives a message containing:"),
        block=_DOC, without_within="", defaults=_TIMEOUT,
    ),
    Phrase(
        "Queue drain", "Then", "the message's JSON body contains:",
        "The message the last queue step matched contains the document (extra fields "
        "allowed).",
        ("Then the message's JSON body contains:",), block=_DOC,
    ),
    Phrase(
        "Queue drain", "Then", "the message's JSON body is:",
        "The message the last queue step matched is exactly the document.",
        ("Then the message's JSON body is:",), block=_DOC,
    ),
    Phrase(
        "Queue drain", "Then", "the message has:",
        "The last matched message's fields or attributes match the table.",
        ("Then the message has:",), block=_FIELDS,
    ),
    Phrase(
        "Queue drain", "Then", "the message key is <value>",
        "The last matched Kafka message has this key.",
        ('Then the message key is "ord-1"',),
    ),
    Phrase(
        "Queue drain", "Then", 'the message attribute "<name>" is <value>',
        "The last matched message carries this SQS attribute (say header for a Kafka "
        "header).",
        ('Then the message attribute "event_type" is "billing.requested"',),
    ),
    Phrase(
        "Queue drain", "When", '"<queue>" is published with:',
        "Publishes the JSON document below to the topic or queue, with the scenario's "
        "correlation id.",
        ('When "order.created" is published with:',), block=_DOC,
    ),
    Phrase(
        "Queue drain", "When", '"<queue>" is published with key <value>:',
        "Publishes the document with a Kafka key.",
        ('When "order.created" is published with key "ord-1":',), block=_DOC,
    ),
    Phrase(
        "Queue drain", "When", '"<queue>" is published with headers "<name>=<value>, ...":',
        "Publishes the document with Kafka headers (SQS attributes).",
        ('When "order.created" is published with headers "source=web, tenant=acme":',),
        block=_DOC,
    ),
    Phrase(
        "Queue drain", "When",
        '"<queue>" is published with key <value> and headers "<name>=<value>, ...":',
        "Publishes the document with a key and headers.",
        ('When "order.created" is published with key "ord-1" and headers "source=web":',),
        block=_DOC,
    ),
    Phrase(
        "Queue drain", "When", "a message is sent to the <queue> queue with:",
        "Sends the JSON document below to the queue, with the scenario's correlation id.",
        ("When a message is sent to the billing queue with:",), block=_DOC,
    ),
    Phrase(
        "Queue drain", "Given",
        "the scenario fails at once if the <queue> queue receives a message",
        "A tripwire: every later wait fails at once when the queue (a dead-letter queue, an "
        "errors topic) receives a message of the scenario.",
        ("Given the scenario fails at once if the billing queue receives a message",),
    ),
    # Callback capture ---------------------------------------------------------------
    Phrase(
        "Callback capture", "Given", 'a webhook receiver "<receiver>"',
        "Declares a receiver for this scenario that answers 200 at once; its URL is "
        "{webhook_url:<receiver>}.",
        ('Given a webhook receiver "payment-complete"',),
    ),
    Phrase(
        "Callback capture", "Given",
        'a webhook receiver "<receiver>" that fails the first [<n>] call(s) with <status>',
        "The first call (or first n calls) is answered with the status, later ones 200: "
        "to see the system retry.",
        ('Given a webhook receiver "payment-complete" that fails the first call with 500',
         'Given a webhook receiver "payment-complete" that fails the first 2 calls with 503'),
    ),
    Phrase(
        "Callback capture", "Given",
        'a webhook receiver "<receiver>" that answers [<status>] [after <duration>]',
        "Answers with the status (default 200), after the delay if one is given; calls "
        "count when they arrive.",
        ('Given a webhook receiver "payment-complete" that answers 202',
         'Given a webhook receiver "payment-complete" that answers after 2 seconds',
         'Given a webhook receiver "payment-complete" that answers 202 after 2 seconds'),
    ),
    Phrase(
        "Callback capture", "Then", '[within <duration>] the "<receiver>" webhook receives <count>',
        "Exactly that many calls arrive, and no other follows within the grace window. "
        "Every call counts, however it was answered.",
        ('Then within 15 seconds the "payment-complete" webhook receives 1 call',
         'Then the "payment-complete" webhook receives 1 call'),
        without_within="", defaults=_EXACTLY,
    ),
    Phrase(
        "Callback capture", "Then",
        '[within <duration>] the "<receiver>" webhook receives at least <count>',
        "At least that many calls arrive; more are fine.",
        ('Then within 15 seconds the "payment-complete" webhook receives at least 1 call',
         'Then the "payment-complete" webhook receives at least 1 call'),
        without_within="", defaults=_TIMEOUT,
    ),
    Phrase(
        "Callback capture", "Then", 'no call reaches the "<receiver>" webhook within <duration>',
        "No call arrives during the window; fails at the first one.",
        ('Then no call reaches the "payment-complete" webhook within 2 seconds',),
    ),
    Phrase(
        "Callback capture", "Then", "the [<nth>] call's JSON body contains:",
        'The call (the first the last webhook step returned, or "the 2nd call") has a JSON '
        "body containing the document.",
        ("Then the call's JSON body contains:", "Then the 2nd call's JSON body contains:"),
        block=_DOC,
    ),
    Phrase(
        "Callback capture", "Then", "the [<nth>] call's JSON body is:",
        "The call's JSON body is exactly the document.",
        ("Then the call's JSON body is:", "Then the 2nd call's JSON body is:"), block=_DOC,
    ),
    Phrase(
        "Callback capture", "Then", "the [<nth>] call has:",
        "The call's body fields (| field | value |), headers (| header | value |) or query "
        "parameters (| query | value |) match the table.",
        ("Then the call has:", "Then the 2nd call has:"), block=_FIELDS,
    ),
    Phrase(
        "Callback capture", "Then", 'the [<nth>] call\'s header "<name>" is <value>',
        "The call carries this header.",
        ('Then the call\'s header "X-Correlation-Id" is "{correlation_id}"',
         'Then the 2nd call\'s header "X-Correlation-Id" is "{correlation_id}"'),
    ),
    Phrase(
        "Callback capture", "Then", "the [<nth>] call is signed",
        "The call carries a valid HMAC signature of its body.",
        ("Then the call is signed", "Then the 2nd call is signed"),
        defaults=("signature",),
    ),
    # Trace correlation --------------------------------------------------------------
    Phrase(
        "Trace correlation", "Then", "[within <duration>] <trace> contains, in order:",
        "The table's events occur in this order; other events may come between.",
        ("Then within 15 seconds the trace for this order contains, in order:",
         "Then the trace for this order contains, in order:"),
        block=_EVENTS, without_within="", defaults=_TIMEOUT,
    ),
    Phrase(
        "Trace correlation", "Then", "[within <duration>] <trace> contains exactly, in order:",
        "The trace is exactly the table's chain, and nothing more arrives within the grace "
        "window.",
        ("Then within 15 seconds the trace for this order contains exactly, in order:",
         "Then the trace for this order contains exactly, in order:"),
        block=_EVENTS, without_within="", defaults=_EXACTLY,
    ),
    Phrase(
        "Trace correlation", "Then",
        '[within <duration>] [in <trace>] "<event>" occurs before "<event>"',
        "Both events are recorded, the first before the second. Without in <trace>, the "
        "only trace there is.",
        ('Then within 10 seconds "payment.completed" occurs before "shipping.label_created"',
         'Then "payment.completed" occurs before "shipping.label_created"',
         'Then within 10 seconds in the trace for this order "payment.completed" occurs before'
         ' "shipping.label_created"',
         'Then in the trace for this order "payment.completed" occurs before'
         ' "shipping.label_created"'),
        without_within="", defaults=_TIMEOUT,
    ),
    Phrase(
        "Trace correlation", "Then",
        '[within <duration>] [in <trace>] "<event>" occurs within <duration> after "<event>"',
        "The first event follows the second by at most that time (by their timestamps).",
        ('Then within 10 seconds "notification.sent" occurs within 2 seconds after'
         ' "payment.completed"',
         'Then "notification.sent" occurs within 2 seconds after "payment.completed"',
         'Then within 10 seconds in the trace for this order "notification.sent" occurs within 2'
         ' seconds after "payment.completed"',
         'Then in the trace for this order "notification.sent" occurs within 2 seconds after'
         ' "payment.completed"'),
        without_within="", defaults=_TIMEOUT,
    ),
    Phrase(
        "Trace correlation", "Then",
        '[within <duration>] [in <trace>] "<event>" occurs exactly once',
        "The event is recorded once, and no second one follows within the grace window.",
        ('Then within 10 seconds "payment.completed" occurs exactly once',
         'Then "payment.completed" occurs exactly once',
         'Then within 10 seconds in the trace for this order "payment.completed" occurs exactly'
         ' once',
         'Then in the trace for this order "payment.completed" occurs exactly once'),
        without_within="", defaults=_EXACTLY,
    ),
    Phrase(
        "Trace correlation", "Then", '<trace> has no "<event>" event within <duration>',
        "The event is not in the trace and does not appear during the window.",
        ('Then the trace for this order has no "payment.failed" event within 2 seconds',),
    ),
    Phrase(
        "Trace correlation", "Then", 'no "<event>" event occurs within <duration>',
        "As above, in the only trace there is.",
        ('Then no "payment.failed" event occurs within 2 seconds',),
    ),
    Phrase(
        "Trace correlation", "Then", "[within <duration>] these happen in order:",
        "Events on different channels happen in this order: each row names a channel "
        "(trace, webhook, queue or topic, or one a step records, such as http) and what "
        "happened on it.",
        ("Then within 10 seconds these happen in order:", "Then these happen in order:"),
        block=(
            "  | channel | event             |\n  | http    | order accepted    |\n"
            "  | trace   | payment.completed |\n  | webhook | payment-complete  |\n"
            "  | queue   | shipping          |"
        ),
        without_within="", defaults=_TIMEOUT,
    ),
    Phrase(
        "Trace correlation", "Given", 'the scenario fails at once if "<event>" occurs [in <trace>]',
        "A tripwire: every later wait fails at once when the event appears in the trace.",
        ('Given the scenario fails at once if "payment.failed" occurs',
         'Given the scenario fails at once if "payment.failed" occurs in the trace for this order'),
    ),
)  # fmt: skip
"""Every phrase, grouped by area in :data:`AREAS` order."""
