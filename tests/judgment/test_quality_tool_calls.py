"""The scorer's tool_call signal: an agent's tool calls checked against the tools it was offered (JSON Schema 2020-12)."""

from __future__ import annotations

import pytest

from tests.judgment.scoring import AGENT_TURN, TOOLS, reply, score, signal


@pytest.mark.asyncio
async def test_a_valid_tool_call_passes() -> None:
    answer = reply(None, ("read", '{"filePath": "src/app.py", "offset": 1, "limit": 200}'))

    result = await score(AGENT_TURN, answer, finish_reason="tool_calls", tools=TOOLS, task_type="analysis")

    assert signal(result, "tool_call").passed is True
    assert signal(result, "tool_call").weight > 0


@pytest.mark.asyncio
async def test_a_tool_that_was_not_offered_fails() -> None:
    answer = reply(None, ("read_file", '{"path": "src/app.py"}'))

    result = await score(AGENT_TURN, answer, finish_reason="tool_calls", tools=TOOLS, task_type="analysis")

    assert signal(result, "tool_call").passed is False
    assert signal(result, "tool_call").detail == "tool call 1 names 'read_file', which is not offered (bash, read)"


@pytest.mark.asyncio
async def test_tool_arguments_that_are_not_json_fail() -> None:
    answer = reply(None, ("bash", "{'command': 'ls -la'}"))

    result = await score(AGENT_TURN, answer, finish_reason="tool_calls", tools=TOOLS, task_type="analysis")

    assert signal(result, "tool_call").passed is False
    assert "not valid JSON" in signal(result, "tool_call").detail


@pytest.mark.asyncio
async def test_tool_arguments_are_checked_as_draft_2020_12() -> None:
    # exclusiveMinimum is a number in 2020-12 (a boolean in draft 4): offset 0 is out of range.
    answer = reply(None, ("read", '{"filePath": "src/app.py", "offset": 0}'))

    result = await score(AGENT_TURN, answer, finish_reason="tool_calls", tools=TOOLS, task_type="analysis")

    assert signal(result, "tool_call").passed is False
    assert signal(result, "tool_call").detail == (
        "tool call 1 (read) arguments fail the schema at offset: 0 is less than or equal to the minimum of 0"
    )


@pytest.mark.asyncio
async def test_a_missing_required_argument_fails() -> None:
    answer = reply(None, ("bash", '{"timeout": 30}'))

    result = await score(AGENT_TURN, answer, finish_reason="tool_calls", tools=TOOLS, task_type="analysis")

    assert "'command' is a required property" in signal(result, "tool_call").detail


@pytest.mark.asyncio
async def test_a_broken_client_schema_is_not_held_against_the_call() -> None:
    tools = [{"type": "function", "function": {"name": "fetch", "parameters": {
        "type": "object", "properties": {"url": {"$ref": "https://example.com/schemas/url.json"}}}}}]
    answer = reply(None, ("fetch", '{"url": "https://docs.python.org"}'))

    result = await score(AGENT_TURN, answer, finish_reason="tool_calls", tools=tools, task_type="research")

    assert signal(result, "tool_call").passed is True
