"""SQLite on the event loop's own thread, for the money path: no thread hop per statement.

aiosqlite runs each statement on a worker thread and wakes the loop with its
result: about 45 µs of handoff per statement, and a call's reserve, settle
and record take fifteen statements, more than SQLite spends running them
(each is a few µs on an indexed row; a commit in WAL mode is one write()).
So the hot path runs sqlite3 directly, behind the few methods the store
uses (`run`, `dicts`, and the awaitable `commit` and `rollback`), and keeps
the two things that could block the loop off it:

- waiting for another process's write lock: the busy timeout is 0, so a
  locked file answers "database is locked" at once and
  `sqlite_errors.retrying_when_locked` waits with `asyncio.sleep` instead;
- checkpoints, which fsync: automatic checkpoints are off on this connection
  and `Checkpointer` runs them (PASSIVE: never waiting on a reader or writer)
  on a thread of its own, after every CHECKPOINT_EVERY commits.

Reports that scan whole tables stay on aiosqlite's thread (store.py).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

# Commits between checkpoints: SQLite's own default is one per 1,000 WAL pages,
# and a call's commits write about five pages.
CHECKPOINT_EVERY = 200


class InlineConnection:
    """A sqlite3 connection with the awaitable surface of aiosqlite's, run where it is awaited."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout=0")  # never block the loop on another process
        self._checkpointer = Checkpointer(path)
        self._commits = 0

    async def set_up_wal(self) -> None:
        """WAL mode, `synchronous=NORMAL`, checkpoints by the Checkpointer; once the file is set up."""
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # survives a kill; the WAL is synced at checkpoints
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer.start()

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    # Plain calls, not coroutines: they run where they are called (a dozen times a cloud call).
    def run(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def dicts(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self._conn.execute(sql, params).fetchall()]

    async def commit(self) -> None:
        self._conn.commit()
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            self._checkpointer.nudge()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._checkpointer.stop()
        self._conn.close()


class Checkpointer:
    """Copies the WAL back into the database file on a thread of its own, when nudged."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="hermes-checkpoint", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        self._wanted.set()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping = True
            self._wanted.set()
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            while True:
                self._wanted.wait()
                self._wanted.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    pass  # another checkpoint is running; the next nudge tries again
                if self._stopping:
                    return
        finally:
            conn.close()
