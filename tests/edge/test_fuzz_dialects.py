"""Property-based requests to the other dialects' doors: never a 500, every error in that dialect's own shape.

The same Hermes as test_fuzz.py (nothing can answer behind it: a closed Ollama port and a $0 budget), the
same mutations, and bodies shaped for Anthropic Messages, OpenAI Responses and Gemini. The last line printed
is the request count and the status histogram per endpoint.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.config import Config
from tests.edge.test_fuzz import ADVERSARIAL, closed_port, encode, fuzz_settings, json_values, mutated, odd, text
from tests.openrouter_stub import OpenRouterStub

STATUSES: dict[str, Counter[int]] = {}
STARTED = time.monotonic()
UPSTREAM_DOWN = {502, 503, 504}  # nothing answers behind this Hermes: these say so, and are fine


@pytest.fixture
def client(make_config: Callable[..., Config], serve_hermes: Callable[[Config], str],
           openrouter: OpenRouterStub) -> Iterator[httpx.Client]:
    config = make_config(budget={"daily_limit_usd": 0}, OLLAMA_API_BASE=f"http://127.0.0.1:{closed_port()}")
    with httpx.Client(base_url=serve_hermes(config), timeout=60) as client:
        yield client
        assert client.get("/api/v1/monitoring/dashboard").status_code == 200  # whatever was sent, still serving
    assert openrouter.requests == []  # nothing reached a model


@pytest.fixture(scope="module", autouse=True)
def summary(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    lines = [f"  {door}: {sum(counts.values())} requests, statuses "
             + "{" + ", ".join(f"{status}: {count}" for status, count in sorted(counts.items())) + "}"
             for door, counts in sorted(STATUSES.items())]
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else nullcontext():
        print(f"\n[fuzz, dialects] {time.monotonic() - STARTED:.0f}s\n" + "\n".join(lines))


def anthropic_error(body: Any) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return (body.get("type") == "error" and isinstance(error, dict) and isinstance(error.get("type"), str)
            and isinstance(error.get("message"), str) and bool(error["message"]))


def openai_error(body: Any) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and set(error) == {"message", "type", "param", "code"} and bool(error["message"])


def gemini_error(body: Any) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return (isinstance(error, dict) and isinstance(error.get("code"), int) and isinstance(error.get("status"), str)
            and isinstance(error.get("message"), str) and bool(error["message"]))


def send(client: httpx.Client, door: str, path: str, body: bytes, shape: Callable[[Any], bool]) -> None:
    """POST `body`; no 500, and an error in the door's own shape."""
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    status = response.status_code
    STATUSES.setdefault(door, Counter())[status] += 1
    where = f"POST {path}: {status} {response.text[:300]}"
    assert status < 500 or status in UPSTREAM_DOWN, where
    if status >= 400:
        assert response.headers["content-type"] == "application/json", where
        assert shape(response.json()), where


# -- Anthropic Messages -------------------------------------------------------------------------------------------

CLAUDE_MODELS = ("auto", "local", "cloud", "claude-sonnet-4-5", "claude-haiku-4-5-20251001", "nope")
READ = {"name": "Read", "description": "Read a file", "input_schema": {
    "type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}}
block = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, text),
    st.builds(lambda t: {"type": "text", "text": t, "cache_control": {"type": "ephemeral"}}, text),
    st.just({"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/a.py"}}),
    st.builds(lambda t: {"type": "tool_result", "tool_use_id": "toolu_1", "content": t}, text),
    st.just({"type": "thinking", "thinking": "hmm", "signature": "sig"}),
    st.just({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}),
)
anthropic_message = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"]),
                                           "content": st.one_of(text, st.lists(block, min_size=1, max_size=3))})
