"""Retention: request detail older than `server.retention_days` folded into daily totals, then deleted.

Every call writes a tasks row, a ledger row and often a session, a local
attempt and a cost prediction; after 196,000 calls the file was 250 MB.
What the reports read of old calls is sums (spend per day and model,
requests per task type and route, the cascade's tries, tokens, savings), so
old rows are added into one row per day and what the reports group by
(task_days, ledger_days, attempt_days), and the reports add those rows to
what is kept (reports.py). What is learned one row at a time is kept
whatever its age: the newest `keep_tries` decided local attempts per model
and task type (the cascade's record), and the first and latest cost
predictions of each model (the accuracy report). Sessions idle past the
cutoff leave their count and turns behind (session_totals), for the learned
session length. Answer links expire with the session idle timeout and go.

Each batch is one short transaction (fold, then delete, or neither), so
requests go on between them; held reservations are never touched.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from proxy.storage.records import Records

# The latency bounds (ms) kept for folded requests, and /metrics's histogram buckets (edge/metrics.py).
LATENCY_BOUNDS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000)
# Cost predictions kept per (task type, model) whatever their age: the accuracy report's first ones
# (before learning), and the latest ones (which the dashboard lists).
FIRST_PREDICTIONS = 10
LATEST_PREDICTIONS = 100
BATCH = 1000


@dataclass
class Pruned:
    """Rows folded (or, for links, expired) and deleted by one pass, per table."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class RetentionRecords(Records):
    """Folds and deletes old detail; the reports' side of it is in reports.py."""

    async def prune(self, cutoff: str, links_before: str, keep_tries: int, batch: int = BATCH) -> Pruned:
        """Fold and delete detail created before `cutoff` (ISO UTC), and answer links from before `links_before`."""
        pruned = Pruned()
        steps = (("tasks", lambda: self._fold_tasks(cutoff, batch)),
                 ("ledger", lambda: self._fold_ledger(cutoff, batch)),
                 ("sessions", lambda: self._fold_sessions(cutoff, batch)),
                 ("answer_links", lambda: self._expire_links(links_before, batch)))
        for table, step in steps:
            pruned.counts[table] += await self._in_batches(step, batch)
        for model, task_type in [(r["model"], r["task_type"]) for r in await self._db.fetch(
                "SELECT DISTINCT model, task_type FROM local_attempts")]:
            pruned.counts["local_attempts"] += await self._in_batches(
                lambda: self._fold_attempts(model, task_type, cutoff, keep_tries, batch), batch)
        for task_type, model in [(r["task_type"], r["model"]) for r in await self._db.fetch(
                "SELECT DISTINCT task_type, model FROM cost_predictions")]:
            pruned.counts["cost_predictions"] += await self._in_batches(
                lambda: self._fold_predictions(task_type, model, cutoff, batch), batch)
        return pruned

    async def reclaim(self) -> None:
        """Give the space of what `prune` deleted back (SQLite); see Database.reclaim."""
        await self._db.reclaim()

    async def _in_batches(self, step: Any, batch: int) -> int:
        async def locked() -> int:
            # One replica's batch at a time (PostgreSQL; SQLite's BEGIN IMMEDIATE does it already): two folding
            # the same rows would count them twice. It holds reservations back for the batch's milliseconds.
            await self._db.lock_budget()
            return int(await step())

        done = 0
        while True:
            n = await self.atomic(locked)
            done += n
            if n < batch:
                return done
            await asyncio.sleep(0)  # requests waiting for the write lock go first

    async def _fold_tasks(self, cutoff: str, batch: int) -> int:
        saved_model = self._db.json_text("hermes", "savings", "model")
        rows = await self._db.fetch(
            f"""SELECT id, created_at, route, model, task_type, requested_model, status, input_tokens, output_tokens,
                       cache_read_tokens, cache_write_tokens, cost_usd, latency_ms, saved_usd,
                       {saved_model} AS saved_model
                FROM tasks WHERE created_at < ? ORDER BY id LIMIT ?""", (cutoff, batch))
        if not rows:
            return 0
        totals: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in rows:
            saved = row["saved_usd"] is not None
            key = (row["created_at"][:10], row["route"] or "", row["model"] or "", row["task_type"] or "",
                   int(row["requested_model"] == "auto"), int(row["status"]), (row["saved_model"] or "") if saved else "")
            into = totals.setdefault(key, _empty_task_day())
            for column in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd",
                           "latency_ms"):
                into[column] += row[column] or 0
            into["requests"] += 1
            into["latency_le"] = [n + (float(row["latency_ms"]) <= bound)
                                  for n, bound in zip(into["latency_le"], LATENCY_BOUNDS_MS)]
            if saved:
                into["saved_answers"] += 1
                into["saved_usd"] += float(row["saved_usd"])
        for key, into in totals.items():
            await self._add_task_day(key, into)
        await self._db.execute("DELETE FROM tasks WHERE created_at < ? AND id <= ?", (cutoff, rows[-1]["id"]))
        return len(rows)

    async def _add_task_day(self, key: tuple[Any, ...], into: dict[str, Any]) -> None:
        where = "day = ? AND route = ? AND model = ? AND task_type = ? AND auto = ? AND status = ? AND saved_model = ?"
        old = await self._db.fetch(f"SELECT * FROM task_days WHERE {where}", key)
        if old:
            before = old[0]
            for column, value in into.items():
                into[column] = ([a + b for a, b in zip(json.loads(before[column]), value)] if column == "latency_le"
                                else before[column] + value)
            await self._db.execute(f"DELETE FROM task_days WHERE {where}", key)
        columns = list(into)
        values = [json.dumps(into[c]) if c == "latency_le" else into[c] for c in columns]
        await self._db.execute(
            f"""INSERT INTO task_days (day, route, model, task_type, auto, status, saved_model, {', '.join(columns)})
                VALUES ({', '.join('?' * (7 + len(columns)))})""", (*key, *values))

    async def _fold_ledger(self, cutoff: str, batch: int) -> int:
        rows = await self._db.fetch(
            """SELECT id, day, model, key_id, state, cost_usd FROM ledger
               WHERE created_at < ? AND state != 'held' ORDER BY id LIMIT ?""", (cutoff, batch))
        if not rows:
            return 0
        charged: dict[tuple[str, str, int], list[float]] = defaultdict(lambda: [0, 0.0])
        for row in rows:
            if row["state"] == "charged":
                sums = charged[(row["day"], row["model"], int(row["key_id"] or 0))]
                sums[0] += 1
                sums[1] += float(row["cost_usd"])
        for (day, model, key_id), (calls, cost) in charged.items():
            await self._db.execute(
                """INSERT INTO ledger_days (day, model, key_id, calls, cost_usd) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (day, model, key_id) DO UPDATE SET calls = ledger_days.calls + excluded.calls,
                     cost_usd = ledger_days.cost_usd + excluded.cost_usd""", (day, model, key_id, calls, cost))
        # The ledger's triggers take deleted charges out of day_totals: the day's total is put back as it was.
        days = sorted({row["day"] for row in rows})
        marks = ", ".join("?" * len(days))
        kept = await self._db.fetch(f"SELECT day, charged_usd FROM day_totals WHERE day IN ({marks})", tuple(days))
        ids = [row["id"] for row in rows]
        await self._db.execute(f"DELETE FROM ledger WHERE id IN ({', '.join('?' * len(ids))})", tuple(ids))
        for row in kept:
            await self._db.execute("UPDATE day_totals SET charged_usd = ? WHERE day = ?",
                                   (row["charged_usd"], row["day"]))
        return len(rows)

    async def _fold_attempts(self, model: str, task_type: str, cutoff: str, keep_tries: int, batch: int) -> int:
        # The cascade reads the newest `keep_tries` decided attempts and the skips since the newest (skips.py).
        boundary = await self._db.fetch(
            """SELECT id FROM local_attempts WHERE model = ? AND task_type = ? AND accepted IS NOT NULL
               ORDER BY id DESC LIMIT 1 OFFSET ?""", (model, task_type, keep_tries - 1))
        if not boundary:
            return 0
        [tools] = await self._db.fetch(
            """SELECT COALESCE(MAX(id), 0) AS id FROM local_attempts
               WHERE model = ? AND tools = 1 AND accepted IS NOT NULL""", (model,))
        rows = await self._db.fetch(
            """SELECT id, created_at, score, accepted, tools FROM local_attempts
               WHERE model = ? AND task_type = ? AND id < ? AND created_at < ? AND NOT (tools = 1 AND id > ?)
               ORDER BY id LIMIT ?""", (model, task_type, boundary[0]["id"], cutoff, tools["id"], batch))
        sums: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0.0])
        for row in rows:
            into = sums[(row["created_at"][:10], int(row["tools"]))]
            decided = row["accepted"] is not None
            into[0] += decided
            into[1] += int(row["accepted"] or 0)
            into[2] += not decided
            into[3] += row["score"] is not None
            into[4] += float(row["score"] or 0.0)
        for (day, uses_tools), (tried, accepted, skipped, scored, score_sum) in sums.items():
            await self._db.execute(
                """INSERT INTO attempt_days (day, model, task_type, tools, tried, accepted, skipped, scored, score_sum)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (day, model, task_type, tools) DO UPDATE SET tried = attempt_days.tried + excluded.tried,
                     accepted = attempt_days.accepted + excluded.accepted,
                     skipped = attempt_days.skipped + excluded.skipped, scored = attempt_days.scored + excluded.scored,
                     score_sum = attempt_days.score_sum + excluded.score_sum""",
                (day, model, task_type, uses_tools, tried, accepted, skipped, scored, score_sum))
        if rows:
            ids = [row["id"] for row in rows]
            await self._db.execute(f"DELETE FROM local_attempts WHERE id IN ({', '.join('?' * len(ids))})", tuple(ids))
        return len(rows)

    async def _fold_predictions(self, task_type: str, model: str, cutoff: str, batch: int) -> int:
        key = (task_type, model)
        first = await self._db.fetch("""SELECT id FROM cost_predictions WHERE task_type = ? AND model = ?
                                        ORDER BY id LIMIT 1 OFFSET ?""", (*key, FIRST_PREDICTIONS - 1))
        latest = await self._db.fetch("""SELECT id FROM cost_predictions WHERE task_type = ? AND model = ?
                                         ORDER BY id DESC LIMIT 1 OFFSET ?""", (*key, LATEST_PREDICTIONS - 1))
        if not first or not latest:
            return 0
        rows = await self._db.fetch(
            """SELECT id FROM cost_predictions WHERE task_type = ? AND model = ? AND id > ? AND id < ?
               AND created_at < ? ORDER BY id LIMIT ?""", (*key, first[0]["id"], latest[0]["id"], cutoff, batch))
        if rows:
            await self._db.execute(
                """INSERT INTO prediction_totals (task_type, model, predictions) VALUES (?, ?, ?)
                   ON CONFLICT (task_type, model) DO UPDATE
                   SET predictions = prediction_totals.predictions + excluded.predictions""", (*key, len(rows)))
            ids = [row["id"] for row in rows]
            await self._db.execute(f"DELETE FROM cost_predictions WHERE id IN ({', '.join('?' * len(ids))})",
                                   tuple(ids))
        return len(rows)

    async def _fold_sessions(self, cutoff: str, batch: int) -> int:
        rows = await self._db.fetch("SELECT id, turns FROM sessions WHERE last_seen_at < ? LIMIT ?", (cutoff, batch))
        if rows:
            await self._db.execute(
                """INSERT INTO session_totals (id, sessions, turns) VALUES (1, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET sessions = session_totals.sessions + excluded.sessions,
                     turns = session_totals.turns + excluded.turns""",
                (len(rows), sum(int(row["turns"]) for row in rows)))
            ids = [row["id"] for row in rows]
            await self._db.execute(f"DELETE FROM sessions WHERE id IN ({', '.join('?' * len(ids))})", tuple(ids))
        return len(rows)

    async def _expire_links(self, before: str, batch: int) -> int:
        rows = await self._db.fetch("SELECT link_sha256, session_id FROM answer_links WHERE created_at < ? LIMIT ?",
                                    (before, batch))
        for row in rows:
            await self._db.execute("DELETE FROM answer_links WHERE link_sha256 = ? AND session_id = ?",
                                   (row["link_sha256"], row["session_id"]))
        return len(rows)


def _empty_task_day() -> dict[str, Any]:
    return {"requests": 0, "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "cache_write_tokens": 0,
            "cost_usd": 0.0, "latency_ms": 0.0, "latency_le": [0] * len(LATENCY_BOUNDS_MS), "saved_answers": 0,
            "saved_usd": 0.0}
