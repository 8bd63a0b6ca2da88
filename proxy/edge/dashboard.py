"""The live dashboard: one page, no build step, no internet.

`GET /dashboard` serves `static/dashboard.html`, whose script polls
`GET /api/v1/monitoring/dashboard` and draws everything itself (inline SVG,
text set with textContent only); a row opens `GET /api/v1/monitoring/requests/{id}`. A strict Content-Security-Policy keeps any
script but our own file from running, even if a prompt carries one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from proxy.errors import NotFound
from proxy.money.estimate import prediction_error_pct
from proxy.pipeline.services import Services
from proxy.storage import reports
from proxy.storage.store import Store

WINDOW_DAYS = 14
LATEST_REQUESTS = 20
PREDICTIONS_SHOWN = 100
PROMPT_PREVIEW_CHARS = 160
PROMPT_HASH_CHARS = 12
SQLITE_MAX_INT = 2**63 - 1  # a larger id in the path is no request, not an overflow

STATIC = Path(__file__).parent / "static"
ASSETS = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
PAGE_HEADERS = {
    # Only our own script, style and fetches; nothing inline, nothing from elsewhere.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def page(request: Request) -> Response:
    """`GET /dashboard`: the page itself."""
    return FileResponse(STATIC / "dashboard.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


async def asset(request: Request) -> Response:
    """`GET /dashboard/<name>`: the page's script and style sheet, nothing else."""
    name = request.path_params["name"]
    if name not in ASSETS:
        raise NotFound(f"The dashboard has no file {name!r}.")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=PAGE_HEADERS)


async def dashboard_data(request: Request) -> Response:
    """`GET /api/v1/monitoring/dashboard`: everything the page shows, as of now.

    Money is by budget day (the budget's time zone); request figures cover
    the last `WINDOW_DAYS` days (UTC timestamps).
    ---
    summary: Spend by day and model, local success rate by task type, upgrade rate, quality, latency, latest requests
    responses:
      200:
        description: The dashboard's figures
        content: {application/json: {schema: {$ref: '#/components/schemas/DashboardData'}}}
    """
    services: Services = request.app.state.services
    store = services.store
    status = await services.meter.budget.status()
    since = (datetime.now(timezone.utc) - timedelta(days=WINDOW_DAYS)).isoformat()
    answered = await reports.answered_by_task_type(store, since)
    attempts = await reports.attempt_totals(store, since)
    latency_count, (p50, p95) = await reports.latency_percentiles_ms(store, since, (0.5, 0.95))
    predictions = list(reversed(await store.recent_predictions(PREDICTIONS_SHOWN)))
    return JSONResponse({
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "window_days": WINDOW_DAYS,
        "since": since,
        "budget": status.as_dict(),
        "savings": await reports.saved_today(store, status.resets_at),  # "saved $X today" under the budget
        "by_key": await reports.spend_by_key(store, status.day),  # each team key's spend today, if any
        "stale_prices": await store.stale_prices(),  # models billed above their table price (budget.py)
        "overrides": services.preferences.overrides_list(),  # settings changed through the API over their files
        "spend_by_day": await _spend_by_day(services, status.day),
        "by_task_type": _by_task_type(answered, attempts),
        "upgrade": _upgrade(answered),
        "quality": _quality(attempts),
        "latency_ms": {"requests": latency_count, "p50": _round(p50, 1), "p95": _round(p95, 1)},
        "prompt_cache": await _prompt_cache(store, since),
        "prices": {"source": services.prices.source,
                   "catalogue_fetched_at": services.prices.sources()["catalogue_fetched_at"]},
        "predictions": [_prediction(row) for row in predictions],
        "latest": [_latest(row) for row in await reports.latest_tasks(store, LATEST_REQUESTS)],
    })


async def _prompt_cache(store: Store, since: str) -> dict[str, Any]:
    """Cloud calls' input since `since`, and how much of it the providers' prompt caches read and wrote."""
    totals = await reports.cache_totals(store, since)
    read_share = totals["read_tokens"] / totals["input_tokens"] if totals["input_tokens"] else None
    return totals | {"read_share": _round(read_share, 4)}