valid_messages = st.fixed_dictionaries(
    {"model": st.sampled_from(CLAUDE_MODELS), "max_tokens": st.integers(1, 128_000),
     "messages": st.lists(anthropic_message, min_size=1, max_size=4)},
    optional={"system": st.one_of(text, st.lists(block, min_size=1, max_size=2)), "tools": st.just([READ]),
              "stream": st.booleans(), "temperature": st.floats(0, 1), "top_p": st.floats(0, 1),
              "top_k": st.integers(1, 500), "stop_sequences": st.lists(text, max_size=3),
              "thinking": st.sampled_from([{"type": "adaptive"}, {"type": "enabled", "budget_tokens": 1024}]),
              "metadata": st.just({"user_id": "u1"}),
              "tool_choice": st.sampled_from([{"type": "auto"}, {"type": "any"}, {"type": "tool", "name": "Read"}]),
              "output_config": st.just({"effort": "high"})},
)
arbitrary_messages = st.fixed_dictionaries({}, optional={
    "model": st.one_of(st.sampled_from(CLAUDE_MODELS), odd), "max_tokens": odd,
    "messages": st.one_of(odd, st.lists(st.fixed_dictionaries({}, optional={
        "role": st.one_of(st.sampled_from(["user", "assistant"]), odd),
        "content": st.one_of(odd, st.lists(st.one_of(odd, st.fixed_dictionaries(
            {"type": st.one_of(st.sampled_from(["text", "tool_use", "tool_result", "image", "thinking"]), odd)},
            optional={key: odd for key in ("text", "id", "name", "input", "tool_use_id", "content", "source")})),
            max_size=3))}), max_size=3)),
    **{key: odd for key in ("system", "tools", "stream", "temperature", "top_k", "tool_choice", "stop_sequences",
                             "thinking", "metadata")},
})


@fuzz_settings(300)
@given(body=st.one_of(mutated(valid_messages), arbitrary_messages))
def test_anthropic_messages_never_get_a_500(client: httpx.Client, body: Any) -> None:
    send(client, "/v1/messages", "/v1/messages", encode(body), anthropic_error)


@fuzz_settings(100)
@given(body=st.one_of(mutated(valid_messages), arbitrary_messages))
def test_anthropic_count_tokens_never_gets_a_500(client: httpx.Client, body: Any) -> None:
    send(client, "/v1/messages/count_tokens", "/v1/messages/count_tokens", encode(body), anthropic_error)


# -- OpenAI Responses ---------------------------------------------------------------------------------------------

