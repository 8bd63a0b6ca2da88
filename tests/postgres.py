"""A throw-away PostgreSQL cluster for the tests: Debian's server, started in a temp dir, stopped after.

`initdb` and `pg_ctl` run as a user that is not root (PostgreSQL refuses
root): the current one, or `postgres` (which Debian's package creates) when
the tests run as root. The server listens on 127.0.0.1 at a free port and
on a socket in the cluster's directory; durability settings are off, as
nothing here outlives the run. Each test gets a database of its own, copied
from a template that is migrated once.
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

USER = "hermes"
TEMPLATE = "hermes_template"


def find_binary(name: str) -> str | None:
    """`initdb`/`pg_ctl` on PATH, else in Debian's versioned directory (which is not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def unavailable_reason() -> str | None:
    """Why a cluster cannot be started here, or None when it can."""
    if find_binary("initdb") is None or find_binary("pg_ctl") is None:
        return "PostgreSQL's server (initdb, pg_ctl) is not installed: `apt-get install postgresql`"
    if os.getuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run the server as"
    return None


class PostgresCluster:
    """One server for the whole test session."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="hermes-pg-"))
        self.port = _free_port()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._as_user: list[str] = []
        if os.getuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.directory, "postgres")

    def start(self) -> None:
        data = self.directory / "data"
        self._run(find_binary("initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run(find_binary("pg_ctl"), "-D", str(data), "-l", str(self.directory / "log"), "-o", options,
                  "-w", "start")
        asyncio.run(self._make_template())

    def stop(self) -> None:
        subprocess.run([*self._as_user, find_binary("pg_ctl") or "pg_ctl", "-D", str(self.directory / "data"),
                        "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a fresh database with Hermes's schema already migrated."""
        with self._lock:
            name = f"hermes_test_{os.getpid()}_{next(self._counter)}"
        _in_own_loop(self._admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
        return self.url(name)

    async def _make_template(self) -> None:
        from proxy.storage.store import Store

        await self._admin(f"CREATE DATABASE {TEMPLATE}")
        store = await Store.open(self.url(TEMPLATE))
        await store.close()

    async def _admin(self, sql: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(self.url("postgres"))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    def _run(self, *command: str | None) -> None:
        done = subprocess.run([*self._as_user, *[str(part) for part in command]], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stderr or done.stdout}")


def query(location: str | Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Run one statement on a store's database, from a test, whatever the backend; its rows as dicts.

    Written in SQLite's spelling (`?` placeholders), as store.py's statements are.
    """
    async def run() -> list[dict[str, Any]]:
        from proxy.storage.backends import open_database

        database = await open_database(location)
        try:
            if sql.lstrip().upper().startswith(("SELECT", "WITH", "PRAGMA")):
                return await database.rows(sql, params)
            return await database.atomic(lambda: database.fetch(sql, params))
        finally:
            await database.close()

    return _in_own_loop(run())


def _in_own_loop(work: Any) -> Any:
    """Run a coroutine to its end on a loop of its own thread: tests call this from inside running loops too."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(work))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
