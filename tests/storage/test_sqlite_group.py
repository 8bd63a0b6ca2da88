"""Units that run in one turn of the event loop share a COMMIT (sqlite_group.py).

Under load the pages a call changes are mostly the ones the call before it
changed, so calls made at once write them once between them. Each caller is
still answered only after its own write is in the file, a failing unit is
undone alone, and a caller that leaves while its unit waits for the COMMIT
has the unit undone after it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from proxy.storage.store import Store
from tests.storage.test_store import task

pytestmark = [pytest.mark.sqlite_only, pytest.mark.asyncio]
CALLS = 20


def wal_bytes(path: Path) -> int:
    return Path(f"{path}-wal").stat().st_size


def models(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:  # another connection: it sees only what is committed
        return [row[0] for row in db.execute("SELECT model FROM tasks ORDER BY id")]


async def test_calls_made_at_once_write_their_pages_once_and_each_returns_once_it_is_in_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hermes.db"
    store = await Store.open(path)
    before = wal_bytes(path)
    for n in range(CALLS):  # one after another: each call its own COMMIT
        await store.record_task(task(model=f"alone-{n}"))
    one_by_one = wal_bytes(path) - before

    before = wal_bytes(path)
    await asyncio.gather(*(store.record_task(task(model=f"together-{n}")) for n in range(CALLS)))
    together = wal_bytes(path) - before
    assert len(models(path)) == 2 * CALLS  # all committed when gather returned, before anything else ran

    assert together < one_by_one / 4, (together, one_by_one)
    await store.close()


async def test_a_failing_unit_among_units_made_at_once_is_undone_alone(tmp_path: Path) -> None:
    path = tmp_path / "hermes.db"
    store = await Store.open(path)

    async def failing() -> None:
        await store.record_task(task(model="failing"))
        raise RuntimeError("boom")

    results = await asyncio.gather(store.record_task(task(model="first")), store.record_task(task(model="second")),
                                   store.atomic(failing), store.record_task(task(model="fourth")),
                                   return_exceptions=True)
    assert isinstance(results[2], RuntimeError)
    assert models(path) == ["first", "second", "fourth"]
    await store.record_task(task(model="after"))  # the connection is out of every transaction
    assert models(path)[-1] == "after"
    await store.close()


async def test_a_caller_that_leaves_while_its_unit_waits_for_the_commit_has_it_undone(tmp_path: Path) -> None:
    # As a client that hangs up just after its budget was reserved: the hold is released, not left held.
    path = tmp_path / "hermes.db"
    store = await Store.open(path)

    async def undo(model: str) -> None:
        await store._db.execute("DELETE FROM tasks WHERE model = ?", (model,))

    async def write() -> str:
        await store.record_task(task(model="left"))
        return "left"

    first = asyncio.ensure_future(store.record_task(task(model="stayed")))
    leaving = asyncio.ensure_future(store.atomic(write, abandoned=undo))
    await asyncio.sleep(0)  # both units have run: the first committed alone, the second waits for its group's
    assert first.done() and not leaving.done()
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    for _ in range(50):
        if models(path) == ["stayed"]:
            break
        await asyncio.sleep(0.01)
    assert models(path) == ["stayed"]
    await store.close()


async def test_while_another_process_writes_to_the_file_units_commit_at_once(tmp_path: Path) -> None:
    # A group holds the file's write lock until the loop's next turn; a second worker would wait for it.
    path = tmp_path / "hermes.db"
    store = await Store.open(path)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)

    def two_units() -> list[asyncio.Future[None]]:
        return [asyncio.ensure_future(store.record_task(task(model=m))) for m in ("a", "b")]

    units = two_units()
    await asyncio.sleep(0)  # both have run; the second waits for its group's COMMIT, holding the lock
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("BEGIN IMMEDIATE")
    await asyncio.gather(*units)

    other.execute("BEGIN IMMEDIATE")  # the other process writes; a unit meets its lock and waits
    waited = asyncio.ensure_future(store.record_task(task(model="waited")))
    await asyncio.sleep(0.02)
    other.execute("COMMIT")
    await waited

    units = two_units()
    await asyncio.sleep(0)
    assert all(unit.done() for unit in units)  # each committed before it returned
    other.execute("BEGIN IMMEDIATE")  # free at once
    other.execute("ROLLBACK")
    other.close()
    assert models(path) == ["a", "b", "waited", "a", "b"]
    await store.close()
