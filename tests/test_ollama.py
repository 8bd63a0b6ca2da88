"""Asking Ollama (or the embedded model) which models it has."""

from __future__ import annotations

import httpx
import pytest

from proxy.embedded import free_port
from proxy.ollama import LocalCatalog, ollama_answers, pulled_models


@pytest.mark.asyncio
async def test_pulled_models_from_a_running_server(ollama_url: str) -> None:
    async with httpx.AsyncClient() as client:
        assert await pulled_models(client, ollama_url) == frozenset({"smollm2:135m"})


@pytest.mark.asyncio
async def test_nothing_listening_is_none_not_an_error() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    async with httpx.AsyncClient() as client:
        assert await pulled_models(client, closed) is None
        assert await LocalCatalog(client, closed).has("smollm2:135m") is False
    assert ollama_answers(closed) is False


@pytest.mark.asyncio
async def test_catalog_accepts_names_without_the_latest_tag(ollama_url: str) -> None:
    async with httpx.AsyncClient() as client:
        catalog = LocalCatalog(client, ollama_url)
        assert await catalog.has("smollm2:135m")
        assert not await catalog.has("smollm2")  # a different tag is a different model


def test_ollama_answers(ollama_url: str) -> None:
    assert ollama_answers(ollama_url)
