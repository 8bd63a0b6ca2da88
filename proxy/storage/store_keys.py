"""Team keys in the store (keys.py makes and hashes them; key_auth.py looks them up)."""

from __future__ import annotations

from typing import Any

from proxy.storage.records import Records

# What key `k.id` has charged and holds on the day given as the parameter.
_KEY_SPEND = """COALESCE((SELECT SUM(CASE WHEN l.state = 'charged' THEN l.cost_usd ELSE l.reserved_usd END)
                          FROM ledger l WHERE l.key_id = k.id AND l.day = ? AND l.state != 'released'), 0)"""


class KeyRecords(Records):
    async def create_key(self, name: str, key_sha256: str, daily_limit_usd: float | None) -> bool:
        """Store a key by its hash; False (and nothing stored) when a key of that name is in use."""
        async def create() -> bool:
            if await self._db.fetch("SELECT id FROM api_keys WHERE name = ? AND revoked_at IS NULL", (name,)):
                return False
            await self._db.execute(
                "INSERT INTO api_keys (name, key_sha256, daily_limit_usd, created_at) VALUES (?, ?, ?, ?)",
                (name, key_sha256, daily_limit_usd, self.now()))
            return True

        return await self.atomic(create)

    async def revoke_key(self, name: str) -> bool:
        """Revoke the key in use by `name`; False if there is none."""
        rows = await self.atomic(lambda: self._db.fetch(
            "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL RETURNING id", (self.now(), name)))
        return bool(rows)

    async def find_key(self, key_sha256: str) -> dict[str, Any] | None:
        """The key in use with this hash (id, name, daily_limit_usd), or None."""
        rows = await self._db.fetch(
            "SELECT id, name, daily_limit_usd FROM api_keys WHERE key_sha256 = ? AND revoked_at IS NULL", (key_sha256,))
        return rows[0] if rows else None

    async def keys_in_use(self) -> int:
        [row] = await self._db.fetch("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL", ())
        return int(row["n"])

    async def keys(self, day: str) -> list[dict[str, Any]]:
        """Every key, revoked ones too, with what it charged and holds on `day` (`spent_usd`)."""
        return await self.rows(
            f"""SELECT k.name, k.daily_limit_usd, k.created_at, k.revoked_at, {_KEY_SPEND} AS spent_usd
                FROM api_keys k ORDER BY k.name, k.id""", (day,))
