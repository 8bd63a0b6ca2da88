"""SQLite's errors, seen from Hermes: waits on a file another process holds, and a 503 for the rest.

The one boundary where sqlite3's exceptions become Hermes's (as httpx maps
httpcore's): no database error ever reaches a client as a 500.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from proxy.errors import StoreUnavailable

T = TypeVar("T")
log = logging.getLogger("hermes")
# How long a write waits for another process's transaction before giving up
# with a 503; every transaction here lasts milliseconds.
BUSY_TIMEOUT_MS = 15_000
FIRST_WAIT_S = 0.0002
MAX_WAIT_S = 0.02


async def retrying_when_locked(attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt()`, tried again while another process has the file locked, for up to BUSY_TIMEOUT_MS.

    SQLite's busy timeout covers most waits, but under several writing
    processes it can still answer "database is locked" at once (it will not
    wait where waiting could deadlock); then the whole attempt, rolled back,
    is simply made again.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT_MS / 1000
    tries = 0
    while True:
        try:
            return await attempt()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or loop.time() > deadline:
                raise unavailable(exc) from None
            await asyncio.sleep(backoff_s(tries))
            tries += 1
        except sqlite3.Error as exc:
            raise unavailable(exc) from None


def backoff_s(tries: int) -> float:
    """The wait before try `tries` + 1: from about 0.2 ms, doubling to at most about 20 ms, jittered.

    A call's transactions hold the lock for a tenth of a millisecond or so, so
    the first waits are that short: a fixed 5-50 ms wait made two workers on
    one file slower than one (their p90 five times worse). The jitter keeps
    processes that collided from colliding again.
    """
    return min(FIRST_WAIT_S * 2 ** tries, MAX_WAIT_S) * random.uniform(0.5, 1.5)


def is_locked(exc: sqlite3.Error) -> bool:
    """Whether `exc` says another process holds the file (then the attempt, rolled back, can be made again)."""
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def unavailable(exc: sqlite3.Error) -> StoreUnavailable:
    """The one place SQLite's errors become Hermes's: a 503 that says what is wrong, never a 500."""
    log.warning("database error: %s", exc)
    return StoreUnavailable(f"Hermes's database is unavailable ({exc}); try again shortly.")
