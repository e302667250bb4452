"""The awaitable twins of the snapshot waits: the same verdicts and messages, awaited.

The rows live in a SQLite file, in a uniquely named table. Each twin passes where its
blocking wait passes and fails with the same message where it fails; its reads run in a
worker thread of the wait, never on the loop, so a task of the loop keeps running while
they do.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from asyncbdd import aio, snapshot_subjects, snapshots
from asyncbdd.config import Settings, set_settings
from asyncbdd.database import connect, dispose_engines
from asyncbdd.errors import AsyncBddError, WaitAborted, WaitTimeout
from asyncbdd.scenario import Scenario, end_scenario, scenario
from asyncbdd.snapshot_subjects import take_snapshot
from asyncbdd.snapshots import ExpectedChange, RowChange, Snapshot, SnapshotSource

PROMPT = 5.0
"""What "at once" means here: far below the deadlines of passing waits."""
SOLD_THREE = [ExpectedChange("quantity", 100, 97)]
TWINS = {
    snapshots: ["expect_change", "expect_exact_change", "expect_no_change"],
    snapshot_subjects: [
        "expect_exact_subject_change",
        "expect_last_change",
        "expect_no_subject_change",
        "expect_subject_change",
    ],
}


class Inventory:
    """A uniquely named inventory table in a SQLite file."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.table = f"inventory_{uuid.uuid4().hex[:10]}"
        self.phrase = f'the "{self.table}" table where product_id is "prod-789"'

    def run(self, statement: str) -> None:
        """Run SQL in which ``{table}`` names this table, and commit."""
        with connect(self.url) as connection:
            connection.execute(text(statement.format(table=self.table)))

    def sell(self, quantity: int) -> None:
        self.run(f"UPDATE {{table}} SET quantity = {quantity} WHERE product_id = 'prod-789'")


@dataclass(frozen=True)
class WatchedSource(SnapshotSource):
    """A snapshot source that notes the thread of each capture and calls
    ``after_capture(n)`` after the n-th one."""

    after_capture: Callable[[int], None] | None = field(default=None, compare=False)
    threads: list[int] = field(default_factory=list, compare=False)

    def capture(self, **params: object) -> Snapshot:
        captured = super().capture(**params)
        self.threads.append(threading.get_ident())
        if self.after_capture is not None:
            self.after_capture(len(self.threads))
        return captured


@pytest.fixture(autouse=True)
def default_settings() -> Iterator[None]:
    set_settings(Settings())
    yield
    end_scenario()
    set_settings(None)
    dispose_engines()


@pytest.fixture
def inventory(tmp_path: Path) -> Iterator[Inventory]:
    table = Inventory(f"sqlite:///{tmp_path}/snapshots.db")
    table.run(
        "CREATE TABLE {table} (product_id VARCHAR(20) PRIMARY KEY, quantity INTEGER NOT NULL, "
        "status VARCHAR(20) NOT NULL)"
    )
    table.run(
        "INSERT INTO {table} VALUES ('prod-789', 100, 'in stock'), ('prod-123', 5, 'in stock')"
    )
    yield table
    table.run("DROP TABLE {table}")


@pytest.fixture
def subjects(inventory: Inventory) -> Iterator[Scenario]:
    """A running scenario whose database is the inventory's."""
    set_settings(Settings(database_url=inventory.url, settle=0.1))
    with scenario("snapshot twins") as state:
        yield state


def watched(inventory: Inventory, after_capture: Callable[[int], None] | None = None) -> Snapshot:
    """A snapshot of prod-789's inventory, through a :class:`WatchedSource`."""
    source = WatchedSource(
        table=inventory.table,
        database_url=inventory.url,
        where={"product_id": "prod-789"},
        after_capture=after_capture,
    )
    return source.capture()


def normalized(error: BaseException) -> list[str]:
    """A failure's lines with every duration as T, every other number as N and runs of
    spaces as one: what varies between two runs of one wait is timing."""
    text = re.sub(r"\d+(?:\.\d+)? ?(?:ms|s|min|h)\b", "T", str(error))
    text = re.sub(r"\d+(?:\.\d+)?", "N", text)
    return [" ".join(line.split()) for line in text.splitlines()]