async def _spend_by_day(services: Services, today: str) -> list[dict[str, Any]]:
    """One entry per day, oldest first, days without spend included."""
    last = date.fromisoformat(today)
    days = [(last - timedelta(days=back)).isoformat() for back in range(WINDOW_DAYS - 1, -1, -1)]
    by_day: dict[str, dict[str, float]] = {day: {} for day in days}
    for row in await reports.spend_by_day_and_model(services.store, days[0], days[-1]):
        by_day[row["day"]][row["model"]] = round(row["cost_usd"], 8)
    return [{"day": day, "total_usd": round(sum(models.values()), 8), "by_model": models}
            for day, models in by_day.items()]


def _by_task_type(answered: list[dict[str, Any]], attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task type: answered locally vs in the cloud, and how often a local answer was good enough."""
    routes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in answered:
        routes[row["task_type"]][row["route"]] += row["requests"]
    tries: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in attempts:
        counts = tries[row["task_type"]]
        counts["tried"] += row["tried"]
        counts["accepted"] += row["accepted"]
        counts["scored"] += row["scored"]
        counts["score_sum"] += (row["mean_score"] or 0.0) * row["scored"]
    result = []
    for task_type in sorted(set(routes) | set(tries)):
        by_route, counts = routes[task_type], tries[task_type]
        requests = sum(by_route.values())
        result.append({
            "task_type": task_type,
            "requests": requests,
            "local": by_route["local"],
            "cloud": by_route["cloud"],
            "local_share": _ratio(by_route["local"], requests),
            "local_tried": int(counts["tried"]),
            "local_accepted": int(counts["accepted"]),
            "local_success_rate": _ratio(counts["accepted"], counts["tried"]),
            "mean_quality": _round(counts["score_sum"] / counts["scored"], 2) if counts["scored"] else None,
        })
    return result


def _upgrade(answered: list[dict[str, Any]]) -> dict[str, Any]:
    """How often an `auto` request ended up in the cloud."""
    auto = [row for row in answered if row["auto"]]
    requests = sum(row["requests"] for row in auto)
    to_cloud = sum(row["requests"] for row in auto if row["route"] == "cloud")
    return {"auto_requests": requests, "to_cloud": to_cloud, "rate": _ratio(to_cloud, requests)}


def _quality(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    scored = sum(row["scored"] for row in attempts)
    total = sum((row["mean_score"] or 0.0) * row["scored"] for row in attempts)
    return {"scored": scored, "mean": _round(total / scored, 2) if scored else None}


def _prediction(row: dict[str, Any]) -> dict[str, Any]:
    predicted, actual = row["predicted_cost_usd"], row["actual_cost_usd"]
    error = prediction_error_pct(predicted, actual)
    return {
        "created_at": row["created_at"],
        "task_type": row["task_type"],
        "model": row["model"],
        "predicted_cost_usd": round(predicted, 8),
        "actual_cost_usd": round(actual, 8),
        "error_pct": round(error, 2),
    }


def _latest(row: dict[str, Any]) -> dict[str, Any]:
    """A request as a row of the table. `quality` is the score of the answer given: a cloud answer is
    not scored, so a cloud row has none, and `local_quality` is the score of the local answer it replaced."""
    cloud = row["route"] == "cloud"
    return {
        "id": row["id"],
        "created_at": row["created_at"],
        "requested_model": row["requested_model"],
        "route": row["route"],
        "model": row["model"],
        "task_type": row["task_type"],
        "status": row["status"],
        "error_code": row["error_code"],
        "session_id": row.get("session_id"),  # None until the store records it per request
        "quality": None if cloud else _round(row.get("quality"), 2),
        "local_quality": _round(row.get("quality"), 2) if cloud else None,
        "cost_usd": round(row["cost_usd"], 8),
        "latency_ms": round(row["latency_ms"], 1),
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cache_read_tokens": row.get("cache_read_tokens") or 0,
        "cache_write_tokens": row.get("cache_write_tokens") or 0,
        "prompt": _prompt_preview(row["prompt"]),
        "prompt_hash": row["prompt_hash"][:PROMPT_HASH_CHARS],
        # What the session's next turn said of this answer (outcome.py): "failed", "continued" or None.
        "outcome": row.get("outcome"),
        "outcome_reason": row.get("outcome_reason"),
    }


def _prompt_preview(stored: str | None) -> str | None:
    """The latest user message of a stored prompt, shortened; None when prompts are not stored."""
    if stored is None:
        return None
    messages = json.loads(stored)
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"] or messages
    content = users[-1].get("content") if users and isinstance(users[-1], dict) else None
    if isinstance(content, list):  # content parts: keep the text ones
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    text = " ".join(str(content or "").split())
    return text if len(text) <= PROMPT_PREVIEW_CHARS else text[: PROMPT_PREVIEW_CHARS - 1] + "…"


async def request_detail(request: Request) -> Response:
    """`GET /api/v1/monitoring/requests/{id}`: one recorded request, opened from the table.

    Its row, then what the cascade did: each local attempt, the quality
    signals of the answer given, and the decision with its reason. When the
    store keeps a request's "hermes" field (column `hermes`), these are that
    field's; otherwise the attempts are matched from the cascade's log and
    the decision is read off the row, and `recorded` is false.
    ---
    summary: One recorded request with its cascade attempts, quality signals and decision
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
    responses:
      200:
        description: The request
        content: {application/json: {schema: {$ref: '#/components/schemas/RequestDetail'}}}
      404:
        description: No such request
        content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}
    """
    services: Services = request.app.state.services
    task_id = request.path_params["id"]
    row = await reports.task_by_id(services.store, task_id) if task_id <= SQLITE_MAX_INT else None
    if row is None:
        raise NotFound(f"No request #{task_id} is recorded.")
    verdict = _recorded_verdict(row)
    if verdict is not None:
        cascade = verdict.get("cascade") or {}
        quality = verdict.get("quality") or {}
        detail = {
            "recorded": True,
            "attempts": cascade.get("attempts") or [],
            "signals": quality.get("signals") or [],
            "explanation": quality.get("explanation"),
            "decision": {"policy": cascade.get("policy"), "reason": cascade.get("decision") or _reason(row, [])},
            "upgrade_options": verdict.get("upgrade_options") or [],
        }
    else:
        attempts = [_matched_attempt(a) for a in await reports.cascade_attempts(services.store, row)]
        detail = {
            "recorded": False,
            "attempts": attempts,
            "signals": [],
            "explanation": None,
            "decision": {"policy": None, "reason": _reason(row, attempts)},
            "upgrade_options": [],
        }
    scores = [a["score"] for a in detail["attempts"] if a.get("score") is not None]
    row = row | {"quality": max(scores) if scores else None}  # the best local answer's, as in the table
    failure = (verdict or {}).get("error") if row["status"] != 200 else None
    detail |= {"error": failure, "reached": (verdict or {}).get("reached")}
    return JSONResponse(_latest(row) | {"stream": bool(row["stream"])} | detail)


def _recorded_verdict(row: dict[str, Any]) -> dict[str, Any] | None:
    """The request's "hermes" field as recorded, if the store keeps it."""
    stored = row.get("hermes")
    if not stored:
        return None
    verdict = json.loads(stored)
    return verdict if isinstance(verdict, dict) else None


