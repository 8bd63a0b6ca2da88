"""The SQLite store: schema, numbered migrations, and every SQL statement.

WAL mode and a commit per write, so a killed process loses nothing that was
recorded. Prompts are not stored: a hash and token counts stand in for them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiosqlite


async def m001_initial(db: aiosqlite.Connection) -> None:
    await db.execute(
        """
        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            requested_model TEXT NOT NULL,
            route TEXT,
            model TEXT,
            stream INTEGER NOT NULL,
            status INTEGER NOT NULL,
            error_code TEXT,
            prompt_sha256 TEXT NOT NULL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            latency_ms REAL NOT NULL
        )
        """
    )


MIGRATIONS: list[Callable[[aiosqlite.Connection], Awaitable[None]]] = [m001_initial]


@dataclass(frozen=True)
class TaskRecord:
    """One chat request as it ended."""

    requested_model: str
    route: str | None
    model: str | None
    stream: bool
    status: int
    error_code: str | None
    messages: list[dict[str, Any]]
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float


class Store:
    """One aiosqlite connection, opened and migrated in the app's lifespan."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA busy_timeout=5000")
        await _migrate(db)
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    async def record_task(self, task: TaskRecord) -> None:
        await self._db.execute(
            """
            INSERT INTO tasks (created_at, requested_model, route, model, stream, status, error_code,
                               prompt_sha256, input_tokens, output_tokens, cost_usd, latency_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                datetime.now(timezone.utc).isoformat(),
                task.requested_model,
                task.route,
                task.model,
                int(task.stream),
                task.status,
                task.error_code,
                prompt_sha256(task.messages),
                task.input_tokens,
                task.output_tokens,
                task.cost_usd,
                task.latency_ms,
            ),
        )
        await self._db.commit()

    async def recent_tasks(self, limit: int = 50) -> list[dict[str, Any]]:
        cursor = await self._db.execute("SELECT * FROM tasks ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(row) for row in await cursor.fetchall()]


def prompt_sha256(messages: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


async def _migrate(db: aiosqlite.Connection) -> None:
    await db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    cursor = await db.execute("SELECT name FROM migrations")
    applied = {row[0] for row in await cursor.fetchall()}
    for migration in MIGRATIONS:
        if migration.__name__ not in applied:
            # Schema change and its record commit together or not at all.
            await db.execute("BEGIN")
            await migration(db)
            await db.execute(
                "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                (migration.__name__, datetime.now(timezone.utc).isoformat()),
            )
            await db.commit()
