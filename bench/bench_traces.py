"""Trace checks on a SQL store: how soon ``expect_chain`` sees the last event of a chain.

Measured with the real clock, side by side in one run, on SQLite (a file) and, when the
test server answers, on PostgreSQL, each in a table of the run's own:

1. Detection delay: a writer thread (the system under test) inserts a six-event chain
   for the scenario's correlation id, one commit per event, with gaps of 20 to 200 ms
   (fixed seed), while ``expect_chain`` waits for it. The delay is from the last
   commit's return to the wait's return; each sample also records the poll interval in
   force when the commit landed (the pause the wait was in, or the one after the read
   in progress), so the claim "within one poll interval" is checked per sample.
2. Baseline: the seed project's step, ``time.sleep(15)`` and then one look at the table,
   with the same chain written as it sleeps; one sample per database, run beside the
   asyncbdd samples (it sleeps nearly all the time).
"""

from __future__ import annotations

import bisect
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.database import engine_for
from asyncbdd.traces import SqlTraceStore, TraceEvent, expect_chain
from bench.core import Result, median, p90, settings_in_force

__all__ = ["run"]

SEED = 20_240_604
CHAIN = (
    ("order.created", "orders"),
    ("payment.initiated", "payments"),
    ("payment.completed", "payments"),
    ("inventory.reserved", "inventory"),
    ("shipping.label_created", "shipping"),
    ("notification.sent", "notifications"),
)
"""The demo's healthy chain: event type and service, in order."""
EVENTS = [event for event, _ in CHAIN]
GAPS = (0.02, 0.2)
"""Seconds before each event is written (the first counted from the wait's start)."""
SEED_SLEEP = 15.0
"""The seed project's fixed sleep before it looked at the trace, in seconds."""
POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WAIT_LIMIT = 10.0
"""Deadline of every measured wait, in seconds; none comes near it."""


def run(quick: bool) -> list[Result]:
    """Measure every figure of this module: about 60 s, or 17 s with ``quick`` (the seed's
    15 s sleep sets its length)."""
    samples = 10 if quick else 40
    token = uuid.uuid4().hex[:8]
    with (
        settings_in_force(Settings()),  # the built-in defaults, whatever the environment says
        tempfile.TemporaryDirectory(prefix="asyncbdd-bench-") as folder,
    ):
        urls = {"SQLite": f"sqlite:///{Path(folder) / 'traces.db'}"}
        if _reachable(POSTGRESQL_URL):
            urls["PostgreSQL"] = POSTGRESQL_URL
        name = f"bench_trace_events_{token}"
        tables = [_TraceTable(database, url, name) for database, url in urls.items()]
        try:
            for table in tables:
                _sample(table, [0.0] * len(CHAIN))  # warm up: the engine, the table's columns
            rng = random.Random(SEED)
            gaps = [[rng.uniform(*GAPS) for _ in CHAIN] for _ in range(samples)]
            with ThreadPoolExecutor(len(tables)) as beside:
                seed = [beside.submit(_seed_sample, table, gaps[0]) for table in tables]
                measured = [[_sample(table, plan) for plan in gaps] for table in tables]
                baselines = [future.result() for future in seed]
        finally:
            for table in tables:
                table.drop()
    results = []
    for table, found, baseline in zip(tables, measured, baselines, strict=True):
        results += _rows(table.database, found, baseline)
    return results


# --------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sample:
    delay: float
    """Seconds from the last event's commit to expect_chain's return."""
    interval: float
    """Seconds: the poll interval in force when the last event was committed."""
    during_read: bool
    """Whether the last commit landed while the store was being read (then the interval
    in force is the pause after that read, which may or may not have seen it)."""
    read: float
    """Median seconds one read of the store took in this wait."""
    longest_read: float
    """The longest read of the store in this wait, in seconds."""
    reads: int
    """Reads of the store in this wait."""


def _sample(table: _TraceTable, gaps: Sequence[float]) -> _Sample:
    store = _TimedStore(table.name, url=table.url)
    with asyncbdd.scenario("trace chain") as state:
        writer = _Writer(table, state.correlation_id, gaps)
        trace = expect_chain(EVENTS, trace=store, timeout=WAIT_LIMIT)
        returned = time.monotonic()
        writer.join()
    if trace.types != EVENTS:
        raise RuntimeError(f"expect_chain returned {trace.types}, not the chain written")
    committed = writer.committed[-1]
    interval, during_read = store.interval_at(committed)
    reads = [end - start for start, end in store.reads]
    return _Sample(
        returned - committed, interval, during_read, median(reads), max(reads), len(reads)
    )


def _seed_sample(table: _TraceTable, gaps: Sequence[float]) -> float:
    """The seed project's step: sleep 15 s, then look at the table once; seconds from the
    last event's commit to its return."""
    correlation_id = str(uuid.uuid4())
    writer = _Writer(table, correlation_id, gaps)
    time.sleep(SEED_SLEEP)
    events = table.table.c.event_type
    statement = (
        select(events)
        .where(table.table.c.correlation_id == correlation_id)
        .order_by(table.table.c.sequence)
    )
    with table.engine.connect() as connection:
        found = list(connection.execute(statement).scalars())
    returned = time.monotonic()
    writer.join()
    if found != EVENTS:
        raise RuntimeError(f"the seed step found {found}, not the chain written")
    return returned - writer.committed[-1]


