"""The store's reports for the dashboard and /metrics: aggregates over tasks, the ledger and attempts.

Read-only queries, kept apart from store.py's reads and writes of one request.
`since` is an ISO UTC timestamp (tasks.created_at's format); "" means all time.

Each sum adds the daily totals that old detail was folded into (retention.py):
whole UTC days before the retention cutoff, counted from `since`'s own day.
Latency percentiles, the latest requests and a request's detail need the rows
themselves, so they cover the days kept.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from proxy.storage.retention import LATENCY_BOUNDS_MS
from proxy.storage.store import Store

# Charged calls per budget day and model: the ledger's, and those folded into ledger_days.
CHARGED = """SELECT day, model, COUNT(*) AS calls, SUM(cost_usd) AS cost_usd FROM ledger
             WHERE state = 'charged' GROUP BY day, model
             UNION ALL SELECT day, model, calls, cost_usd FROM ledger_days"""


async def spend_by_day_and_model(store: Store, first_day: str, last_day: str) -> list[dict[str, Any]]:
    """Charged calls and USD per (budget day, model), for days first_day..last_day inclusive."""
    return await store.rows(
        f"""SELECT day, model, CAST(SUM(calls) AS BIGINT) AS calls, SUM(cost_usd) AS cost_usd FROM ({CHARGED}) AS charged
            WHERE day BETWEEN ? AND ? GROUP BY day, model ORDER BY day, model""",
        (first_day, last_day),
    )


async def charged_by_model(store: Store) -> list[dict[str, Any]]:
    """Charged calls and USD per model, all time."""
    return await store.rows(
        f"""SELECT model, CAST(SUM(calls) AS BIGINT) AS calls, SUM(cost_usd) AS cost_usd FROM ({CHARGED}) AS charged
            GROUP BY model ORDER BY model""",
        (),
    )


async def answered_by_task_type(store: Store, since: str) -> list[dict[str, Any]]:
    """Answered (status 200) requests per (task type, whether `auto` was asked for, route)."""
    return await store.rows(
        """SELECT task_type, auto, route, CAST(SUM(requests) AS BIGINT) AS requests FROM (
               SELECT COALESCE(task_type, 'unknown') AS task_type,
                      CASE WHEN requested_model = 'auto' THEN 1 ELSE 0 END AS auto, COALESCE(route, 'none') AS route,
                      COUNT(*) AS requests
               FROM tasks WHERE created_at >= ? AND status = 200 GROUP BY 1, 2, 3
               UNION ALL
               SELECT COALESCE(NULLIF(task_type, ''), 'unknown'), auto, COALESCE(NULLIF(route, ''), 'none'), requests
               FROM task_days WHERE day >= ? AND status = 200) AS answered
           GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        (since, since[:10]),
    )


