"""Units of work on a database, each one whole transaction whatever happens to its caller.

Every write is one unit (`atomic`) run in a task of its own: a client that
goes away cancels the request, never a transaction half-way, which would
leave the connection inside it and fail every later request. (On SQLite, a
unit that gets the file's lock at once runs in its caller's task instead: it
never waits, so it cannot be cancelled half-way; sqlite_db.py.) How a unit's
transaction begins, and what makes a read-check-write such as a budget
reservation atomic across processes, is the backend's (`_transaction`):
SQLite takes the file's write lock at BEGIN (sqlite_db.py), PostgreSQL a
lock on the budget (postgres_db.py).

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

T = TypeVar("T")
log = logging.getLogger("hermes")
# The unit the running task is inside: (its database's Transactions, the task that runs it, the
# backend's handle on the unit's connection).
_UNIT: ContextVar[tuple[Transactions, asyncio.Task[Any], Any] | None] = ContextVar("hermes_unit", default=None)


class Transactions:
    """Runs units of work; a backend subclasses it with `_transaction`."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()  # units whose caller may have gone

    async def close(self) -> None:
        """Let every unit still running end."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

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
        task = self.spawn(work)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if abandoned is not None:
                task.add_done_callback(lambda done: self._undo(done, abandoned))
            raise

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task running `work` to its end, whoever awaits it; `close()` waits for it."""
        return self._keep(asyncio.ensure_future(work))

    def _inside_unit(self) -> bool:
        return self._unit_connection() is not None

    def _unit_connection(self) -> Any:
        """The connection of the unit the running task is inside, or None."""
        # Only the unit's own task joins it: a task it started may outlive its COMMIT.
        unit = _UNIT.get()
        if unit is not None and unit[0] is self and unit[1] is asyncio.current_task():
            return unit[2]
        return None

    async def _inside(self, connection: Any, work: Callable[[], Awaitable[T]]) -> T:
        """`work()`, with the statements it makes joining `connection`'s transaction."""
        entered = _UNIT.set((self, asyncio.current_task(), connection))  # type: ignore[arg-type]
        try:
            return await work()
        finally:
            _UNIT.reset(entered)

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
        """Run `work` in one transaction (through `_inside`), committed if it returns, rolled back if not."""
        raise NotImplementedError
