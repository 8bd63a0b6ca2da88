"""Sessions in the store: their size and cost, the answers that link a conversation's turns, next-turn verdicts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from proxy.storage.records import Records


class SessionRecords(Records):
    async def session(self, session_id: str) -> dict[str, Any] | None:
        rows = await self._db.fetch("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return rows[0] if rows else None

    async def touch_session(self, session_id: str, turns: int, context_tokens: int, mean_user_tokens: int,
                            output_tokens: int, cost_usd: float = 0.0, stays_on: str | None = None,
                            client: str | None = None) -> None:
        """Note a turn of `session_id`: its size now (the client resends it all, so these replace) and its cost.

        `stays_on`: the cloud model the session moved to (as `stay_on_cloud`), in the same statement.
        """
        stamp = self.now()
        await self._write(
            """
            INSERT INTO sessions (id, started_at, last_seen_at, turns, context_tokens, mean_user_tokens,
                                  output_tokens, cost_usd, cloud_model, client)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at, turns = excluded.turns,
                context_tokens = excluded.context_tokens, mean_user_tokens = excluded.mean_user_tokens,
                output_tokens = excluded.output_tokens, cost_usd = sessions.cost_usd + excluded.cost_usd,
                cloud_model = COALESCE(excluded.cloud_model, sessions.cloud_model),
                client = COALESCE(excluded.client, sessions.client)
            """,
            (session_id, stamp, stamp, turns, context_tokens, mean_user_tokens, output_tokens, cost_usd, stays_on,
             client),
        )

    async def add_answer_link(self, link: str, session_id: str, cloud_model: str | None) -> None:
        """Note an answer of `session_id` by its link (session.py); the same answer in another session is another row."""
        await self._write(
            """INSERT INTO answer_links (link_sha256, session_id, cloud_model, created_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (link_sha256, session_id) DO NOTHING""",
            (link, session_id, cloud_model, self.now()))

    async def answer_links(self, links: list[str], idle_timeout_s: float) -> list[dict[str, Any]]:
        """The answers among `links` given within `idle_timeout_s`, with their session and the turn that went on."""
        since = (self._clock() - timedelta(seconds=idle_timeout_s)).isoformat()
        marks = ", ".join("?" * len(links))
        return await self._db.fetch(
            f"""SELECT link_sha256, session_id, cloud_model, next_sha256, created_at FROM answer_links
                WHERE link_sha256 IN ({marks}) AND created_at >= ?""", (*links, since))

    async def claim_answer_link(self, links: list[str], session_id: str, next_turn: str) -> str | None | bool:
        """Go on from `session_id`'s answer (its `links`) with the turn `next_turn`: its cloud model (or None), or
        False when another turn went on from it first. One statement: two processes cannot both claim it."""
        async def claim() -> str | None | bool:
            marks = ", ".join("?" * len(links))
            rows = await self._db.fetch(
                f"""UPDATE answer_links SET next_sha256 = ?
                    WHERE link_sha256 IN ({marks}) AND session_id = ? AND COALESCE(next_sha256, ?) = ?
                    RETURNING cloud_model""",
                (next_turn, *links, session_id, next_turn, next_turn))
            return rows[0]["cloud_model"] if rows else False

        return await self.atomic(claim)

    async def record_outcome(self, session_id: str, verdict: str, reason: str) -> dict[str, Any] | None:
        """The next turn's verdict on `session_id`'s last answered request (outcome.py): that task row, or None.

        Only the first verdict on a request counts. When it failed and the
        answer was a local one the cascade accepted, that attempt no longer
        counts as accepted: the model's record, and so its later skips, learn it.
        """
        async def record() -> dict[str, Any] | None:
            rows = await self._db.fetch(
                """SELECT id, created_at, requested_model, route, model, task_type, outcome FROM tasks
                   WHERE session_id = ? AND status = 200 ORDER BY id DESC LIMIT 1""", (session_id,))
            if not rows or rows[0]["outcome"] is not None:
                return None
            task = rows[0]
            await self._db.execute("UPDATE tasks SET outcome = ?, outcome_reason = ? WHERE id = ?",
                                   (verdict, reason, task["id"]))
            if verdict == "failed" and task["route"] == "local" and task["requested_model"] == "auto":
                await self._db.execute(
                    """UPDATE local_attempts SET accepted = 0, outcome_reason = ? WHERE id = (
                           SELECT id FROM local_attempts WHERE model = ? AND task_type = ? AND accepted = 1
                           AND created_at <= ? ORDER BY id DESC LIMIT 1)""",
                    (reason, task["model"], task["task_type"], task["created_at"]))
            return task

        return await self.atomic(record)

    async def unsave_replaced_answer(self, session_id: str) -> None:
        """The session's latest local answer that counted as a saving no longer does: an upgrade replaced it."""
        await self._write(
            """UPDATE tasks SET saved_usd = NULL WHERE id = (
                   SELECT id FROM tasks WHERE session_id = ? AND route = 'local' AND saved_usd IS NOT NULL
                   ORDER BY id DESC LIMIT 1)""", (session_id,))

    async def stay_on_cloud(self, session_id: str, model: str | None) -> None:
        """Remember the cloud model a session moved to (None: back to local)."""
        await self._write("UPDATE sessions SET cloud_model = ? WHERE id = ?", (model, session_id))

    async def mean_session_turns(self, excluding: str) -> tuple[float | None, int]:
        """(mean turns, how many sessions) over every other session, those retention folded away included."""
        [row] = await self.rows(
            """SELECT (SELECT COALESCE(SUM(turns), 0) FROM sessions WHERE id != ?)
                        + (SELECT COALESCE(SUM(turns), 0) FROM session_totals) AS turns,
                      (SELECT COUNT(*) FROM sessions WHERE id != ?)
                        + (SELECT COALESCE(SUM(sessions), 0) FROM session_totals) AS n""", (excluding, excluding))
        n = int(row["n"])
        return (int(row["turns"]) / n if n else None), n

    async def session_turns(self, session_id: str, limit: int = 40) -> list[dict[str, Any]]:
        """The session's latest `limit` answered requests, oldest first: model, route, tokens and cache use."""
        rows = await self._db.fetch(
            """SELECT model, route, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens FROM tasks
               WHERE session_id = ? AND status = 200 ORDER BY id DESC LIMIT ?""", (session_id, limit))
        return rows[::-1]

    async def cache_use(self, client: str, model: str) -> dict[str, Any] | None:
        """How agent `client` was seen to use `model`'s prompt cache (money/cache_use.py), or None."""
        rows = await self._db.fetch(
            "SELECT turns, read_ratio, write_ratio FROM cache_use WHERE client = ? AND model = ?", (client, model))
        return rows[0] if rows else None

    async def put_cache_use(self, client: str, model: str, turns: int, read_ratio: float, write_ratio: float) -> None:
        await self._write(
            """INSERT INTO cache_use (client, model, turns, read_ratio, write_ratio) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (client, model) DO UPDATE SET turns = excluded.turns, read_ratio = excluded.read_ratio,
                 write_ratio = excluded.write_ratio""",
            (client, model, turns, read_ratio, write_ratio))
