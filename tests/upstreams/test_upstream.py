"""Model calls: local ones through LiteLLM, cloud ones through the relay; OpenAI-shaped results, every failure mapped."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.chat import ChatRequest
from proxy.config import Config
from proxy.errors import BadRequest, UpstreamError, UpstreamTimeout
from proxy.localmodel.embedded import free_port
from proxy.localmodel.model import EmbeddedModel
from proxy.upstreams import upstream
from proxy.upstreams.relay import Relay
from proxy.upstreams.target import Target
from proxy.upstreams.upstream import Upstream
from tests.conftest import ServerThread
from tests.openrouter_stub import OpenRouterStub

HI = [{"role": "user", "content": "hi"}]


def local_target(config: Config, **changes: object) -> Target:
    fields = dict(model=config.find_model("smollm2:135m"), api_base=config.ollama_api_base, api_key=None,
                  timeout_s=60.0)
    return Target(**(fields | changes))  # type: ignore[arg-type]


def cloud_target(config: Config, **changes: object) -> Target:
    fields = dict(model=config.find_model("gpt-4"), api_base=config.openrouter_api_base,
                  api_key=config.openrouter_api_key, timeout_s=60.0)
    return Target(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_local_completion_is_an_openai_dict(make_config: Callable[..., Config]) -> None:
    answer = await upstream.complete(local_target(make_config()), ChatRequest("local", HI, params={"max_tokens": 8}))
    assert answer["object"] == "chat.completion" and answer["model"] == "smollm2:135m"
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert answer["usage"]["completion_tokens"] <= 8


@pytest.mark.asyncio
async def test_stream_always_ends_with_usage(make_config: Callable[..., Config]) -> None:
    chunks = [c async for c in await upstream.stream(local_target(make_config()), ChatRequest("local", HI, stream=True,
                                                                                               params={"max_tokens": 4}))]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert len({c["id"] for c in chunks}) == 1


@pytest.mark.asyncio
async def test_cloud_usage_keeps_openrouters_cost(make_config: Callable[..., Config], openrouter: OpenRouterStub) -> None:
    async with Relay() as relay:
        answer = await Upstream(relay).complete(cloud_target(make_config()), ChatRequest("gpt-4", HI))
    assert answer["usage"]["cost"] == 0.00125 and answer["model"] == "gpt-4"
    assert answer["provider"] == "Stub"  # OpenRouter's own fields come through
    assert openrouter.requests[0]["json"]["model"] == "openai/gpt-4"


@pytest.mark.asyncio
async def test_cloud_stream_id_is_openrouters_generation_id(
    make_config: Callable[..., Config], openrouter: OpenRouterStub
) -> None:
    async with Relay() as relay:
        chat = ChatRequest("gpt-4", HI, stream=True)
        chunks = [c async for c in await Upstream(relay).stream(cloud_target(make_config()), chat)]
    assert {c["id"] for c in chunks} == set(openrouter.generations)  # what its cost is looked up by after a crash
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["cost"] == 0.00125


@pytest.mark.asyncio
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_timeout_is_enforced(make_config: Callable[..., Config], openrouter: OpenRouterStub, stream: bool) -> None:
    openrouter.mode = "slow"
    started = time.monotonic()
    async with Relay() as relay:
        target, chat = cloud_target(make_config(), timeout_s=0.3), ChatRequest("gpt-4", HI, stream=stream)
        with pytest.raises(UpstreamTimeout, match="gpt-4 did not answer within 0.3s"):
            await (relay.stream(target, chat) if stream else relay.complete(target, chat))
    assert time.monotonic() - started < 3


@pytest.mark.asyncio
async def test_unreachable_cloud_names_the_address(make_config: Callable[..., Config]) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/v1"
    async with Relay() as relay:
        with pytest.raises(UpstreamError, match=f"from gpt-4 at {closed}"):
            await relay.complete(cloud_target(make_config(), api_base=closed), ChatRequest("gpt-4", HI))


@pytest.mark.asyncio
async def test_unreachable_model_names_the_address(make_config: Callable[..., Config]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UpstreamError, match=f"from smollm2:135m at {closed}"):
        await upstream.complete(local_target(make_config(), api_base=closed), ChatRequest("local", HI))


@pytest.mark.asyncio
async def test_prompt_too_long_for_the_local_model_is_a_clear_error(make_config: Callable[..., Config]) -> None:
    long = [{"role": "user", "content": "word " * 9000}]
    with pytest.raises(BadRequest) as info:
        await upstream.complete(local_target(make_config()), ChatRequest("local", long))
    assert info.value.code == "context_length_exceeded"
    assert info.value.message.startswith("The conversation is too long for smollm2:135m: The prompt is ")
    assert info.value.message.endswith("more than smollm2:135m's context of 8192 tokens.")


@pytest.fixture
def broken_ollama() -> Iterator[str]:
    """Something on an Ollama port that answers every chat with an HTML page."""

    async def page(request: Request) -> Response:
        return Response("<html><body>Sign in to the router</body></html>", media_type="text/html")

    with ServerThread(Starlette(routes=[Route("/api/chat", page, methods=["POST"])])) as url:
        yield url


@pytest.mark.asyncio
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_a_local_reply_that_is_not_json_is_a_clean_502(
    make_config: Callable[..., Config], broken_ollama: str, stream: bool
) -> None:
    target = local_target(make_config(), api_base=broken_ollama)
    with pytest.raises(UpstreamError) as info:
        if stream:
            await upstream.stream(target, ChatRequest("local", HI, stream=True))
        else:
            await upstream.complete(target, ChatRequest("local", HI))
    assert (info.value.status, info.value.code) == (502, "upstream_bad_response")
    assert info.value.message.startswith("smollm2:135m ")
    assert "Traceback" not in info.value.message and "\n" not in info.value.message


@pytest.mark.asyncio
async def test_an_earlier_tool_call_with_arguments_that_are_not_json_is_a_400_for_a_local_model(
    make_config: Callable[..., Config], embedded_model: EmbeddedModel
) -> None:
    history = [{"role": "user", "content": "read it"},
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "RE'}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "# Hermes"}]
    calls = embedded_model.calls
    with pytest.raises(BadRequest) as info:  # not "the model's reply is not JSON": the reply never came
        await upstream.complete(local_target(make_config()), ChatRequest("local", history))
    assert info.value.code == "invalid_messages" and "messages[1].tool_calls[0].function.arguments" in info.value.message
    assert embedded_model.calls == calls
