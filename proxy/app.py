"""The Starlette application: routes, lifespan, and the chat pipeline.

`create_app(config)` takes a loaded `Config`; shared objects (the store, the
local model catalog) are made in the lifespan and live on `app.state`.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from proxy import api, upstream
from proxy.budget import Budget, Clock, system_clock
from proxy.cascade import choose_target
from proxy.config import ROUTE_NAMES, Config
from proxy.errors import HermesError, Unauthorized, UnknownModel
from proxy.estimate import DEFAULT_TASK_TYPE
from proxy.meter import Bill, Metered, Meter
from proxy.ollama import LocalCatalog
from proxy.openai_api import (
    error_body,
    error_response,
    json_response,
    parse_chat_request,
    read_json_body,
    sse_response,
)
from proxy.pricing import PriceTable
from proxy.store import Store, TaskRecord

log = logging.getLogger("hermes")


async def chat_completions(request: Request) -> Response:
    """`POST /v1/chat/completions`: validate, route, meter, answer, record."""
    state = request.app.state
    started = time.monotonic()
    chat = parse_chat_request(await read_json_body(request, state.config.routing.server.max_body_bytes))
    task_type = DEFAULT_TASK_TYPE  # classification (routing_rules.yaml patterns) comes in here
    budget_status = await state.meter.budget.status()
    target = await choose_target(chat, state.config, state.catalog, state.meter.budget.allowed_models(budget_status))
    metered = await state.meter.start(target, chat, task_type)
    headers = _headers(metered, cost_usd=None if target.model.kind == "cloud" else 0.0)

    async def settle(usage: dict[str, Any] | None, error: HermesError | None, partial: bool = True) -> dict[str, Any]:
        bill = await state.meter.finish(metered, usage, failed=error is not None, partial=partial)
        await _record(state.store, metered, started, usage, error, bill.cost_usd)
        return _hermes(metered, chat.model, bill)

    try:
        if chat.stream:
            chunks = await upstream.stream(target, metered.chat)
            return sse_response(chunks, chat.include_usage, settle, headers)
        answer = await upstream.complete(target, metered.chat)
    except HermesError as error:
        await settle(None, error, partial=False)
        raise
    hermes = await settle(answer["usage"], None)
    headers |= _headers(metered, hermes["cost_usd"], hermes["budget_remaining_usd"])
    return json_response(answer, hermes, headers)


def _headers(metered: Metered, cost_usd: float | None, remaining_usd: float | None = None) -> dict[str, str]:
    status = metered.status
    headers = {
        "X-Hermes-Route": metered.target.model.kind,
        "X-Hermes-Model": metered.target.model.name,
        "X-Hermes-Task-Type": metered.task_type,
        "X-Hermes-Tier": status.tier_name,
        "X-Hermes-Budget-Remaining-USD": _usd(status.remaining_usd if remaining_usd is None else remaining_usd),
    }
    if cost_usd is not None:  # a cloud stream's cost is known only at its end, in the "hermes" field
        headers["X-Hermes-Cost-USD"] = _usd(cost_usd)
    return headers


def _usd(amount: float) -> str:
    return f"{amount:.6f}"


def _hermes(metered: Metered, requested_model: str, bill: Bill) -> dict[str, Any]:
    estimate = metered.estimate
    return {
        "route": metered.target.model.kind,
        "model": metered.target.model.name,
        "requested_model": requested_model,
        "task_type": metered.task_type,
        "tier": bill.status.tier_name,
        "cost_usd": round(bill.cost_usd, 8),
        "budget_remaining_usd": round(bill.status.remaining_usd, 8),
        "estimate": {
            "input_tokens": estimate.input_tokens,
            "output_tokens": estimate.output_tokens,
            "cost_usd": round(metered.estimated_cost_usd, 8),
            "confidence": round(estimate.confidence, 3),
        },
    }


async def _record(
    store: Store,
    metered: Metered,
    started: float,
    usage: dict[str, Any] | None,
    error: HermesError | None,
    cost_usd: float,
) -> None:
    usage = usage or {}
    await store.record_task(
        TaskRecord(
            requested_model=metered.chat.model,
            route=metered.target.model.kind,
            model=metered.target.model.name,
            stream=metered.chat.stream,
            status=error.status if error else 200,
            error_code=error.code if error else None,
            messages=metered.chat.messages,
            input_tokens=int(usage.get("prompt_tokens", 0)),
            output_tokens=int(usage.get("completion_tokens", 0)),
            cost_usd=cost_usd,
            latency_ms=(time.monotonic() - started) * 1000,
            task_type=metered.task_type,
        )
    )


async def list_models(request: Request) -> Response:
    """`GET /v1/models`: the three routes, then every configured model."""
    return JSONResponse({"object": "list", "data": _model_cards(request.app.state.config)})


async def get_model(request: Request) -> Response:
    name = request.path_params["model"]
    for card in _model_cards(request.app.state.config):
        if card["id"] == name:
            return JSONResponse(card)
    raise UnknownModel(f"The model '{name}' does not exist.")


def _model_cards(config: Config) -> list[dict[str, Any]]:
    cards = [{"id": name, "object": "model", "created": 0, "owned_by": "hermes"} for name in ROUTE_NAMES]
    cards += [{"id": m.name, "object": "model", "created": 0, "owned_by": "ollama"} for m in config.local_models]
    cards += [{"id": m.name, "object": "model", "created": 0, "owned_by": "openrouter"} for m in config.cloud_models]
    return cards


async def health(request: Request) -> Response:
    pulled = await request.app.state.catalog.models()
    return JSONResponse(
        {
            "status": "ok",
            "local_api_base": request.app.state.catalog.api_base,
            "local_models": sorted(pulled) if pulled is not None else None,
        }
    )


async def _hermes_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HermesError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own 404/405, in OpenAI's shape like every other error.
    assert isinstance(exc, HTTPException)
    error = HermesError(f"{request.method} {request.url.path}: {exc.detail}", code=f"http_{exc.status_code}")
    error.type = "invalid_request_error"
    return JSONResponse(error_body(error), status_code=exc.status_code)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # The one broad handler: whatever escaped still reaches the client in OpenAI's shape.
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    error = HermesError("Hermes hit an internal error; the details are in its log.", code="internal_error")
    return JSONResponse(error_body(error), status_code=500)


class BearerAuth:
    """Require `Authorization: Bearer <HERMES_API_KEY>` on the API, when a key is set."""

    def __init__(self, app: ASGIApp, config: Config) -> None:
        self.app = app
        self.key = config.api_key.reveal().encode() if config.api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is not None and scope["type"] == "http" and scope["path"] != "/health":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, b"Bearer " + self.key):
                response = error_response(Unauthorized("Missing or wrong API key: send Authorization: Bearer $HERMES_API_KEY."))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(config: Config, clock: Clock = system_clock, prices: PriceTable | None = None) -> Starlette:
    """The Hermes ASGI app for a loaded `config`; `clock` decides what "today" is.

    Raises ConfigError when a cloud model has no price.
    """

    prices = prices or PriceTable.from_config(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await Store.open(config.database, config.routing.server.store_prompts)
        try:
            released = await store.release_held_reservations()
            if released:
                log.warning("Released %d budget reservations left by a process that stopped mid-call", released)
            async with httpx.AsyncClient() as client:
                app.state.config = config
                app.state.store = store
                app.state.prices = prices
                app.state.meter = Meter(Budget(config.budget, store, prices, config.cloud_models, clock), prices, store)
                app.state.catalog = LocalCatalog(client, config.ollama_api_base)
                yield
        finally:
            await store.close()

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/models", list_models),
            Route("/v1/models/{model:path}", get_model),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            *api.routes,
        ],
        exception_handlers={HermesError: _hermes_error, HTTPException: _http_error, Exception: _unexpected_error},
        lifespan=lifespan,
    )
    app.add_middleware(BearerAuth, config=config)
    return app
