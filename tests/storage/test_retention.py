"""Retention: old request detail folded into daily totals; the file shrinks and every report reads the same.

100,000 calls are recorded through the store as Hermes records them (a
reservation charged in the ledger, the request, a local attempt or a cost
prediction, the session's turn), half of them three days ago and half now
(the store's clock moved forward three days). Then one retention pass at
one day: the dashboard, /metrics, the budget, the cost-prediction accuracy
and the cascade's record, asked of a running Hermes and of the store, read
the same as before, and the SQLite file is less than half its size.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy.config import Config
from proxy.edge.retention_job import cutoff, prune_once
from proxy.money.budget import budget_day
from proxy.storage.store import Prediction, Store, TaskRecord
from tests.conftest import TEST_BACKEND

CALLS = 100_000
PER_UNIT = 500
MODELS = ("claude-3.5-sonnet", "gpt-4")
TASK_TYPES = ("quick_qa", "code_edit", "refactor", "conversation")


class MovableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def record_calls(store: Store, config: Config, clock: MovableClock, calls: int, seed: int) -> None:
    """`calls` requests as the pipeline records them, a few milliseconds apart on `clock`."""
    rng = random.Random(seed)

    async def one(i: int) -> None:
        clock.at += timedelta(milliseconds=2)
        task_type, model = rng.choice(TASK_TYPES), rng.choice(MODELS)
        session = f"s-{seed}-{i // 4}"
        latency = rng.lognormvariate(6, 1.2)
        kind = rng.random()
        if kind < 0.6:  # a cloud call: reserved, charged, recorded, predicted
            cost = round(rng.uniform(0.0001, 0.02), 6)
            reservation = await store.insert_reservation(budget_day(config.budget, clock), model, cost * 2)
            await store.settle_reservation(reservation, cost)
            task = TaskRecord("auto" if kind < 0.3 else model, "cloud", model, False, 200, None, [], 900, 120, cost,
                              latency, task_type, session, cache_read_tokens=rng.randint(0, 800),
                              cache_write_tokens=rng.randint(0, 100))
            await store.record_prediction(Prediction(task_type, model, 900, 100, 120, cost * 0.9, cost, 0.7))
        elif kind < 0.9:  # a local answer through the cascade, accepted or not
            score = round(rng.uniform(4, 10), 1)
            await store.record_attempt("qwen2.5-coder", task_type, score, score >= 7, tools=kind < 0.7)
            saved = round(rng.uniform(0.0001, 0.01), 6) if score >= 7 else None
            task = TaskRecord("auto", "local", "qwen2.5-coder", False, 200, None, [], 500, 80, 0.0, latency, task_type,
                              session, hermes={"savings": {"model": model}} if saved else None, saved_usd=saved)
        else:  # refused
            task = TaskRecord("auto", None, None, False, rng.choice((400, 402, 502)), "budget_exhausted", [], 0, 0, 0.0,
                              latency, task_type, session)
        await store.record_task(task)
        await store.touch_session(session, i % 4 + 1, 900, 40, 120, task.cost_usd, client="c")

    for start in range(0, calls, PER_UNIT):
        async def unit(start: int = start) -> None:
            for i in range(start, min(start + PER_UNIT, calls)):
                await one(i)

        await store.atomic(unit)


def everything_shown(url: str) -> dict[str, Any]:
    """What a user sees: the dashboard (and `hermes stats`, which reads it), /metrics, the budget, the accuracy."""
    with httpx.Client(base_url=url, timeout=60) as client:
        dashboard = client.get("/api/v1/monitoring/dashboard").json()
        metrics = client.get("/metrics").text
        budget = client.get("/api/v1/costs/analysis").json()
        accuracy = client.get("/api/v1/monitoring/accuracy").json()
    for key in ("generated_at", "since", "latency_ms"):  # latency percentiles need the rows: the days kept
        dashboard.pop(key)
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line and not line.startswith("#") and "created" not in line and "process_" not in line
               and "python_" not in line}
    return {"dashboard": dashboard, "metrics": samples, "budget": budget, "accuracy": accuracy}


async def cascade_record(store: Store) -> dict[str, Any]:
    """What the cascade and the session forecast learn from (skips.py, steps.py)."""
    return {
        "record": {t: await store.attempt_record("qwen2.5-coder", t, 20) for t in TASK_TYPES},
        "tool_turns": await store.tool_turn_record("qwen2.5-coder"),
        "acceptance": await store.local_acceptance(),
        "session_turns": await store.mean_session_turns(""),
    }


def size(database: Path | str) -> int:
    path = Path(database)
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


@pytest.mark.asyncio
@pytest.mark.timeout(900)
async def test_old_detail_folds_into_daily_totals_and_every_report_reads_the_same(
        database: Path | str, make_config: Callable[..., Config], serve_hermes: Callable[[Config], str]) -> None:
    config = make_config(routing={"server": {"retention_days": 1}}, budget={"daily_limit_usd": 1_000_000})
    now = datetime.now(timezone.utc)
    clock = MovableClock(now - timedelta(days=3) - timedelta(seconds=CALLS))
    store = await Store.open(database, clock=clock)
    try:
        await record_calls(store, config, clock, CALLS // 2, seed=1)
        clock.at = now - timedelta(seconds=CALLS * 0.002)  # three days on, up to the present
        await record_calls(store, config, clock, CALLS // 2, seed=2)
        url = serve_hermes(config)
        before, learned_before, size_before = everything_shown(url), await cascade_record(store), size(database)

        pruned = await prune_once(store, config, now)

        assert pruned is not None and pruned.counts["tasks"] == CALLS // 2
        assert pruned.counts["ledger"] > 0 and pruned.counts["sessions"] > 0 and pruned.counts["local_attempts"] > 0
        after = everything_shown(url)
        assert _same(after, before)
        assert await cascade_record(store) == learned_before
        rows = await store.rows("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM tasks", ())
        assert rows[0]["n"] == CALLS // 2 and rows[0]["oldest"] >= cutoff(now, 1)
        if TEST_BACKEND == "sqlite":
            assert size(database) < size_before / 2, (size_before, size(database))
    finally:
        await store.close()


def _same(after: Any, before: Any, path: str = "") -> bool:
    """Equal, floats to 9 significant digits (sums of the same numbers added in another order)."""
    if isinstance(before, dict):
        assert isinstance(after, dict) and after.keys() == before.keys(), path
        return all(_same(after[k], before[k], f"{path}.{k}") for k in before)
    if isinstance(before, list):
        assert isinstance(after, list) and len(after) == len(before), path
        return all(_same(a, b, f"{path}[{i}]") for i, (a, b) in enumerate(zip(after, before)))
    if isinstance(before, float) or isinstance(after, float):
        assert after == pytest.approx(before, rel=1e-9, abs=1e-12), (path, after, before)
        return True
    assert after == before, (path, after, before)
    return True
