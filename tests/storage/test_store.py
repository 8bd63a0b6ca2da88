"""The store: migrations, durability, units of work, and no prompt text by default.

The tests on the `database` fixture run on both backends; those about
SQLite's own file (its WAL, its bytes, a migration from an older file) are
marked sqlite_only.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from proxy.config import is_postgres
from proxy.errors import StoreUnavailable
from proxy.storage import migrations
from proxy.storage.store import Store, TaskRecord, prompt_hash
from tests.postgres import query

MESSAGES = [{"role": "user", "content": "my secret prompt"}]


def task(**changes: object) -> TaskRecord:
    fields = dict(requested_model="auto", route="local", model="smollm2:135m", stream=False, status=200,
                  error_code=None, messages=MESSAGES, input_tokens=11, output_tokens=9, cost_usd=0.0,
                  latency_ms=12.5)
    return TaskRecord(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.sqlite_only  # a new file (and its directory) set up in WAL mode
@pytest.mark.asyncio
async def test_migrations_run_once_and_are_recorded(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "hermes.db"
    for _ in range(2):
        store = await Store.open(path)
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM migrations").fetchall() == [("m001_initial",), ("m002_money",), ("m003_cascade",), ("m004_preferences",),
                                                                 ("m005_reservation_owners",), ("m006_day_totals",),
                                                                 ("m007_task_detail",), ("m008_savings",),
                                                                 ("m009_session_links",), ("m010_keys",), ("m011_outcomes",),
                                                                 ("m012_ledger_indexes",), ("m013_price_corrections",),
                                                                 ("m014_tool_turns",), ("m015_answer_links",),
                                                                 ("m016_preference_overrides",), ("m017_catalogue",), ("m018_cache_use",),
                                                                 ("m019_retention",), ("m020_prompt_hash",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental: retention gives space back


@pytest.mark.sqlite_only  # SQLite's query plan
@pytest.mark.asyncio
async def test_the_ledgers_lookups_read_only_the_rows_they_need(tmp_path: Path) -> None:
    # Every few seconds, all day: with a month of calls in the ledger a scan would stall every stream.
    path = tmp_path / "hermes.db"
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as db:
        plan = " ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN SELECT id, owner FROM ledger WHERE state = 'held'"))
        assert "USING INDEX ledger_held" in plan
        # and a key's spend today still reads only that key's calls
        plan = " ".join(row[3] for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT SUM(cost_usd) FROM ledger WHERE key_id = 1 AND day = 'd' AND state != 'released'"))
        assert "USING INDEX ledger_key_day" in plan


@pytest.mark.sqlite_only  # the file's and the -wal file's bytes
@pytest.mark.asyncio
async def test_a_recorded_task_is_committed_and_holds_no_prompt_text(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "hermes.db")
    await store.record_task(task(route="cloud", model="gpt-4", cost_usd=0.0123))
    # Read through a second connection while the first is still open: committed, not buffered.
    with sqlite3.connect(tmp_path / "hermes.db") as db:
        row = db.execute("SELECT route, model, cost_usd, prompt_hash, input_tokens FROM tasks").fetchone()
    await store.close()
    assert row == ("cloud", "gpt-4", 0.0123, prompt_hash(MESSAGES), 11)
    assert b"my secret prompt" not in (tmp_path / "hermes.db").read_bytes()
    assert b"my secret prompt" not in (tmp_path / "hermes.db-wal").read_bytes()


@pytest.mark.sqlite_only  # the -wal file's size
@pytest.mark.asyncio
async def test_the_wal_starts_again_though_writes_never_pause(tmp_path: Path) -> None:
    # A busy proxy commits while every checkpoint runs, so the copy never
    # catches up and SQLite never starts the WAL again by itself; past a few
    # hundred MB each commit is several times slower. 6,000 recorded tasks
    # write some 50 MB of WAL frames; none may be lost on the way.
    path = tmp_path / "hermes.db"
    store = await Store.open(path)
    largest = 0
    for number in range(6000):
        await store.record_task(task(model=f"m{number}"))
        await asyncio.sleep(0)  # as a server's loop does between requests
        if number % 500 == 0:
            largest = max(largest, (tmp_path / "hermes.db-wal").stat().st_size)
    await store.close()
    assert largest < 16_000_000
    assert query(path, "SELECT COUNT(*) AS n, COUNT(DISTINCT model) AS models FROM tasks") == [{"n": 6000, "models": 6000}]


@pytest.mark.asyncio
async def test_recent_tasks_newest_first(database: Path | str) -> None:
    store = await Store.open(database)
    await store.record_task(task(model="a"))
    await store.record_task(task(model="b"))
    assert [t["model"] for t in await store.recent_tasks()] == ["b", "a"]
    await store.close()


@pytest.mark.asyncio
async def test_a_caller_cancelled_mid_transaction_leaves_the_store_usable(database: Path | str) -> None:
    # What a client closing its connection does to a request: the write it was
    # making ends whole, and every later write works. On PostgreSQL a unit waits
    # at every statement and runs in a task of its own, so it goes on to COMMIT.
    # On SQLite a unit that got the lock runs in its caller's task (its statements
    # never wait), so one that waits on something else is ended by ROLLBACK.
    store = await Store.open(database)
    inside = asyncio.Event()

    async def slow_write() -> None:
        await store._db.execute("INSERT INTO preferences (key, value, updated_at) VALUES ('x', '1', 'now')")
        inside.set()
        await asyncio.sleep(0.2)

    caller = asyncio.ensure_future(store.atomic(slow_write))
    await inside.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await store.record_task(task())  # would fail "cannot start a transaction within a transaction"
    assert [t["model"] for t in await store.recent_tasks()] == ["smollm2:135m"]
    await store.close()
    whole = [{"value": "1"}] if is_postgres(database) else []
    assert query(database, "SELECT value FROM preferences WHERE key = 'x'") == whole


@pytest.mark.sqlite_only  # another process's lock on the file
@pytest.mark.asyncio
async def test_a_unit_waiting_for_another_process_commits_though_its_caller_left(tmp_path: Path) -> None:
    # The one wait a SQLite unit has: another process holding the write lock.
    # It waits in a task of its own, so the caller leaving does not undo it.
    path = tmp_path / "hermes.db"
    store = await Store.open(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    caller = asyncio.ensure_future(store.record_task(task(model="waited")))
    await asyncio.sleep(0.05)
    assert not caller.done()  # waiting for the lock
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    other.execute("COMMIT")
    other.close()
    await store.close()  # lets the unit end
    assert query(path, "SELECT model FROM tasks") == [{"model": "waited"}]


@pytest.mark.sqlite_only  # another process's lock on the file
@pytest.mark.asyncio
async def test_units_that_waited_for_another_process_commit_together_and_a_failing_one_alone(
    tmp_path: Path,
) -> None:
    # Units that met another process's lock take it together when it is free (one transaction, a savepoint
    # each): two workers on one file waited for it one unit at a time and relayed less than one worker.
    path = tmp_path / "hermes.db"
    store = await Store.open(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    def unit(model: str, fails: bool = False):  # type: ignore[no-untyped-def]
        async def work() -> str:
            await store.record_task(task(model=model))
            if fails:
                raise RuntimeError("boom")
            return model
        return store.atomic(work)

    callers = [asyncio.ensure_future(unit("first")), asyncio.ensure_future(unit("failing", fails=True)),
               asyncio.ensure_future(unit("third"))]
    await asyncio.sleep(0.05)
    assert not any(caller.done() for caller in callers)  # all three waiting for the lock
    other.execute("COMMIT")
    other.close()
    first, failing, third = await asyncio.gather(*callers, return_exceptions=True)
    assert (first, third) == ("first", "third") and isinstance(failing, RuntimeError)
    assert query(path, "SELECT model FROM tasks ORDER BY id") == [{"model": "first"}, {"model": "third"}]
    await store.record_task(task(model="after"))  # the connection is out of the batch's transaction
    assert len(await store.recent_tasks()) == 3
    await store.close()


@pytest.mark.asyncio
async def test_a_failed_write_rolls_back_and_the_next_one_works(database: Path | str) -> None:
    store = await Store.open(database)

    async def half_then_fail() -> None:
        await store._db.execute("INSERT INTO preferences (key, value, updated_at) VALUES ('y', '1', 'now')")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.atomic(half_then_fail)
    assert await store.preference_overrides() == {}
    assert query(database, "SELECT COUNT(*) AS n FROM preferences") == [{"n": 0}]
    await store.record_task(task())
    assert len(await store.recent_tasks()) == 1
    await store.close()


@pytest.mark.asyncio
async def test_a_database_error_is_a_503_not_a_500(database: Path | str) -> None:
    store = await Store.open(database)
    await store._db.execute("DROP TABLE tasks")  # as a broken or foreign database would be
    with pytest.raises(StoreUnavailable) as raised:
        await store.record_task(task())
    # The driver's own words, whichever the backend.
    said = 'relation "tasks" does not exist' if is_postgres(database) else "no such table: tasks"
    assert raised.value.status == 503 and said in raised.value.message
    await store.close()


@pytest.mark.asyncio
async def test_writes_inside_a_unit_are_one_transaction(database: Path | str) -> None:
    store = await Store.open(database)

    async def record(then_fail: bool) -> None:
        await store.record_task(task())  # each of these joins the unit instead of committing alone
        await store.atomic(lambda: store.touch_session("s1", 1, 10, 5, 9))
        if then_fail:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.atomic(lambda: record(then_fail=True))
    assert await store.recent_tasks() == [] and await store.session("s1") is None
    await store.atomic(lambda: record(then_fail=False))
    committed = "SELECT (SELECT COUNT(*) FROM tasks) AS tasks, (SELECT COUNT(*) FROM sessions) AS sessions"
    assert query(database, committed) == [{"tasks": 1, "sessions": 1}]  # committed, both
    await store.close()


@pytest.mark.asyncio
async def test_a_task_started_inside_a_unit_writes_in_its_own_transaction(database: Path | str) -> None:
    store = await Store.open(database)
    started: list[asyncio.Task[None]] = []

    async def unit() -> None:
        started.append(asyncio.ensure_future(store.record_task(task(model="later"))))
        await store.record_task(task(model="now"))

    await store.atomic(unit)
    await started[0]  # it waited for the unit's COMMIT, then made its own
    assert sorted(t["model"] for t in await store.recent_tasks()) == ["later", "now"]
    await store.close()


@pytest.mark.asyncio
async def test_the_day_totals_follow_every_ledger_write(database: Path | str) -> None:
    store = await Store.open(database)

    async def hold(usd: float) -> int:
        return await store.atomic(lambda: store.insert_reservation("2026-11-21", "gpt-4", usd))

    charged, released, cut = await hold(0.5), await hold(0.25), await hold(0.125)
    await store.settle_reservation(charged, 0.0625)
    await store.settle_reservation(released, None)
    await store.charge("2026-11-21", "gemini-flash", 1.0)
    await store.charge("2026-11-20", "gemini-flash", 2.0)
    assert await store.day_totals("2026-11-21") == (pytest.approx(1.0625), pytest.approx(0.125))
    await store._db.execute("UPDATE ledger SET state = 'charged', cost_usd = reserved_usd WHERE id = ?", (cut,))
    await store.reconcile(cut, 0.03125, 0.03125)  # only rows marked "outcome unknown" change
    await store._db.execute("DELETE FROM ledger WHERE day = '2026-11-20'")
    summed = await store.rows("SELECT day, SUM(cost_usd) AS usd FROM ledger WHERE state = 'charged' GROUP BY day", ())
    assert summed == [{"day": "2026-11-21", "usd": pytest.approx(1.1875)}]
    assert await store.day_totals("2026-11-21") == (pytest.approx(1.1875), 0.0)
    assert await store.day_totals("2026-11-20") == (0.0, 0.0)
    await store.close()


@pytest.mark.sqlite_only  # needs a database short of m006; conftest's PostgreSQL ones come migrated
@pytest.mark.asyncio
async def test_the_day_totals_start_from_the_ledger_already_there(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hermes.db"
    before = [m for m in migrations.MIGRATIONS if m is not migrations.m006_day_totals]
    monkeypatch.setattr(migrations, "MIGRATIONS", before)  # the release before m006, spend already in it
    store = await Store.open(path)
    for usd in (0.25, 0.5):
        await store.charge("2026-11-21", "gpt-4", usd)
    await store.close()
    monkeypatch.undo()
    reopened = await Store.open(path)
    assert await reopened.day_totals("2026-11-21") == (pytest.approx(0.75), 0.0)
    await reopened.close()
