"""Choosing the model for a request: routes, concrete names, and what is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import pytest_asyncio

from proxy.chat import ChatRequest
from proxy.config import Config
from proxy.errors import CloudUnavailable, UnknownModel, UpstreamError
from proxy.pipeline.cascade import choose_target
from proxy.upstreams.ollama import LocalCatalog

HI = [{"role": "user", "content": "hi"}]


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def choose(config: Config, http: httpx.AsyncClient, model: str, allowed=()):  # type: ignore[no-untyped-def]
    catalog = LocalCatalog(http, config.ollama_api_base)
    return await choose_target(ChatRequest(model=model, messages=HI), config, catalog, allowed or config.cloud_models)


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ["auto", "local"])
async def test_local_routes_take_the_first_pulled_local_model(
    route: str, make_config: Callable[..., Config], http: httpx.AsyncClient
) -> None:
    config = make_config()
    target = await choose(config, http, route)
    # llama3.2:3b and the others come first, but only the embedded model is pulled here.
    assert (target.model.name, target.model.kind, target.api_base) == ("smollm2:135m", "local", config.ollama_api_base)
    assert target.api_key is None and target.timeout_s == config.routing.local.timeout_s


@pytest.mark.asyncio
async def test_cloud_route_takes_the_first_cloud_model(make_config: Callable[..., Config], http: httpx.AsyncClient) -> None:
    config = make_config()
    target = await choose(config, http, "cloud")
    assert target.model.litellm_model == "openrouter/anthropic/claude-3.5-sonnet"
    assert target.api_base == config.openrouter_api_base and target.api_key == config.openrouter_api_key


@pytest.mark.asyncio
async def test_cloud_route_takes_the_first_model_the_budget_tier_allows(
    make_config: Callable[..., Config], http: httpx.AsyncClient
) -> None:
    config = make_config()
    cheap = [m for m in config.cloud_models if m.name == "gemini-flash"]
    assert (await choose(config, http, "cloud", cheap)).model.name == "gemini-flash"


@pytest.mark.asyncio
async def test_concrete_models_by_name_or_slug(make_config: Callable[..., Config], http: httpx.AsyncClient) -> None:
    config = make_config()
    assert (await choose(config, http, "gemini-flash")).model.name == "gemini-flash"
    assert (await choose(config, http, "anthropic/claude-3-opus")).model.name == "claude-3-opus"
    assert (await choose(config, http, "smollm2:135m")).model.kind == "local"


@pytest.mark.asyncio
async def test_unknown_model(make_config: Callable[..., Config], http: httpx.AsyncClient) -> None:
    with pytest.raises(UnknownModel, match="'gpt-9' does not exist"):
        await choose(make_config(), http, "gpt-9")


@pytest.mark.asyncio
async def test_local_model_not_pulled_says_how_to_pull_it(
    make_config: Callable[..., Config], http: httpx.AsyncClient
) -> None:
    with pytest.raises(UpstreamError, match="Run `ollama pull qwen2.5-coder:7b`"):
        await choose(make_config(), http, "qwen2.5-coder:7b")


@pytest.mark.asyncio
async def test_no_configured_local_model_pulled(make_config: Callable[..., Config], http: httpx.AsyncClient) -> None:
    config = make_config({"embedded_model": {"enabled": False}})
    with pytest.raises(UpstreamError, match="has none of the configured local models .*ollama pull llama3.2:3b"):
        await choose(config, http, "local")


@pytest.mark.asyncio
async def test_cloud_without_key(make_config: Callable[..., Config], http: httpx.AsyncClient) -> None:
    with pytest.raises(CloudUnavailable, match="OPENROUTER_API_KEY is not set") as info:
        await choose(make_config(OPENROUTER_API_KEY=""), http, "cloud")
    assert (info.value.status, info.value.retry) == (400, False)
