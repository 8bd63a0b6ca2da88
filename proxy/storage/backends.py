"""The database a location names: a postgresql:// URL, else a SQLite file path.

Apart from database.py, the interface, so that the interface never imports
its implementations (each of which imports it).
"""

from __future__ import annotations

from pathlib import Path

from proxy.config import is_postgres
from proxy.storage.database import Database


async def open_database(location: str | Path) -> Database:
    """The backend `location` names, connected and migrated: a postgresql:// URL, else a file path."""
    if is_postgres(location):
        from proxy.storage.postgres_db import PostgresDatabase  # asyncpg is imported only by those who use it

        return await PostgresDatabase.open(str(location))
    from proxy.storage.sqlite_db import SQLiteDatabase

    return await SQLiteDatabase.open(Path(location).expanduser())