class _Writer(threading.Thread):
    """Started at once: writes the chain for ``correlation_id``, each event ``gaps[i]``
    seconds after the previous one, in a transaction of its own; ``committed`` holds
    when (monotonic) each commit returned."""

    def __init__(self, table: _TraceTable, correlation_id: str, gaps: Sequence[float]) -> None:
        super().__init__(daemon=True)
        self.table, self.correlation_id, self.gaps = table, correlation_id, gaps
        self.committed: list[float] = []
        self.start()

    def run(self) -> None:
        for sequence, ((event, service), gap) in enumerate(zip(CHAIN, self.gaps, strict=True), 1):
            time.sleep(gap)
            row = {
                "correlation_id": self.correlation_id,
                "sequence": sequence,
                "event_type": event,
                "service": service,
                "occurred_at": datetime.now(timezone.utc),
                "attributes": '{"order_id": "ord-1", "amount": 9.5}',
            }
            with self.table.engine.begin() as connection:
                connection.execute(insert(self.table.table), row)
            self.committed.append(time.monotonic())


class _TimedStore(SqlTraceStore):
    """The SQL trace store, timing its reads and the engine's pauses between them."""

    def __init__(self, table: str, *, url: str) -> None:
        super().__init__(table, url=url)
        self.reads: list[tuple[float, float]] = []
        self.pauses: list[tuple[float, float]] = []

    def events(self, correlation_id: str) -> list[TraceEvent]:
        started = time.monotonic()
        events = super().events(correlation_id)
        self.reads.append((started, time.monotonic()))
        return events

    def pause(self, seconds: float) -> None:
        self.pauses.append((time.monotonic(), seconds))
        super().pause(seconds)

    def interval_at(self, moment: float) -> tuple[float, bool]:
        """The pause in progress at ``moment``, or, when ``moment`` fell in a read (or
        before the first pause), the pause after it; and whether it fell in a read."""
        if not self.pauses:  # found by the first read
            return 0.0, True
        starts = [start for start, _ in self.pauses]
        index = bisect.bisect_right(starts, moment) - 1
        if index >= 0 and moment < starts[index] + self.pauses[index][1]:
            return self.pauses[index][1], False
        after = self.pauses[index + 1 :] or self.pauses[-1:]  # the read that found it
        return after[0][1], True


# --------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------


def _rows(database: str, samples: Sequence[_Sample], baseline: float) -> list[Result]:
    delays = [1000 * sample.delay for sample in samples]
    intervals = [1000 * sample.interval for sample in samples]
    within = sum(sample.delay <= sample.interval for sample in samples)
    cycle = sum(sample.delay <= sample.interval + 2 * sample.longest_read for sample in samples)
    in_read = sum(sample.during_read for sample in samples)
    read = median([1000 * sample.read for sample in samples])
    excess = max(1000 * (sample.delay - sample.interval) for sample in samples)
    seed_name = "seed sleep(15)"
    count = len(samples)
    return [
        Result(
            f"chain of 6, {database}: delay median",
            median(delays),
            "ms",
            seed_name,
            1000 * baseline,
            "lower",
            note=f"median of {count} waits: last event's commit -> expect_chain returned; "
            f"poll interval in force then: median {median(intervals):.1f} ms "
            f"({min(intervals):.1f} to {max(intervals):.1f}); one read {read:.1f} ms "
            f"(median), {median([s.reads for s in samples]):.0f} reads per wait",
        ),
        Result(
            f"chain of 6, {database}: delay p90",
            p90(delays),
            "ms",
            seed_name,
            1000 * baseline,
            "lower",
            note=f"p90 of {count} waits (worst {max(delays):.1f} ms); the seed step: 1 "
            "sample, sleep(15) with the chain written meanwhile, then one SELECT",
        ),
        Result(
            f"chain of 6, {database}: within 1 interval",
            100 * within / count,
            "%",
            "all waits",
            100.0,
            None,
            target="every wait",
            met=within == count,
            note=f"{within} of {count} waits: delay <= the poll interval in force at the last "
            f"commit (largest excess {excess:+.1f} ms); {cycle} of {count} within it plus two "
            f"reads (the wait's longest); the commit landed during a read in {in_read}",
        ),
    ]


# --------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------


class _TraceTable:
    """A table shaped like the demo's ``trace_events``, created for the run."""

    def __init__(self, database: str, url: str, name: str) -> None:
        self.database, self.url, self.name = database, url, name
        self.engine: Engine = create_engine(url)
        self.table = Table(
            name,
            MetaData(),
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("correlation_id", String(64), nullable=False, index=True),
            Column("sequence", Integer),
            Column("event_type", String(100), nullable=False),
            Column("service", String(50)),
            Column("occurred_at", DateTime(timezone=True)),
            Column("attributes", Text),
        )
        self.table.create(self.engine)

    def drop(self) -> None:
        """Drop the table and close every connection to it."""
        engine_for(self.url).dispose()  # asyncbdd's pooled connections
        self.table.drop(self.engine)
        self.engine.dispose()


def _reachable(url: str) -> bool:
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return True
