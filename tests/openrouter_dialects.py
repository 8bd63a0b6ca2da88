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


def recorded_response(model: str, cost: float) -> list[dict[str, Any]]:
    """A streamed Responses answer: an encrypted reasoning item with a summary, text, a call split across deltas."""
    response = {"id": "gen-stub-resp-1", "object": "response", "created_at": 1765000000, "model": model,
                "status": "in_progress", "output": []}
    reasoning = {"id": "rs_stub_1", "type": "reasoning", "summary": [], "encrypted_content": "gAAAAABstub=="}
    message = {"id": "msg_stub_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    call = {"id": "fc_stub_1", "type": "function_call", "call_id": "call_stub_1", "name": "exec_command",
            "arguments": "", "status": "in_progress"}
    done_call = call | {"arguments": '{"cmd": "cat README.md"}', "status": "completed"}
    text = {"type": "output_text", "text": "Reading it.", "annotations": []}
    usage = {"input_tokens": 2060, "input_tokens_details": {"cached_tokens": 2048}, "output_tokens": 42,
             "output_tokens_details": {"reasoning_tokens": 30}, "total_tokens": 2102, "cost": cost}
    return [
        {"type": "response.created", "sequence_number": 0, "response": response},
        {"type": "response.in_progress", "sequence_number": 1, "response": response},
        {"type": "response.output_item.added", "sequence_number": 2, "output_index": 0, "item": reasoning},
        {"type": "response.reasoning_summary_text.delta", "sequence_number": 3, "item_id": "rs_stub_1",
         "output_index": 0, "summary_index": 0, "delta": "Read the README first."},
        {"type": "response.output_item.done", "sequence_number": 4, "output_index": 0,
         "item": reasoning | {"summary": [{"type": "summary_text", "text": "Read the README first."}]}},
        {"type": "response.output_item.added", "sequence_number": 5, "output_index": 1, "item": message},
        {"type": "response.content_part.added", "sequence_number": 6, "item_id": "msg_stub_1", "output_index": 1,
         "content_index": 0, "part": text | {"text": ""}},
        {"type": "response.output_text.delta", "sequence_number": 7, "item_id": "msg_stub_1", "output_index": 1,
         "content_index": 0, "delta": "Reading it."},
        {"type": "response.output_text.done", "sequence_number": 8, "item_id": "msg_stub_1", "output_index": 1,
         "content_index": 0, "text": "Reading it."},
        {"type": "response.output_item.done", "sequence_number": 9, "output_index": 1,
         "item": message | {"status": "completed", "content": [text]}},
        {"type": "response.output_item.added", "sequence_number": 10, "output_index": 2, "item": call},
        {"type": "response.function_call_arguments.delta", "sequence_number": 11, "item_id": "fc_stub_1",
         "output_index": 2, "delta": '{"cmd": "cat '},
        {"type": "response.function_call_arguments.delta", "sequence_number": 12, "item_id": "fc_stub_1",
         "output_index": 2, "delta": 'README.md"}'},
        {"type": "response.function_call_arguments.done", "sequence_number": 13, "item_id": "fc_stub_1",
         "output_index": 2, "arguments": done_call["arguments"]},
        {"type": "response.output_item.done", "sequence_number": 14, "output_index": 2, "item": done_call},
        {"type": "response.completed", "sequence_number": 15, "response": response | {
            "status": "completed", "output": [reasoning, message | {"status": "completed", "content": [text]},
                                              done_call], "usage": usage}},
    ]


def plain_response(model: str, body: dict[str, Any], cost: float) -> dict[str, Any]:
    """A whole Responses answer: a greeting, or a call of the first function offered."""
    function = next((tool for tool in body.get("tools") or () if tool.get("type") == "function"), None)
    if function is not None:
        item = {"id": "fc_stub_1", "type": "function_call", "call_id": "call_stub_1", "name": function["name"],
                "arguments": json.dumps({"path": "README.md"}), "status": "completed"}
    else:
        item = {"id": "msg_stub_1", "type": "message", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": f"Hello from {model} in the cloud.", "annotations": []}]}
    return {"id": "gen-stub-resp-1", "object": "response", "created_at": 1765000000, "model": model,
            "status": "completed", "output": [item],
            "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 7,
                      "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 19, "cost": cost}}


def plain_response_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    """`response` as the events a stream of it carries, a word a delta."""
    started = response | {"status": "in_progress", "output": []}
    item = response["output"][0]
    events: list[dict[str, Any]] = [{"type": "response.created", "response": started},
                                    {"type": "response.in_progress", "response": started},
                                    {"type": "response.output_item.added", "output_index": 0,
                                     "item": item | {"status": "in_progress"} | (
                                         {"arguments": ""} if item["type"] == "function_call" else {"content": []})}]
    if item["type"] == "function_call":
        events += [{"type": "response.function_call_arguments.delta", "item_id": item["id"], "output_index": 0,
                    "delta": item["arguments"]},
                   {"type": "response.function_call_arguments.done", "item_id": item["id"], "output_index": 0,
                    "arguments": item["arguments"]}]
    else:
        part = item["content"][0]
        words = part["text"].split(" ")
        events.append({"type": "response.content_part.added", "item_id": item["id"], "output_index": 0,
                       "content_index": 0, "part": part | {"text": ""}})
        events += [{"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
                    "content_index": 0, "delta": word if i == 0 else " " + word} for i, word in enumerate(words)]
        events += [{"type": "response.output_text.done", "item_id": item["id"], "output_index": 0,
                    "content_index": 0, "text": part["text"]},
                   {"type": "response.content_part.done", "item_id": item["id"], "output_index": 0,
                    "content_index": 0, "part": part}]
    return events + [{"type": "response.output_item.done", "output_index": 0, "item": item},
                     {"type": "response.completed", "response": response}]


async def responses(stub: Any, request: Request) -> Response:
    """OpenRouter's `POST /api/v1/responses`."""
    body = await request.json()
    stub.requests.append({"path": "/responses", "headers": dict(request.headers), "json": body})
    broken = _broken(stub, {"error": {"message": "Provider returned error", "code": 500}})
    if broken is not None:
        return broken
    model = body["model"]
    if stub.mode == "recorded":
        events = recorded_response(model, stub.cost_usd)
    else:
        response = plain_response(model, body, stub.cost_usd)
        if not body.get("stream"):
            stub.answered += 1
            return JSONResponse(response)
        events = plain_response_events(response)
    return StreamingResponse(_sse(stub, events, named=True), media_type="text/event-stream")
