"""The monitoring API: JSON about money and prediction accuracy, under /api/v1."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# "Before learning" is a key's first predictions, "after" its latest ones.
ACCURACY_WINDOW = 10


async def costs_analysis(request: Request) -> Response:
    """Today's spend by model, what is left, the tier, and when it resets."""
    state = request.app.state
    status = await state.meter.budget.status()
    return JSONResponse(
        {
            "day": status.day,
            "limit_usd": status.limit_usd,
            "spent_usd": round(status.spent_usd, 8),
            "reserved_usd": round(status.reserved_usd, 8),
            "remaining_usd": round(status.remaining_usd, 8),
            "tier": status.tier_name,
            "allowed_models": [m.name for m in state.meter.budget.allowed_models(status)],
            "resets_at": status.resets_at.isoformat(),
            "by_model": await state.store.spend_by_model(status.day),
        }
    )


async def accuracy(request: Request) -> Response:
    """Cost-prediction error by task type and model, over the first and the latest predictions."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in await request.app.state.store.predictions():
        groups[(row["task_type"], row["model"])].append(_error_pct(row))
    return JSONResponse({"window": ACCURACY_WINDOW, "by_task_and_model": [
        {
            "task_type": task_type,
            "model": model,
            "predictions": len(errors),
            "median_error_pct_first": round(statistics.median(errors[:ACCURACY_WINDOW]), 2),
            "median_error_pct_latest": round(statistics.median(errors[-ACCURACY_WINDOW:]), 2),
        }
        for (task_type, model), errors in sorted(groups.items())
    ]})


def _error_pct(row: dict[str, Any]) -> float:
    actual = row["actual_cost_usd"]
    if actual <= 0:
        return 0.0 if row["predicted_cost_usd"] <= 0 else 100.0
    return abs(row["predicted_cost_usd"] - actual) / actual * 100


routes = [
    Route("/api/v1/costs/analysis", costs_analysis),
    Route("/api/v1/monitoring/accuracy", accuracy),
]
