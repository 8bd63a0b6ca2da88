"""The Starlette application: routes, errors, authentication and the lifespan.

`create_app(config)` takes a loaded `Config`; the shared objects a request
needs (`pipeline/services.py`'s `Services`) are made in the lifespan and live on `app.state`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from proxy.config import ROUTE_NAMES, Config
from proxy.edge import (
    api,
    catalogue_refresh,
    completions,
    dashboard,
    front_doors,
    metrics,
    openapi_spec,
    quality_api,
    reload,
    retention_job,
    settings_api,
)
from proxy.edge.front_doors import INTERNAL_ERROR, dialect_for
from proxy.edge.guard import OriginGuard
from proxy.edge.key_auth import KeyAuth
from proxy.edge.shutdown import cut_streams_on_exit
from proxy.errors import HermesError, UnknownModel
from proxy.money.budget import Budget, Clock, system_clock
from proxy.money.meter import Meter
from proxy.money.preferences import Preferences
from proxy.money.pricing import PriceTable, per_mtok_prices
from proxy.money.reconcile import reconcile_unknown_outcomes
from proxy.pipeline.classify import Classifier
from proxy.pipeline.local_attempt import LocalSpeeds
from proxy.pipeline.services import Services
from proxy.pipeline.unseen import InFlight
from proxy.storage.owner import HEARTBEAT_S
from proxy.storage.store import Store
from proxy.upstreams.ollama import LocalCatalog
from proxy.upstreams.relay import Relay
from proxy.upstreams.upstream import Upstream

log = logging.getLogger("hermes")


async def list_models(request: Request) -> Response:
    """`GET /v1/models`: the three routes, then every configured model, each marked `available` or not.
    ---
    summary: The routes (auto, local, cloud) and every configured model, each with whether it can answer now
    responses:
      200:
        description: An OpenAI model list; `available` is Hermes's own field (OpenAI clients ignore it)
        content: {application/json: {schema: {$ref: '#/components/schemas/ModelList'}}}
    """
    services = request.app.state.services
    return JSONResponse({"object": "list", "data": await _model_cards(services),
                         "hermes": {"prices": services.prices.source} | services.prices.sources()})


async def get_model(request: Request) -> Response:
    """`GET /v1/models/{model}`: one model's card.
    ---
    summary: One model, as listed by /v1/models
    parameters:
      - {name: model, in: path, required: true, schema: {type: string}}
    responses:
      200:
        description: The model
        content: {application/json: {schema: {$ref: '#/components/schemas/Model'}}}
      404:
        description: No such model
        content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}
    """
    name = request.path_params["model"]
    services = request.app.state.services
    for card in await _model_cards(services):
        if card["id"] == name:
            return JSONResponse(card)
    if services.prices.listed(name) is not None:  # any model OpenRouter lists can be asked for by its slug
        return JSONResponse(_cloud_card(services, name, services.config.openrouter_api_key is not None))
    raise UnknownModel(f"The model '{name}' does not exist.")


async def _model_cards(services: Services) -> list[dict[str, Any]]:
    """OpenAI model cards, plus `available`: a local model is pulled where Hermes asks for it (the embedded
    model's server, or Ollama), a cloud model has OPENROUTER_API_KEY; a route, when a model behind it is."""
    config, catalog = services.config, services.catalog
    local = {m.name: await catalog.has(m.name) for m in config.local_models}
    cloud = config.openrouter_api_key is not None
    routes = {"local": any(local.values()), "cloud": cloud and bool(config.cloud_models)}
    routes["auto"] = routes["local"] or routes["cloud"]

    def card(name: str, owner: str, available: bool) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 0, "owned_by": owner, "available": available}

    return ([card(name, "hermes", routes[name]) for name in ROUTE_NAMES]
            + [card(name, "ollama", available) for name, available in local.items()]
            + [_cloud_card(services, m.name, cloud) for m in config.cloud_models])


