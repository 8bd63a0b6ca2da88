"""The OpenRouter stub's other dialects: Anthropic Messages (`/api/v1/messages`) and OpenAI Responses
(`/api/v1/responses`), as OpenRouter serves them besides chat.

Same modes as chat's where they apply (ok, recorded, error, cut, rate_limited), the same cost per call
(in usage.cost, as OpenRouter reports it in chat; where it puts it in these dialects is assumed the same),
and every request recorded in `stub.requests` with its `path`. The recorded streams follow each vendor's
documented event grammar (thinking with its signature, a tool call's input split across deltas, cache
reads in the usage); their ids and signatures are shortened.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse


def recorded_messages(model: str, cost: float) -> list[dict[str, Any]]:
    """A streamed Anthropic answer: thinking with its signature, text, a tool call split across deltas, cache reads."""
    return [
        {"type": "message_start", "message": {
            "id": "gen-stub-msg-1", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048,
                      "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "",
                                                                       "signature": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "The user wants"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": " the README."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCkYIBxgC"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Reading it."}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_01ReadMe",
                                                                       "name": "Read", "input": {}}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta",
                                                              "partial_json": '{"file_path": "/p/'}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta",
                                                              "partial_json": 'README.md"}'}},
        {"type": "content_block_stop", "index": 2},
        {"type": "ping"},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
         "usage": {"output_tokens": 42, "cost": cost}},
        {"type": "message_stop"},
    ]


def plain_message(model: str, body: dict[str, Any], cost: float) -> dict[str, Any]:
    """A whole Anthropic message: a greeting, or a call of the first tool offered."""
    if body.get("tools"):
        content = [{"type": "tool_use", "id": "toolu_stub_1", "name": body["tools"][0]["name"],
                    "input": {"path": "README.md"}}]
    else:
        content = [{"type": "text", "text": f"Hello from {model} in the cloud."}]
    return {"id": "gen-stub-msg-1", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": "tool_use" if body.get("tools") else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 7, "cost": cost}}


def plain_message_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """`message` as the events a stream of it carries, a word a delta."""
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message | {
        "content": [], "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}}}]
    block = message["content"][0]
    if block["type"] == "tool_use":
        events += [{"type": "content_block_start", "index": 0, "content_block": block | {"input": {}}},
                   {"type": "content_block_delta", "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}}]
    else:
        events.append({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        words = block["text"].split(" ")
        events += [{"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": word if i == 0 else " " + word}}
                   for i, word in enumerate(words)]
    return events + [{"type": "content_block_stop", "index": 0},
                     {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"]},
                      "usage": {"output_tokens": 7, "cost": message["usage"]["cost"]}},
                     {"type": "message_stop"}]


async def messages(stub: Any, request: Request) -> Response:
    """OpenRouter's `POST /api/v1/messages`."""
    body = await request.json()
    stub.requests.append({"path": "/messages", "headers": dict(request.headers), "json": body})
    broken = _broken(stub, {"type": "error", "error": {"type": "api_error", "message": "Provider returned error"}})
    if broken is not None:
        return broken
    model = body["model"]
    if stub.mode == "recorded":
        events = recorded_messages(model, stub.cost_usd)
    else:
        message = plain_message(model, body, stub.cost_usd)
        if not body.get("stream"):
            stub.answered += 1
            return JSONResponse(message)
        events = plain_message_events(message)
    return StreamingResponse(_sse(stub, events, named=True), media_type="text/event-stream")


async def _sse(stub: Any, events: list[dict[str, Any]], named: bool) -> AsyncIterator[bytes]:
    for index, event in enumerate(events):
        data = json.dumps(event)
        stub.sent.append(data)
        yield (f"event: {event['type']}\n" if named else "").encode() + f"data: {data}\n\n".encode()
        if stub.mode == "cut" and index == 3:
            await asyncio.sleep(0.2)  # let what was sent reach Hermes before the abort
            raise ConnectionError("stub cut the stream")
    stub.answered += 1


def _broken(stub: Any, error: dict[str, Any]) -> Response | None:
    if stub.mode == "error":
        return JSONResponse(error, status_code=500)
    if stub.mode == "rate_limited":
        return JSONResponse(error, status_code=429, headers={"Retry-After": "7"})
    return None
