"""Validating chat requests as the real clients send them."""

from __future__ import annotations

import json

import pytest

from proxy.errors import BadRequest
from proxy.openai_api import encode_sse, parse_chat_request

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


def test_sse_event_is_one_data_line() -> None:
    event = encode_sse({"a": "ü\n"})
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    assert json.loads(event[6:]) == {"a": "ü\n"}
    assert event.count(b"\n") == 2
