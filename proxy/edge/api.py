"""The monitoring API: JSON about money and prediction accuracy, under /api/v1."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.errors import BadRequest, NotFound
from proxy.money.estimate import prediction_error_pct
from proxy.pipeline.services import Services
from proxy.pipeline.session import Conversation, SessionImpact, growth_per_turn, remaining_turns, session_impact
from proxy.pipeline.steps import complete, plan, understand
from proxy.pipeline.upgrade import cache_use_for
from proxy.storage import reports
from proxy.wire.validate import json_object, parse_chat_request, read_json_body

# "Before learning" is a key's first predictions, "after" its latest ones.
ACCURACY_WINDOW = 10


async def costs_analysis(request: Request) -> Response:
    """Today's spend by model, what is left, the tier, when it resets, and what local answers saved.

    `savings`: the estimated cost of the cloud calls today's local answers
    stood in for (savings.py); `today_usd` is null while none did. `by_key`:
    each team key's daily limit and spend today (keys.py). `stale_prices`: the
    models whose bills showed their table price too low, and the factor their
    reservations now scale by (budget.py).
    ---
    summary: Today's spend by model, remaining budget, tier, reset time and savings
    responses:
      200: {description: The day's money}
    """
    services = request.app.state.services
    status = await services.meter.budget.status()
    # With no OPENROUTER_API_KEY no cloud model can be reached, whatever the budget tier would allow.
    allowed = services.meter.budget.allowed_models(status) if services.config.openrouter_api_key else []
    return JSONResponse(status.as_dict() | {
        "allowed_models": [m.name for m in allowed],
        "by_model": await services.store.spend_by_model(status.day),
        "savings": await reports.saved_today(services.store, status.resets_at),
        "by_key": await reports.spend_by_key(services.store, status.day),  # [] with no team keys
        "prices": services.prices.source,  # OpenRouter's catalogue (its date), or litellm's table
        "stale_prices": await services.store.stale_prices(),  # models billed above their table price
        "overrides": services.preferences.overrides_list(),  # settings changed through the API over their files
    })


async def accuracy(request: Request) -> Response:
    """Cost-prediction error by task type and model, over the first and the latest predictions.
    ---
    summary: Median cost-prediction error per task type and model, before and after learning
    responses:
      200: {description: Accuracy figures}
    """
    store = request.app.state.services.store
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in await store.predictions():
        groups[(row["task_type"], row["model"])].append(
            prediction_error_pct(row["predicted_cost_usd"], row["actual_cost_usd"]))
    folded = await store.folded_predictions()  # retention keeps each group's first and latest ones
    return JSONResponse({"window": ACCURACY_WINDOW, "by_task_and_model": [
        {
            "task_type": task_type,
            "model": model,
            "predictions": len(errors) + folded.get((task_type, model), 0),
            "median_error_pct_first": round(statistics.median(errors[:ACCURACY_WINDOW]), 2),
            "median_error_pct_latest": round(statistics.median(errors[-ACCURACY_WINDOW:]), 2),
        }
        for (task_type, model), errors in sorted(groups.items())
    ]})


async def route_process(request: Request) -> Response:
    """The decision and the answer for one prompt, without the OpenAI envelope.

    Body: `prompt` (or `messages`), optional `model` (default auto), `max_tokens`,
    `session_id`, `upgrade_policy`, `upgrade` (an accepted cloud model).
    ---
    summary: Route one prompt; the decision and the answer without the OpenAI envelope
    responses:
      200: {description: The answer and the decision}
      400: {description: A bad key or value}
    """
    services = request.app.state.services
    body = json_object(await read_json_body(request, services.config.routing.server.max_body_bytes), PROCESS_KEYS)
    prompt = body.get("prompt")
    if "messages" not in body and (not isinstance(prompt, str) or not prompt.strip()):
        raise BadRequest("'prompt' must be a non-empty string (or send 'messages').", code="invalid_prompt")
    chat = parse_chat_request({
        "model": body.get("model", "auto"),
        "messages": body.get("messages") or [{"role": "user", "content": prompt}],
        **({"max_tokens": body["max_tokens"]} if "max_tokens" in body else {}),
    })
    headers = dict(request.headers)
    for key, header in (("session_id", "x-session-id"), ("upgrade_policy", "x-hermes-upgrade-policy"),
                        ("upgrade", "x-hermes-upgrade")):
        if key in body:
            if not isinstance(body[key], str):
                raise BadRequest(f"'{key}' must be a string.", code=f"invalid_{key}")
            headers[header] = body[key]
    understood = await understand(services, chat, headers, time.monotonic())
    answer, hermes, response_headers = await complete(
        services, understood, await plan(services, understood, await services.meter.budget.status()))
    choice = answer["choices"][0]
    return JSONResponse(
        {
            "answer": choice["message"].get("content"),
            "tool_calls": choice["message"].get("tool_calls"),
            "finish_reason": choice["finish_reason"],
            "usage": answer["usage"],
            "decision": hermes,
        },
        headers=response_headers,
    )


async def session_impact_report(request: Request) -> Response:
    """What staying on each allowed cloud model would cost for the rest of one session.
    ---
    summary: Session impact per allowed cloud model
    parameters:
      - {name: session_id, in: query, required: true, schema: {type: string}}
    responses:
      200: {description: The session and its impact per model}
      404: {description: No such session}
    """
    services = request.app.state.services
    session_id = request.query_params.get("session_id", "").strip()
    if not session_id:
        raise BadRequest("The query parameter session_id is required.", code="invalid_session_id")
    session = await services.store.session(session_id)
    if session is None:
        raise NotFound(f"No session {session_id!r} has been seen.", code="session_not_found")
    status = await services.meter.budget.status()
    mean_turns, known = await services.store.mean_session_turns(session_id)
    conversation = Conversation(session_id, session["turns"], session["mean_user_tokens"],
                                client=session.get("client") or "")
    left = remaining_turns(mean_turns, known, session["turns"], services.config.budget.session.default_remaining_turns)
    turns = await services.store.session_turns(session_id)
    impacts = [await _impact(services, model.name, session, conversation, left, turns)
               for model in services.meter.budget.allowed_models(status)]
    return JSONResponse({
        "session_id": session_id,
        "turns": session["turns"],
        "cloud_model": session["cloud_model"],
        "cost_so_far_usd": round(session["cost_usd"], 8),
        "projected_remaining_turns": left,
        "impact": [_rounded(dataclasses.asdict(impact)) for impact in impacts],
    })


async def _impact(services: Services, model: str, session: dict[str, Any], conversation: Conversation, left: int,
                  turns: list[dict[str, Any]]) -> SessionImpact:
    """The impact of the rest of `session` on `model`, from the session's own turns where it has them: its last
    request's real input tokens, its answers' mean length on `model`, how it grows and uses the cache."""
    price = services.prices.price(model)
    on_model = [turn for turn in turns if turn["model"] == model]
    context = int(turns[-1]["input_tokens"]) if turns and turns[-1]["input_tokens"] else session["context_tokens"]
    output = round(sum(int(t["output_tokens"]) for t in on_model) / len(on_model)) if on_model \
        else session["output_tokens"]
    use = await cache_use_for(services.store, conversation.client, model, turns, price)
    return session_impact(model, price, context, output, conversation, left, use, growth_per_turn(turns),
                          on_model=bool(turns) and turns[-1]["model"] == model)


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 8) if isinstance(v, float) else v for k, v in values.items()}


PROCESS_KEYS = {"prompt", "messages", "model", "max_tokens", "session_id", "upgrade_policy", "upgrade"}

routes = [
    Route("/api/v1/costs/analysis", costs_analysis),
    Route("/api/v1/costs/session-impact", session_impact_report),
    Route("/api/v1/monitoring/accuracy", accuracy),
    Route("/api/v1/route/process", route_process, methods=["POST"]),
]
