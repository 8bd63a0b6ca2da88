"""A local model's token log-probabilities, read off the wire under LiteLLM's Ollama backend."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from proxy.chat import ChatRequest
from proxy.config import Config
from proxy.errors import BadRequest, UpstreamError
from proxy.localmodel.embedded import free_port
from proxy.upstreams import upstream
from proxy.upstreams.ollama_logprobs import TOP_LOGPROBS, TokenLogprobs
from tests.upstreams.test_upstream import local_target

QUESTION = [{"role": "user", "content": "What is the capital of Japan?"}]


@pytest.mark.asyncio
async def test_a_local_stream_fills_the_log_probabilities_and_the_client_sees_the_same_chunks(
        make_config: Callable[..., Config]) -> None:
    chat = ChatRequest("local", QUESTION, stream=True, params={"max_tokens": 24, "temperature": 0})
    logprobs = TokenLogprobs()
    chunks = [c async for c in await upstream.stream(local_target(make_config()), chat, logprobs)]
    plain = [c async for c in await upstream.stream(local_target(make_config()), chat)]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "".join(c["choices"][0]["delta"].get("content", "") for c in plain if c["choices"])
    assert text.startswith("".join(e["token"] for e in logprobs.entries)) and logprobs.entries
    assert all(len(e["top_logprobs"]) == TOP_LOGPROBS and e["logprob"] <= 0 for e in logprobs.entries)
    assert all(c["choices"][0]["logprobs"] is None for c in chunks if c["choices"])  # not the client's to see


def test_lines_without_entries_and_lines_that_are_not_json_add_nothing() -> None:
    found = TokenLogprobs()
    found.read(b'{"message": {"content": "Paris"}, "done": false}')
    found.read(b'{"logprobs": [{"token": "Par')
    found.read(b'{"logprobs": [{"token": "x", "logprob": "high"}, 5]}')
    assert found.entries == []
    found.read(json.dumps({"logprobs": [{"token": "Paris", "logprob": -0.01}]}).encode())
    assert found.entries == [{"token": "Paris", "logprob": -0.01}]


@pytest.mark.asyncio
async def test_asking_for_them_changes_no_failure_a_local_call_reports(make_config: Callable[..., Config]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UpstreamError, match=f"from smollm2:135m at {closed}"):
        await upstream.stream(local_target(make_config(), api_base=closed), ChatRequest("local", QUESTION, stream=True),
                              TokenLogprobs())
    too_long = ChatRequest("local", [{"role": "user", "content": "word " * 9000}], stream=True)
    with pytest.raises(BadRequest) as info:
        await upstream.stream(local_target(make_config()), too_long, TokenLogprobs())
    assert info.value.code == "context_length_exceeded"