def _cloud_card(services: Services, name: str, available: bool) -> dict[str, Any]:
    """A cloud model's card: with its price per million tokens and limits, and where they come from."""
    card = {"id": name, "object": "model", "created": 0, "owned_by": "openrouter", "available": available}
    if not services.prices.priced(name):
        return card | {"available": False, "pricing": None}
    price = services.prices.price(name)
    ref = services.config.find_model(name)
    listed = services.prices.listed(ref.litellm_model.removeprefix("openrouter/") if ref else name)
    return card | {
        "pricing": per_mtok_prices(price) | {"source": price.source},
        "context_length": price.context_length, "max_output_tokens": price.max_output_tokens,
        "supported_parameters": list(listed.supported_parameters) if listed else None,
    }


async def health(request: Request) -> Response:
    """Liveness, and which local models are reachable.

    "degraded" names what is down. It is a 503 only when nothing answers at
    the local address although the embedded model is enabled: then `local`
    and `auto` fail until it is back (the supervisor restarts it), and a
    monitor should see that. Without an embedded model, a missing Ollama is
    how the user chose to run (cloud only): still 200, but "degraded".
    ---
    summary: 200 while Hermes can answer; 503 while the local model it should have is down
    security: []
    responses:
      200:
        description: '"ok", or "degraded" with "down" naming the part that is'
        content: {application/json: {schema: {$ref: '#/components/schemas/Health'}}}
      503:
        description: '"degraded": no local model answers, though the embedded model is enabled'
        content: {application/json: {schema: {$ref: '#/components/schemas/Health'}}}
    """
    services = request.app.state.services
    catalog = services.catalog
    pulled = await catalog.models()
    down: dict[str, str] = {}
    if pulled is None:
        down["local"] = f"nothing answers at {catalog.api_base}"
    elif not [m for m in services.config.local_models if await catalog.has(m.name)]:
        down["local"] = f"none of the configured local models is pulled at {catalog.api_base}"
    body: dict[str, Any] = {
        "status": "degraded" if down else "ok",
        "local_api_base": catalog.api_base,
        "local_models": sorted(pulled) if pulled is not None else None,
    }
    if down:
        body["down"] = down
    unavailable = pulled is None and services.config.routing.embedded_model.enabled
    return JSONResponse(body, status_code=503 if unavailable else 200)


async def openapi(request: Request) -> Response:
    """This API's OpenAPI schema, from the handlers' docstrings."""
    return JSONResponse(SCHEMAS.get_schema(routes=request.app.routes))


class _Schemas(SchemaGenerator):
    """Starlette's generator, reading only docstrings that carry a `---` YAML part."""

    def parse_docstring(self, func_or_method: Any) -> dict[str, Any]:
        if "---" not in (func_or_method.__doc__ or ""):
            return {}  # a plain docstring is prose, not YAML
        return super().parse_docstring(func_or_method)


SCHEMAS = _Schemas(openapi_spec.BASE_SCHEMA)


async def _hermes_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HermesError)
    return dialect_for(request.url.path).error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own 404/405, in OpenAI's shape like every other error.
    assert isinstance(exc, HTTPException)
    error = HermesError(f"{request.method} {request.url.path}: {exc.detail}", code=f"http_{exc.status_code}")
    error.type = "invalid_request_error"
    error.status = exc.status_code
    return JSONResponse(dialect_for(request.url.path).error_body(error), status_code=exc.status_code)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # The one broad handler: whatever escaped still reaches the client in OpenAI's shape.
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(dialect_for(request.url.path).error_body(INTERNAL_ERROR), status_code=500)


async def _charge_abandoned(store: Store) -> int:
    charged = await store.charge_abandoned_reservations()
    if charged:
        log.warning("Charged %d budget reservations left by a process that ended mid-call at their "
                    "worst case: whether the upstream served them is unknown", charged)
    return charged


async def _keep_beating(store: Store, client: httpx.AsyncClient, config: Config) -> None:
    """While serving: a heartbeat every HEARTBEAT_S, and the reservations of replicas that died since
    start-up (on a shared database) charged and reconciled, as a restart would."""
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            await store.heartbeat()
            if await _charge_abandoned(store):
                await reconcile_unknown_outcomes(store, client, config)
        except HermesError as exc:  # the database is unavailable for now: the next beat tries again
            log.warning("Heartbeat failed: %s", exc.message)


