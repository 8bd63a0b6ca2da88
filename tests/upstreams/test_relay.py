"""The cloud relay as a client sees it through a real Hermes: every upstream field kept, nothing held back.

The upstream is the OpenRouter stub (openrouter_stub.py), which records
what it was sent and what it sent. Hermes documents the fields it sets on
a cloud answer: "model" (the name the client asked for) and "hermes" (on the
last chunk of a stream); everything else must come out as the upstream sent
it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy.localmodel.model import EmbeddedModel
from proxy.wire.params import CLOUD_PARAMS
from tests.edge.test_app import HI, chat, sse_events, tasks
from tests.openrouter_stub import COST_PER_CALL_USD, OpenRouterStub

STREAMED = {"stream": True, "stream_options": {"include_usage": True}}
# One valid value for every OpenRouter parameter Hermes passes on.
OPENROUTER_PARAMS: dict[str, Any] = {
    "reasoning_effort": "high",
    "reasoning": {"effort": "high", "exclude": False},
    "verbosity": "low",
    "logprobs": True,
    "top_logprobs": 2,
    "logit_bias": {"50256": -100},
    "user": "user-42",
    "metadata": {"ticket": "HER-9"},
    "prediction": {"type": "content", "content": "def add(a, b):"},
    "service_tier": "auto",
    "modalities": ["text"],
    "top_k": 40,
    "min_p": 0.05,
    "repetition_penalty": 1.1,
    "provider": {"order": ["Anthropic"], "allow_fallbacks": False},
    "transforms": ["middle-out"],
}


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


def upstream_sent(openrouter: OpenRouterStub) -> list[dict[str, Any]]:
    return [json.loads(data) for data in openrouter.sent]


def test_a_recorded_openrouter_stream_comes_out_chunk_for_chunk(
    hermes_url: str, openrouter: OpenRouterStub, database: Path | str
) -> None:
    openrouter.mode = "recorded"
    events = sse_events(chat(hermes_url, {"model": "claude-3.5-sonnet", "messages": HI} | STREAMED))
    assert events[-1] == "[DONE]"
    received, sent = events[:-1], upstream_sent(openrouter)
    # Reasoning deltas, the tool call in pieces, logprobs, annotations, provider fields, usage details: all of it.
    assert [without(chunk, "model", "hermes") for chunk in received] == [without(chunk, "model") for chunk in sent]
    assert {chunk["model"] for chunk in received} == {"claude-3.5-sonnet"}  # the name the client can ask for again
    assert [i for i, chunk in enumerate(received) if "hermes" in chunk] == [len(received) - 1]
    assert received[-1]["usage"]["cost"] == received[-1]["hermes"]["cost_usd"] == COST_PER_CALL_USD
    calls = [c["choices"][0]["delta"].get("tool_calls") for c in received if c["choices"]]
    arguments = "".join(call[0]["function"].get("arguments", "") for call in calls if call)
    assert json.loads(arguments) == {"path": "README.md"}
    [task] = tasks(database)
    assert (task["cost_usd"], task["input_tokens"], task["output_tokens"]) == (COST_PER_CALL_USD, 1234, 56)


def test_a_recorded_stream_without_include_usage_keeps_every_chunk_but_the_usage(
    hermes_url: str, openrouter: OpenRouterStub, database: Path | str
) -> None:
    openrouter.mode = "recorded"
    events = sse_events(chat(hermes_url, {"model": "claude-3.5-sonnet", "messages": HI, "stream": True}))
    received, sent = events[:-1], upstream_sent(openrouter)
    assert [without(chunk, "model", "hermes") for chunk in received] == [
        without(chunk, "model") for chunk in sent if chunk["choices"]]
    assert received[-1]["choices"][0]["finish_reason"] == "tool_calls" and "hermes" in received[-1]
    assert tasks(database)[0]["cost_usd"] == COST_PER_CALL_USD  # Hermes asked for the usage all the same


def test_a_recorded_answer_comes_out_whole(hermes_url: str, openrouter: OpenRouterStub,
                                           database: Path | str) -> None:
    openrouter.mode = "recorded"
    response = chat(hermes_url, {"model": "claude-3.5-sonnet", "messages": HI})
    assert response.status_code == 200, response.text
    [sent] = upstream_sent(openrouter)
    assert without(response.json(), "model", "hermes") == without(sent, "model")
    assert response.json()["model"] == "claude-3.5-sonnet"
    assert response.headers["x-hermes-cost-usd"] == f"{COST_PER_CALL_USD:.6f}"
    assert tasks(database)[0]["cost_usd"] == COST_PER_CALL_USD


def test_every_openrouter_parameter_reaches_openrouter(hermes_url: str, openrouter: OpenRouterStub) -> None:
    assert set(OPENROUTER_PARAMS) == set(CLOUD_PARAMS)  # a parameter added to Hermes is added here
    fallbacks = {"models": ["openai/gpt-4o"], "route": "fallback"}  # would escape the budget's choice of model
    response = chat(hermes_url, {"model": "claude-3.5-sonnet", "messages": HI} | STREAMED | OPENROUTER_PARAMS | fallbacks)
    assert response.status_code == 200, response.text
    [sent] = openrouter.requests
    assert {key: sent["json"].get(key) for key in OPENROUTER_PARAMS} == OPENROUTER_PARAMS
    assert sent["json"]["model"] == "anthropic/claude-3.5-sonnet" and sent["json"]["messages"] == HI
    assert sent["json"]["stream_options"] == {"include_usage": True}
    assert "models" not in sent["json"] and "route" not in sent["json"]


def test_openrouter_parameters_do_not_break_a_local_call(
    hermes_url: str, openrouter: OpenRouterStub, embedded_model: EmbeddedModel
) -> None:
    calls = embedded_model.calls
    response = chat(hermes_url, {"model": "local", "messages": HI, "max_tokens": 4} | OPENROUTER_PARAMS)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["role"] == "assistant"
    assert embedded_model.calls == calls + 1 and openrouter.requests == []


def test_cloud_calls_share_one_pooled_connection(hermes_url: str, openrouter: OpenRouterStub) -> None:
    for stream in (False, True, False, True):
        assert chat(hermes_url, {"model": "cloud", "messages": HI, "stream": stream}).status_code == 200
    assert len(openrouter.requests) == 4
    assert len({request["client"] for request in openrouter.requests}) == 1


def test_each_chunk_reaches_the_client_before_the_upstream_sends_the_next(
    hermes_url: str, openrouter: OpenRouterStub
) -> None:
    openrouter.mode = "paced"
    openrouter.gate = threading.Event()  # the stub sends the role chunk and "Hello", then waits for it
    body = {"model": "cloud", "messages": HI, "stream": True}
    with httpx.stream("POST", f"{hermes_url}/v1/chat/completions", json=body, timeout=10) as response:
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("data: ") and json.loads(line[6:])["choices"][0]["delta"].get("content") == "Hello":
                break
        assert len(openrouter.sent) == 2  # "Hello" is here, and the stub has sent nothing after it
        openrouter.gate.set()
        rest = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in rest) == " from anthropic/claude-3.5-sonnet in the cloud."
    assert "hermes" in rest[-1]


@pytest.mark.parametrize("mode", ["error", "rate_limited", "cut"])
def test_a_failed_call_leaves_the_pool_usable(hermes_url: str, openrouter: OpenRouterStub, mode: str) -> None:
    openrouter.mode = mode
    chat(hermes_url, {"model": "cloud", "messages": HI, "stream": True})
    openrouter.mode = "ok"
    assert chat(hermes_url, {"model": "cloud", "messages": HI}).status_code == 200
