"""Validating chat requests as the real clients send them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from proxy.errors import BadRequest, HermesError, UpstreamError
from proxy.wire.openai_api import encode_sse, sse_events
from proxy.wire.validate import parse_chat_request

READ_TOOL = {
    "type": "function",
    "function": {
        "name": "read",
        "description": "Read a file",
        "parameters": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {"path": {"type": "string"}, "limit": {"type": "number", "exclusiveMinimum": 0}},
            "required": ["path"],
        },
    },
}


def test_aider_request_is_accepted_as_sent() -> None:
    chat = parse_chat_request({
        "model": "auto", "stream": True, "temperature": 0,
        "messages": [{"role": "system", "content": "Act as an expert software developer."},
                     {"role": "user", "content": "I switched to a new code base."},
                     {"role": "assistant", "content": "Ok."},
                     {"role": "user", "content": "fix the typo in README"}],
    })
    assert (chat.model, chat.stream, chat.include_usage) == ("auto", True, False)
    assert chat.params == {"temperature": 0}


def test_opencode_agent_turn_is_accepted_and_params_pass_through() -> None:
    body = {
        "model": "auto", "stream": True, "stream_options": {"include_usage": True},
        "max_tokens": 32000, "tool_choice": "auto", "tools": [READ_TOOL],
        "messages": [
            {"role": "system", "content": "You are opencode."},
            {"role": "user", "content": [{"type": "text", "text": "read the readme"}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "read", "arguments": '{"path":"README.md"}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "# Hermes"},
        ],
        "providerOptions": {"ignored": True},
    }
    chat = parse_chat_request(body)
    assert chat.include_usage is True
    assert chat.params == {"tools": [READ_TOOL], "tool_choice": "auto", "max_tokens": 32000}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param({"n": 2}, "'n' must be 1", id="n-2"),
        pytest.param({"temperature": 3}, "'temperature' must be a number from 0 to 2, got 3", id="temperature-3"),
        pytest.param({"temperature": True}, "'temperature' must be a number", id="temperature-bool"),
        pytest.param({"max_tokens": 1.5}, "'max_tokens' must be a positive integer", id="max-tokens-float"),
        pytest.param({"max_completion_tokens": 0}, "'max_completion_tokens' must be a positive integer", id="mct-0"),
        pytest.param({"stop": [1]}, "'stop' must be a string or an array of strings", id="stop-numbers"),
        pytest.param({"stream_options": {"include_usage": "yes"}}, "'stream_options.include_usage' must be a boolean",
                     id="include-usage-string"),
        pytest.param({"tool_choice": "sometimes"}, "'tool_choice' must be none, auto, required", id="tool-choice"),
        pytest.param({"response_format": {"type": "yaml"}}, "'response_format' must be an object", id="format-yaml"),
        pytest.param({"messages": [{"role": "user"}]}, "'messages[0].content' is required for role 'user'",
                     id="user-without-content"),
        pytest.param({"messages": [{"role": "user", "content": [{"text": "x"}]}]},
                     "'messages[0].content[0]' must be an object with a 'type'", id="part-without-type"),
        pytest.param({"tools": [{"type": "function", "function": {"name": ""}}]},
                     "'tools[0].function.name' must be a non-empty string", id="tool-empty-name"),
    ],
)
def test_bad_field_is_named_in_the_error(change: dict, fragment: str) -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]} | change
    with pytest.raises(BadRequest) as info:
        parse_chat_request(body)
    assert fragment in info.value.message


def test_openrouter_parameters_pass_through_as_sent() -> None:
    sent = {"reasoning": {"effort": "high", "max_tokens": 2000, "exclude": True}, "reasoning_effort": "low",
            "logprobs": True, "top_logprobs": 20, "logit_bias": {"1734": -100, "50256": 5.5}, "user": "u-1",
            "metadata": {"run": "42"}, "prediction": {"type": "content", "content": [{"type": "text", "text": "x"}]},
            "service_tier": "flex", "verbosity": "high", "modalities": ["text"], "top_k": 0, "min_p": 1,
            "repetition_penalty": 2, "provider": {"sort": "price"}, "transforms": []}
    chat = parse_chat_request({"model": "cloud", "messages": [{"role": "user", "content": "hi"}]} | sent)
    assert chat.params == sent


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param({"reasoning_effort": 3}, "invalid_reasoning_effort", id="effort-number"),
        pytest.param({"reasoning": "high"}, "invalid_reasoning", id="reasoning-string"),
        pytest.param({"reasoning": {"effort": ["high"]}}, "invalid_reasoning", id="reasoning-effort-array"),
        pytest.param({"reasoning": {"max_tokens": -1}}, "invalid_reasoning", id="reasoning-max-tokens"),
        pytest.param({"reasoning": {"exclude": "yes"}}, "invalid_reasoning", id="reasoning-exclude"),
        pytest.param({"logprobs": 1}, "invalid_logprobs", id="logprobs-number"),
        pytest.param({"top_logprobs": 21}, "invalid_top_logprobs", id="top-logprobs-21"),
        pytest.param({"top_logprobs": True}, "invalid_top_logprobs", id="top-logprobs-bool"),
        pytest.param({"logit_bias": {"hello": 1}}, "invalid_logit_bias", id="logit-bias-word"),
        pytest.param({"logit_bias": {"42": 101}}, "invalid_logit_bias", id="logit-bias-101"),
        pytest.param({"logit_bias": [1]}, "invalid_logit_bias", id="logit-bias-array"),
        pytest.param({"user": {"id": 1}}, "invalid_user", id="user-object"),
        pytest.param({"metadata": {"n": 1}}, "invalid_metadata", id="metadata-number"),
        pytest.param({"metadata": "x"}, "invalid_metadata", id="metadata-string"),
        pytest.param({"prediction": {"type": "content"}}, "invalid_prediction", id="prediction-no-content"),
        pytest.param({"prediction": "def f():"}, "invalid_prediction", id="prediction-string"),
        pytest.param({"service_tier": 1}, "invalid_service_tier", id="service-tier-number"),
        pytest.param({"verbosity": ["low"]}, "invalid_verbosity", id="verbosity-array"),
        pytest.param({"modalities": "text"}, "invalid_modalities", id="modalities-string"),
        pytest.param({"top_k": -1}, "invalid_top_k", id="top-k-negative"),
        pytest.param({"top_k": 1.5}, "invalid_top_k", id="top-k-float"),
        pytest.param({"min_p": 2}, "invalid_min_p", id="min-p-2"),
        pytest.param({"repetition_penalty": 0}, "invalid_repetition_penalty", id="repetition-penalty-0"),
        pytest.param({"provider": ["Anthropic"]}, "invalid_provider", id="provider-array"),
        pytest.param({"transforms": "middle-out"}, "invalid_transforms", id="transforms-string"),
    ],
)
def test_a_malformed_openrouter_parameter_is_a_400_naming_it(change: dict, code: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_chat_request({"model": "cloud", "messages": [{"role": "user", "content": "hi"}]} | change)
    assert info.value.code == code and f"'{code.removeprefix('invalid_')}" in info.value.message


def test_openrouters_fallback_models_are_not_passed_on() -> None:
    # `models` and `route` would let OpenRouter answer with a model the budget never priced.
    chat = parse_chat_request({"model": "cloud", "messages": [{"role": "user", "content": "hi"}],
                               "models": ["openai/gpt-4o"], "route": "fallback"})
    assert chat.params == {}


def test_sse_event_is_one_data_line() -> None:
    event = encode_sse({"a": "ü\n"})
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    assert json.loads(event[6:]) == {"a": "ü\n"}
    assert event.count(b"\n") == 2


IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}}
FILE = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjQ=", "filename": "a.pdf"}}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"tool_choice": {"type": "function", "function": {"name": "read"}}, "tools": [READ_TOOL]},
                     id="tool-choice-named"),
        pytest.param({"tool_choice": "required", "tools": [READ_TOOL]}, id="tool-choice-required"),
        pytest.param({"tool_choice": "none"}, id="tool-choice-none"),
        pytest.param({"parallel_tool_calls": False, "tools": [READ_TOOL]}, id="parallel-tool-calls"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "text", "text": "see"}, IMAGE]}]},
                     id="image"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
                     id="image-no-detail"),
        pytest.param({"messages": [{"role": "user", "content": [AUDIO]}]}, id="input-audio"),
        pytest.param({"messages": [{"role": "user", "content": [FILE]}]}, id="file-data"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]},
                     id="file-id"),
        pytest.param({"messages": [{"role": "user", "content": "hi"},
                                   {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
                                   {"role": "user", "content": "please"}]}, id="refusal"),
        pytest.param({"messages": [{"role": "assistant", "content": None, "refusal": "No."}]}, id="refusal-field"),
        pytest.param({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}},
                     id="json-schema"),
        pytest.param({"seed": -(2**63), "max_tokens": 2**63 - 1}, id="int64-bounds"),
    ],
)
def test_every_openai_shape_is_accepted(change: dict) -> None:
    parse_chat_request({"model": "auto", "messages": [{"role": "user", "content": "hi"}]} | change)


def bad_tool(**function: object) -> dict:
    return {"type": "function", "function": {"name": "read"} | function}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param({"messages": [{"role": {}, "content": "x"}]}, "'messages[0].role' must be one of",
                     id="role-object"),
        pytest.param({"messages": [{"role": ["user"], "content": "x"}]}, "'messages[0].role'", id="role-array"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
                     "'messages[0].content[0].image_url' must be an object", id="image-missing"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
                     "'messages[0].content[0].image_url.url' is required", id="image-without-url"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 5}}]}]},
                     "'messages[0].content[0].image_url.url'", id="image-url-number"),
        pytest.param({"messages": [{"role": "user", "content": [IMAGE | {"image_url": {"url": "x", "detail": {}}}]}]},
                     "'messages[0].content[0].image_url.detail' must be auto, low or high", id="image-detail"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "input_audio",
                                                                  "input_audio": {"data": "x"}}]}]},
                     "'messages[0].content[0].input_audio.format' is required", id="audio-without-format"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "file", "file": {"filename": "a"}}]}]},
                     "'messages[0].content[0].file' needs 'file_data' (base64) or 'file_id'", id="file-empty"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": 3}}]}]},
                     "'messages[0].content[0].file.file_id' must be a string", id="file-id-number"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "refusal", "refusal": "no"}]}]},
                     "a refusal part belongs in an assistant message", id="refusal-from-user"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "text", "text": ["x"]}]}]},
                     "'messages[0].content[0].text' must be a string, got array", id="text-array"),
        pytest.param({"messages": [{"role": "user", "content": [{"type": "video", "video": {}}]}]},
                     "'messages[0].content[0].type' must be one of text, refusal, image_url, input_audio, file",
                     id="unknown-part"),
        pytest.param({"messages": [{"role": "assistant", "tool_calls": [1, 2]}]},
                     "'messages[0].tool_calls[0]' must be", id="tool-calls-not-objects"),
        pytest.param({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}]},
                     "'messages[0].tool_calls[0]' must be", id="tool-call-without-function"),
        pytest.param({"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}]},
                     "'messages[0].tool_calls[0].function.name' must be a non-empty string", id="tool-call-no-name"),
        pytest.param({"messages": [{"role": "assistant",
                                    "tool_calls": [{"function": {"name": "f", "arguments": {}}}]}]},
                     "'messages[0].tool_calls[0].function.arguments' must be a string of JSON", id="arguments-object"),
        pytest.param({"messages": [{"role": "tool", "tool_call_id": 7, "content": "x"}]},
                     "'messages[0].tool_call_id' must be a string", id="tool-call-id-number"),
        pytest.param({"tools": [bad_tool(parameters={"type": "object", "properties": 5})]},
                     "'tools[0].function.parameters.properties' must be an object of schemas", id="properties-5"),
        pytest.param({"tools": [bad_tool(parameters={"properties": {"a": 5}})]},
                     "'tools[0].function.parameters.properties.a' must be a JSON Schema object", id="property-5"),
        pytest.param({"tools": [bad_tool(parameters={"properties": {"a": {"type": "array"}}})]},
                     "'tools[0].function.parameters.properties.a.items' must be a JSON Schema", id="array-no-items"),
        pytest.param({"tools": [bad_tool(parameters={"properties": {"a": {"type": "string", "enum": 5}}})]},
                     "'tools[0].function.parameters.properties.a.enum' must be an array", id="enum-5"),
        pytest.param({"tools": [bad_tool(parameters={"$schema": ["x"]})]},
                     "'tools[0].function.parameters.$schema' must be a string", id="schema-uri-array"),
        pytest.param({"tools": [bad_tool(parameters={"required": "a"})]},
                     "'tools[0].function.parameters.required' must be an array", id="required-string"),
        pytest.param({"tool_choice": {"type": "function", "function": {"name": "write"}}, "tools": [READ_TOOL]},
                     "'tool_choice' names the function 'write', which is not in 'tools'", id="tool-choice-unknown"),
        pytest.param({"tool_choice": {"type": "function"}}, "'tool_choice' must be none, auto", id="tool-choice-no-fn"),
        pytest.param({"tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}},
                     "'tool_choice' must be none, auto", id="tool-choice-allowed-tools"),
        pytest.param({"tool_choice": ["auto"]}, "'tool_choice' must be none, auto", id="tool-choice-array"),
        pytest.param({"response_format": {"type": {}}}, "'response_format' must be an object", id="format-type-object"),
        pytest.param({"response_format": {"type": "json_schema"}}, "'response_format.json_schema' must be an object",
                     id="json-schema-missing"),
        pytest.param({"max_tokens": 2**63}, "'max_tokens' must be a positive integer", id="max-tokens-huge"),
        pytest.param({"seed": 1.5}, "'seed' must be a 64-bit integer", id="seed-float"),
    ],
)
def test_malformed_shapes_are_400_naming_the_field(change: dict, fragment: str) -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]} | change
    with pytest.raises(BadRequest) as info:
        parse_chat_request(body)
    assert fragment in info.value.message


def chunk(label: str, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "gen-1", "label": label, "choices": [{"index": 0, "delta": {"content": label}, "finish_reason": finish}]} | extra


USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0.001}


async def relay(upstream: list[dict[str, Any]], include_usage: bool, log: list[str],
                failure: HermesError | None = None) -> list[Any]:
    """Run `upstream` through sse_events; `log` gets "up:<label>" as each is sent, "out:<label>" as each goes out."""
    settled: list[tuple[Any, HermesError | None]] = []

    async def chunks() -> AsyncIterator[dict[str, Any]]:
        for item in upstream:
            log.append(f"up:{item['label']}")
            yield item
        if failure is not None:
            raise failure

    async def settle(usage: dict[str, Any] | None, error: HermesError | None) -> dict[str, Any]:
        settled.append((usage, error))
        return {"cost_usd": 0.001}

    out = []
    async for data in sse_events(chunks(), include_usage, settle):
        event = data.decode().removeprefix("data: ").strip()
        out.append(event if event == "[DONE]" else json.loads(event))
        log.append("out:" + (out[-1] if isinstance(out[-1], str) else out[-1].get("label", "error")))
    assert len(settled) == 1
    return [settled[0], *out]


@pytest.mark.asyncio
async def test_content_goes_out_as_it_comes_and_hermes_rides_on_the_usage_chunk() -> None:
    log: list[str] = []
    upstream = [chunk("a"), chunk("b"), chunk("end", "stop"), {"id": "gen-1", "label": "usage", "choices": [], "usage": USAGE}]
    (usage, error), *out = await relay(upstream, include_usage=True, log=log)
    assert log == ["up:a", "out:a", "up:b", "out:b", "up:end", "up:usage", "out:end", "out:usage", "out:[DONE]"]
    assert (usage, error) == (USAGE, None)
    assert out[-2] == upstream[-1] | {"hermes": {"cost_usd": 0.001}} and "hermes" not in out[-3]


@pytest.mark.asyncio
async def test_without_include_usage_hermes_rides_on_the_finish_chunk_and_no_usage_goes_out() -> None:
    log: list[str] = []
    # OpenRouter may put the usage on the finish chunk itself; the client did not ask for it.
    upstream = [chunk("a"), chunk("end", "stop", usage=USAGE), {"id": "gen-1", "label": "usage", "choices": [], "usage": USAGE}]
    (usage, _), *out = await relay(upstream, include_usage=False, log=log)
    assert log == ["up:a", "out:a", "up:end", "up:usage", "out:end", "out:[DONE]"]
    assert usage == USAGE  # still settled with it
    assert out[-2] == chunk("end", "stop") | {"hermes": {"cost_usd": 0.001}}


@pytest.mark.asyncio
async def test_a_failure_after_the_finish_chunk_sends_it_then_the_error_event() -> None:
    log: list[str] = []
    error = UpstreamError("claude-3.5-sonnet closed the connection mid-answer")
    (usage, settled_with), *out = await relay([chunk("a"), chunk("end", "stop")], True, log, failure=error)
    assert log == ["up:a", "out:a", "up:end", "out:end", "out:error", "out:[DONE]"]
    assert settled_with is error and usage is None
    assert out[-2]["error"]["code"] == "upstream_error" and "hermes" not in out[-3]