EXEC = {"type": "function", "name": "exec_command", "parameters": {
    "type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}
item = st.one_of(
    st.builds(lambda role, t: {"type": "message", "role": role, "content": [{"type": "input_text", "text": t}]},
              st.sampled_from(["user", "developer", "system"]), text),
    st.builds(lambda t: {"role": "assistant", "content": [{"type": "output_text", "text": t}]}, text),
    st.just({"type": "function_call", "call_id": "call_1", "name": "exec_command", "arguments": '{"cmd": "ls"}'}),
    st.builds(lambda t: {"type": "function_call_output", "call_id": "call_1", "output": t}, text),
)
valid_responses = st.fixed_dictionaries(
    {"model": st.sampled_from(("auto", "local", "cloud", "gpt-5-codex", "nope")),
     "input": st.one_of(text, st.lists(item, min_size=1, max_size=4))},
    optional={"instructions": text, "tools": st.just([EXEC, {"type": "web_search"}]), "stream": st.booleans(),
              "max_output_tokens": st.integers(1, 100_000), "tool_choice": st.just("auto"),
              "parallel_tool_calls": st.booleans(), "store": st.booleans(),
              "reasoning": st.fixed_dictionaries({}, optional={"effort": st.sampled_from(["low", "high"]),
                                                               "summary": st.just("auto")}),
              "include": st.just(["reasoning.encrypted_content"]), "prompt_cache_key": text},
)
arbitrary_responses = st.fixed_dictionaries({}, optional={
    "model": st.one_of(st.just("auto"), odd), "input": st.one_of(odd, st.lists(st.one_of(odd, st.fixed_dictionaries(
        {}, optional={key: odd for key in ("type", "role", "content", "call_id", "name", "arguments", "output")})),
        max_size=3)),
    **{key: odd for key in ("instructions", "tools", "stream", "max_output_tokens", "tool_choice", "reasoning",
                             "temperature", "text")},
})


@fuzz_settings(300)
@given(body=st.one_of(mutated(valid_responses), arbitrary_responses))
def test_openai_responses_never_get_a_500(client: httpx.Client, body: Any) -> None:
    send(client, "/v1/responses", "/v1/responses", encode(body), openai_error)


# -- Gemini -------------------------------------------------------------------------------------------------------

part = st.one_of(st.builds(lambda t: {"text": t}, text),
                 st.just({"functionCall": {"name": "read_file", "args": {"path": "a"}}}),
                 st.just({"functionResponse": {"name": "read_file", "response": {"content": "x"}}}))
valid_generate = st.fixed_dictionaries(
    {"contents": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "model"]),
                                                 "parts": st.lists(part, min_size=1, max_size=3)}),
                          min_size=1, max_size=3)},
    optional={"systemInstruction": st.builds(lambda t: {"parts": [{"text": t}]}, text),
              "tools": st.just([{"functionDeclarations": [{"name": "read_file", "parametersJsonSchema": {
                  "type": "object", "properties": {"path": {"type": "string"}}}}]}]),
              "generationConfig": st.fixed_dictionaries({}, optional={
                  "temperature": st.floats(0, 2), "topP": st.floats(0, 1), "topK": st.integers(1, 64),
                  "maxOutputTokens": st.integers(1, 65_536), "responseMimeType": st.just("application/json"),
                  "thinkingConfig": st.just({"thinkingBudget": 0})})},
)
arbitrary_generate = st.fixed_dictionaries({}, optional={
    "contents": st.one_of(odd, st.lists(st.one_of(odd, st.fixed_dictionaries({}, optional={
        "role": odd, "parts": st.one_of(odd, st.lists(st.one_of(odd, st.fixed_dictionaries({}, optional={
            key: odd for key in ("text", "functionCall", "functionResponse", "inlineData")})), max_size=3))})),
        max_size=3)),
    **{key: odd for key in ("systemInstruction", "tools", "toolConfig", "generationConfig")},
})
gemini_paths = st.one_of(
    st.sampled_from(["/v1beta/models/local:generateContent", "/v1beta/models/auto:streamGenerateContent?alt=sse",
                     "/v1beta/models/gemini-2.5-pro:generateContent", "/v1beta/models/cloud:countTokens",
                     "/v1/models/gemini-2.5-flash-lite:generateContent",
                     "/v1beta/models/local:streamGenerateContent", "/v1beta/models/local", "/v1beta/models/:x"]),
    text.map(lambda s: "/v1beta/models/" + quote(s, safe="") + ":generateContent"),
)


@fuzz_settings(300)
@given(path=gemini_paths, body=st.one_of(mutated(valid_generate), arbitrary_generate))
def test_gemini_generate_content_never_gets_a_500(client: httpx.Client, path: str, body: Any) -> None:
    send(client, "/v1beta/models/...", path, encode(body), gemini_error)


# -- any bytes, at every new door -----------------------------------------------------------------------------------

DOORS = {"/v1/messages": anthropic_error, "/v1/messages/count_tokens": anthropic_error,
         "/v1/responses": openai_error, "/v1beta/models/auto:generateContent": gemini_error}


@fuzz_settings(200)
@given(path=st.sampled_from(sorted(DOORS)), raw=st.one_of(st.binary(max_size=64), st.sampled_from(ADVERSARIAL),
                                                          json_values.map(encode)))
def test_any_bytes_at_the_new_doors_never_get_a_500(client: httpx.Client, path: str, raw: bytes) -> None:
    send(client, "bytes", path, raw, DOORS[path])
