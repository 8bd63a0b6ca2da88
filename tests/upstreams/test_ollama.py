"""Asking Ollama (or the embedded model) which models it has."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.localmodel.embedded import free_port
from proxy.upstreams.ollama import LocalCatalog, ollama_answers, pulled_models
from tests.conftest import ServerThread


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


STRANGERS = [
    pytest.param(lambda: JSONResponse({"models": 5}), id="models-is-a-number"),
    pytest.param(lambda: JSONResponse([{"name": "smollm2:135m"}]), id="a-list"),
    pytest.param(lambda: JSONResponse({"models": "smollm2:135m"}), id="models-is-a-string"),
    pytest.param(lambda: Response("{not json", media_type="application/json"), id="not-json"),
    pytest.param(lambda: Response("<html><body>router login</body></html>", media_type="text/html"), id="html"),
]


@pytest.fixture
def stranger() -> Iterator[Callable[[Callable[[], Response]], str]]:
    """A server on the Ollama port that answers /api/tags with whatever it is given."""
    servers: list[ServerThread] = []

    def serve(reply: Callable[[], Response]) -> str:
        async def tags(request: Request) -> Response:
            return reply()

        server = ServerThread(Starlette(routes=[Route("/api/tags", tags), Route("/api/version", tags)]))
        servers.append(server)
        return server.__enter__()

    yield serve
    for server in servers:
        server.__exit__(None, None, None)


@pytest.mark.asyncio
@pytest.mark.parametrize("reply", STRANGERS)
async def test_tags_of_any_other_shape_mean_no_ollama(
    stranger: Callable[[Callable[[], Response]], str], reply: Callable[[], Response]
) -> None:
    async with httpx.AsyncClient() as client:
        assert await pulled_models(client, stranger(reply)) is None