def _log_cloud_key(config: Config) -> None:
    """Say at start-up whether cloud models can be reached; whether a key is set, never the key."""
    names = ", ".join(m.name for m in config.cloud_models) or "none configured"
    if config.openrouter_api_key is not None:
        log.info("OPENROUTER_API_KEY is set: cloud models (%s) are reachable through %s", names,
                 config.openrouter_api_base)
    else:
        log.warning("OPENROUTER_API_KEY is not set: auto cannot upgrade, so every answer is local, and a request "
                    "for a cloud model (%s) gets a 400 saying so", names)


def create_app(config: Config, clock: Clock = system_clock, prices: PriceTable | None = None) -> Starlette:
    """The Hermes ASGI app for a loaded `config`; `clock` decides what "today" is.

    Raises ConfigError when a cloud model has no price.
    """

    prices = prices or PriceTable.from_config(config)
    classifier = Classifier(config.routing.classification)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await Store.open(config.database, config.routing.server.store_prompts)
        try:
            await store.heartbeat()
            await _charge_abandoned(store)
            preferences = await Preferences.load(config, store, prune=True)
            _log_cloud_key(config)
            async with httpx.AsyncClient() as client, Relay() as relay:  # relay: the cloud's pooled connections
                # In the background: start-up does not wait on OpenRouter.
                reconciling = asyncio.ensure_future(reconcile_unknown_outcomes(store, client, config))
                beating = asyncio.ensure_future(_keep_beating(store, client, config))
                in_flight = InFlight()
                budget = Budget(config.budget, store, prices, config.cloud_models, clock,
                                lambda: preferences.current.daily_limit_usd)
                services = Services(
                    config=config,
                    store=store,
                    prices=prices,
                    meter=Meter(budget, prices, store, config.routing.local.max_tokens),
                    catalog=LocalCatalog(client, config.ollama_api_base),
                    classifier=classifier,
                    preferences=preferences,
                    speeds=LocalSpeeds(),
                    upstream=Upstream(relay),
                    in_flight=in_flight,
                )
                # Prices from the catalogue saved last, at once; a newer one is fetched in the background.
                saved_catalogue = await catalogue_refresh.saved(store)
                app.state.services = (services if saved_catalogue is None
                                      else catalogue_refresh.with_catalogue(services, saved_catalogue, clock))
                log.info("Prices: %s", app.state.services.prices.source)
                # Start-up made ~300,000 objects (LiteLLM's alone) that live as long as the
                # process: out of the collector's sight, a full collection no longer stalls
                # every stream for hundreds of milliseconds.
                gc.freeze()
                # The YAML files re-read when they change, or on SIGHUP (reload.py).
                watching = asyncio.ensure_future(reload.watch(
                    lambda: app.state.services, lambda services: setattr(app.state, "services", services), clock))
                refreshing = asyncio.ensure_future(catalogue_refresh.keep_current(
                    lambda: app.state.services, lambda services: setattr(app.state, "services", services), clock))
                pruning = asyncio.ensure_future(retention_job.keep_small(lambda: app.state.services, clock))
                try:
                    with cut_streams_on_exit(in_flight):
                        yield
                finally:
                    pruning.cancel()
                    refreshing.cancel()
                    watching.cancel()
                    reconciling.cancel()
                    beating.cancel()
        finally:
            await store.close()

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/models", list_models),
            Route("/v1/models/{model:path}", get_model),
            *front_doors.routes,
            Route("/v1/completions", completions.completions, methods=["POST"]),
            Route("/openapi.json", openapi, include_in_schema=False),
            *api.routes,
            *settings_api.routes,
            *quality_api.routes,
            *dashboard.routes,
            *metrics.routes,
        ],
        exception_handlers={HermesError: _hermes_error, HTTPException: _http_error, Exception: _unexpected_error},
        lifespan=lifespan,
    )
    app.add_middleware(KeyAuth, config=config)
    app.add_middleware(OriginGuard, config=config)  # outermost: a web page's request is refused before anything
    return app
