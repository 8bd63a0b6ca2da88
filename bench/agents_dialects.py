"""The scripted cloud's other dialects: Anthropic Messages and OpenAI Responses, as OpenRouter serves them.

Hermes relays a cloud call from Claude Code to OpenRouter's `/messages` and one from Codex to its
`/responses`, in the client's own dialect; the scripted cloud answers those as it answers chat: the body is
read into chat's terms with LiteLLM's adapters, `ScriptedCloud.reply` decides the step, and the step goes back
in the dialect (streamed as its events when asked).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse


def _usage(body: Any, message: dict[str, Any]) -> tuple[int, int, float]:
    prompt, completion = len(json.dumps(body)) // 4, max(1, len(json.dumps(message)) // 4)
    return prompt, completion, round(prompt * 0.1e-6 + completion * 0.4e-6, 8)  # Gemini Flash's prices


async def messages(cloud: Any, request: Request) -> Response:
    """`POST /api/v1/messages`: the step, as an Anthropic message or its events."""
    from litellm.llms.anthropic.experimental_pass_through.adapters.transformation import (
        LiteLLMAnthropicMessagesAdapter,
    )

    body = await request.json()
    chat, _ = LiteLLMAnthropicMessagesAdapter().translate_anthropic_to_openai(body)
    kind, message = cloud.reply(dict(chat))
    prompt, completion, cost = _usage(body, message)
    # With a prompt cache (bench/prompt_cache.py), the usage says what was read and written, as Anthropic's does.
    usage = {"input_tokens": prompt, "output_tokens": completion, "cost": cost} if cloud.prompt_cache is None \
        else cloud.prompt_cache.usage(body, prompt, completion)
    cloud.log.append({"t": time.time(), "path": request.url.path, "model": body.get("model"), "kind": kind,
                      "tools": len(body.get("tools") or []), "usage": usage})
    content = [{"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                "input": json.loads(call["function"]["arguments"])} for call in message.get("tool_calls") or []]
    if message.get("content"):
        content.insert(0, {"type": "text", "text": message["content"]})
    answer = {"id": f"gen-agents-{len(cloud.log)}", "type": "message", "role": "assistant",
              "model": body.get("model"), "content": content, "stop_sequence": None,
              "stop_reason": "tool_use" if message.get("tool_calls") else "end_turn",
              "usage": usage}
    if not body.get("stream"):
        return JSONResponse(answer)
    return StreamingResponse(_message_events(answer), media_type="text/event-stream")


async def _message_events(answer: dict[str, Any]) -> AsyncIterator[bytes]:
    def event(data: dict[str, Any]) -> bytes:
        return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()

    yield event({"type": "message_start", "message": answer | {"content": [], "stop_reason": None,
                                                               "usage": answer["usage"] | {"output_tokens": 1}}})
    for index, block in enumerate(answer["content"]):
        if block["type"] == "text":
            yield event({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
            yield event({"type": "content_block_delta", "index": index,
                         "delta": {"type": "text_delta", "text": block["text"]}})
        else:
            yield event({"type": "content_block_start", "index": index, "content_block": block | {"input": {}}})
            arguments = json.dumps(block["input"])
            for piece in (arguments[:len(arguments) // 2], arguments[len(arguments) // 2:]):
                yield event({"type": "content_block_delta", "index": index,
                             "delta": {"type": "input_json_delta", "partial_json": piece}})
        yield event({"type": "content_block_stop", "index": index})
    yield event({"type": "message_delta", "delta": {"stop_reason": answer["stop_reason"], "stop_sequence": None},
                 "usage": answer["usage"]})
    yield event({"type": "message_stop"})


async def responses(cloud: Any, request: Request) -> Response:
    """`POST /api/v1/responses`: the step, as a Responses response or its events."""
    from litellm.responses.litellm_completion_transformation.transformation import (
        LiteLLMCompletionResponsesConfig,
    )

    body = await request.json()
    params = {key: value for key, value in body.items() if key not in ("model", "input")}
    chat = LiteLLMCompletionResponsesConfig.transform_responses_api_request_to_chat_completion_request(
        model=body["model"], input=body["input"], responses_api_request=params)
    kind, message = cloud.reply(dict(chat))
    cloud.log.append({"t": time.time(), "path": request.url.path, "model": body.get("model"), "kind": kind,
                      "tools": len(body.get("tools") or [])})
    prompt, completion, cost = _usage(body, message)
    output: list[dict[str, Any]] = [
        {"id": f"fc_{call['id']}", "type": "function_call", "call_id": call["id"], "name": call["function"]["name"],
         "arguments": call["function"]["arguments"], "status": "completed"} for call in message.get("tool_calls") or []]
    if message.get("content"):
        output.insert(0, {"id": f"msg_{len(cloud.log)}", "type": "message", "role": "assistant",
                          "status": "completed",
                          "content": [{"type": "output_text", "text": message["content"], "annotations": []}]})
    response = {"id": f"gen-agents-{len(cloud.log)}", "object": "response", "created_at": int(time.time()),
                "model": body.get("model"), "status": "completed", "output": output,
                "usage": {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion,
                          "input_tokens_details": {"cached_tokens": 0}, "cost": cost}}
    if not body.get("stream"):
        return JSONResponse(response)
    return StreamingResponse(_response_events(response), media_type="text/event-stream")


async def _response_events(response: dict[str, Any]) -> AsyncIterator[bytes]:
    number = 0

    def event(data: dict[str, Any]) -> bytes:
        nonlocal number
        number += 1
        return f"event: {data['type']}\ndata: {json.dumps(data | {'sequence_number': number})}\n\n".encode()

    started = response | {"status": "in_progress", "output": []}
    yield event({"type": "response.created", "response": started})
    yield event({"type": "response.in_progress", "response": started})
    for index, item in enumerate(response["output"]):
        if item["type"] == "message":
            part = item["content"][0]
            yield event({"type": "response.output_item.added", "output_index": index,
                         "item": item | {"status": "in_progress", "content": []}})
            yield event({"type": "response.content_part.added", "item_id": item["id"], "output_index": index,
                         "content_index": 0, "part": part | {"text": ""}})
            yield event({"type": "response.output_text.delta", "item_id": item["id"], "output_index": index,
                         "content_index": 0, "delta": part["text"]})
            yield event({"type": "response.output_text.done", "item_id": item["id"], "output_index": index,
                         "content_index": 0, "text": part["text"]})
            yield event({"type": "response.content_part.done", "item_id": item["id"], "output_index": index,
                         "content_index": 0, "part": part})
        else:
            yield event({"type": "response.output_item.added", "output_index": index,
                         "item": item | {"status": "in_progress", "arguments": ""}})
            yield event({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                         "output_index": index, "delta": item["arguments"]})
            yield event({"type": "response.function_call_arguments.done", "item_id": item["id"],
                         "output_index": index, "arguments": item["arguments"]})
        yield event({"type": "response.output_item.done", "output_index": index, "item": item})
    yield event({"type": "response.completed", "response": response})
