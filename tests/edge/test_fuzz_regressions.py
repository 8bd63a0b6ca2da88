"""What the fuzzing (test_fuzz.py) found, kept as plain regressions: each of these was a 500 or reached a model."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.edge.test_app import HI, assert_openai_error, tasks
from tests.edge.test_fuzz import PARTS
from tests.openrouter_stub import OpenRouterStub


@pytest.mark.parametrize("session_id", ["a\r\nSet-Cookie: x=1", "nul\x00", "ünïcode", "😀", "\x7f"])
def test_a_session_id_that_cannot_be_a_header_is_400(hermes_url: str, session_id: str) -> None:
    response = httpx.post(f"{hermes_url}/api/v1/route/process", json={"prompt": "hi", "session_id": session_id},
                          timeout=30)
    assert_openai_error(response, 400, "invalid_session_id")


def test_a_session_id_header_that_is_not_printable_ascii_is_400(hermes_url: str) -> None:
    response = httpx.post(f"{hermes_url}/v1/chat/completions", json={"model": "local", "messages": HI}, timeout=30,
                          headers={"x-session-id": b"caf\xe9"})
    assert_openai_error(response, 400, "invalid_session_id")


@pytest.mark.parametrize("session_id", [b"\x01", b"a\x7fb"])
def test_a_header_with_control_bytes_is_not_http_and_never_reaches_hermes(
    hermes_url: str, session_id: bytes, database: Path | str
) -> None:
    response = httpx.post(f"{hermes_url}/v1/chat/completions", json={"model": "local", "messages": HI}, timeout=30,
                          headers={"x-session-id": session_id})
    assert response.status_code == 400 and response.text == "Invalid HTTP request received."
    assert tasks(database) == []  # refused by the HTTP parser: nothing was done, nothing recorded


def test_valid_openai_shapes_get_an_answer(hermes_url: str, openrouter: OpenRouterStub) -> None:
    # Each of these was a 500 (or Ollama's 400) before: a named tool_choice, parallel_tool_calls on a local
    # model, content parts LiteLLM's token counter cannot count, and a "high" detail image it would download
    # to count (Hermes's estimate no longer does; LiteLLM's Ollama backend still would, hence "low" for local).
    tool = {"type": "function", "function": {"name": "read", "parameters": {"type": "object",
                                                                            "properties": {"p": {"type": "string"}}}}}
    image = {"type": "image_url", "image_url": {"url": "http://127.0.0.1:1/never-fetched.png", "detail": "low"}}
    high = {"type": "image_url", "image_url": image["image_url"] | {"detail": "high"}}
    for model, body in (
        ("local", {"tools": [tool], "tool_choice": {"type": "function", "function": {"name": "read"}},
                   "parallel_tool_calls": False, "presence_penalty": 0.5}),
        ("local", {"messages": [{"role": "user", "content": [{"type": "text", "text": "Say hi."}, image]}]}),
        ("gpt-4", {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [
            {"type": "refusal", "refusal": "No."}]}, {"role": "user", "content": "Say hi."}]}),
        ("gpt-4", {"messages": [{"role": "user", "content": [{"type": "text", "text": "Summarise."}, *PARTS[3:],
                                                             high]}]}),
    ):
        response = httpx.post(f"{hermes_url}/v1/chat/completions", timeout=120,
                              json={"model": model, "messages": HI, "max_tokens": 4} | body)
        assert response.status_code == 200, (body, response.text)
    assert openrouter.requests[1]["json"]["messages"][0]["content"][1:] == [*PARTS[3:], high]  # passed on unchanged


@pytest.mark.parametrize("message", [{"role": "user", "content": [PARTS[3]]}, {"role": "user", "content": [PARTS[4]]},
                                     {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]}])
def test_parts_a_local_model_cannot_take_are_an_upstream_error_not_a_500(hermes_url: str, message: dict) -> None:
    # LiteLLM's Ollama backend counts the prompt with a counter that cannot read these parts.
    response = httpx.post(f"{hermes_url}/v1/chat/completions", timeout=120, json={
        "model": "local", "max_tokens": 4, "messages": [message, {"role": "user", "content": "hi"}]})
    assert_openai_error(response, 502, "upstream_error")


@pytest.mark.parametrize("message", [
    pytest.param({"role": "user", "content": "say hello", "function_call": 1.5}, id="a-number-on-a-user-message"),
    pytest.param({"role": "assistant", "content": "x", "function_call": {"name": "f", "arguments": {}}},
                 id="arguments-not-a-string"),
])
@pytest.mark.parametrize("model", ["local", "cloud"])
def test_a_legacy_function_call_of_another_shape_is_400(hermes_url: str, openrouter: OpenRouterStub,
                                                         message: dict, model: str) -> None:
    # LiteLLM's token counter raised ValueError on these, and the request was a 500.
    response = httpx.post(f"{hermes_url}/v1/chat/completions", timeout=30,
                          json={"model": model, "messages": [message, {"role": "user", "content": "hi"}]})
    error = assert_openai_error(response, 400, "invalid_messages")
    assert "messages[0].function_call" in error["message"]
    assert openrouter.requests == []