def same_failure(
    blocking: Callable[[], object], awaited: Callable[[], Coroutine[Any, Any, object]]
) -> AssertionError:
    """The blocking wait fails, and its twin, awaited, fails the same way; returns the
    twin's failure."""
    with pytest.raises(AssertionError) as blocked:
        blocking()
    with pytest.raises(AssertionError) as twin:
        asyncio.run(awaited())
    assert type(twin.value) is type(blocked.value)
    assert normalized(twin.value) == normalized(blocked.value)
    return twin.value


@pytest.mark.parametrize(
    ("module", "name"), [(module, name) for module, names in TWINS.items() for name in names]
)
def test_each_wait_has_a_twin_of_the_same_plan(module: Any, name: str) -> None:
    """The twin is a coroutine function named, signed and documented as its wait."""
    twin, wait = getattr(aio, name), getattr(module, name)
    assert name in aio.__all__
    assert inspect.iscoroutinefunction(twin)
    assert twin.__name__ == name
    assert inspect.unwrap(twin) is getattr(module, f"{name}_plan")
    assert inspect.signature(twin) == inspect.signature(wait)
    assert inspect.getdoc(twin) == inspect.getdoc(wait)


# --------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------


def test_expect_change_twin_reads_off_the_loop_and_sees_another_threads_write(
    inventory: Inventory,
) -> None:
    """The rows are read again in a worker thread; a write made from another thread
    after the first read is the change returned."""
    writers: list[threading.Thread] = []

    def write_after_first_read(count: int) -> None:
        if count == 2:  # the snapshot, then the wait's first read
            writer = threading.Thread(target=inventory.sell, args=(96,))
            writer.start()
            writers.append(writer)

    before = watched(inventory, write_after_first_read)

    async def main() -> tuple[snapshots.SnapshotDiff, int]:
        return await aio.expect_change(before, timeout=PROMPT), threading.get_ident()

    diff, loop_thread = asyncio.run(main())
    for writer in writers:
        writer.join(PROMPT)
    assert diff.changed == (RowChange({"product_id": "prod-789"}, {"quantity": (100, 96)}),)
    recaptures = before.source.threads[1:]  # type: ignore[attr-defined]
    assert len(recaptures) >= 2
    assert loop_thread not in recaptures


def test_a_task_of_the_loop_runs_while_the_twin_waits(inventory: Inventory) -> None:
    """The change is made by a task of the loop the twin awaits in: it is seen."""
    before = watched(inventory)

    async def main() -> snapshots.SnapshotDiff:
        async def sell() -> None:
            await asyncio.to_thread(inventory.sell, 97)

        selling = asyncio.create_task(sell())
        diff = await aio.expect_change(before, timeout=PROMPT)
        await selling
        return diff

    assert asyncio.run(main()).changed == (
        RowChange({"product_id": "prod-789"}, {"quantity": (100, 97)}),
    )


def test_expect_change_twin_times_out_as_its_wait_does(inventory: Inventory) -> None:
    before = watched(inventory)
    failure = same_failure(
        lambda: snapshots.expect_change(before, timeout=0.2),
        lambda: aio.expect_change(before, timeout=0.2),
    )
    assert type(failure) is WaitTimeout
    assert "No row changed, appeared or disappeared since the snapshot" in str(failure)


def test_expect_exact_change_twin_passes_once_the_change_settled(inventory: Inventory) -> None:
    before = watched(inventory)
    inventory.sell(97)
    diff = asyncio.run(aio.expect_exact_change(before, SOLD_THREE, timeout=PROMPT, settle=0.1))
    assert diff.changed == (RowChange({"product_id": "prod-789"}, {"quantity": (100, 97)}),)
    assert diff.after.taken_at - before.taken_at >= 0.1


def test_expect_exact_change_twin_fails_on_a_settled_wrong_change(inventory: Inventory) -> None:
    before = watched(inventory)
    inventory.sell(96)
    started = time.monotonic()
    failure = same_failure(
        lambda: snapshots.expect_exact_change(before, SOLD_THREE, timeout=PROMPT, settle=0.1),
        lambda: aio.expect_exact_change(before, SOLD_THREE, timeout=PROMPT, settle=0.1),
    )
    assert isinstance(failure, WaitAborted)
    assert "missing: quantity 100 -> 97 (actual: 100 -> 96)" in str(failure)
    assert time.monotonic() - started < PROMPT


