"""SQLite on the event loop's own thread, for the money path: no thread hop per statement.

aiosqlite runs each statement on a worker thread and wakes the loop with its
result: about 45 µs of handoff per statement, and a call's reserve, settle
and record take fifteen statements, more than SQLite spends running them
(each is a few µs on an indexed row; a commit in WAL mode is one write()).
So the hot path runs sqlite3 directly, behind the few methods the store
uses (`run`, `dicts`, `commit` and `rollback`), and keeps
the two things that could block the loop off it:

- waiting for another process's write lock: the busy timeout is 0, so a
  locked file answers "database is locked" at once and
  `sqlite_errors.retrying_when_locked` waits with `asyncio.sleep` instead;
- checkpoints, which fsync: automatic checkpoints are off on this connection
  and `Checkpointer` runs them on a thread of its own, after every
  CHECKPOINT_EVERY commits.

The WAL must also start again from its beginning now and then, and SQLite
does that only when a writer finds every frame copied back. Under steady
load the copy never catches up with the commits made while it runs, and a
WAL of hundreds of MB makes every commit several times slower (its index is
searched frame table by frame table). So when a copy leaves a large WAL
behind, the checkpointer closes this connection's `writable` gate, finishes
the copy (RESTART) and opens it: units wait a millisecond or two on an
event, instead of colliding with the checkpoint's lock.

Reports that scan whole tables stay on aiosqlite's thread (store.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

# Commits between checkpoints: SQLite's own default is one per 1,000 WAL pages,
# and a call's commits write about five pages.
CHECKPOINT_EVERY = 200
# WAL frames (since it last started again) from which a checkpoint restarts
# the WAL: below that a WAL costs commits nothing measurable.
RESTART_FRAMES = 1000
# How long a restart waits for another process's writer or reader before it
# gives up until the next checkpoint: this connection's units wait meanwhile.
RESTART_WAIT_MS = 20
# Bytes of WAL file kept when it starts again: four restarts' worth of frames.
WAL_SIZE_LIMIT = 4 * RESTART_FRAMES * 4096


class InlineConnection:
    """A sqlite3 connection whose statements run where they are called, on the event loop's thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout=0")  # never block the loop on another process
        self._checkpointer = Checkpointer(path)
        self._commits = 0

    async def set_up_wal(self) -> None:
        """WAL mode, `synchronous=NORMAL`, checkpoints by the Checkpointer; once the file is set up.

        A new file is made with incremental auto_vacuum: retention gives deleted rows' space back (sqlite_db.py).
        """
        self._conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect only before the first table
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # survives a kill; the WAL is synced at checkpoints
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        # A WAL that grew under a burst is cut back to this when it starts again, not kept at its largest.
        self._conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        self._checkpointer.start(asyncio.get_running_loop())

    async def writable(self) -> None:
        """Return once the checkpointer lets units write: at once, but while it restarts the WAL."""
        gate = self._checkpointer.writable
        if not gate.is_set():
            await gate.wait()

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    # Plain calls, not coroutines: a dozen statements a cloud call, each a few microseconds.
    def run(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def dicts(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self._conn.execute(sql, params).fetchall()]

    def commit(self) -> None:
        self._conn.commit()
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            self._checkpointer.nudge()

    def rollback(self) -> None:
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self.writable = asyncio.Event()  # cleared, on the loop, only while the WAL restarts
        self.writable.set()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._thread is not None:
            return
        self._loop = loop
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
                    # `frames` is the WAL as the copy began; commits made meanwhile are not in it.
                    _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if frames >= RESTART_FRAMES and not self._stopping:
                        self._restart(conn)
                except sqlite3.Error:
                    pass  # another checkpoint is running; the next nudge tries again
                if self._stopping:
                    return
        finally:
            conn.close()

    def _restart(self, conn: sqlite3.Connection) -> None:
        """Copy the frames written since the copy began, with this connection's units held at the gate."""
        closed = threading.Event()

        def close_gate() -> None:
            # On the loop: no unit is half-way, since a unit runs without yielding to it.
            self.writable.clear()
            closed.set()

        try:
            self._loop.call_soon_threadsafe(close_gate)  # type: ignore[union-attr]
        except RuntimeError:  # the loop has closed: Hermes is stopping
            return
        while not closed.wait(0.05):
            if self._stopping:  # the loop is in stop(), waiting for this thread
                self._open_gate()
                return
        try:
            conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            conn.execute("PRAGMA wal_checkpoint(RESTART)")  # busy: another process holds on; next time
        finally:
            conn.execute("PRAGMA busy_timeout=1000")
            self._open_gate()

    def _open_gate(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self.writable.set)  # type: ignore[union-attr]
        except RuntimeError:
            pass  # the loop has closed: nothing waits at the gate any more
