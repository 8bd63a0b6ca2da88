"""One COMMIT for the units that run in the same turn of the event loop, once units are seen to meet.

A COMMIT writes every page its transaction changed to the WAL: the
budget's row, the ledger's and the tasks' last pages and their indexes,
some 20 KB a call in two commits. Under load most of those pages are the
same from one call to the next, and the commit is the largest single cost
of a call (a tenth of the CPU at 32 connections). So the units that run in
one turn of the loop share one transaction: each in a savepoint of its own
(one that fails is undone alone), the COMMIT made once at the loop's next
turn, and each caller answered after it. Nothing is answered before its
COMMIT: a killed process loses only what no caller was told of.

Alone, a unit would wait that turn for nothing (28 µs a unit on loopback,
measured), so units commit at once until two meet in one turn, and share a
COMMIT until one finds itself alone in its group again. Nor do they group
while another process writes to the file (a second worker): a group holds
the write lock for a turn of the loop, and the other process's units wait
for it (two workers' p90 went from 24 to 31 ms).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Coroutine
from typing import Any

from proxy.storage.sqlite_errors import unavailable
from proxy.storage.sqlite_inline import InlineConnection

# After a unit met another process's lock, how long units commit at once.
SHARED_FILE_S = 1.0


class Group:
    """The units run since the last COMMIT: their callers wait for it together."""

    __slots__ = ("waiters", "abandoned", "units", "committed")

    def __init__(self) -> None:
        self.waiters: list[asyncio.Future[None]] = []
        self.abandoned: list[Coroutine[Any, Any, None]] = []  # undos of units whose callers went away meanwhile
        self.units = 0
        self.committed: bool | None = None  # None while open; False when its transaction was undone


class CommitGroups:
    """When units share a COMMIT, and the open group's transaction; `SQLiteDatabase` runs the units."""

    def __init__(self, db: InlineConnection, unit_running: Callable[[], bool],
                 spawn: Callable[[Coroutine[Any, Any, None]], Any]) -> None:
        self._db = db
        self._unit_running = unit_running  # a unit is half-way (it awaited something): commit after it
        self._spawn = spawn
        self.open: Group | None = None
        self._grouping = False  # units met in one turn since a group last held a single unit
        self._committed_this_turn = False  # a unit committed alone in the loop's current turn
        self._others_wrote_at = -SHARED_FILE_S  # when a unit last met another process's lock

    def wanted(self) -> bool:
        """Whether the next unit joins a group: one is open, or another unit committed in this turn."""
        if self.open is not None:
            return True
        if self._committed_this_turn:
            self._grouping = True
        return self._grouping and time.monotonic() - self._others_wrote_at > SHARED_FILE_S

    def others_write(self) -> None:
        """Note that a unit met another process's lock on the file: units commit at once for a while."""
        self._others_wrote_at = time.monotonic()

    def committed_alone(self) -> None:
        """Note a unit's own COMMIT: another in the same turn of the loop starts grouping."""
        if not self._committed_this_turn:
            self._committed_this_turn = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def join(self) -> Group:
        """The open group, or a new one: BEGIN IMMEDIATE, its COMMIT at the loop's next turn."""
        if self.open is None:
            self._db.run("BEGIN IMMEDIATE")  # "locked": the caller waits for the other process
            self.open = Group()
            asyncio.get_running_loop().call_soon(self._commit_when_free, self.open)
        return self.open

    async def wait(self, group: Group, undo: Callable[[], Coroutine[Any, Any, None]] | None) -> None:
        """Return once `group` is committed; a caller cancelled meanwhile has `undo` run after the COMMIT."""
        waiter = asyncio.get_running_loop().create_future()
        group.units += 1
        group.waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if undo is not None and group.committed is None:
                group.abandoned.append(undo())
            elif undo is not None and group.committed:  # in already: undo it now
                self._spawn(undo())
            raise

    def commit(self) -> None:
        """COMMIT the open group now (before a batch, at close); each of its callers gets the outcome."""
        group, self.open = self.open, None
        if group is None:
            return
        if group.units < 2:
            self._grouping = False  # alone again: the next unit commits at once
        try:
            self._db.commit()
        except Exception as exc:  # every unit in it is undone: each caller gets the 503
            self._db.rollback()
            self.lose(group, unavailable(exc) if isinstance(exc, sqlite3.Error) else exc)
            return
        group.committed = True
        for waiter in group.waiters:
            if not waiter.done():
                waiter.set_result(None)
        for undo in group.abandoned:
            self._spawn(undo)

    def lose(self, group: Group, exc: Exception) -> None:
        """`group`'s transaction is undone (SQLite's own rollback, a failed COMMIT): its callers get `exc`."""
        if group is self.open:
            self.open = None
        group.committed = False
        for waiter in group.waiters:
            if not waiter.done():
                waiter.set_exception(exc)
        for undo in group.abandoned:
            undo.close()  # never started, and its unit never happened

    def _commit_when_free(self, group: Group) -> None:
        if group is not self.open:
            return  # committed already
        if self._unit_running():
            asyncio.get_running_loop().call_soon(self._commit_when_free, group)
            return
        self.commit()

    def _next_turn(self) -> None:
        self._committed_this_turn = False