async def request_counts(store: Store) -> list[dict[str, Any]]:
    """Requests per (route, model, HTTP status), all time."""
    return await store.rows(
        """SELECT route, model, status, CAST(SUM(requests) AS BIGINT) AS requests FROM (
               SELECT COALESCE(route, 'none') AS route, COALESCE(model, 'none') AS model, status, COUNT(*) AS requests
               FROM tasks GROUP BY 1, 2, 3
               UNION ALL
               SELECT COALESCE(NULLIF(route, ''), 'none'), COALESCE(NULLIF(model, ''), 'none'), status, requests
               FROM task_days) AS counted
           GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        (),
    )


async def attempt_totals(store: Store, since: str) -> list[dict[str, Any]]:
    """Local cascade tries per (model, task type): tried, accepted, skipped, and their mean score."""
    rows = await store.rows(
        """SELECT model, task_type, CAST(SUM(tried) AS BIGINT) AS tried, CAST(SUM(accepted) AS BIGINT) AS accepted,
                  CAST(SUM(skipped) AS BIGINT) AS skipped, CAST(SUM(scored) AS BIGINT) AS scored,
                  SUM(score_sum) AS score_sum FROM (
               SELECT model, task_type, COUNT(accepted) AS tried, COALESCE(SUM(accepted), 0) AS accepted,
                      SUM(CASE WHEN accepted IS NULL THEN 1 ELSE 0 END) AS skipped, COUNT(score) AS scored,
                      COALESCE(SUM(score), 0) AS score_sum
               FROM local_attempts WHERE created_at >= ? GROUP BY model, task_type
               UNION ALL
               SELECT model, task_type, tried, accepted, skipped, scored, score_sum FROM attempt_days WHERE day >= ?
           ) AS attempts GROUP BY model, task_type ORDER BY model, task_type""",
        (since, since[:10]),
    )
    return [{key: value for key, value in row.items() if key != "score_sum"}
            | {"mean_score": row["score_sum"] / row["scored"] if row["scored"] else None} for row in rows]


async def latency_percentiles_ms(store: Store, since: str, quantiles: tuple[float, ...]) -> tuple[int, list[float | None]]:
    """(answered requests, nearest-rank latency in ms at each quantile), without loading every row; days kept only."""
    where = "FROM tasks WHERE created_at >= ? AND status = 200"
    [count] = await store.rows(f"SELECT COUNT(*) AS n {where}", (since,))
    n = int(count["n"])
    values: list[float | None] = []
    for q in quantiles:
        rank = max(1, int(-(-q * n // 1)))  # ceil(q * n), at least the first
        rows = await store.rows(f"SELECT latency_ms {where} ORDER BY latency_ms LIMIT 1 OFFSET ?",
                                (since, rank - 1))
        values.append(float(rows[0]["latency_ms"]) if rows else None)
    return n, values


async def latency_histogram(store: Store, bounds_ms: tuple[float, ...]) -> list[dict[str, Any]]:
    """Per route, all time: requests, total ms, and `le_<i>` = how many took at most bounds_ms[i]."""
    buckets = ", ".join(f"SUM(CASE WHEN latency_ms <= ? THEN 1 ELSE 0 END) AS le_{i}" for i in range(len(bounds_ms)))
    kept = await store.rows(
        f"""SELECT COALESCE(route, 'none') AS route, COUNT(*) AS requests, SUM(latency_ms) AS sum_ms, {buckets}
            FROM tasks GROUP BY 1 ORDER BY 1""",
        tuple(bounds_ms),
    )
    by_route = {row["route"]: row for row in kept}
    at = [LATENCY_BOUNDS_MS.index(round(bound)) for bound in bounds_ms]  # folded days keep these bounds only
    for row in await store.rows("SELECT route, requests, latency_ms, latency_le FROM task_days", ()):
        route = row["route"] or "none"
        into = by_route.setdefault(route, {"route": route, "requests": 0, "sum_ms": 0.0}
                                   | {f"le_{i}": 0 for i in range(len(bounds_ms))})
        counts = json.loads(row["latency_le"])
        into["requests"] += row["requests"]
        into["sum_ms"] += row["latency_ms"]
        for i, index in enumerate(at):
            into[f"le_{i}"] += counts[index]
    return [by_route[route] for route in sorted(by_route)]


async def cache_totals(store: Store, since: str) -> dict[str, int]:
    """Cloud calls' input tokens since `since`, and of them those read from and written to the prompt cache."""
    [row] = await store.rows(
        """SELECT CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens,
                  CAST(COALESCE(SUM(cache_read_tokens), 0) AS BIGINT) AS read_tokens,
                  CAST(COALESCE(SUM(cache_write_tokens), 0) AS BIGINT) AS written_tokens FROM (
               SELECT input_tokens, cache_read_tokens, cache_write_tokens FROM tasks
               WHERE route = 'cloud' AND created_at >= ?
               UNION ALL
               SELECT input_tokens, cache_read_tokens, cache_write_tokens FROM task_days
               WHERE route = 'cloud' AND day >= ?) AS cloud""", (since, since[:10]))
    return {key: int(value) for key, value in row.items()}


async def latest_tasks(store: Store, limit: int) -> list[dict[str, Any]]:
    """The newest tasks, newest first, each with `quality`: the best local score of its cascade.

    Tasks do not store their score, so an `auto` task takes the best local
    attempt of its task type recorded after the previous task of that type
    and before it. Exact for one request at a time; approximate when
    requests of one task type overlap.
    """
    return await store.rows(
        """
        SELECT t.*, CASE WHEN t.requested_model = 'auto' THEN (
            SELECT MAX(a.score) FROM local_attempts a
            WHERE a.task_type = t.task_type AND a.created_at <= t.created_at
              AND a.created_at > COALESCE((SELECT p.created_at FROM tasks p WHERE p.id < t.id
                                           AND p.task_type = t.task_type ORDER BY p.id DESC LIMIT 1), '')
        ) END AS quality
        FROM tasks t ORDER BY t.id DESC LIMIT ?
        """,
        (limit,),
    )


async def task_by_id(store: Store, task_id: int) -> dict[str, Any] | None:
    """One recorded request (a tasks row), or None."""
    rows = await store.rows("SELECT * FROM tasks WHERE id = ?", (task_id,))
    return rows[0] if rows else None


async def cascade_attempts(store: Store, task: dict[str, Any]) -> list[dict[str, Any]]:
    """The local attempts of an `auto` task's cascade, oldest first; [] for any other request.

    Matched as `latest_tasks` matches its quality: the attempts of the task's
    type recorded after the previous task of that type and before this one.
    """
    if task["requested_model"] != "auto" or task["task_type"] is None:
        return []
    return await store.rows(
        """
        SELECT a.model, a.score, a.accepted FROM local_attempts a
        WHERE a.task_type = ? AND a.created_at <= ?
          AND a.created_at > COALESCE((SELECT p.created_at FROM tasks p WHERE p.id < ? AND p.task_type = ?
                                       ORDER BY p.id DESC LIMIT 1), '')
        ORDER BY a.id
        """,
        (task["task_type"], task["created_at"], task["id"], task["task_type"]),
    )


async def spend_by_key(store: Store, day: str) -> list[dict[str, Any]]:
    """Per team key in use, or that spent on `day`: its limit and what it charged and holds (keys.py)."""
    return [{"name": row["name"], "daily_limit_usd": row["daily_limit_usd"],
             "spent_usd": round(float(row["spent_usd"]), 8), "revoked": row["revoked_at"] is not None}
            for row in await store.keys(day) if row["revoked_at"] is None or row["spent_usd"]]


async def saved_by_model(store: Store, since: str = "", until: str = "") -> list[dict[str, Any]]:
    """What local answers saved (tasks.saved_usd, see savings.py) per cloud model stood in for, from `since`
    up to `until` (exclusive; "" means no end): local answers and USD."""
    model = store.json_text("hermes", "savings", "model")
    return await store.rows(
        f"""SELECT model, CAST(SUM(answers) AS BIGINT) AS answers, SUM(saved_usd) AS saved_usd FROM (
               SELECT COALESCE({model}, 'unknown') AS model, COUNT(*) AS answers, SUM(saved_usd) AS saved_usd
               FROM tasks WHERE saved_usd IS NOT NULL AND created_at >= ? AND (? = '' OR created_at < ?) GROUP BY 1
               UNION ALL
               SELECT COALESCE(NULLIF(saved_model, ''), 'unknown'), saved_answers, saved_usd FROM task_days
               WHERE saved_answers > 0 AND day >= ? AND (? = '' OR day < ?)) AS saved
           GROUP BY 1 ORDER BY 1""",
        (since, until, until, since[:10], until[:10], until[:10]),
    )


async def saved_today(store: Store, resets_at: datetime) -> dict[str, Any]:
    """What local answers saved on the budget day that ends at `resets_at` (BudgetStatus.resets_at).

    `today_usd` is None when no answer that day stood in for a cloud model (none was local, or no cloud
    model could have answered), so that "saved $0.00" is never said of a day with nothing to compare.
    """
    start = (resets_at - timedelta(days=1)).astimezone(timezone.utc).isoformat()
    rows = await saved_by_model(store, start, resets_at.astimezone(timezone.utc).isoformat())
    answers = sum(row["answers"] for row in rows)
    return {
        "today_usd": round(sum(row["saved_usd"] for row in rows), 8) if answers else None,
        "answers": answers,
        "by_model": [row | {"saved_usd": round(row["saved_usd"], 8)} for row in rows],
    }
