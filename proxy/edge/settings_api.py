"""The settings and status API: what Hermes can reach, its models, preferences, and usage it did not see."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.errors import BadRequest
from proxy.money.estimate import TASK_PRIORS
from proxy.money.pricing import per_mtok_prices
from proxy.wire.validate import json_object, read_json_body

USAGE_KEYS = {"model", "input_tokens", "output_tokens", "cost_usd", "task_type"}
MAX_PREDICTIONS = 500
# Bounds on tracked usage: far past any one call, and every figure stays exact in a float and SQLite.
MAX_TRACKED_TOKENS = 10**12
MAX_TRACKED_USD = 1_000_000.0
MAX_MODEL_NAME_CHARS = 200


async def route_status(request: Request) -> Response:
    """Where requests can go right now.
    ---
    summary: Reachable local models, whether cloud is configured, the budget tier and the preferences
    responses:
      200:
        description: Routing status
    """
    services = request.app.state.services
    pulled = await services.catalog.models()
    status = await services.meter.budget.status()
    config = services.config
    return JSONResponse({
        "local": {
            "api_base": services.catalog.api_base,
            "reachable": pulled is not None,
            "models": [{"name": m.name, "available": bool(pulled) and await services.catalog.has(m.name)}
                       for m in config.local_models],
        },
        "cloud": {"configured": config.openrouter_api_key is not None, "api_base": config.openrouter_api_base,
                  "allowed_models": [m.name for m in services.meter.budget.allowed_models(status)]},
        "budget": status.as_dict(),
        "preferences": services.preferences.current.as_dict(),
        "overrides": services.preferences.overrides_list(),  # settings changed through the API over their files
    })


async def settings_models(request: Request) -> Response:
    """Every configured model with its price and quality prior.
    ---
    summary: Configured models, prices (USD per million tokens) and quality priors
    responses:
      200:
        description: Models
    """
    services = request.app.state.services
    status = await services.meter.budget.status()
    allowed = {m.name for m in services.meter.budget.allowed_models(status)}
    models = []
    for ref in services.config.local_models + services.config.cloud_models:
        model = {"name": ref.name, "kind": ref.kind, "litellm_model": ref.litellm_model,
                 "quality_prior": ref.quality_prior, "cheap": ref.cheap}
        if not services.prices.priced(ref.name):  # refused for cloud calls until something prices it
            models.append(model | {"price_source": None, "available": False})
            continue
        price = services.prices.price(ref.name)
        models.append(model | per_mtok_prices(price) | {
            "price_source": price.source or None,
            "available": await services.catalog.has(ref.name) if ref.kind == "local" else ref.name in allowed,
        })
    return JSONResponse({"models": models, "prices": services.prices.sources() | {"source": services.prices.source}})



async def update_preferences(request: Request) -> Response:
    """Change target quality, upgrade policy or the daily limit, from the next request on.
    ---
    summary: Update preferences (validated, persisted, effective at once)
    requestBody:
      content:
        application/json:
          schema:
            type: object
            additionalProperties: false
            properties:
              target_quality: {type: number, minimum: 0, maximum: 10}
              upgrade_policy: {type: string, enum: [auto, ask, never]}
              daily_limit_usd: {type: number, minimum: 0}
    responses:
      200:
        description: The preferences now in force
      400:
        description: A bad key or value; nothing changed
    """
    services = request.app.state.services
    body = await read_json_body(request, services.config.routing.server.max_body_bytes)
    settings = await services.preferences.update(body)
    return JSONResponse({"preferences": settings.as_dict(), "overrides": services.preferences.overrides_list()})


async def reset_preferences(request: Request) -> Response:
    """Drop settings changed through the API: the files' values are in force again, from the next request on.
    ---
    summary: Reset preferences to the YAML files (all, or the `keys` given)
    requestBody:
      content:
        application/json:
          schema:
            type: object
            additionalProperties: false
            properties:
              keys: {type: array, items: {type: string, enum: [target_quality, upgrade_policy, daily_limit_usd]}}
    responses:
      200:
        description: The preferences now in force, and the overrides left
      400:
        description: A bad key; nothing changed
    """
    services = request.app.state.services
    raw = await request.body()
    body = await read_json_body(request, services.config.routing.server.max_body_bytes) if raw.strip() else {}
    if not isinstance(body, dict) or set(body) - {"keys"}:
        raise BadRequest("Send nothing, or a JSON object {\"keys\": [...]} naming the settings to reset.",
                         code="invalid_request")
    settings = await services.preferences.reset(body.get("keys"))
    return JSONResponse({"preferences": settings.as_dict(), "overrides": services.preferences.overrides_list()})


async def track_usage(request: Request) -> Response:
    """Record spend from a client that called a cloud model without Hermes.
    ---
    summary: Record usage that bypassed the proxy (counts against today's budget)
    requestBody:
      content:
        application/json:
          schema:
            type: object
            additionalProperties: false
            required: [model, input_tokens, output_tokens]
            properties:
              model: {type: string}
              input_tokens: {type: integer, minimum: 0}
              output_tokens: {type: integer, minimum: 0}
              cost_usd: {type: number, minimum: 0}
              task_type: {type: string}
    responses:
      200:
        description: What was recorded and the budget after it
      400:
        description: A bad key or value; nothing recorded
    """
    services = request.app.state.services
    body = await read_json_body(request, services.config.routing.server.max_body_bytes)
    model, cost = _usage_cost(services, body)
    status = await services.meter.budget.status()
    await services.store.charge(status.day, model, cost)
    after = await services.meter.budget.status()
    return JSONResponse({
        "recorded": {"model": model, "cost_usd": round(cost, 8), "input_tokens": body["input_tokens"],
                     "output_tokens": body["output_tokens"]},
        "budget": {"spent_usd": round(after.spent_usd, 8), "remaining_usd": round(after.remaining_usd, 8),
                   "tier": after.tier_name},
    })


async def predictions(request: Request) -> Response:
    """The latest cost predictions next to what the calls really cost.
    ---
    summary: Recent predicted vs actual costs (newest first)
    parameters:
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500, default: 50}}
    responses:
      200:
        description: Predictions
    """
    given = request.query_params.getlist("limit") or ["50"]
    raw = ",".join(given)
    # isdigit() alone takes "²" (which int() refuses) and "١٢" (which it reads).
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= MAX_PREDICTIONS:
        raise BadRequest(f"'limit' must be one whole number from 1 to {MAX_PREDICTIONS}, got {raw[:40]!r}.",
                         code="invalid_limit")
    rows = await request.app.state.services.store.recent_predictions(int(raw))
    return JSONResponse({"predictions": rows})


def _usage_cost(services: Any, body: Any) -> tuple[str, float]:
    """(model, cost) of a track-usage body, or BadRequest naming what is wrong."""
    body = json_object(body, USAGE_KEYS)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip() or len(model) > MAX_MODEL_NAME_CHARS:
        raise BadRequest(f"'model' is required and must be a non-empty string of at most {MAX_MODEL_NAME_CHARS} "
                         "characters.", code="invalid_model")
    for key in ("input_tokens", "output_tokens"):
        value = body.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TRACKED_TOKENS:
            raise BadRequest(f"'{key}' is required and must be a whole number from 0 to {MAX_TRACKED_TOKENS:,}, "
                             f"got {_shown(value)}.", code=f"invalid_{key}")
    task_type = body.get("task_type")
    if task_type is not None and not (isinstance(task_type, str) and task_type in TASK_PRIORS):
        raise BadRequest(f"'task_type' must be one of {', '.join(TASK_PRIORS)}, got {_shown(task_type)}.",
                         code="invalid_task_type")
    cost = body.get("cost_usd")
    if cost is not None:
        # Finite already (the decoder refuses NaN and Infinity); bounded so no sum of them overflows.
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not 0 <= cost <= MAX_TRACKED_USD:
            raise BadRequest(f"'cost_usd' must be a number of dollars from 0 to {MAX_TRACKED_USD:,.0f}, got "
                             f"{_shown(cost)}.", code="invalid_cost_usd")
        return model, float(cost)
    ref = services.config.find_model(model)
    if ref is None:
        raise BadRequest(f"Hermes has no price for {model!r}: send 'cost_usd', or name a configured model.",
                         code="invalid_model")
    return ref.name, services.prices.price(ref.name).cost_usd(body["input_tokens"], body["output_tokens"])


def _shown(value: Any) -> str:
    return repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."


routes = [
    Route("/api/v1/route/status", route_status),
    Route("/api/v1/settings/models", settings_models),
    Route("/api/v1/settings/update-preferences", update_preferences, methods=["POST"]),
    Route("/api/v1/settings/reset-preferences", reset_preferences, methods=["POST"]),
    Route("/api/v1/costs/track-usage", track_usage, methods=["POST"]),
    Route("/api/v1/monitoring/predictions", predictions),
]
