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

from proxy import upstream
from proxy.cascade import choose_target
from proxy.config import ROUTE_NAMES, Config
from proxy.errors import HermesError, Unauthorized, UnknownModel
from proxy.ollama import LocalCatalog
from proxy.openai_api import (
    ChatRequest,
    error_body,
    error_response,
    json_response,
    parse_chat_request,
    read_json_body,
    sse_response,
)
from proxy.store import Store, TaskRecord
from proxy.upstream import Target

log = logging.getLogger("hermes")


async def chat_completions(request: Request) -> Response:
    """`POST /v1/chat/completions`: validate, route, answer, record."""
    state = request.app.state
    started = time.monotonic()
    chat = parse_chat_request(await read_json_body(request, state.config.routing.server.max_body_bytes))
    target = await choose_target(chat, state.config, state.catalog)
    # The budget gate (reserve before a cloud call) comes in here.
    hermes = {"route": target.model.kind, "model": target.model.name, "requested_model": chat.model}
    headers = {"X-Hermes-Route": target.model.kind, "X-Hermes-Model": target.model.name}

    async def settle(usage: dict[str, Any] | None, error: HermesError | None) -> dict[str, Any]:
        await _record(state.store, chat, target, started, usage, error)
        return hermes

    if chat.stream:
        chunks = await upstream.stream(target, chat)
        return sse_response(chunks, chat.include_usage, settle, headers)
    try:
        answer = await upstream.complete(target, chat)
    except HermesError as error:
        await settle(None, error)
        raise
    return json_response(answer, await settle(answer["usage"], None), headers)


async def _record(
    store: Store,
    chat: ChatRequest,
    target: Target,
    started: float,
    usage: dict[str, Any] | None,
    error: HermesError | None,
) -> None:
    usage = usage or {}
    await store.record_task(
        TaskRecord(
            requested_model=chat.model,
            route=target.model.kind,
            model=target.model.name,
            stream=chat.stream,
            status=error.status if error else 200,
            error_code=error.code if error else None,
            messages=chat.messages,
            input_tokens=int(usage.get("prompt_tokens", 0)),
            output_tokens=int(usage.get("completion_tokens", 0)),
            cost_usd=float(usage.get("cost", 0.0)) if target.model.kind == "cloud" else 0.0,
            latency_ms=(time.monotonic() - started) * 1000,
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


def create_app(config: Config) -> Starlette:
    """The Hermes ASGI app for a loaded `config`."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await Store.open(config.database)
        try:
            async with httpx.AsyncClient() as client:
                app.state.config = config
                app.state.store = store
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
        ],
        exception_handlers={HermesError: _hermes_error, HTTPException: _http_error, Exception: _unexpected_error},
        lifespan=lifespan,
    )
    app.add_middleware(BearerAuth, config=config)
    return app
