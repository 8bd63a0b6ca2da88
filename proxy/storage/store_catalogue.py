"""The last copy of OpenRouter's model catalogue (money/catalogue.py), kept so a start offline still has it."""

from __future__ import annotations

import json
from typing import Any

from proxy.storage.records import Records

SOURCE = "openrouter"


class CatalogueRecords(Records):
    async def save_catalogue(self, stored: dict[str, Any]) -> None:
        """Keep `stored` (Catalogue.to_json) as the one copy, replacing the last."""
        await self.atomic(lambda: self._db.execute(
            """INSERT INTO catalogue (source, fetched_at, body) VALUES (?, ?, ?)
               ON CONFLICT (source) DO UPDATE SET fetched_at = excluded.fetched_at, body = excluded.body""",
            (SOURCE, float(stored["fetched_at"]), json.dumps(stored, separators=(",", ":")))))

    async def saved_catalogue(self) -> dict[str, Any] | None:
        """The copy `save_catalogue` kept, or None when there is none yet."""
        rows = await self._db.fetch("SELECT body FROM catalogue WHERE source = ?", (SOURCE,))
        return json.loads(rows[0]["body"]) if rows else None
