"""Units of work on one SQLite connection, each one whole transaction whatever happens to its caller.

Every write is one unit (`atomic`) run in a task of its own: a client that
goes away cancels the request, never a transaction half-way, which would
leave the connection inside it and fail every later request. A unit takes
SQLite's write lock at BEGIN (`BEGIN IMMEDIATE`), so a read-check-write such
as a budget reservation is atomic across every process sharing the file, not
only within this one.

Units nest: a write or a unit started inside a unit joins it (as Django's
`atomic` blocks do), so several steps become one transaction by running them
in one unit. That is how a call's settlement commits its ledger entry, the
learned estimate, the prediction, the task row and the session together, or
none of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any, TypeVar

from proxy.sqlite_inline import InlineConnection

from proxy.sqlite_errors import retrying_when_locked

T = TypeVar("T")
log = logging.getLogger("hermes")
# The unit the running task is inside: (its connection's Transactions, the task that runs it).
_UNIT: ContextVar[tuple[Transactions, asyncio.Task[Any]] | None] = ContextVar("hermes_unit", default=None)


class Transactions:
    """Runs units of work on `db`, one at a time within this process."""

    def __init__(self, db: InlineConnection) -> None:
        self._db = db
        self._write_lock = asyncio.Lock()
        self._running: set[asyncio.Task[Any]] = set()  # units whose caller may have gone

    async def close(self) -> None:
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        await self._db.close()

    async def atomic(self, work: Callable[[], Awaitable[T]],
                     abandoned: Callable[[T], Awaitable[None]] | None = None) -> T:
        """Run `work` (reads and writes on this store) as one write transaction.

        It runs in a task of its own, so it ends with COMMIT or ROLLBACK even
        when the request that asked for it is cancelled meanwhile; then
        `abandoned` gets its result, to undo what nobody will use. Called
        inside a unit, `work` simply becomes part of that unit's transaction
        (and `abandoned` is the outer unit's business).
        """
        if self._inside_unit():
            return await work()
        return await self.run_to_end(self._transaction(work), abandoned)

    async def run_to_end(self, work: Coroutine[Any, Any, T],
                         abandoned: Callable[[T], Awaitable[None]] | None = None) -> T:
        """Await `work`, which goes on to its end if the caller is cancelled."""
        task = self._keep(asyncio.ensure_future(work))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if abandoned is not None:
                task.add_done_callback(lambda done: self._undo(done, abandoned))
            raise

    def _inside_unit(self) -> bool:
        # Only the unit's own task joins it: a task it started may outlive its COMMIT.
        unit = _UNIT.get()
        return unit is not None and unit[0] is self and unit[1] is asyncio.current_task()

    def _keep(self, task: asyncio.Task[T]) -> asyncio.Task[T]:
        # The event loop holds tasks weakly: keep each until it ends, and let close() wait for it.
        self._running.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Retrieved here so an abandoned unit's failure is logged, not lost.
            log.debug("store unit failed: %s", task.exception())

    def _undo(self, done: asyncio.Task[T], abandoned: Callable[[T], Awaitable[None]]) -> None:
        if not done.cancelled() and done.exception() is None:
            self._keep(asyncio.ensure_future(abandoned(done.result())))

    async def _transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        async with self._write_lock:
            return await retrying_when_locked(lambda: self._attempt(work))

    async def _attempt(self, work: Callable[[], Awaitable[T]]) -> T:
        if self._db.in_transaction:  # cannot happen; heal rather than fail every later write
            await self._db.rollback()
        await self._db.execute("BEGIN IMMEDIATE")
        inside = _UNIT.set((self, asyncio.current_task()))  # type: ignore[arg-type]
        try:
            result = await work()
        except BaseException:
            await self._db.rollback()
            raise
        finally:
            _UNIT.reset(inside)
        await self._db.commit()
        return result
