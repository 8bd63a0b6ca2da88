"""Who holds a budget reservation: a host and a process, told apart from a later one that reuses its pid.

Several Hermes processes may share one database file. At start-up each one
settles the reservations of processes that are gone; it must never touch
those of a process that is still running.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta, timezone
from functools import cache

# A replica beats every HEARTBEAT_S (app.py); one silent for LEASE_S is taken for gone.
HEARTBEAT_S = 10.0
LEASE_S = 60.0


def _start_ticks(pid: int) -> str:
    """When `pid` started (clock ticks since boot, /proc/PID/stat field 22); "" where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


@cache
def this_process() -> str:
    """`host:pid:start`, the owner recorded with each reservation this process makes."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def is_gone(owner: str | None, seen_at: str | None = None) -> bool:
    """Whether the process that recorded `owner` has certainly ended.

    A reservation with no owner predates owners being recorded: its process
    is gone. One recorded on another host (a replica sharing a PostgreSQL
    database) cannot be checked from here: it is gone when its last
    heartbeat (`seen_at`, store.heartbeat) is older than LEASE_S, and left
    alone when it has none.
    """
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        if seen_at is None:
            return False
        return datetime.now(timezone.utc) - datetime.fromisoformat(seen_at) > timedelta(seconds=LEASE_S)
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user
    return bool(started) and _start_ticks(pid) not in ("", started)
