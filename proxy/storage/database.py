"""The one interface the store talks to a database through (backends.py picks the backend by URL).

Two backends implement it: SQLite, one file on this machine (sqlite_db.py,
the embedded default), and PostgreSQL, one server shared by several Hermes
replicas (postgres_db.py). store.py writes its SQL once, in the dialect both
speak (`?` placeholders, `ON CONFLICT`, `RETURNING`), and asks the backend
for the two things that differ: a JSON field's text, and how reservations
are kept apart across processes.

    HERMES_DB=~/.hermes/hermes.db                                  # SQLite
    HERMES_DB=postgresql://hermes:secret@db.internal:5432/hermes   # PostgreSQL
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

from proxy.storage.transactions import Transactions


def describe(location: str | Path) -> str:
    """`location` fit for a log line or a report: a URL's password hidden."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", str(location))


class Database(Transactions):
    """Statements, units of work (`atomic`, from Transactions) and reports on one database."""

    dialect: str  # "sqlite" or "postgresql": which migrations' variants to apply

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """A write: inside a unit it joins the unit's transaction, otherwise it is a unit of its own."""
        raise NotImplementedError

    async def insert(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """An INSERT into a table with an `id` key, as `execute`; the new row's id."""
        raise NotImplementedError

    async def fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """The rows of a statement on indexed rows (a call's own reads, or a write with RETURNING).

        Inside a unit it runs in the unit's transaction; outside, on the
        connection the calls use (for SQLite, the event loop's own thread).
        """
        raise NotImplementedError

    async def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """The rows of one read-only query that may scan whole tables (reports.py), kept off the hot path."""
        raise NotImplementedError

    async def lock_budget(self) -> None:
        """Inside a unit: make every other process's reservation wait until this unit ends.

        A reservation reads the day's spend, checks the room and inserts a
        hold; two processes doing that at once could each see the same room.
        """
        raise NotImplementedError

    def json_text(self, column: str, *path: str) -> str:
        """SQL for the text at `path` inside the JSON held in `column`."""
        raise NotImplementedError

    async def reclaim(self) -> None:
        """Give the space of deleted rows back, without holding writers up for long (retention.py).

        PostgreSQL's autovacuum makes it reusable by itself: nothing to do.
        """


class Schema(Protocol):
    """What a migration needs of a database: its dialect, and statements inside the migrating unit."""

    dialect: str

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None: ...

    async def fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]: ...