def _matched_attempt(row: dict[str, Any]) -> dict[str, Any]:
    outcome = "skipped" if row["accepted"] is None else "accepted" if row["accepted"] else "rejected"
    return {"model": row["model"], "outcome": outcome, "score": _round(row["score"], 2)}


def _reason(row: dict[str, Any], attempts: list[dict[str, Any]]) -> str:
    """Why the request went where it did, as far as its row and matched attempts tell."""
    requested, route, model = row["requested_model"], row["route"], row["model"]
    if row["status"] != 200:
        return f"failed with HTTP {row['status']} ({row['error_code'] or 'no code'})"
    if requested != "auto":
        return f"{requested} requested"
    scores = [a["score"] for a in attempts if a["score"] is not None]
    if route == "local":
        if any(a["outcome"] == "accepted" for a in attempts):
            return "local answer accepted"
        return f"stayed local with {model}: no cloud upgrade was made"
    if scores:
        return f"upgraded to {model}: the best local answer scored {max(scores):.1f}, below the target"
    return f"went to {model} without a local try (an accepted upgrade, or the session stays on {model})"


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


async def home(request: Request) -> Response:
    """`GET /`: to the dashboard. The browser keeps the fragment, so `/#key=...` lands on `/dashboard#key=...`."""
    return RedirectResponse("/dashboard", status_code=307)


routes: list[BaseRoute] = [
    Route("/", home, include_in_schema=False),
    Route("/dashboard", page),
    Route("/dashboard/{name}", asset),
    Route("/api/v1/monitoring/dashboard", dashboard_data),
    Route("/api/v1/monitoring/requests/{id:int}", request_detail),
]