def test_expect_no_change_twin_passes_when_rows_stay(inventory: Inventory) -> None:
    before = watched(inventory)
    assert not asyncio.run(aio.expect_no_change(before, during=0.2))


def test_expect_no_change_twin_fails_as_its_wait_does(inventory: Inventory) -> None:
    before = watched(inventory)
    inventory.run("UPDATE {table} SET status = 'reserved' WHERE product_id = 'prod-789'")
    failure = same_failure(
        lambda: snapshots.expect_no_change(before, during=0.2),
        lambda: aio.expect_no_change(before, during=0.2),
    )
    assert isinstance(failure, WaitAborted)
    assert "changed  product_id='prod-789'  status: 'in stock' -> 'reserved'" in str(failure)


# --------------------------------------------------------------------------------------
# The scenario's snapshots, by phrase
# --------------------------------------------------------------------------------------


def test_subject_twins_pass_and_keep_the_change(inventory: Inventory, subjects: Scenario) -> None:
    """A snapshot taken, the change awaited, then checked: the twins keep the scenario's
    snapshots and its last change as the blocking waits do."""
    phrase = inventory.phrase

    async def main() -> tuple[snapshots.SnapshotDiff, snapshots.SnapshotDiff]:
        await asyncio.to_thread(take_snapshot, phrase)
        assert not await aio.expect_no_subject_change(phrase, during=0.1)
        await asyncio.to_thread(inventory.sell, 97)
        seen = await aio.expect_subject_change(phrase, timeout=PROMPT)
        checked = await aio.expect_last_change(SOLD_THREE, "inventory", timeout=PROMPT)
        return seen, checked

    seen, checked = asyncio.run(main())
    sold = (RowChange({"product_id": "prod-789"}, {"quantity": (100, 97)}),)
    assert seen.changed == checked.changed == sold
    exact = asyncio.run(aio.expect_exact_subject_change(phrase, SOLD_THREE, timeout=PROMPT))
    assert exact.changed == sold
    assert snapshot_subjects.expect_last_change(SOLD_THREE, timeout=PROMPT).changed == sold


def test_subject_change_twins_fail_as_their_waits_do(
    inventory: Inventory, subjects: Scenario
) -> None:
    phrase = inventory.phrase
    take_snapshot(phrase)
    failure = same_failure(
        lambda: snapshot_subjects.expect_subject_change(phrase, timeout=0.2),
        lambda: aio.expect_subject_change(phrase, timeout=0.2),
    )
    assert type(failure) is WaitTimeout
    inventory.sell(96)
    failure = same_failure(
        lambda: snapshot_subjects.expect_no_subject_change(phrase, during=0.2),
        lambda: aio.expect_no_subject_change(phrase, during=0.2),
    )
    assert isinstance(failure, WaitAborted)


def test_exact_subject_change_twins_fail_as_their_waits_do(
    inventory: Inventory, subjects: Scenario
) -> None:
    """A wrong change that settled fails both, through the phrase and as the last change."""
    phrase = inventory.phrase
    take_snapshot(phrase)
    inventory.sell(96)
    failure = same_failure(
        lambda: snapshot_subjects.expect_exact_subject_change(phrase, SOLD_THREE, timeout=PROMPT),
        lambda: aio.expect_exact_subject_change(phrase, SOLD_THREE, timeout=PROMPT),
    )
    assert "settled: no change for 100 ms (setting asyncbdd.settle)" in str(failure)
    snapshot_subjects.expect_subject_change(phrase, timeout=PROMPT)
    failure = same_failure(
        lambda: snapshot_subjects.expect_last_change(SOLD_THREE, "inventory", timeout=PROMPT),
        lambda: aio.expect_last_change(SOLD_THREE, "inventory", timeout=PROMPT),
    )
    assert isinstance(failure, WaitAborted)


def test_last_change_twin_refuses_before_any_change(subjects: Scenario) -> None:
    """No change seen yet: the twin says so, as its wait does, before reading anything."""
    with pytest.raises(AsyncBddError, match="No change has been seen yet"):
        asyncio.run(aio.expect_last_change(SOLD_THREE))
